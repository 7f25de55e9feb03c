#!/usr/bin/python3
"""repl-bench.py -- measures replication with real quiver-server processes on loopback.

    utils/repl-bench.py [-n vectors] [-d dim] [--server src/quiver-server]

Starts a master and a replica (each in a fresh temp dir), loads n random vectors (Q8, fixed
seed, pipelined VADDs in batches of 1000) into the master while the replica follows, and
reports:
  load       the master's pipelined load rate (elements/s);
  apply      when the replica had applied everything (its slave_repl_offset reached the
             master's offset), measured from the start of the load: the replica keeps up when
             this is about the load time;
  full sync  a second, fresh replica started afterwards: the time until it holds the whole
             index (a snapshot with the graph is shipped, nothing is rebuilt), against the load
             time, which is what building it by replaying the commands costs.
DEBUG DIGEST is checked equal on the three servers. Needs Debian's python3-redis. Not part of
`make test`."""
import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import redis


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(server, extra):
    d = tempfile.mkdtemp(prefix="repl-bench-")
    port = free_port()
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
            "--logfile", os.path.join(d, "log"), "--save", ""] + extra
    proc = subprocess.Popen(args)
    c = redis.Redis(port=port)
    for _ in range(200):
        try:
            c.ping()
            return proc, port, d, c
        except redis.ConnectionError:
            time.sleep(0.05)
    sys.exit("server did not start: " + " ".join(args))


def synced(m, r):
    info = r.info("replication")
    return (info.get("master_link_status") == "up"
            and info["slave_repl_offset"] == m.info("replication")["master_repl_offset"])


def wait_synced(m, r, limit=3600):
    t0 = time.time()
    while not synced(m, r):
        if time.time() - t0 > limit:
            sys.exit("replica did not catch up")
        time.sleep(0.02)
    return time.time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50000)
    ap.add_argument("-d", type=int, default=128)
    ap.add_argument("--server", default="src/quiver-server")
    a = ap.parse_args()
    procs = []
    try:
        mp, mport, mdir, m = start(a.server, [])
        procs.append((mp, mdir))
        rp, _, rdir, r1 = start(a.server, ["--replicaof", "127.0.0.1", str(mport)])
        procs.append((rp, rdir))
        wait_synced(m, r1)
        rnd = random.Random(1)
        blobs = [struct.pack("%df" % a.d, *[rnd.uniform(-1, 1) for _ in range(a.d)])
                 for _ in range(a.n)]  # generated before the clock starts
        t0 = time.time()
        for base in range(0, a.n, 1000):
            p = m.pipeline(transaction=False)
            for i in range(base, min(base + 1000, a.n)):
                p.execute_command("VADD", "bench", "FP32", blobs[i], "e%d" % i, "Q8")
            p.execute()
        t_load = time.time() - t0
        t_apply = wait_synced(m, r1) - t0
        print("load      %d x %d-d Q8: %.1f s on the master, %.0f elements/s" %
              (a.n, a.d, t_load, a.n / t_load))
        print("apply     replica 1 caught up %.1f s after the load started (%.2fx the load time)" %
              (t_apply, t_apply / t_load))
        t1 = time.time()
        r2p, _, r2dir, r2 = start(a.server, ["--replicaof", "127.0.0.1", str(mport)])
        procs.append((r2p, r2dir))
        t_sync = wait_synced(m, r2) - t1
        print("full sync replica 2 (fresh) held the index %.2f s after its start: %.0fx faster "
              "than building it by commands (%.1f s)" % (t_sync, t_load / t_sync, t_load))
        dm = m.execute_command("DEBUG", "DIGEST")
        same = dm == r1.execute_command("DEBUG", "DIGEST") == r2.execute_command("DEBUG", "DIGEST")
        print("digest    %s on the three servers" % ("equal" if same else "DIFFERENT"))
        if not same:
            sys.exit(1)
    finally:
        for proc, d in reversed(procs):
            proc.terminate()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
