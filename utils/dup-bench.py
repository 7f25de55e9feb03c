#!/usr/bin/python3
"""dup-bench.py -- time to insert N identical vectors against N distinct ones, same run.

Duplicates are normal in real data (the same document twice, empty texts embedded to one vector)
and are the worst case of a graph index: every distance between them is 0, so whatever orders
candidates by distance sees nothing but ties. This loads, with pipelined `VADD key FP32 <blob>
<name>` (Redis 8 syntax: the same script measures any Redis-8-compatible server), for each N:
  distinct   N random Gaussian vectors;
  identical  N copies of one vector;
  mixed      N/2 copies of one vector interleaved with N/2 random ones;
and prints the load time of each and the identical/distinct ratio. Then it queries the identical
set with the duplicated vector itself (`VSIM ... COUNT 10 EF 100`: the nodes visited per query,
from Quiver's IDX.INFO, must stay far below N) and the mixed set with its distinct vectors
(recall@10 against an exact answer computed here; a result tied with the 10th counts).

Usage: utils/dup-bench.py [--port P] [--n 3000,10000] [--dim 128] [--quant Q8]
Uses Debian's python3-redis and python3-numpy (run with /usr/bin/python3). Writes keys
dupbench:* and deletes them at the end.
"""
import argparse
import time

import numpy as np
import redis


def load(r, key, vectors, quant, batch=1000):
    r.delete(key)
    t0 = time.time()
    for start in range(0, len(vectors), batch):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + batch, len(vectors))):
            p.execute_command("VADD", key, "FP32", vectors[i].astype("<f4").tobytes(), str(i), quant)
        p.execute_command("PING")
        p.execute()
    elapsed = time.time() - t0
    card = int(r.execute_command("VCARD", key))
    if card != len(vectors):
        raise SystemExit(f"{key}: VCARD {card}, expected {len(vectors)}")
    return elapsed


def query_visits(r, key, q, rounds=200):
    """Nodes a VSIM for q visits on average (Quiver's IDX.INFO avg-visited-nodes; None on a server
    without it): a count, not a time, so that a loaded machine does not blur it."""
    for _ in range(rounds):
        res = r.execute_command("VSIM", key, "FP32", q.astype("<f4").tobytes(), "COUNT", 10, "EF", 100)
    try:
        info = r.execute_command("IDX.INFO", key)
        fields = dict(zip(info[0::2], info[1::2]))
        return float(fields[b"avg-visited-nodes"]), res
    except (redis.ResponseError, KeyError):
        return None, res


def mixed_recall(r, key, vectors, distinct_idx, nq=200):
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
    rng = np.random.default_rng(7)
    hits = total = 0
    for qi in rng.choice(distinct_idx, size=min(nq, len(distinct_idx)), replace=False):
        sims = unit @ unit[qi]
        kth = np.sort(sims)[-10]  # a result tied with the 10th best is as good as any of them
        res = r.execute_command("VSIM", key, "FP32", vectors[qi].astype("<f4").tobytes(), "COUNT", 10,
                                "EF", 100)
        hits += sum(1 for x in res if sims[int(x)] >= kth - 1e-6)
        total += 10
    return hits / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--n", default="3000,10000")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--quant", default="Q8")
    a = ap.parse_args()
    r = redis.Redis(host=a.host, port=a.port)
    rng = np.random.default_rng(42)
    print(f"dim {a.dim}, {a.quant}, pipelined VADD (1000 per batch), one connection")
    print(f"{'N':>7} {'distinct s':>11} {'identical s':>12} {'ratio':>6} {'mixed s':>8} "
          f"{'VSIM visits':>12} {'mixed recall@10':>16}")
    for n in [int(x) for x in a.n.split(",")]:
        distinct = rng.standard_normal((n, a.dim)).astype(np.float32)
        one = rng.standard_normal(a.dim).astype(np.float32)
        identical = np.tile(one, (n, 1))
        mixed = rng.standard_normal((n, a.dim)).astype(np.float32)
        mixed[0::2] = one
        t_dist = load(r, "dupbench:distinct", distinct, a.quant)
        t_ident = load(r, "dupbench:identical", identical, a.quant)
        t_mixed = load(r, "dupbench:mixed", mixed, a.quant)
        visits, res = query_visits(r, "dupbench:identical", one)
        if len(res) != 10:
            raise SystemExit(f"VSIM on the identical set returned {len(res)} results")
        recall = mixed_recall(r, "dupbench:mixed", mixed, np.arange(1, n, 2))
        print(f"{n:>7} {t_dist:>11.3f} {t_ident:>12.3f} {t_ident / t_dist:>6.2f} {t_mixed:>8.3f} "
              f"{'-' if visits is None else f'{visits:.0f}':>12} {recall:>16.3f}")
    r.delete("dupbench:distinct", "dupbench:identical", "dupbench:mixed")


if __name__ == "__main__":
    main()
