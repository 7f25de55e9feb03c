/* batch.h -- pipelined commands gathered into worker jobs: runs of VADDs to one key become one
 * insert batch, runs of searches on one key one search run (the jobs themselves are blocked.h's).
 *
 * Which commands batch is the command table's word, never a list of names here: CMD_BATCH_VADD
 * marks the insert that joins a VADD batch, CMD_SEARCH_RUN the searches that join a run
 * (commands.h). A run continues while the next command carries the same flag and names the
 * same key.
 *
 * Ordered-input clients (CLIENT_ORDERED_INPUT: the AOF loader's fake client today, a replica's
 * link to its master next) replay a stream command by command inside one call on the loop
 * thread: their whole stream is the "pipeline", so their runs of VADDs get the same parallel
 * ingest as a pipelined client's, and they wait for each batch in place before the next
 * command that is not part of it (batchOrderedBefore / batchOrderedEnd). */
#ifndef QV_BATCH_H
#define QV_BATCH_H

#include "blocked.h"

/* ---- pipelined VADD batches ----
 * A run of VADDs to one key in a client's pipeline is inserted by several workers at once.
 * vaddCommand validates each command as usual and, instead of inserting, hands the element to
 * batchVaddAppend, which keeps a reply placeholder in the client's output (so replies of
 * commands around it stay in order). The batch is submitted (batchVaddFlush) when the next
 * command is not a VADD to the same key, when the query buffer holds no more complete commands,
 * or when it is large; the client then waits, and the elements are published (names,
 * attributes, replies) on the loop thread in arrival order once every worker is done. A name
 * repeated in a run is inserted once, with its last vector (last write wins), and each VADD
 * gets the reply it would have had alone. The commands entered the AOF when accepted, in
 * arrival order. While a batch is in flight, other clients' writes to that index wait (they
 * would otherwise land before the batch's, against the AOF order); searches go on.
 *
 * 1 if c's VADD on idx should join a batch (a batch of c is open, or more commands wait in its
 * query buffer, or the insert is expensive), given that c may use the pool. */
int batchVaddBatchable(qvClient *c, qvIndex *idx);
/* Takes ownership of blob (zmalloc'ed) and attrs. Returns 0, or -1 with nothing done and
 * nothing taken if MAXELEMENTS refuses a new name (the caller replies the error). */
int batchVaddAppend(qvClient *c, qvIndex *idx, const char *name, size_t len, void *blob, float norm,
                    int set_attrs, qvAttrs *attrs, uint32_t ef);
void batchVaddFlush(qvClient *c); /* submits c's open batch (c waits for it) */
/* Commands in c's open VADD batch (0: none open). Replication: 1 means the batch just opened, so
 * every earlier one of c's was published. */
uint32_t batchVaddOpenCount(const qvClient *c);
/* ---- pipelined search runs ----
 * A run of searches (VSIM, VSEARCH) on one key in a client's pipeline is one job: the workers
 * take its searches from a shared counter, so even cheap queries spread over every thread, and
 * the loop thread hands the pool one job per run instead of one per query. Each search keeps
 * the job it would have had alone (its work() and reply()); its reply has a placeholder in the
 * client's output (clientAddDeferredNode), filled in order once the run is done, so an error or
 * an inline reply of a search in the middle of the run stays in its place. The run is submitted
 * when the next command is not a VSIM/VSEARCH of the same key, when the query buffer holds no
 * more complete commands, or when it is large; the client then waits, as for one threaded
 * search.
 *
 * 1 if c's search on idx should join a run (one of c is open, or more commands wait in its
 * query buffer), given a client that may use the pool. */
int batchSearchBatchable(qvClient *c, qvIndex *idx);
/* Takes j (its inputs copied, as for blockClientOnJob) into c's open run, opening one. */
void batchSearchAppend(qvClient *c, qvIndex *idx, clientJob *j);
void batchSearchFlush(qvClient *c); /* submits c's open run (c waits for it) */
/* networking.c hooks. Before a parsed command runs: returns 1 if the client is blocked now
 * (its open batch was submitted, or the command writes an index a batch is filling) and the
 * command must stay in the query buffer to run later. After the input loop: submits an open
 * batch. */
int batchBeforeCommand(qvClient *c, int argc, const char **argv, const size_t *argvlen);
void batchAfterInput(qvClient *c);
/* Ordered-input clients (CLIENT_ORDERED_INPUT): before each command of the stream (a run of
 * VADDs to one key becomes a batch; anything else first waits for it), and at the end of the
 * stream (the open batch is inserted and published before this returns). */
void batchOrderedBefore(qvClient *c, int argc, const char **argv, const size_t *argvlen);
void batchOrderedEnd(qvClient *c);
/* EXEC (multi.c): a run of queued VADDs to one key is inserted by the workers while the loop
 * thread waits, so a big transaction costs what the same pipeline would, and stays atomic.
 * Begin before the first queued command, Before(c, i) before each, End after the last (every
 * batch is published before it returns). No-ops for a transaction without such a run. */
void batchExecBegin(qvClient *c);
void batchExecBefore(qvClient *c, int i);
void batchExecEnd(qvClient *c);

/* The batching counters of INFO threads. */
typedef struct batchStats {
    long long vadd_batches, vadd_batched;     /* batches submitted, VADDs that joined one */
    long long search_batches, search_batched; /* runs submitted, searches that joined one */
} batchStats;
/* The most elements c may grow idx to: the lower of its own MAXELEMENTS and the server-wide
 * vset-max-elements (which AOF replay is exempt from); 0 = no bound. addReplyVsetFull replies the
 * refusal, naming vset-max-elements when that is the bound that applies. Loop thread. */
uint32_t vsetMaxElementsFor(const qvClient *c, const qvIndex *idx);
void addReplyVsetFull(qvClient *c, const qvIndex *idx);

/* Searches c has gathered into a run not yet handed to the workers (counted by the -BUSY gate
 * with those already handed over, so a long pipeline meets the bound as separate clients do). */
uint32_t batchOpenSearches(const qvClient *c);

void batchGetStats(batchStats *st);

#endif
