#!/usr/bin/python3
"""idx-bench.py -- recall@k and queries/s of VSEARCH on IDX indexes: the figures of issue #6.

Two measurements, against a running quiver-server:

  datasets   For each .fvecs set in datasets/ (siftsmall, mnist10k: both L2 by nature), creates
             `IDX.CREATE key DIM d METRIC L2 QUANT <q>`, loads NAME_base.fvecs with pipelined
             VADD ... FP32, then runs every query of NAME_query.fvecs with
             `VSEARCH key FP32 <blob> K k EF ef` for each EF, one connection, one query at a time,
             and compares with the exact top-k of NAME_groundtruth.ivecs (L2).
  filtered   Builds N random vectors of dimension D (uniform in [-1,1), fixed seed) with the
             attribute {"cat": i % 100}, then for each selectivity s in 1%, 10%, 50% runs Q
             queries with `FILTER ".cat < s*100"` and compares with the exact filtered top-k
             computed here with numpy (L2). This is the case where Redis 8's filtered graph walk
             comes back short; Quiver picks an exact scan or a graph walk per query (index.c).

QPS is single-client, so it includes the client's round trip and Python's per-call cost
(~30-60 us); VMSEARCH batches are also timed ("batch qps"), and "server us" is the server's own
time per VSEARCH from INFO commandstats (cmdstat_vsearch usec/calls), which excludes the client.

Usage: utils/idx-bench.py [--port P] [--datasets DIR] [--sets siftsmall,mnist10k]
                          [--quant FP32] [--ef 50,100,200] [--k 10]
                          [--filtered-n 100000] [--filtered-dim 32] [--filtered-queries 200]
                          [--only datasets|filtered]
Uses Debian's python3-redis and python3-numpy (run with /usr/bin/python3). Prints tables.
"""
import argparse
import os
import time

import numpy as np
import redis


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    rows = raw.reshape(-1, dim + 1)
    return rows[:, 1:].copy().view(dtype)


def load(r, key, base, attrs=None, batch=1000):
    t0 = time.time()
    for start in range(0, len(base), batch):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + batch, len(base))):
            args = ["VADD", key, "FP32", base[i].astype("<f4").tobytes(), str(i)]
            if attrs is not None:
                args += ["SETATTR", attrs(i)]
            p.execute_command(*args)
        p.execute()
    return time.time() - t0


def recall(got, truth, k):
    return len(set(got) & set(truth[:k])) / k


def vsearch_stats(r):
    st = r.info("commandstats").get("cmdstat_vsearch", {})
    return int(st.get("calls", 0)), int(st.get("usec", 0))


def run_queries(r, key, queries, truths, k, opts):
    hits = 0.0
    c0, u0 = vsearch_stats(r)
    t0 = time.time()
    for qi, q in enumerate(queries):
        res = r.execute_command("VSEARCH", key, "FP32", q.astype("<f4").tobytes(), "K", k, *opts)
        hits += recall([int(h[0]) for h in res], truths[qi], k)
    elapsed = time.time() - t0
    c1, u1 = vsearch_stats(r)
    return hits / len(queries), len(queries) / elapsed, (u1 - u0) / max(c1 - c0, 1)


def run_batch(r, key, queries, k, opts, batch=50):
    t0 = time.time()
    for start in range(0, len(queries), batch):
        qs = queries[start:start + batch]
        args = ["VMSEARCH", key, len(qs)]
        for q in qs:
            args += ["FP32", q.astype("<f4").tobytes()]
        r.execute_command(*args, "K", k, *opts)
    return len(queries) / (time.time() - t0)


def bench_datasets(r, args):
    print(f"{'set':10} {'n x dim':>12} {'quant':>5} {'load s':>7} {'ef':>5} {'recall@%d' % args.k:>10} "
          f"{'qps':>8} {'batch qps':>10} {'server us':>10}")
    for name in args.sets.split(","):
        base = read_vecs(os.path.join(args.datasets, f"{name}_base.fvecs"), np.float32)
        queries = read_vecs(os.path.join(args.datasets, f"{name}_query.fvecs"), np.float32)
        gt = read_vecs(os.path.join(args.datasets, f"{name}_groundtruth.ivecs"), np.int32)
        key = f"bench:{name}"
        r.delete(key)
        r.execute_command("IDX.CREATE", key, "DIM", base.shape[1], "METRIC", "L2", "QUANT", args.quant)
        secs = load(r, key, base)
        truths = [row.tolist() for row in gt]
        for ef in [int(x) for x in args.ef.split(",")]:
            rec, qps, us = run_queries(r, key, queries, truths, args.k, ["EF", ef])
            bqps = run_batch(r, key, queries, args.k, ["EF", ef])
            print(f"{name:10} {'%dx%d' % base.shape:>12} {args.quant:>5} {secs:7.1f} {ef:5d} {rec:10.4f} "
                  f"{qps:8.0f} {bqps:10.0f} {us:10.0f}")
        r.delete(key)


def bench_filtered(r, args):
    rng = np.random.default_rng(20240601)
    n, dim = args.filtered_n, args.filtered_dim
    base = rng.uniform(-1, 1, size=(n, dim)).astype(np.float32)
    queries = rng.uniform(-1, 1, size=(args.filtered_queries, dim)).astype(np.float32)
    cat = np.arange(n) % 100
    key = "bench:filtered"
    r.delete(key)
    r.execute_command("IDX.CREATE", key, "DIM", dim, "METRIC", "L2", "QUANT", args.quant)
    secs = load(r, key, base, attrs=lambda i: '{"cat":%d}' % (i % 100))
    print(f"filtered: {n} x {dim} random, {args.quant}, loaded in {secs:.1f} s, "
          f"{len(queries)} queries, K {args.k}")
    print(f"{'selectivity':>11} {'passing':>8} {'recall@%d' % args.k:>10} {'qps':>8} {'batch qps':>10} "
          f"{'server us':>10}")
    for pct in (1, 10, 50):
        mask = cat < pct
        ids = np.nonzero(mask)[0]
        sub = base[ids]
        truths = []
        for q in queries:
            d = ((sub - q) ** 2).sum(axis=1)
            truths.append(ids[np.argsort(d, kind="stable")[:args.k]].tolist())
        opts = ["FILTER", ".cat < %d" % pct]
        rec, qps, us = run_queries(r, key, queries, truths, args.k, opts)
        bqps = run_batch(r, key, queries, args.k, opts)
        print(f"{pct:10d}% {len(ids):8d} {rec:10.4f} {qps:8.0f} {bqps:10.0f} {us:10.0f}")
    r.delete(key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--datasets", default=os.environ.get("QUIVER_DATASETS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets")))
    ap.add_argument("--sets", default="siftsmall,mnist10k")
    ap.add_argument("--quant", default="FP32")
    ap.add_argument("--ef", default="50,100,200")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--filtered-n", type=int, default=100000)
    ap.add_argument("--filtered-dim", type=int, default=32)
    ap.add_argument("--filtered-queries", type=int, default=200)
    ap.add_argument("--only", choices=["datasets", "filtered"])
    args = ap.parse_args()
    r = redis.Redis(port=args.port)
    if args.only != "filtered":
        bench_datasets(r, args)
    if args.only != "datasets":
        bench_filtered(r, args)


if __name__ == "__main__":
    main()
