#!/usr/bin/python3
"""dump-bench.py -- DUMP/RESTORE throughput of a large vector set against SAVE and a load of the
same set, same run.

Loads N random Gaussian vectors (pipelined `VADD key FP32 <blob> <name>`, every fourth with JSON
attributes) into one key, then times, with the set alone in the keyspace:
  DUMP        the payload of the key (its graph included), and its size;
  RESTORE     that payload under a second key (the graph is read back and validated, nothing is
              rebuilt), then checks both keys digest the same (DEBUG DIGEST-VALUE);
  SAVE        a snapshot of the dataset (the second key deleted first, so the same one set);
  DEBUG RELOAD  save + empty + load of that snapshot; load = RELOAD - SAVE.
Prints elements/s and MB/s of each. Each figure is the median of --rounds rounds.

Usage: utils/dump-bench.py [--port P] [--n 100000] [--dim 128] [--quant Q8] [--rounds 3]
The server must allow DEBUG (enable-debug-command yes|local) and SAVE in its dir; it replaces
nothing but the keys dumpbench:* (deleted at the end). Uses Debian's python3-redis and
python3-numpy (run with /usr/bin/python3).
"""
import argparse
import statistics
import time

import numpy as np
import redis


def load(r, key, vectors, quant, batch=1000):
    r.delete(key)
    t0 = time.time()
    for start in range(0, len(vectors), batch):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + batch, len(vectors))):
            args = ["VADD", key, "FP32", vectors[i].astype(np.float32).tobytes(), "e%d" % i, quant]
            if i % 4 == 0:
                args += ["SETATTR", '{"i": %d, "group": "g%d"}' % (i, i % 10)]
            p.execute_command(*args)
        p.execute()
    return time.time() - t0


def timed(fn):
    t0 = time.time()
    out = fn()
    return time.time() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--quant", default="Q8", choices=["Q8", "NOQUANT", "BIN"])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    r = redis.Redis(port=a.port, socket_timeout=600)
    src, dst = "dumpbench:src", "dumpbench:dst"
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((a.n, a.dim), dtype=np.float32)
    secs = load(r, src, vectors, a.quant)
    print("loaded %d x %d (%s) in %.1f s (%.0f elements/s)" % (a.n, a.dim, a.quant, secs,
                                                             a.n / secs))
    dumps, restores, saves, reloads = [], [], [], []
    size = 0
    for _ in range(a.rounds):
        t, payload = timed(lambda: r.dump(src))
        dumps.append(t)
        size = len(payload)
        r.delete(dst)
        t, _ = timed(lambda: r.restore(dst, 0, payload))
        restores.append(t)
        d = r.execute_command("DEBUG", "DIGEST-VALUE", src, dst)
        assert d[0] == d[1], "the restored set digests differently"
        r.delete(dst)
        t, _ = timed(lambda: r.execute_command("SAVE"))
        saves.append(t)
        t, _ = timed(lambda: r.execute_command("DEBUG", "RELOAD"))
        reloads.append(t)
    dump, restore = statistics.median(dumps), statistics.median(restores)
    save, reload = statistics.median(saves), statistics.median(reloads)
    loadt = max(reload - save, 1e-9)
    mb = size / 1e6
    print("payload %.1f MB (%.0f bytes/element); medians of %d rounds:" % (mb, size / a.n,
                                                                        a.rounds))
    print("  DUMP          %7.3f s  %9.0f elements/s  %7.1f MB/s" % (dump, a.n / dump, mb / dump))
    print("  RESTORE       %7.3f s  %9.0f elements/s  %7.1f MB/s" % (restore, a.n / restore,
                                                                     mb / restore))
    print("  SAVE          %7.3f s  %9.0f elements/s" % (save, a.n / save))
    print("  load (RELOAD-SAVE) %7.3f s  %9.0f elements/s" % (loadt, a.n / loadt))
    print("  DUMP+RESTORE / SAVE+load: %.2fx the time" % ((dump + restore) / (save + loadt)))
    r.delete(src, dst)


if __name__ == "__main__":
    main()
