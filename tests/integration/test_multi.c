/* test_multi.c -- MULTI/EXEC/DISCARD/WATCH/UNWATCH as client pipelines use them: redis-py's
 * default pipeline() sends MULTI, the commands and EXEC in one write and needs one +QUEUED per
 * command and an EXEC array of exactly that length; a queuing error must turn EXEC into
 * -EXECABORT; a WATCHed key modified by anyone makes EXEC return a null array. Keys are vector
 * sets made with VADD. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

QV_SERVER_FIXTURE(multi, 60);

Test(multi, queue_and_exec) {
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    EXPECT_STATUS(cmd(c, "ECHO %s", "hi"), "QUEUED");
    EXPECT_STATUS(cmd(c, "VADD k VALUES 2 1 2 e"), "QUEUED");
    EXPECT_STATUS(cmd(c, "DBSIZE"), "QUEUED");
    /* Nothing ran yet: another client sees no key. */
    redisContext *other = serverConnect(&srv);
    EXPECT_INTEGER(cmd(other, "DBSIZE"), 0);
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, 4);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_STATUS);
    cr_assert_str_eq(r->element[0]->str, "PONG");
    cr_assert_str_eq(r->element[1]->str, "hi");
    cr_assert_eq(r->element[2]->integer, 1);
    cr_assert_eq(r->element[3]->integer, 1);
    freeReplyObject(r);
    EXPECT_INTEGER(cmd(other, "DBSIZE"), 1);
    redisFree(other);
    /* The transaction is over. */
    EXPECT_ERROR(cmd(c, "EXEC"), "ERR EXEC without MULTI");
}

Test(multi, empty_transaction) {
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
}

Test(multi, errors_outside_and_nested) {
    EXPECT_ERROR(cmd(c, "EXEC"), "ERR EXEC without MULTI");
    EXPECT_ERROR(cmd(c, "DISCARD"), "ERR DISCARD without MULTI");
    EXPECT_ERROR(cmd(c, "MULTI x"), "ERR wrong number of arguments for 'multi' command");
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    /* Neither a nested MULTI nor a WATCH inside MULTI is queued or spoils the transaction. */
    EXPECT_ERROR(cmd(c, "MULTI"), "ERR MULTI calls can not be nested");
    EXPECT_ERROR(cmd(c, "WATCH k"), "ERR WATCH inside MULTI is not allowed");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
}

Test(multi, discard) {
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "VADD k VALUES 2 1 2 e"), "QUEUED");
    EXPECT_STATUS(cmd(c, "DISCARD"), "OK");
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    EXPECT_ERROR(cmd(c, "EXEC"), "ERR EXEC without MULTI");
}

/* A command refused while queuing (unknown, wrong arity) makes EXEC fail as a whole. */
Test(multi, execabort_after_queuing_error) {
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "VADD k VALUES 2 1 2 e"), "QUEUED");
    EXPECT_ERROR(cmd(c, "NOSUCHCMD a"),
                 "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' ");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    EXPECT_ERROR(cmd(c, "ECHO"), "ERR wrong number of arguments for 'echo' command");
    EXPECT_ERROR(cmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    EXPECT_ERROR(cmd(c, "EXEC"), "ERR EXEC without MULTI");
    /* Commands that may not run in a transaction are refused the same way. */
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_ERROR(cmd(c, "SHUTDOWN"), "ERR Command not allowed inside a transaction");
    EXPECT_ERROR(cmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    cr_assert(serverAlive(&srv));
}

/* An error while running does not stop the other queued commands (no rollback, as in Redis). */
Test(multi, runtime_error_inside_exec) {
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "SELECT 16"), "QUEUED");
    EXPECT_STATUS(cmd(c, "RENAME nokey x"), "QUEUED");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_ERROR);
    cr_assert_str_eq(r->element[0]->str, "ERR DB index is out of range");
    cr_assert_str_eq(r->element[1]->str, "ERR no such key");
    cr_assert_str_eq(r->element[2]->str, "PONG");
    freeReplyObject(r);
}

/* What redis-py's pipeline() puts on the wire: everything in one write. */
Test(multi, pipelined_transaction_like_redis_py) {
    int n = 50;
    redisAppendCommand(c, "MULTI");
    for (int i = 0; i < n; i++) redisAppendCommand(c, "ECHO %d", i);
    redisAppendCommand(c, "EXEC");
    redisReply *r;
    cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    EXPECT_STATUS(r, "OK");
    for (int i = 0; i < n; i++) {
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        EXPECT_STATUS(r, "QUEUED");
    }
    cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, (size_t)n, "EXEC array must have one reply per command");
    for (int i = 0; i < n; i++) cr_assert_eq(atoi(r->element[i]->str), i);
    freeReplyObject(r);
}

static void expectExecAborted(redisContext *ctx) {
    EXPECT_STATUS(cmd(ctx, "MULTI"), "OK");
    EXPECT_STATUS(cmd(ctx, "PING"), "QUEUED");
    redisReply *r = cmd(ctx, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_NIL, "EXEC should return a null array, got %s",
                 replyToString(r));
    freeReplyObject(r);
}

static void expectExecRan(redisContext *ctx) {
    EXPECT_STATUS(cmd(ctx, "MULTI"), "OK");
    EXPECT_STATUS(cmd(ctx, "PING"), "QUEUED");
    redisReply *r = cmd(ctx, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "EXEC should run, got %s", replyToString(r));
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
}

Test(multi, watch_aborts_on_modification_by_another_client) {
    redisContext *other = serverConnect(&srv);
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 e"), 1);

    /* VADD (a write to the key) by another client. */
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_INTEGER(cmd(other, "VADD k VALUES 2 3 4 f"), 1);
    expectExecAborted(c);
    /* EXEC, even an aborted one, unwatches: the next transaction runs. */
    expectExecRan(c);

    /* DEL of the key. */
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_INTEGER(cmd(other, "DEL k"), 1);
    expectExecAborted(c);

    /* RENAME touches both names. */
    EXPECT_INTEGER(cmd(other, "VADD src VALUES 2 1 2 e"), 1);
    EXPECT_STATUS(cmd(c, "WATCH dst"), "OK");
    EXPECT_STATUS(cmd(other, "RENAME src dst"), "OK");
    expectExecAborted(c);

    /* The modification can also come after MULTI, while commands are being queued. */
    EXPECT_STATUS(cmd(c, "WATCH dst"), "OK");
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    EXPECT_INTEGER(cmd(other, "VADD dst VALUES 2 5 6 g"), 1);
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_NIL, "%s", replyToString(r));
    freeReplyObject(r);
    redisFree(other);
}

/* FLUSHALL/FLUSHDB from another client touch every watched key that existed.
 * Note: Redis 7 does not abort a transaction whose watched key did not exist before the flush
 * (touchAllWatchedKeysInDb only touches existing keys); Quiver flags every watcher on a flush,
 * which is stricter. Only the case both agree on is asserted here. */
Test(multi, watch_aborts_on_flushall_from_another_client) {
    redisContext *other = serverConnect(&srv);
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 e"), 1);
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_STATUS(cmd(other, "FLUSHALL"), "OK");
    expectExecAborted(c);
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 e"), 1);
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_STATUS(cmd(other, "FLUSHDB"), "OK");
    expectExecAborted(c);
    redisFree(other);
}

Test(multi, watch_own_modification_and_unwatch) {
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 e"), 1);
    /* The watcher's own write before MULTI also aborts (as in Redis). */
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 3 4 f"), 1);
    expectExecAborted(c);
    /* UNWATCH forgets. */
    redisContext *other = serverConnect(&srv);
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_STATUS(cmd(c, "UNWATCH"), "OK");
    EXPECT_INTEGER(cmd(other, "DEL k"), 1);
    expectExecRan(c);
    /* Writes to other keys and reads of the watched key do not abort. */
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 e"), 1);
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_INTEGER(cmd(other, "VADD unrelated VALUES 2 1 2 e"), 1);
    EXPECT_INTEGER(cmd(other, "EXISTS k"), 1);
    EXPECT_INTEGER(cmd(other, "VCARD k"), 1);
    expectExecRan(c);
    /* A key that does not exist and stays that way. */
    EXPECT_STATUS(cmd(c, "WATCH never"), "OK");
    EXPECT_INTEGER(cmd(other, "DEL never"), 0);
    expectExecRan(c);
    /* DISCARD also unwatches. */
    EXPECT_STATUS(cmd(c, "WATCH k"), "OK");
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "DISCARD"), "OK");
    EXPECT_INTEGER(cmd(other, "DEL k"), 1);
    expectExecRan(c);
    redisFree(other);
    EXPECT_ERROR(cmd(c, "WATCH"), "ERR wrong number of arguments for 'watch' command");
    EXPECT_ERROR(cmd(c, "UNWATCH x"), "ERR wrong number of arguments for 'unwatch' command");
}

/* A client that disconnects with a transaction open or keys watched leaves nothing behind. */
Test(multi, disconnect_mid_transaction) {
    for (int i = 0; i < 20; i++) {
        redisContext *t = serverConnect(&srv);
        EXPECT_STATUS(cmd(t, "WATCH a b c"), "OK");
        EXPECT_STATUS(cmd(t, "MULTI"), "OK");
        EXPECT_STATUS(cmd(t, "PING"), "QUEUED");
        redisFree(t);
    }
    EXPECT_INTEGER(cmd(c, "VADD a VALUES 2 1 2 e"), 1); /* would touch freed watchers */
    EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
    cr_assert(serverAlive(&srv));
}
