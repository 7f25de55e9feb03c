/* test_notify.c -- keyspace notifications as a Redis client receives them: a real subscriber
 * (hiredis, PSUBSCRIBE) gets `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` messages,
 * in order, for the generic events (del, expire, expired, rename_from/rename_to,
 * move_from/move_to, persist, new) and the vector writes (vadd, vrem, vsetattr, idx.create,
 * idx.drop, class d), only for the classes notify-keyspace-events enables; the flag string is
 * parsed and printed as Redis does. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

QV_SERVER_FIXTURE(notify, 60);

/* Reads the next pmessage and checks its channel and payload. */
static void expectMessage(redisContext *sub, const char *channel, const char *message) {
    redisReply *r;
    cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK, "no message (wanted %s %s)", channel,
                 message);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 4, "%s", replyToString(r));
    cr_assert_str_eq(r->element[0]->str, "pmessage");
    cr_assert(!strcmp(r->element[2]->str, channel) && !strcmp(r->element[3]->str, message),
              "got %s %s, wanted %s %s", r->element[2]->str, r->element[3]->str, channel, message);
    freeReplyObject(r);
}

/* One event: its keyspace message, then its keyevent message (both enabled by K and E). */
static void expectEvent(redisContext *sub, int db, const char *event, const char *key) {
    char ch[128];
    snprintf(ch, sizeof(ch), "__keyspace@%d__:%s", db, key);
    expectMessage(sub, ch, event);
    snprintf(ch, sizeof(ch), "__keyevent@%d__:%s", db, event);
    expectMessage(sub, ch, key);
}

static redisContext *subscriber(void) {
    redisContext *sub = serverConnect(&srv);
    redisReply *r = cmd(sub, "PSUBSCRIBE __key*__:*");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    freeReplyObject(r);
    return sub;
}

Test(notify, config_flags_as_redis_parses_them) {
    redisReply *r = cmd(c, "CONFIG GET notify-keyspace-events");
    cr_assert_str_eq(r->element[1]->str, "");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events KEA"), "OK");
    r = cmd(c, "CONFIG GET notify-keyspace-events");
    cr_assert_str_eq(r->element[1]->str, "AKE");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events Egxd"), "OK");
    r = cmd(c, "CONFIG GET notify-keyspace-events");
    cr_assert_str_eq(r->element[1]->str, "gxdE");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events g$lshzxetdKEmn"), "OK");
    r = cmd(c, "CONFIG GET notify-keyspace-events");
    cr_assert_str_eq(r->element[1]->str, "AKEmn");
    freeReplyObject(r);
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET notify-keyspace-events KEQ"),
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'notify-keyspace-events')");
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events %s", ""), "OK");
}

Test(notify, generic_and_vector_events_in_order) {
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events KEA"), "OK");
    redisContext *sub = subscriber();
    EXPECT_STATUS(cmd(c, "SELECT 3"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 3 1 2 3 e"), 1);
    expectEvent(sub, 3, "vadd", "k");
    EXPECT_INTEGER(cmd(c, "VSETATTR k e {\"a\":1}"), 1);
    expectEvent(sub, 3, "vsetattr", "k");
    EXPECT_INTEGER(cmd(c, "EXPIRE k 100"), 1);
    expectEvent(sub, 3, "expire", "k");
    EXPECT_INTEGER(cmd(c, "PERSIST k"), 1);
    expectEvent(sub, 3, "persist", "k");
    EXPECT_STATUS(cmd(c, "RENAME k k2"), "OK");
    expectEvent(sub, 3, "rename_from", "k");
    expectEvent(sub, 3, "rename_to", "k2");
    EXPECT_INTEGER(cmd(c, "MOVE k2 4"), 1);
    expectEvent(sub, 3, "move_from", "k2");
    expectEvent(sub, 4, "move_to", "k2");
    EXPECT_STATUS(cmd(c, "SELECT 4"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD k2 VALUES 3 1 1 1 f"), 1);
    expectEvent(sub, 4, "vadd", "k2");
    EXPECT_INTEGER(cmd(c, "VREM k2 f"), 1);
    expectEvent(sub, 4, "vrem", "k2");
    /* Removing the last element deletes the set: vrem, then del. */
    EXPECT_INTEGER(cmd(c, "VREM k2 e"), 1);
    expectEvent(sub, 4, "vrem", "k2");
    expectEvent(sub, 4, "del", "k2");
    EXPECT_INTEGER(cmd(c, "VADD x VALUES 3 1 2 3 e"), 1);
    expectEvent(sub, 4, "vadd", "x");
    EXPECT_INTEGER(cmd(c, "PEXPIRE x 30"), 1);
    expectEvent(sub, 4, "expire", "x");
    /* The active cycle deletes it: expired. */
    expectEvent(sub, 4, "expired", "x");
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx DIM 2"), "OK");
    expectEvent(sub, 4, "idx.create", "idx");
    EXPECT_STATUS(cmd(c, "IDX.DROP idx"), "OK");
    expectEvent(sub, 4, "idx.drop", "idx");
    expectEvent(sub, 4, "del", "idx");
    EXPECT_INTEGER(cmd(c, "VADD y VALUES 3 1 2 3 e"), 1);
    expectEvent(sub, 4, "vadd", "y");
    EXPECT_INTEGER(cmd(c, "DEL y nokey"), 1);
    expectEvent(sub, 4, "del", "y");
    /* Nothing else was published: a PING on the subscriber answers next. */
    redisReply *r = cmd(sub, "PING");
    cr_assert(r->type == REDIS_REPLY_ARRAY && !strcmp(r->element[0]->str, "pong"), "%s",
              replyToString(r));
    freeReplyObject(r);
    redisFree(sub);
}

/* Only the enabled classes and channels: "Kd" gives vector events on keyspace channels only;
 * "En" adds the new-key event; nothing at all once it is "" again. */
Test(notify, only_enabled_classes_are_published) {
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events Kd"), "OK");
    redisContext *sub = subscriber();
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 3 1 2 3 e"), 1);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 100"), 1); /* g: not enabled */
    EXPECT_INTEGER(cmd(c, "VSETATTR k e {}"), 1);
    expectMessage(sub, "__keyspace@0__:k", "vadd");
    expectMessage(sub, "__keyspace@0__:k", "vsetattr");
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events En"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD fresh VALUES 3 1 2 3 e"), 1);
    expectMessage(sub, "__keyevent@0__:new", "fresh");
    EXPECT_STATUS(cmd(c, "CONFIG SET notify-keyspace-events %s", ""), "OK");
    EXPECT_INTEGER(cmd(c, "DEL k fresh"), 2);
    redisReply *r = cmd(sub, "PING");
    cr_assert(r->type == REDIS_REPLY_ARRAY && !strcmp(r->element[0]->str, "pong"), "%s",
              replyToString(r));
    freeReplyObject(r);
    redisFree(sub);
}
