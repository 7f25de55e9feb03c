#!/usr/bin/python3
"""vset-recall.py -- recall@k and queries/s of VSIM on the .fvecs datasets in datasets/.

Loads NAME_base.fvecs into a vector set with pipelined `VADD key FP32 <blob> <id>` (Redis 8
syntax, so the same script measures any Redis-8-compatible server), then runs every query of
NAME_query.fvecs with `VSIM key FP32 <blob> COUNT k EF ef` for each EF, one connection, one
query at a time, and compares the ids with the exact top-k in NAME_groundtruth_cosine.ivecs
(vector sets are cosine). Memory per element is the growth of INFO memory's used_memory over
the load divided by the element count.

Usage: utils/vset-recall.py [--port P] [--datasets DIR] [--sets siftsmall,mnist10k]
                            [--quant Q8,NOQUANT] [--ef 50,100,200,400] [--k 10]
Uses Debian's python3-redis and python3-numpy (run with /usr/bin/python3). Prints a table.
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


def used_memory(r):
    return int(r.info("memory")["used_memory"])


def load(r, key, base, quant, batch=1000):
    r.delete(key)
    before = used_memory(r)
    t0 = time.time()
    for start in range(0, len(base), batch):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + batch, len(base))):
            p.execute_command("VADD", key, "FP32", base[i].astype("<f4").tobytes(), str(i), quant)
        p.execute_command("PING")
        p.execute()
    elapsed = time.time() - t0
    return elapsed, (used_memory(r) - before) / len(base)


def search(r, key, queries, gt, k, ef):
    hits = 0
    t0 = time.time()
    for qi, q in enumerate(queries):
        res = r.execute_command("VSIM", key, "FP32", q.astype("<f4").tobytes(), "COUNT", k, "EF", ef)
        got = {int(x) for x in res}
        hits += len(got & set(gt[qi][:k].tolist()))
    elapsed = time.time() - t0
    return hits / (len(queries) * k), len(queries) / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--datasets", default=os.environ.get("QUIVER_DATASETS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets")))
    ap.add_argument("--sets", default="siftsmall,mnist10k")
    ap.add_argument("--quant", default="Q8,NOQUANT")
    ap.add_argument("--ef", default="50,100,200,400")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    r = redis.Redis(host=args.host, port=args.port)
    print(f"{'dataset':10} {'quant':8} {'load s':>7} {'B/elem':>7} {'EF':>5} {'recall@%d' % args.k:>10} {'QPS':>8}")
    for name in args.sets.split(","):
        base = read_vecs(os.path.join(args.datasets, f"{name}_base.fvecs"), np.float32)
        queries = read_vecs(os.path.join(args.datasets, f"{name}_query.fvecs"), np.float32)
        gt = read_vecs(os.path.join(args.datasets, f"{name}_groundtruth_cosine.ivecs"), np.int32)
        for quant in args.quant.split(","):
            key = f"bench:{name}:{quant}"
            load_s, per_elem = load(r, key, base, quant)
            for ef in [int(x) for x in args.ef.split(",")]:
                recall, qps = search(r, key, queries, gt, args.k, ef)
                print(f"{name:10} {quant:8} {load_s:7.2f} {per_elem:7.0f} {ef:5d} {recall:10.4f} {qps:8.0f}",
                      flush=True)
            r.delete(key)


if __name__ == "__main__":
    main()
