/* test_acl.c -- ACL users against the real server: every rule kind of ACL SETUSER (on/off,
 * >pw <pw #hash !hash nopass resetpass, +cmd -cmd +@cat -@cat +cmd|sub allcommands nocommands,
 * ~pat %R~pat %W~pat allkeys resetkeys, &pat allchannels resetchannels, reset), tenant isolation
 * on a key prefix for the vector commands' reads and writes, MULTI (checked when queued and again
 * at EXEC), ACL LOG, ACL DRYRUN, the ACL file (load, save, a round trip through a restart), the
 * config file's `user` lines, `default` following requirepass, DELUSER and CLIENT KILL USER
 * closing connections, and the INFO counters CONFIG RESETSTAT clears. Password hashes are
 * computed here with mbedtls, never copied from the server. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "harness.h"

QV_SERVER_FIXTURE(acl, 60);

static void sha256Hex(const char *s, char out[65]) {
    unsigned char h[32];
    mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)s, strlen(s),
               h);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
}

/* A new connection authenticated as user/pass (asserting AUTH says OK). */
static redisContext *connectAs(const char *user, const char *pass) {
    redisContext *u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "AUTH %s %s", user, pass), "OK");
    return u;
}

static void expectAuthFails(const char *user, const char *pass) {
    redisContext *u = serverConnect(&srv);
    EXPECT_ERROR(cmd(u, "AUTH %s %s", user, pass),
                 "WRONGPASS invalid username-password pair or user is disabled.");
    redisFree(u);
}

static void expectNoPermCmd(redisContext *u, const char *user, const char *name,
                            redisReply *reply) {
    char want[256];
    snprintf(want, sizeof(want), "NOPERM User %s has no permissions to run the '%s' command", user,
             name);
    EXPECT_ERROR(reply, want);
    (void)u;
}

#define NOPERM_KEY     "NOPERM No permissions to access a key"
#define NOPERM_CHANNEL "NOPERM No permissions to access a channel"

/* ---------------------------------------------------------------- passwords and on/off */

Test(acl, on_off_and_passwords) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER alice on >p1 >p2 +@all ~*"), "OK");
    redisFree(connectAs("alice", "p1"));
    redisFree(connectAs("alice", "p2"));
    expectAuthFails("alice", "p3");
    /* <pw removes one password; the other still works. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER alice <p1"), "OK");
    expectAuthFails("alice", "p1");
    redisFree(connectAs("alice", "p2"));
    EXPECT_ERROR(cmd(c, "ACL SETUSER alice <nosuch"),
                 "ERR Error in ACL SETUSER modifier '(redacted)': The password you are trying to "
                 "remove from the user does not exist");
    /* off: even the right password is refused. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER alice off"), "OK");
    expectAuthFails("alice", "p2");
    EXPECT_STATUS(cmd(c, "ACL SETUSER alice on"), "OK");
    redisFree(connectAs("alice", "p2"));
    /* The server keeps SHA-256 hashes only. */
    char h2[65];
    sha256Hex("p2", h2);
    redisReply *r = cmd(c, "ACL GETUSER alice");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 12, "%s", replyToString(r));
    cr_assert_str_eq(r->element[2]->str, "passwords");
    cr_assert_eq(r->element[3]->elements, 1);
    cr_assert_str_eq(r->element[3]->element[0]->str, h2);
    freeReplyObject(r);
    /* An unknown user gets the same answer as a wrong password. */
    expectAuthFails("nobody", "p2");
}

Test(acl, hash_rules_nopass_and_resetpass) {
    char h[65];
    sha256Hex("hashed-secret", h);
    EXPECT_STATUS(cmd(c, "ACL SETUSER bob on #%s +@all ~*", h), "OK");
    redisFree(connectAs("bob", "hashed-secret"));
    EXPECT_STATUS(cmd(c, "ACL SETUSER bob !%s", h), "OK");
    expectAuthFails("bob", "hashed-secret");
    EXPECT_ERROR(cmd(c, "ACL SETUSER bob #abc"),
                 "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 "
                 "characters and contain only lowercase hexadecimal characters");
    /* nopass: any password; resetpass: none at all. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER bob nopass"), "OK");
    redisFree(connectAs("bob", "anything"));
    EXPECT_STATUS(cmd(c, "ACL SETUSER bob resetpass"), "OK");
    expectAuthFails("bob", "anything");
    expectAuthFails("bob", "");
}

Test(acl, default_user_follows_requirepass) {
    EXPECT_STATUS(cmd(c, "CONFIG SET requirepass s3cret"), "OK");
    redisContext *u = serverConnect(&srv);
    EXPECT_ERROR(cmd(u, "PING"), "NOAUTH Authentication required.");
    EXPECT_ERROR(cmd(u, "AUTH wrong"),
                 "WRONGPASS invalid username-password pair or user is disabled.");
    EXPECT_STATUS(cmd(u, "AUTH s3cret"), "OK");
    EXPECT_BULK(cmd(u, "ACL WHOAMI"), "default");
    redisFree(u);
    redisFree(connectAs("default", "s3cret"));
    char h[65], line[200];
    sha256Hex("s3cret", h);
    snprintf(line, sizeof(line), "user default on #%s ~* &* +@all", h);
    redisReply *r = cmd(c, "ACL LIST");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
    cr_assert_str_eq(r->element[0]->str, line);
    freeReplyObject(r);
    /* Back to no password: new connections are in at once. */
    EXPECT_STATUS(cmd(c, "CONFIG SET requirepass %s", ""), "OK");
    u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "PING"), "PONG");
    redisFree(u);
    r = cmd(c, "ACL LIST");
    cr_assert_str_eq(r->element[0]->str, "user default on nopass ~* &* +@all");
    freeReplyObject(r);
}

/* ---------------------------------------------------------------- command rules */

Test(acl, command_and_category_rules) {
    EXPECT_INTEGER(cmd(c, "VADD v VALUES 2 1 0 e1"), 1);
    /* Nothing but PING, then categories added and taken away in order. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER u on >pw ~* +ping"), "OK");
    redisContext *u = connectAs("u", "pw");
    EXPECT_STATUS(cmd(u, "PING"), "PONG");
    expectNoPermCmd(u, "u", "VCARD", cmd(u, "VCARD v"));
    EXPECT_STATUS(cmd(c, "ACL SETUSER u +@read"), "OK");
    EXPECT_INTEGER(cmd(u, "VCARD v"), 1);
    expectNoPermCmd(u, "u", "VADD", cmd(u, "VADD v VALUES 2 0 1 e2"));
    /* @vector holds the vector commands, reads and writes; -vadd takes one back. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER u +@vector -vadd"), "OK");
    EXPECT_INTEGER(cmd(u, "VREM v nosuch"), 0);
    expectNoPermCmd(u, "u", "VADD", cmd(u, "VADD v VALUES 2 0 1 e2"));
    EXPECT_STATUS(cmd(c, "ACL SETUSER u -@read"), "OK");
    expectNoPermCmd(u, "u", "VCARD", cmd(u, "VCARD v"));
    EXPECT_INTEGER(cmd(u, "VREM v nosuch"), 0); /* a write: still allowed */
    /* allcommands / nocommands. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER u nocommands"), "OK");
    expectNoPermCmd(u, "u", "ping", cmd(u, "PING"));
    EXPECT_STATUS(cmd(c, "ACL SETUSER u allcommands -@dangerous"), "OK");
    EXPECT_STATUS(cmd(u, "PING"), "PONG");
    expectNoPermCmd(u, "u", "config|get", cmd(u, "CONFIG GET port"));
    redisReply *r = cmd(c, "ACL GETUSER u");
    cr_assert_str_eq(r->element[4]->str, "commands");
    cr_assert_str_eq(r->element[5]->str, "+@all -@dangerous");
    freeReplyObject(r);
    /* +cmd|sub: one subcommand of a container. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER u nocommands +client|id"), "OK");
    r = cmd(u, "CLIENT ID");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
    freeReplyObject(r);
    expectNoPermCmd(u, "u", "client|getname", cmd(u, "CLIENT GETNAME"));
    /* +client allows every subcommand; -client|kill takes one away. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER u +client -client|kill"), "OK");
    EXPECT_NIL(cmd(u, "CLIENT GETNAME"));
    expectNoPermCmd(u, "u", "client|kill", cmd(u, "CLIENT KILL ID 999999"));
    redisFree(u);
    /* Rules that do not parse change nothing. */
    EXPECT_ERROR(cmd(c, "ACL SETUSER u +ping +nosuch"),
                 "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name "
                 "in ACL");
    EXPECT_ERROR(cmd(c, "ACL SETUSER u +@nosuch"),
                 "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name "
                 "in ACL");
    EXPECT_ERROR(cmd(c, "ACL SETUSER u +ping|x"),
                 "ERR Error in ACL SETUSER modifier '+ping|x': Allowing first-arg of a "
                 "subcommand is not supported");
    EXPECT_ERROR(cmd(c, "ACL SETUSER u bogus"),
                 "ERR Error in ACL SETUSER modifier 'bogus': Syntax error");
    r = cmd(c, "ACL GETUSER u");
    cr_assert_str_eq(r->element[5]->str, "-@all +client|id +client -client|kill");
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "ACL SETUSER %s on", "a b"),
                 "ERR Usernames can't contain spaces or null characters");
}

Test(acl, auth_allowed_without_commands_and_reset) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER r on >pw nocommands"), "OK");
    redisContext *u = connectAs("r", "pw");
    EXPECT_STATUS(cmd(u, "AUTH r pw"), "OK"); /* AUTH needs no permission */
    expectNoPermCmd(u, "r", "acl|whoami", cmd(u, "ACL WHOAMI"));
    redisFree(u);
    /* reset: off, no passwords, no keys, no channels, no commands. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER r +@all ~* &* reset"), "OK");
    redisReply *r = cmd(c, "ACL LIST");
    int found = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (!strcmp(r->element[i]->str, "user r off resetchannels -@all")) found = 1;
    cr_assert(found, "ACL LIST: %s", replyToString(r));
    freeReplyObject(r);
    expectAuthFails("r", "pw");
}

/* ---------------------------------------------------------------- keys */

static void vaddAs(redisContext *u, const char *key, const char *elem, redisReply **out) {
    *out = cmd(u, "VADD %s VALUES 2 1 0.5 %s", key, elem);
}

Test(acl, tenant_isolation_reads_and_writes) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE tenant2:idx DIM 2 METRIC L2"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD tenant2:idx VALUES 2 1 1 secret"), 1);
    EXPECT_INTEGER(cmd(c, "VADD tenant2:v VALUES 2 1 1 secret"), 1);
    EXPECT_STATUS(cmd(c, "ACL SETUSER t1 on >pw ~tenant1:* +@all -@dangerous"), "OK");
    redisContext *u = connectAs("t1", "pw");
    redisReply *r;
    /* Its own prefix: writes and reads. */
    vaddAs(u, "tenant1:v", "a", &r);
    EXPECT_INTEGER(r, 1);
    EXPECT_STATUS(cmd(u, "IDX.CREATE tenant1:idx DIM 2 METRIC L2"), "OK");
    EXPECT_INTEGER(cmd(u, "VADD tenant1:idx VALUES 2 1 1 x"), 1);
    r = cmd(u, "VSIM tenant1:v VALUES 2 1 0.5");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(u, "VSEARCH tenant1:idx VALUES 2 1 1 K 1");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
    freeReplyObject(r);
    /* The other tenant's keys: every read and every write refused. */
    vaddAs(u, "tenant2:v", "b", &r);
    EXPECT_ERROR(r, NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VSIM tenant2:v VALUES 2 1 1"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VSIM tenant2:v ELE secret"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VSEARCH tenant2:idx VALUES 2 1 1 K 1"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VMSEARCH tenant2:idx 1 VALUES 2 1 1 K 1"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VEMB tenant2:v secret"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VGETATTR tenant2:v secret"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VCARD tenant2:v"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VREM tenant2:v secret"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VSETATTR tenant2:v secret {\"a\":1}"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "IDX.CREATE tenant2:new DIM 2"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "IDX.DROP tenant2:idx"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "IDX.INFO tenant2:idx"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "DEL tenant2:v"), NOPERM_KEY);
    /* One forbidden key among allowed ones refuses the whole command. */
    EXPECT_ERROR(cmd(u, "DEL tenant1:v tenant2:v"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "RENAME tenant1:v tenant2:stolen"), NOPERM_KEY);
    redisFree(u);
    /* The admin sees the other tenant untouched, and tenant1's key still there. */
    EXPECT_INTEGER(cmd(c, "VCARD tenant2:v"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD tenant2:idx"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD tenant1:v"), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS tenant2:stolen tenant2:new"), 0);
}

Test(acl, read_only_and_write_only_patterns) {
    EXPECT_INTEGER(cmd(c, "VADD ro:v VALUES 2 1 0 a"), 1);
    EXPECT_INTEGER(cmd(c, "VADD wo:v VALUES 2 1 0 a"), 1);
    EXPECT_STATUS(cmd(c, "ACL SETUSER k on >pw +@all %%R~ro:* %%W~wo:*"), "OK");
    redisContext *u = connectAs("k", "pw");
    redisReply *r = cmd(u, "VSIM ro:v VALUES 2 1 0");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_ERROR(cmd(u, "VADD ro:v VALUES 2 0 1 b"), NOPERM_KEY);
    EXPECT_INTEGER(cmd(u, "VADD wo:v VALUES 2 0 1 b"), 1);
    EXPECT_ERROR(cmd(u, "VSIM wo:v VALUES 2 1 0"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "VCARD other"), NOPERM_KEY);
    r = cmd(c, "ACL GETUSER k");
    cr_assert_str_eq(r->element[6]->str, "keys");
    cr_assert_str_eq(r->element[7]->str, "%R~ro:* %W~wo:*");
    freeReplyObject(r);
    /* allkeys, then a pattern after it is refused; resetkeys empties the list. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER k allkeys"), "OK");
    EXPECT_INTEGER(cmd(u, "VCARD other"), 0);
    EXPECT_ERROR(cmd(c, "ACL SETUSER k ~x:*"),
                 "ERR Error in ACL SETUSER modifier '~x:*': Adding a pattern after the * pattern "
                 "(or the 'allkeys' flag) is not valid and does not have any effect. Try "
                 "'resetkeys' to start with an empty list of patterns");
    EXPECT_STATUS(cmd(c, "ACL SETUSER k resetkeys ~x:*"), "OK");
    EXPECT_ERROR(cmd(u, "VCARD ro:v"), NOPERM_KEY);
    EXPECT_INTEGER(cmd(u, "VCARD x:1"), 0);
    redisFree(u);
}

/* ---------------------------------------------------------------- channels */

Test(acl, channel_rules) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER p on >pw +@all ~* resetchannels &news:*"), "OK");
    redisContext *u = connectAs("p", "pw");
    EXPECT_INTEGER(cmd(u, "PUBLISH news:1 hello"), 0);
    EXPECT_ERROR(cmd(u, "PUBLISH sport hello"), NOPERM_CHANNEL);
    /* A pattern subscription must be one of the user's patterns, literally. */
    EXPECT_ERROR(cmd(u, "PSUBSCRIBE n*"), NOPERM_CHANNEL);
    EXPECT_ERROR(cmd(u, "SUBSCRIBE news:1 sport"), NOPERM_CHANNEL);
    redisReply *r = cmd(u, "SUBSCRIBE news:2");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3, "%s", replyToString(r));
    freeReplyObject(r);
    redisFree(u);
    u = connectAs("p", "pw");
    r = cmd(u, "PSUBSCRIBE news:*");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3, "%s", replyToString(r));
    freeReplyObject(r);
    redisFree(u);
    EXPECT_STATUS(cmd(c, "ACL SETUSER p allchannels"), "OK");
    u = connectAs("p", "pw");
    EXPECT_INTEGER(cmd(u, "PUBLISH sport hello"), 0);
    EXPECT_STATUS(cmd(c, "ACL SETUSER p resetchannels"), "OK");
    EXPECT_ERROR(cmd(u, "PUBLISH news:1 hello"), NOPERM_CHANNEL);
    redisFree(u);
    r = cmd(c, "ACL GETUSER p");
    cr_assert_str_eq(r->element[8]->str, "channels");
    cr_assert_str_eq(r->element[9]->str, "");
    freeReplyObject(r);
    /* Taking a channel away disconnects the user's clients subscribed to it (as Redis); a
     * subscriber whose channels are all still allowed stays. */
    EXPECT_STATUS(cmd(c, "ACL SETUSER p &news:* &sport"), "OK");
    redisContext *s1 = connectAs("p", "pw"), *s2 = connectAs("p", "pw");
    freeReplyObject(cmd(s1, "SUBSCRIBE sport"));
    freeReplyObject(cmd(s2, "SUBSCRIBE news:1"));
    EXPECT_STATUS(cmd(c, "ACL SETUSER p resetchannels &news:*"), "OK");
    EXPECT_INTEGER(cmd(c, "PUBLISH news:1 still-here"), 1);
    r = NULL;
    cr_assert_eq(redisGetReply(s2, (void **)&r), REDIS_OK);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                  !strcmp(r->element[2]->str, "still-here"),
              "%s", replyToString(r));
    freeReplyObject(r);
    cr_assert_null(redisCommand(s1, "PING"), "the sport subscriber was closed");
    redisFree(s1);
    redisFree(s2);
}

/* ---------------------------------------------------------------- MULTI */

Test(acl, multi_checked_when_queued_and_at_exec) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER m on >pw ~t1:* +@all"), "OK");
    redisContext *u = connectAs("m", "pw");
    /* Refused while queuing: the transaction is aborted. */
    EXPECT_STATUS(cmd(u, "MULTI"), "OK");
    EXPECT_STATUS(cmd(u, "VADD t1:v VALUES 2 1 0 a"), "QUEUED");
    EXPECT_ERROR(cmd(u, "VADD t2:v VALUES 2 1 0 a"), NOPERM_KEY);
    EXPECT_ERROR(cmd(u, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    EXPECT_INTEGER(cmd(c, "EXISTS t1:v t2:v"), 0);
    /* Allowed when queued, no longer at EXEC: that command's slot gets the error, the rest
     * runs. */
    EXPECT_STATUS(cmd(u, "MULTI"), "OK");
    EXPECT_STATUS(cmd(u, "VADD t1:v VALUES 2 1 0 a"), "QUEUED");
    EXPECT_STATUS(cmd(u, "VCARD t1:v"), "QUEUED");
    EXPECT_STATUS(cmd(c, "ACL SETUSER m -vadd"), "OK");
    redisReply *r = cmd(u, "EXEC");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_ERROR);
    cr_assert_str_eq(r->element[0]->str,
                     "NOPERM ACLs rules changed between the moment the transaction was "
                     "accumulated and the EXEC call. This command is no longer allowed for the "
                     "following reason: User m has no permissions to run the 'VADD' command");
    cr_assert(r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer == 0);
    freeReplyObject(r);
    EXPECT_INTEGER(cmd(c, "EXISTS t1:v"), 0);
    redisFree(u);
    /* Both show in ACL LOG with context multi. */
    r = cmd(c, "ACL LOG");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
    for (size_t i = 0; i < 2; i++) cr_assert_str_eq(r->element[i]->element[5]->str, "multi");
    cr_assert_str_eq(r->element[0]->element[3]->str, "command");
    cr_assert_str_eq(r->element[0]->element[7]->str, "VADD");
    cr_assert_str_eq(r->element[1]->element[3]->str, "key");
    cr_assert_str_eq(r->element[1]->element[7]->str, "t2:v");
    freeReplyObject(r);
}

/* ---------------------------------------------------------------- ACL LOG and counters */

static const char *mapField(redisReply *entry, const char *name) {
    for (size_t i = 0; i + 1 < entry->elements; i += 2)
        if (!strcmp(entry->element[i]->str, name)) {
            redisReply *v = entry->element[i + 1];
            static char num[32];
            if (v->type == REDIS_REPLY_INTEGER) {
                snprintf(num, sizeof(num), "%lld", v->integer);
                return num;
            }
            return v->str;
        }
    cr_assert_fail("no field %s in %s", name, replyToString(entry));
    return NULL;
}

Test(acl, acl_log_and_info_counters) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER lg on >pw ~a:* +vcard +ping"), "OK");
    expectAuthFails("lg", "wrong");
    redisContext *u = connectAs("lg", "pw");
    expectNoPermCmd(u, "lg", "VADD", cmd(u, "VADD a:1 VALUES 1 1 x"));
    expectNoPermCmd(u, "lg", "VADD", cmd(u, "VADD a:1 VALUES 1 1 x")); /* grouped: count 2 */
    EXPECT_ERROR(cmd(u, "VCARD b:1"), NOPERM_KEY);
    redisFree(u);
    redisReply *r = cmd(c, "ACL LOG");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3, "%s", replyToString(r));
    /* Newest first: the key, the command (twice), the failed AUTH. */
    cr_assert_str_eq(mapField(r->element[0], "reason"), "key");
    cr_assert_str_eq(mapField(r->element[0], "object"), "b:1");
    cr_assert_str_eq(mapField(r->element[0], "username"), "lg");
    cr_assert_str_eq(mapField(r->element[0], "context"), "toplevel");
    cr_assert_str_eq(mapField(r->element[1], "reason"), "command");
    cr_assert_str_eq(mapField(r->element[1], "object"), "VADD");
    cr_assert_str_eq(mapField(r->element[1], "count"), "2");
    cr_assert_str_eq(mapField(r->element[2], "reason"), "auth");
    cr_assert_str_eq(mapField(r->element[2], "object"), "AUTH");
    cr_assert_str_eq(mapField(r->element[2], "username"), "lg");
    cr_assert(strstr(mapField(r->element[0], "client-info"), "user=lg") != NULL);
    cr_assert(strstr(mapField(r->element[0], "client-info"), "cmd=VCARD ") != NULL, "%s",
              mapField(r->element[0], "client-info"));
    cr_assert_eq(r->element[0]->elements, 20, "10 fields as Redis: %s",
                 replyToString(r->element[0]));
    freeReplyObject(r);
    r = cmd(c, "ACL LOG 1");
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_auth"), 1);
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_cmd"), 2);
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_key"), 1);
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_channel"), 0);
    /* CONFIG RESETSTAT clears the counters (and the rejected_calls of the commands). */
    r = cmd(c, "INFO commandstats");
    cr_assert(strstr(r->str, "cmdstat_VADD:calls=0,") && strstr(r->str, "rejected_calls=2"), "%s",
              r->str);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG RESETSTAT"), "OK");
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_auth"), 0);
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_cmd"), 0);
    cr_assert_eq(infoFieldLL(c, "stats", "acl_access_denied_key"), 0);
    r = cmd(c, "INFO commandstats");
    cr_assert(!strstr(r->str, "cmdstat_VADD"), "%s", r->str);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "ACL LOG RESET"), "OK");
    r = cmd(c, "ACL LOG");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    /* acllog-max-len bounds it. */
    EXPECT_STATUS(cmd(c, "CONFIG SET acllog-max-len 2"), "OK");
    for (int i = 0; i < 5; i++) {
        char user[16];
        snprintf(user, sizeof(user), "ghost%d", i);
        expectAuthFails(user, "x");
    }
    r = cmd(c, "ACL LOG 100");
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(mapField(r->element[0], "username"), "ghost4");
    freeReplyObject(r);
}

/* ---------------------------------------------------------------- DRYRUN, CAT, GENPASS, ... */

Test(acl, dryrun_cat_genpass_users_whoami) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER d on >pw ~t1:* +@read"), "OK");
    EXPECT_STATUS(cmd(c, "ACL DRYRUN d VSIM t1:v VALUES 2 1 0"), "OK");
    EXPECT_BULK(cmd(c, "ACL DRYRUN d VSIM t2:v VALUES 2 1 0"),
                "No permissions to access the 't2:v' key");
    EXPECT_BULK(cmd(c, "ACL DRYRUN d VADD t1:v VALUES 2 1 0 e"),
                "User d has no permissions to run the 'VADD' command");
    EXPECT_ERROR(cmd(c, "ACL DRYRUN nobody PING"), "ERR User 'nobody' not found");
    EXPECT_ERROR(cmd(c, "ACL DRYRUN d NOSUCH"), "ERR Command 'NOSUCH' not found");
    EXPECT_ERROR(cmd(c, "ACL DRYRUN d VCARD"), "ERR wrong number of arguments for 'VCARD' command");
    /* DRYRUN runs nothing. */
    EXPECT_INTEGER(cmd(c, "EXISTS t1:v"), 0);

    redisReply *r = cmd(c, "ACL CAT");
    int has_vector = 0, has_read = 0, has_hash = 0;
    for (size_t i = 0; i < r->elements; i++) {
        has_vector |= !strcmp(r->element[i]->str, "vector");
        has_read |= !strcmp(r->element[i]->str, "read");
        has_hash |= !strcmp(r->element[i]->str, "hash");
    }
    cr_assert(has_vector && has_read && has_hash, "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "ACL CAT vector");
    int vsim = 0, vadd = 0, idxcreate = 0, ping = 0;
    for (size_t i = 0; i < r->elements; i++) {
        vsim |= !strcmp(r->element[i]->str, "vsim");
        vadd |= !strcmp(r->element[i]->str, "vadd");
        idxcreate |= !strcmp(r->element[i]->str, "idx.create");
        ping |= !strcmp(r->element[i]->str, "ping");
    }
    cr_assert(vsim && vadd && idxcreate && !ping, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "ACL CAT nosuch"), "ERR Unknown category 'nosuch'");

    r = cmd(c, "ACL GENPASS");
    cr_assert(r->type == REDIS_REPLY_STRING && r->len == 64, "%s", replyToString(r));
    cr_assert_eq(strspn(r->str, "0123456789abcdef"), 64);
    char first[65];
    strcpy(first, r->str);
    freeReplyObject(r);
    r = cmd(c, "ACL GENPASS");
    cr_assert_str_neq(r->str, first, "two passwords differ");
    freeReplyObject(r);
    r = cmd(c, "ACL GENPASS 32");
    cr_assert(r->type == REDIS_REPLY_STRING && r->len == 8, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_ERROR_PREFIX(cmd(c, "ACL GENPASS 0"), "ERR ACL GENPASS argument must be");

    r = cmd(c, "ACL USERS");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
    cr_assert_str_eq(r->element[0]->str, "d");
    cr_assert_str_eq(r->element[1]->str, "default");
    freeReplyObject(r);
    EXPECT_BULK(cmd(c, "ACL WHOAMI"), "default");
    EXPECT_NIL(cmd(c, "ACL GETUSER nosuch"));
    EXPECT_ERROR(cmd(c, "ACL DELUSER default"), "ERR The 'default' user cannot be removed");
    EXPECT_ERROR(cmd(c, "ACL SAVE"), "ERR This Quiver instance is not configured to use an ACL "
                                     "file. You may want to specify users via the ACL SETUSER "
                                     "command and then issue a CONFIG REWRITE (assuming you have "
                                     "a Quiver configuration file set) in order to store users in "
                                     "the Quiver configuration.");
}

/* ---------------------------------------------------------------- connections of a user */

Test(acl, deluser_and_client_kill_user_close_connections) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER gone on >pw +@all ~*"), "OK");
    EXPECT_STATUS(cmd(c, "ACL SETUSER other on >pw +@all ~*"), "OK");
    redisContext *g1 = connectAs("gone", "pw"), *g2 = connectAs("gone", "pw");
    redisContext *o = connectAs("other", "pw");
    redisReply *r = cmd(c, "CLIENT LIST");
    cr_assert(strstr(r->str, "user=gone") && strstr(r->str, "user=other"), "%s", r->str);
    freeReplyObject(r);
    EXPECT_INTEGER(cmd(c, "CLIENT KILL USER other"), 1);
    EXPECT_ERROR(cmd(c, "CLIENT KILL USER nosuch"), "ERR No such user 'nosuch'");
    EXPECT_INTEGER(cmd(c, "ACL DELUSER gone nosuch"), 1);
    /* The deleted user's connections and the killed one are closed. */
    cr_assert_null(redisCommand(g1, "PING"));
    cr_assert_null(redisCommand(g2, "PING"));
    cr_assert_null(redisCommand(o, "PING"));
    redisFree(g1);
    redisFree(g2);
    redisFree(o);
    expectAuthFails("gone", "pw");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
}

Test(acl, hello_auth_and_reset) {
    EXPECT_STATUS(cmd(c, "ACL SETUSER h on >pw +@all ~*"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET requirepass adminpw"), "OK");
    int fd = rawConnect(&srv);
    size_t len;
    char *rep = rawCommand(fd, "HELLO 3 AUTH h wrong", &len);
    cr_assert(rep && !strncmp(rep, "-WRONGPASS invalid username-password pair", 41), "%s", rep);
    free(rep);
    rep = rawCommand(fd, "HELLO 3 AUTH h pw", &len);
    cr_assert(rep && rep[0] == '%', "a RESP3 map: %s", rep);
    free(rep);
    rep = rawCommand(fd, "ACL WHOAMI", &len);
    EXPECT_RAW(rep, len, "$1\r\nh\r\n");
    /* RESET: back to `default`, which has a password now: not authenticated. */
    rep = rawCommand(fd, "RESET", &len);
    EXPECT_RAW(rep, len, "+RESET\r\n");
    rep = rawCommand(fd, "ACL WHOAMI", &len);
    EXPECT_RAW(rep, len, "-NOAUTH Authentication required.\r\n");
    rawClose(fd);
}

/* ---------------------------------------------------------------- the ACL file, config lines */

static qvTestServer srv2, srv3;
static void fini2(void) {
    serverStop(&srv3);
    serverStop(&srv2);
}
TestSuite(aclfile, .fini = fini2, .timeout = 90);

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "r");
    cr_assert(fp, "open %s", path);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void writeFile(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    cr_assert(fp, "create %s", path);
    fputs(text, fp);
    fclose(fp);
}

/* A fresh directory for files the server reads before it starts. */
static void tempDir(char *out, size_t len) {
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(out, len, "%s/aclfile-XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert(mkdtemp(out) != NULL);
}

static char *aclList(redisContext *ctx) {
    redisReply *r = cmd(ctx, "ACL LIST");
    cr_assert(r->type == REDIS_REPLY_ARRAY);
    static char out[8192];
    out[0] = '\0';
    for (size_t i = 0; i < r->elements; i++) {
        strcat(out, r->element[i]->str);
        strcat(out, "\n");
    }
    freeReplyObject(r);
    return out;
}

Test(aclfile, load_save_and_a_restart_round_trip) {
    char dir[300], path[400], args[600];
    tempDir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/users.acl", dir);
    writeFile(path, "user default on nopass ~* &* +@all\n"
                    "\n"
                    "user alice on >apw ~a:* resetchannels -@all +@read\n");
    snprintf(args, sizeof(args), "--aclfile %s", path);
    serverStart(&srv2, args);
    redisContext *adm = serverConnect(&srv2);
    redisContext *a = serverConnect(&srv2);
    EXPECT_STATUS(cmd(a, "AUTH alice apw"), "OK");
    EXPECT_INTEGER(cmd(a, "VCARD a:1"), 0);
    EXPECT_ERROR(cmd(a, "VCARD b:1"), NOPERM_KEY);
    EXPECT_ERROR(cmd(a, "VADD a:1 VALUES 1 1 x"),
                 "NOPERM User alice has no permissions to run the 'VADD' command");
    /* SETUSER then SAVE: the file holds every user in ACL LIST form, hashes only. */
    EXPECT_STATUS(cmd(adm, "ACL SETUSER bob on >bpw ~b:* +ping +@vector"), "OK");
    EXPECT_STATUS(cmd(adm, "ACL SAVE"), "OK");
    char *before = strdup(aclList(adm));
    char *file = slurp(path);
    cr_assert_str_eq(file, before, "the saved file is ACL LIST");
    cr_assert(!strstr(file, "bpw") && !strstr(file, "apw"), "no clear password: %s", file);
    char h[65], line[200];
    sha256Hex("bpw", h);
    snprintf(line, sizeof(line), "user bob on #%s ~b:* resetchannels -@all +ping +@vector\n", h);
    cr_assert(strstr(file, line), "%s", file);

    /* A bad file: ACL LOAD refuses it and changes nothing. */
    writeFile(path, "user carol on >cpw +nosuch\n");
    redisReply *r = cmd(adm, "ACL LOAD");
    char want[600];
    snprintf(want, sizeof(want),
             "ERR %s:1: Error in user declaration '+nosuch': Unknown command or category name in "
             "ACL",
             path);
    cr_assert(r->type == REDIS_REPLY_ERROR && !strcmp(r->str, want), "%s", replyToString(r));
    freeReplyObject(r);
    writeFile(path, "user x on\nuser x off\n");
    EXPECT_ERROR_PREFIX(cmd(adm, "ACL LOAD"), "ERR ");
    cr_assert_str_eq(aclList(adm), before);
    EXPECT_INTEGER(cmd(a, "VCARD a:1"), 0);

    /* A new file: alice is gone (her connection closed), bob changed, carol added. */
    writeFile(path, "user bob on >bpw2 ~* +@all\nuser carol on nopass +ping\n");
    EXPECT_STATUS(cmd(adm, "ACL LOAD"), "OK");
    cr_assert_null(redisCommand(a, "PING"), "alice's connection was closed");
    redisFree(a);
    redisContext *b = serverConnect(&srv2);
    EXPECT_STATUS(cmd(b, "AUTH bob bpw2"), "OK");
    EXPECT_INTEGER(cmd(b, "VADD x VALUES 1 1 y"), 1);
    redisFree(b);
    r = cmd(adm, "ACL USERS");
    cr_assert(r->elements == 3, "%s", replyToString(r));
    freeReplyObject(r);
    /* default was not in the file: back to its fresh state. */
    EXPECT_STATUS(cmd(adm, "PING"), "PONG");

    /* Save, restart on the file: the same users. */
    EXPECT_STATUS(cmd(adm, "ACL SAVE"), "OK");
    char *saved = strdup(aclList(adm));
    redisFree(adm);
    serverStop(&srv2);
    serverStart(&srv2, args);
    adm = serverConnect(&srv2);
    cr_assert_str_eq(aclList(adm), saved);
    redisFree(adm);
    free(before);
    free(saved);
}

Test(aclfile, config_file_user_lines) {
    char dir[300], conf[400];
    tempDir(dir, sizeof(dir));
    snprintf(conf, sizeof(conf), "%s/quiver.conf", dir);
    writeFile(conf, "user carol on >cpw ~c:* +@all\n"
                    "user default off\n");
    serverStart(&srv2, conf);
    redisContext *u = serverConnect(&srv2);
    EXPECT_ERROR(cmd(u, "PING"), "NOAUTH Authentication required.");
    EXPECT_ERROR(cmd(u, "AUTH default x"),
                 "WRONGPASS invalid username-password pair or user is disabled.");
    EXPECT_STATUS(cmd(u, "AUTH carol cpw"), "OK");
    EXPECT_ERROR(cmd(u, "VCARD d:1"), NOPERM_KEY);
    EXPECT_INTEGER(cmd(u, "VCARD c:1"), 0);
    char *list = aclList(u);
    /* A `user default` line starts from nothing, as in Redis (reset, then its rules). */
    cr_assert(strstr(list, "user default off resetchannels -@all\n"), "%s", list);
    redisFree(u);

    /* user lines and an aclfile together: refused at start, as Redis does. */
    char acl[400];
    snprintf(acl, sizeof(acl), "%s/users.acl", dir);
    writeFile(acl, "user default on nopass ~* &* +@all\n");
    const char *argv[] = {conf, "--port", "0", "--aclfile", acl, NULL};
    char *out = NULL;
    cr_assert_eq(runServerBinary(argv, dir, &out), 1, "%s", out);
    cr_assert(strstr(out, "either an ACL file or declare users"), "%s", out);
    free(out);
    /* A bad user line stops start-up too. */
    writeFile(conf, "user eve on +nosuch\n");
    const char *argv2[] = {conf, "--port", "0", NULL};
    cr_assert_eq(runServerBinary(argv2, dir, &out), 1, "%s", out);
    cr_assert(strstr(out, "Unknown command or category name in ACL"), "%s", out);
    free(out);
}

Test(aclfile, replica_authenticates_with_masteruser) {
    serverStart(&srv2, "--requirepass adminpw");
    redisContext *m = serverConnect(&srv2);
    EXPECT_STATUS(cmd(m, "AUTH adminpw"), "OK");
    /* A replication user that may not PSYNC yet. */
    EXPECT_STATUS(cmd(m, "ACL SETUSER repl on >rpw +ping +replconf"), "OK");
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 1 0 a"), 1);
    char args[200];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d --masteruser repl --masterauth rpw",
             srv2.port);
    serverStart(&srv3, args);
    redisContext *r = serverConnect(&srv3);
    usleep(500 * 1000);
    char *link = infoField(r, "replication", "master_link_status");
    cr_assert_str_eq(link, "down", "PSYNC is not allowed to repl");
    free(link);
    redisReply *log = cmd(m, "ACL LOG 1");
    cr_assert(log->elements == 1, "%s", replyToString(log));
    cr_assert_str_eq(mapField(log->element[0], "object"), "psync");
    cr_assert_str_eq(mapField(log->element[0], "username"), "repl");
    freeReplyObject(log);
    EXPECT_STATUS(cmd(m, "ACL SETUSER repl +psync"), "OK");
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD k"), 1);
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 0 1 b"), 1);
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD k"), 2);
    redisReply *cl = cmd(m, "CLIENT LIST TYPE replica");
    cr_assert(strstr(cl->str, "user=repl"), "%s", cl->str);
    freeReplyObject(cl);
    redisFree(r);
    redisFree(m);
}

Test(aclfile, config_rewrite_writes_the_users) {
    char dir[300], conf[400];
    tempDir(dir, sizeof(dir));
    snprintf(conf, sizeof(conf), "%s/quiver.conf", dir);
    writeFile(conf, "# my users\n"
                    "user carol on >cpw ~c:* +@all\n"
                    "# the end\n"
                    "user erin on nopass +ping\n");
    serverStart(&srv2, conf);
    redisContext *u = serverConnect(&srv2);
    EXPECT_STATUS(cmd(u, "ACL SETUSER dave on >dpw ~d:* +@vector"), "OK");
    EXPECT_INTEGER(cmd(u, "ACL DELUSER erin"), 1);
    EXPECT_STATUS(cmd(u, "CONFIG REWRITE"), "OK");
    char *before = strdup(aclList(u));
    char *file = strdup(slurp(conf));
    char hc[65], hd[65], want[300];
    sha256Hex("cpw", hc);
    sha256Hex("dpw", hd);
    /* carol in her old place, dave after her, erin gone, comments kept; `default` is as a
     * fresh server has it, so it needs no line. */
    snprintf(want, sizeof(want),
             "# my users\nuser carol on #%s ~c:* resetchannels +@all\n# the end\n"
             "user dave on #%s ~d:* resetchannels -@all +@vector\n",
             hc, hd);
    cr_assert(!strncmp(file, want, strlen(want)), "got:\n%s\nwant:\n%s", file, want);
    cr_assert(!strstr(file, "erin") && !strstr(file, "user default"), "%s", file);
    redisFree(u);
    serverStop(&srv2);
    /* Restart on the file's user lines (its `dir` and the like name the stopped server's). */
    char users[4096] = "";
    for (char *line = strtok(file, "\n"); line; line = strtok(NULL, "\n"))
        if (!strncmp(line, "user ", 5)) strcat(strcat(users, line), "\n");
    writeFile(conf, users);
    serverStart(&srv2, conf);
    u = serverConnect(&srv2);
    cr_assert_str_eq(aclList(u), before, "the same users after a restart on the rewritten file");
    /* A changed default is written too. */
    EXPECT_STATUS(cmd(u, "ACL SETUSER default -debug"), "OK");
    EXPECT_STATUS(cmd(u, "CONFIG REWRITE"), "OK");
    cr_assert(strstr(slurp(conf), "user default on nopass ~* &* +@all -debug\n"), "%s",
              slurp(conf));
    redisFree(u);
    free(before);
    free(file);
}
