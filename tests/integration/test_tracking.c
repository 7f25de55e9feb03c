/* test_tracking.c -- client-side caching as Redis 6+ does it: CLIENT TRACKING in RESP3 (push
 * `>2 invalidate [key]`) and RESP2 with REDIRECT to a connection subscribed to
 * __redis__:invalidate; BCAST with PREFIX, OPTIN/OPTOUT with CLIENT CACHING, NOLOOP, the null
 * invalidation of FLUSHALL and DEBUG RELOAD, a broken redirect, the option errors, GETREDIR and TRACKINGINFO, the INFO tracking_total_* fields. The tracking
 * connections are raw sockets (hiredis 0.14 cannot read pushes); writes come from hiredis. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

QV_SERVER_FIXTURE(tracking, 60);

static void send(int fd, const char *command, const char *want) {
    size_t len;
    char *r = rawCommand(fd, command, &len);
    cr_assert_not_null(r, "no reply to %s", command);
    cr_assert(len == strlen(want) && memcmp(r, want, len) == 0, "%s: expected %s, got %s", command,
              want, r);
    free(r);
}

static void expectNext(int fd, const char *want) {
    size_t len;
    char *r = rawReadReply(fd, &len, 10000);
    cr_assert_not_null(r, "nothing arrived, expected %s", want);
    cr_assert(len == strlen(want) && memcmp(r, want, len) == 0, "expected %s, got %s", want, r);
    free(r);
}

/* Nothing is pending before a PING's reply. */
static void expectNothing(int fd) {
    send(fd, "PING", "+PONG\r\n");
}

static int resp3Client(void) {
    int fd = rawConnect(&srv);
    size_t len;
    char *r = rawCommand(fd, "HELLO 3", &len);
    cr_assert(r && r[0] == '%', "HELLO 3: %s", r);
    free(r);
    return fd;
}

static void push(char *out, size_t cap, const char *key) {
    snprintf(out, cap, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$%zu\r\n%s\r\n", strlen(key), key);
}

static void expectPush(int fd, const char *key) {
    char want[256];
    push(want, sizeof(want), key);
    expectNext(fd, want);
}

Test(tracking, resp3_push_on_write_of_a_read_key) {
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
    int t = resp3Client();
    send(t, "CLIENT TRACKING on", "+OK\r\n");
    send(t, "VCARD k", ":1\r\n");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 3 4 b"), 1);
    expectPush(t, "k");
    /* The key was forgotten: a second write says nothing until it is read again. */
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 5 6 c"), 1);
    expectNothing(t);
    size_t len;
    char *r = rawCommand(t, "VEMB k a", &len);
    cr_assert(r && r[0] == '*', "%s", r);
    free(r);
    EXPECT_INTEGER(cmd(c, "VREM k a"), 1);
    expectPush(t, "k");
    /* Every read command counts (VSIM on the workers too), every write kind invalidates. */
    EXPECT_STATUS(cmd(c, "CONFIG SET search-thread-min-us 0"), "OK");
    r = rawCommand(t, "VSIM k VALUES 2 1 1 COUNT 1", &len);
    cr_assert(r && r[0] == '*', "%s", r);
    free(r);
    EXPECT_INTEGER(cmd(c, "VSETATTR k b %s", "{\"x\": 1}"), 1);
    expectPush(t, "k");
    send(t, "VGETATTR k b", "$8\r\n{\"x\": 1}\r\n");
    EXPECT_STATUS(cmd(c, "RENAME k k2"), "OK");
    expectPush(t, "k");
    send(t, "VCARD k2", ":2\r\n");
    EXPECT_INTEGER(cmd(c, "DEL k2"), 1);
    expectPush(t, "k2");
    /* A key read by nobody is not announced. */
    EXPECT_INTEGER(cmd(c, "VADD other VALUES 2 1 2 a"), 1);
    expectNothing(t);
    rawClose(t);
}

Test(tracking, own_write_arrives_after_the_reply_and_noloop_silences_it) {
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
    int t = resp3Client();
    send(t, "CLIENT TRACKING on", "+OK\r\n");
    send(t, "VCARD k", ":1\r\n");
    send(t, "VADD k VALUES 2 1 1 b", "#t\r\n");
    expectPush(t, "k");
    /* Inside a transaction the push comes after EXEC's whole reply. */
    send(t, "VCARD k", ":2\r\n");
    send(t, "MULTI", "+OK\r\n");
    send(t, "VREM k b", "+QUEUED\r\n");
    send(t, "VCARD k", "+QUEUED\r\n");
    send(t, "EXEC", "*2\r\n#t\r\n:1\r\n");
    expectPush(t, "k");
    /* CLIENT REPLY SKIP drops the write's reply, not the invalidation that follows it. */
    send(t, "VCARD k", ":1\r\n");
    const char *skip = "CLIENT REPLY SKIP\r\nVADD k VALUES 2 9 9 z\r\n";
    cr_assert_eq(rawSend(t, skip, strlen(skip)), strlen(skip));
    expectPush(t, "k");
    send(t, "CLIENT TRACKING on NOLOOP", "+OK\r\n");
    send(t, "VCARD k", ":2\r\n");
    send(t, "VADD k VALUES 2 1 1 b", "#t\r\n");
    expectNothing(t);
    rawClose(t);
}

Test(tracking, resp2_redirect_to_invalidate_channel) {
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
    int sub = rawConnect(&srv);
    size_t len;
    char *r = rawCommand(sub, "CLIENT ID", &len);
    long long id = atoll(r + 1);
    free(r);
    send(sub, "SUBSCRIBE __redis__:invalidate",
         "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
    int t = rawConnect(&srv);
    char line[128], want[128];
    snprintf(line, sizeof(line), "CLIENT TRACKING on REDIRECT %lld", id);
    send(t, line, "+OK\r\n");
    snprintf(want, sizeof(want), ":%lld\r\n", id);
    send(t, "CLIENT GETREDIR", want);
    send(t, "VGETATTR k a", "$-1\r\n");
    EXPECT_INTEGER(cmd(c, "VSETATTR k a %s", "{}"), 1);
    expectNext(sub, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n");
    /* FLUSHALL: a null invalidation. */
    send(t, "VCARD k", ":1\r\n");
    EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
    expectNext(sub, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*-1\r\n");
    /* The redirect client goes away: the redirect is reported broken. */
    rawClose(sub);
    send(t, "PING", "+PONG\r\n"); /* the server has seen the close by now or soon */
    for (int i = 0; i < 100; i++) {
        EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
        send(t, "VCARD k", ":1\r\n");
        EXPECT_INTEGER(cmd(c, "VREM k a"), 1);
        r = rawCommand(t, "CLIENT TRACKINGINFO", &len);
        int broken = strstr(r, "broken_redirect") != NULL;
        free(r);
        if (broken) break;
        cr_assert(i < 99, "the broken redirect was never reported");
        usleep(20 * 1000);
    }
    rawClose(t);
}

Test(tracking, resp3_redirect_and_broken_redirect_push) {
    int target = resp3Client();
    size_t len;
    char *r = rawCommand(target, "CLIENT ID", &len);
    long long id = atoll(r + 1);
    free(r);
    int t = resp3Client();
    char line[128], want[128];
    snprintf(line, sizeof(line), "CLIENT TRACKING on REDIRECT %lld", id);
    send(t, line, "+OK\r\n");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
    send(t, "VCARD k", ":1\r\n");
    EXPECT_INTEGER(cmd(c, "VREM k a"), 1);
    expectPush(target, "k");
    rawClose(target);
    for (int i = 0;; i++) {
        EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
        send(t, "VCARD k", ":1\r\n");
        EXPECT_INTEGER(cmd(c, "VREM k a"), 1);
        r = rawCommand(t, "PING", &len);
        if (r[0] == '>') {
            snprintf(want, sizeof(want), ">2\r\n$21\r\ntracking-redir-broken\r\n:%lld\r\n", id);
            cr_assert_str_eq(r, want);
            free(r);
            break;
        }
        free(r);
        cr_assert(i < 100, "tracking-redir-broken never came");
        usleep(20 * 1000);
    }
    rawClose(t);
}

Test(tracking, bcast_with_prefixes) {
    int t = resp3Client();
    send(t, "CLIENT TRACKING on BCAST PREFIX user: PREFIX doc:", "+OK\r\n");
    size_t ilen;
    char *info = rawCommand(t, "CLIENT INFO", &ilen);
    cr_assert(info && strstr(info, " flags=tB "), "CLIENT INFO flags: %s", info);
    free(info);
    EXPECT_INTEGER(cmd(c, "VADD user:1 VALUES 2 1 2 a"), 1);
    expectPush(t, "user:1");
    EXPECT_INTEGER(cmd(c, "VADD other VALUES 2 1 2 a"), 1);
    EXPECT_INTEGER(cmd(c, "VADD doc:9 VALUES 2 1 2 a"), 1);
    expectPush(t, "doc:9");
    /* BCAST needs no read: every write under the prefix is announced. */
    EXPECT_INTEGER(cmd(c, "VADD user:1 VALUES 2 1 3 b"), 1);
    expectPush(t, "user:1");
    expectNothing(t);
    size_t len;
    char *r = rawCommand(t, "CLIENT TRACKINGINFO", &len);
    cr_assert(strstr(r, "bcast") && strstr(r, "user:") && strstr(r, "doc:"), "%s", r);
    free(r);
    /* BCAST without PREFIX: every key. NOLOOP: not our own writes. */
    int all = resp3Client();
    send(all, "CLIENT TRACKING on BCAST NOLOOP", "+OK\r\n");
    EXPECT_INTEGER(cmd(c, "VADD zzz VALUES 2 1 2 a"), 1);
    expectPush(all, "zzz");
    send(all, "VADD mine VALUES 2 1 2 a", "#t\r\n");
    expectNothing(all);
    rawClose(all);
    rawClose(t);
}

Test(tracking, optin_and_optout_with_client_caching) {
    EXPECT_INTEGER(cmd(c, "VADD k1 VALUES 2 1 2 a"), 1);
    EXPECT_INTEGER(cmd(c, "VADD k2 VALUES 2 1 2 a"), 1);
    int t = resp3Client();
    send(t, "CLIENT TRACKING on OPTIN", "+OK\r\n");
    send(t, "VCARD k1", ":1\r\n"); /* not tracked */
    send(t, "CLIENT CACHING yes", "+OK\r\n");
    send(t, "VCARD k2", ":1\r\n"); /* tracked */
    send(t, "VDIM k1", ":2\r\n");  /* CACHING was for one command only */
    EXPECT_INTEGER(cmd(c, "VADD k1 VALUES 2 3 4 b"), 1);
    EXPECT_INTEGER(cmd(c, "VADD k2 VALUES 2 3 4 b"), 1);
    expectPush(t, "k2");
    expectNothing(t);
    send(t, "CLIENT CACHING no",
         "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n");
    send(t, "CLIENT TRACKING on OPTOUT",
         "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
         "then re-enabling it with a different mode.\r\n");
    send(t, "CLIENT TRACKING off", "+OK\r\n");
    send(t, "CLIENT TRACKING on OPTOUT", "+OK\r\n");
    send(t, "CLIENT CACHING no", "+OK\r\n");
    send(t, "VCARD k1", ":2\r\n"); /* not tracked */
    send(t, "VCARD k2", ":2\r\n"); /* tracked */
    EXPECT_INTEGER(cmd(c, "VADD k1 VALUES 2 5 6 c"), 1);
    EXPECT_INTEGER(cmd(c, "VADD k2 VALUES 2 5 6 c"), 1);
    expectPush(t, "k2");
    expectNothing(t);
    rawClose(t);
}

Test(tracking, flushall_sends_a_null_invalidation) {
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
    int t = resp3Client();
    send(t, "CLIENT TRACKING on", "+OK\r\n");
    send(t, "VCARD k", ":1\r\n");
    EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
    expectNext(t, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    /* The table was emptied: the re-created key is not announced. */
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 a"), 1);
    expectNothing(t);
    /* DEBUG RELOAD replaces every key: a null invalidation too. */
    send(t, "VCARD k", ":1\r\n");
    EXPECT_STATUS(cmd(c, "DEBUG RELOAD"), "OK");
    expectNext(t, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    send(t, "VCARD k", ":1\r\n"); /* reloaded */
    /* Tracking off: nothing more. */
    send(t, "VCARD k", ":1\r\n");
    send(t, "CLIENT TRACKING off", "+OK\r\n");
    EXPECT_INTEGER(cmd(c, "DEL k"), 1);
    expectNothing(t);
    rawClose(t);
}

Test(tracking, option_errors_and_info) {
    int t = resp3Client();
    send(t, "CLIENT GETREDIR", ":-1\r\n");
    send(t, "CLIENT TRACKINGINFO",
         "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*"
         "0\r\n");
    send(t, "CLIENT TRACKING maybe", "-ERR syntax error\r\n");
    send(t, "CLIENT TRACKING on PREFIX a",
         "-ERR PREFIX option requires BCAST mode to be enabled\r\n");
    send(t, "CLIENT TRACKING on BCAST OPTIN",
         "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n");
    send(t, "CLIENT TRACKING on OPTIN OPTOUT",
         "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n");
    send(t, "CLIENT TRACKING on REDIRECT 999999",
         "-ERR The client ID you want redirect to does not exist\r\n");
    send(t, "CLIENT TRACKING on BCAST PREFIX ab PREFIX abc",
         "-ERR Prefix 'ab' overlaps with another provided prefix 'abc'. Prefixes for a single "
         "client must not overlap.\r\n");
    send(t, "CLIENT CACHING yes",
         "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN "
         "or OPTOUT mode enabled\r\n");
    send(t, "CLIENT TRACKING on OPTIN NOLOOP", "+OK\r\n");
    send(t, "CLIENT GETREDIR", ":0\r\n");
    send(t, "CLIENT CACHING yes", "+OK\r\n");
    send(t, "CLIENT TRACKINGINFO",
         "%3\r\n$5\r\nflags\r\n~4\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$"
         "6\r\nnoloop\r\n"
         "$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n");
    send(t, "CLIENT TRACKING on BCAST",
         "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
         "then re-enabling it with a different mode.\r\n");
    /* RESET turns tracking off. */
    send(t, "RESET", "+RESET\r\n");
    send(t, "CLIENT GETREDIR", ":-1\r\n");
    rawClose(t);
}

/* INFO stats tracking_total_keys / _items / _prefixes as Redis reports them: keys in the table,
 * (key, reader) pairs, distinct BCAST prefixes; a write empties its key's entry. */
Test(tracking, totals_in_info_stats) {
    EXPECT_INTEGER(cmd(c, "VADD ka VALUES 2 1 2 a"), 1);
    EXPECT_INTEGER(cmd(c, "VADD kb VALUES 2 1 2 a"), 1);
    cr_assert_eq(infoFieldLL(c, "stats", "tracking_total_keys"), 0);
    int r1 = resp3Client(), r2 = resp3Client(), b1 = resp3Client(), b2 = resp3Client();
    send(r1, "CLIENT TRACKING on", "+OK\r\n");
    send(r2, "CLIENT TRACKING on", "+OK\r\n");
    send(r1, "VCARD ka", ":1\r\n");
    send(r1, "VCARD kb", ":1\r\n");
    send(r2, "VCARD ka", ":1\r\n");
    send(b1, "CLIENT TRACKING on BCAST PREFIX x: PREFIX y:", "+OK\r\n");
    send(b2, "CLIENT TRACKING on BCAST PREFIX x:", "+OK\r\n");
    cr_assert_eq(infoFieldLL(c, "stats", "tracking_total_keys"), 2);
    cr_assert_eq(infoFieldLL(c, "stats", "tracking_total_items"), 3);
    cr_assert_eq(infoFieldLL(c, "stats", "tracking_total_prefixes"), 2);
    EXPECT_INTEGER(cmd(c, "VADD ka VALUES 2 1 3 b"), 1);
    expectPush(r1, "ka");
    expectPush(r2, "ka");
    cr_assert_eq(infoFieldLL(c, "stats", "tracking_total_keys"), 1);
    cr_assert_eq(infoFieldLL(c, "stats", "tracking_total_items"), 1);
    rawClose(b2);
    rawClose(b1);
    rawClose(r2);
    rawClose(r1);
}
