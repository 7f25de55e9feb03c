#!/usr/bin/env bash
# bench-compare.sh -- Quiver against the in-process HNSW libraries, on the same data, in one run.
#
#   utils/bench-compare.sh [--dataset siftsmall] [--ef 10,20,40,80,160,320] [-k 10]
#                          [--clients 4] [--query-pipeline 1] [--threads 2] [--quant q8|fp32]
#                          [--repeat N] [--rounds 1]
#                          [--target-recall 0.98] [--port P] [--out DIR]
#
# Runs, on one machine and one data set (TEXMEX files found as quiver-benchmark finds them):
#   quiver   src/quiver-benchmark against a quiver-server it starts (or the one on --port):
#            VADD FP32 pipelined from ONE connection (M 16, EF 200), then VSIM from --clients
#            connections at each EF, --query-pipeline queries in flight on each (1: every client
#            waits for its answer before asking again);
#   hnswlib  python3-hnswlib (Debian): add_items with --threads threads, then knn_query over all
#            queries at once with --threads threads at each ef;
#   faiss    python3-faiss (Debian): IndexHNSWFlat (inner product on unit vectors), the same.
# All use cosine similarity (unit vectors for the libraries), M 16, EF construction 200, and the
# set's cosine ground truth for recall@k. It prints each run's table, then the ratios the issue
# asks for: Quiver's insert rate over each library's, and Quiver's queries/s over each library's
# at the same recall (the curves are interpolated in log QPS at --target-recall). With --rounds
# N the whole comparison runs N times, alternating the peers, and the median of each ratio is
# printed too (a shared 2-core machine moves single figures by tens of percent). CSV files and an
# SVG of the curves (one per round) go to --out (default: a temporary directory, printed).
#
# What the numbers are: the libraries are called in-process with whole batches (no network, no
# protocol, one call for every query), Quiver serves each query over TCP from separate client
# connections; the machine is shared by the client, the server and its workers.
set -euo pipefail
cd "$(dirname "$0")/.."

DATASET=siftsmall EF=10,20,40,80,160,320 K=10 CLIENTS=4 THREADS=2 QUANT=q8 REPEAT=0 TARGET=0.98
QPIPE=1 ROUNDS=1
PORT="" OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dataset) DATASET=$2; shift 2 ;;
        --ef) EF=$2; shift 2 ;;
        -k) K=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --query-pipeline) QPIPE=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --quant) QUANT=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --target-recall) TARGET=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

DIR=""
for d in "${QUIVER_DATASETS:-}" datasets; do
    if [ -n "$d" ] && [ -f "$d/${DATASET}_base.fvecs" ]; then DIR=$d; break; fi
done
[ -n "$DIR" ] || { echo "dataset $DATASET not found (datasets/, \$QUIVER_DATASETS)" >&2; exit 1; }
TRUTH="$DIR/${DATASET}_groundtruth_cosine.ivecs"
[ -f "$TRUTH" ] || TRUTH="$DIR/${DATASET}_groundtruth.ivecs"
[ -x src/quiver-benchmark ] && [ -x src/quiver-server ] || make -s src/quiver-server src/quiver-benchmark
if [ -z "$OUT" ]; then OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX"); fi
mkdir -p "$OUT"

# Enough queries that each point lasts a while: ~20k searches unless --repeat says otherwise.
NQ=$(/usr/bin/python3 -c "import os;print(os.path.getsize('$DIR/${DATASET}_query.fvecs')//(4+4*int.from_bytes(open('$DIR/${DATASET}_query.fvecs','rb').read(4),'little')))")
[ "$REPEAT" -gt 0 ] || REPEAT=$(( (20000 + NQ - 1) / NQ ))

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
if [ -z "$PORT" ]; then
    PORT=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    mkdir -p "$OUT/server"
    src/quiver-server --port "$PORT" --bind 127.0.0.1 --save "" --dir "$OUT/server" \
        --logfile "$OUT/server/quiver.log" &
    SERVER_PID=$!
    for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

echo "== $DATASET: M 16, EF construction 200, k $K, cosine; quiver: 1 loading connection," \
     "$CLIENTS query connections x $QPIPE in flight ($QUANT); libraries: $THREADS threads, batched"

for ROUND in $(seq "$ROUNDS"); do
RD="$OUT/round$ROUND"
mkdir -p "$RD"
[ "$ROUNDS" -eq 1 ] || echo "-- round $ROUND of $ROUNDS"
# ---- the libraries (first, so the plot can hold their curves) ----
/usr/bin/python3 - "$DIR/${DATASET}_base.fvecs" "$DIR/${DATASET}_query.fvecs" "$TRUTH" "$EF" \
    "$K" "$THREADS" "$REPEAT" "$RD/peers.csv" <<'PY'
import sys, time, numpy as np
base_p, query_p, truth_p, efs, k, threads, repeat, out = sys.argv[1:]
efs = [int(e) for e in efs.split(',')]; k = int(k); threads = int(threads); repeat = int(repeat)

def vecs(path, dtype):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)

X = vecs(base_p, np.float32); Q = vecs(query_p, np.float32); T = vecs(truth_p, np.int32)[:, :k]
def unit(a):
    n = np.linalg.norm(a, axis=1, keepdims=True); n[n == 0] = 1
    return np.ascontiguousarray(a / n, dtype=np.float32)
Xu, Qu = unit(X), unit(Q)
n, dim = X.shape
rows = []

def recall(ids):
    return float(np.mean([len(set(ids[i][:k]) & set(T[i])) / k for i in range(len(T))]))

def run(label, add, search, bytes_per_vector):
    t = time.perf_counter(); add(); load = time.perf_counter() - t
    print(f"{label}: load {n} vectors in {load:.2f} s = {n / load:.0f} vectors/s ({threads} threads)"
          + (f", {bytes_per_vector():.0f} bytes per vector" if bytes_per_vector else ""))
    print(f"{'EF':>8} {'recall@k':>10} {'QPS':>10}")
    for ef in efs:
        ids = search(ef)                                   # warm-up and recall
        t = time.perf_counter()
        for _ in range(repeat): search(ef)
        el = time.perf_counter() - t
        qps = repeat * len(Q) / el; r = recall(ids)
        print(f"{ef:>8} {r:>10.4f} {qps:>10.1f}")
        rows.append((label, ef, r, qps, n / load))

import hnswlib
h = hnswlib.Index(space='ip', dim=dim)
h.init_index(max_elements=n, M=16, ef_construction=200, random_seed=1)
h.set_num_threads(threads)
def h_search(ef):
    h.set_ef(max(ef, k)); return h.knn_query(Qu, k=k, num_threads=threads)[0]
def h_bytes():
    import tempfile, os
    with tempfile.NamedTemporaryFile() as f:
        h.save_index(f.name); return os.path.getsize(f.name) / n
run('hnswlib', lambda: h.add_items(Xu, np.arange(n), num_threads=threads), h_search, h_bytes)

import faiss
faiss.omp_set_num_threads(threads)
fx = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
fx.hnsw.efConstruction = 200
def f_search(ef):
    fx.hnsw.efSearch = max(ef, k); return fx.search(Qu, k)[1]
def f_bytes():
    return len(faiss.serialize_index(fx)) / n
run('faiss', lambda: fx.add(Xu), f_search, f_bytes)

with open(out, 'w') as f:
    f.write('label,ef,recall,qps,load_rate\n')
    for r in rows: f.write('%s,%d,%.4f,%.1f,%.1f\n' % r)
PY

# ---- Quiver ----
src/quiver-benchmark -p "$PORT" --dataset "$DATASET" --dataset-dir "$DIR" --quant "$QUANT" \
    -M 16 --ef-construction 200 -c 1 -P 512 --query-clients "$CLIENTS" \
    --query-pipeline "$QPIPE" --ef "$EF" -k "$K" --repeat "$REPEAT" \
    --label "quiver $QUANT x$QPIPE" --out "$RD/quiver.csv" \
    --plot "$RD/${DATASET}.svg" --plot-add "$RD/peers.csv" -q
done

# ---- ratios: each round's, then the medians ----
/usr/bin/python3 - "$TARGET" "$OUT"/round* <<'PY'
import csv, math, statistics, sys
target, rounds = float(sys.argv[1]), sys.argv[2:]

def qps_at(rows, target):
    """QPS at the target recall: log-linear between the two EF points around it."""
    pts = sorted((float(r['recall']), float(r['qps'])) for r in rows)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1 and r1 > r0:
            w = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + w * (math.log(q1) - math.log(q0)))
    best = [q for r, q in pts if r >= target]
    return max(best) if best else None

ratios = {}
print(f"\n== ratios (Quiver / library), same data and parameters")
print(f"{'':16} {'insert rate':>24} {'QPS at recall ' + str(target):>30}")
for rd in rounds:
    runs = {}
    for path in (rd + '/quiver.csv', rd + '/peers.csv'):
        for r in csv.DictReader(open(path)):
            runs.setdefault(r['label'], []).append(r)
    quiver = next(l for l in runs if l.startswith('quiver'))
    q = runs[quiver][0]
    qload, qsearch = float(q['load_rate']), qps_at(runs[quiver], target)
    for lib in ('hnswlib', 'faiss'):
        if lib not in runs: continue
        lload, lsearch = float(runs[lib][0]['load_rate']), qps_at(runs[lib], target)
        ratios.setdefault(lib, []).append((qload / lload, qsearch / lsearch if qsearch and lsearch else None))
        ins = f"{qload:.0f}/{lload:.0f} = {qload / lload:.2f}x"
        if qsearch and lsearch: srch = f"{qsearch:.0f}/{lsearch:.0f} = {qsearch / lsearch:.2f}x"
        else: srch = "recall not reached" + ("" if qsearch else " by quiver") + ("" if lsearch else f" by {lib}")
        print(f"{lib + ' ' + rd.rsplit('/', 1)[1]:16} {ins:>24} {srch:>30}")
    print(f"{'':16} quiver memory: {float(q['index_bytes_per_vector']):.0f} bytes per vector "
          f"(MEMORY USAGE), {float(q['bytes_per_vector']):.0f} (INFO used_memory delta)")
if len(rounds) > 1:
    for lib, rs in ratios.items():
        ins = statistics.median(r[0] for r in rs)
        srch = [r[1] for r in rs if r[1] is not None]
        print(f"{lib + ' median':16} {ins:>23.2f}x {statistics.median(srch) if srch else float('nan'):>29.2f}x")
PY
echo "CSV and plot: $OUT"
