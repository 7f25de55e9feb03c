#!/usr/bin/python3
"""repl-bench.py -- measures replication with real quiver-server processes on loopback.

    utils/repl-bench.py [-n vectors] [-d dim] [--diskless yes|no] [--server src/quiver-server]

Starts a master and a replica (each in a fresh temp dir), loads n random vectors (Q8, fixed
seed, pipelined VADDs in batches of 1000) into the master while the replica follows, and
reports:
  load       the master's pipelined load rate (elements/s);
  apply      when the replica had applied everything (its slave_repl_offset reached the
             master's offset), measured from the start of the load: the replica keeps up when
             this is about the load time;
  full sync  a second, fresh replica started afterwards: the time until it holds the whole
             index (a snapshot with the graph is shipped, nothing is rebuilt), against what
             building it by replaying the commands cost replica 1 (its apply time) and the
             master (its load time);
  cow        a third replica synced while a client keeps writing to the master (new elements
             and updates, pipelined): the peak copy-on-write of the snapshot child, as INFO
             persistence current_cow_peak reports it and as /proc/<child>/smaps_rollup
             Private_Dirty shows it, against the master's used_memory.
The master's full syncs are diskless (repl-diskless-sync yes, delay 0) unless --diskless no
(a snapshot file, streamed as the socket drains).
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
import threading
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
            "--logfile", os.path.join(d, "log"), "--save", "", "--enable-debug-command",
            "yes"] + extra
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


def child_private_dirty(pid):
    """Private_Dirty bytes of pid's children (the snapshot child), 0 if none."""
    total = 0
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return 0
    for k in kids:
        try:
            with open("/proc/%d/smaps_rollup" % k) as f:
                for line in f:
                    if line.startswith("Private_Dirty:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def cow_during_sync(a, m, mp, mport, procs, blobs):
    """A third replica syncs while a writer keeps loading into the master; returns the peak
    copy-on-write seen (INFO, smaps) and how many writes went in meanwhile."""
    stop = threading.Event()
    written = [0]

    def writer():
        w = redis.Redis(port=mport)
        i = 0
        while not stop.is_set():
            p = w.pipeline(transaction=False)
            for _ in range(200):
                # half updates of existing elements (dirtying their pages), half new ones
                name = "e%d" % (i // 2 if i % 2 else a.n + i)
                p.execute_command("VADD", "bench", "FP32", blobs[i % len(blobs)], name, "Q8")
                i += 1
            p.execute()
            written[0] = i

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.5)
    r3p, _, r3dir, r3 = start(a.server, ["--replicaof", "127.0.0.1", str(mport)])
    procs.append((r3p, r3dir))
    peak_info = peak_smaps = 0
    used = m.info("memory")["used_memory"]
    t0 = time.time()
    while True:
        info = m.info("persistence")
        peak_info = max(peak_info, info.get("current_cow_peak", 0))
        peak_smaps = max(peak_smaps, child_private_dirty(mp.pid))
        rinfo = r3.info("replication")
        if rinfo.get("master_link_status") == "up" or time.time() - t0 > 3600:
            break
        time.sleep(0.05)
    t_sync = time.time() - t0
    stop.set()
    t.join()
    return peak_info, peak_smaps, used, written[0], t_sync, r3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50000)
    ap.add_argument("-d", type=int, default=128)
    ap.add_argument("--server", default="src/quiver-server")
    ap.add_argument("--diskless", default="yes", choices=["yes", "no"])
    a = ap.parse_args()
    procs = []
    try:
        mp, mport, mdir, m = start(a.server, ["--repl-diskless-sync", a.diskless,
                                              "--repl-diskless-sync-delay", "0"])
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
        print("full sync replica 2 (fresh, %s) held the index %.2f s after its start: %.0fx "
              "faster than replica 1 building it by replaying the commands (%.1f s), %.0fx "
              "faster than the master's load (%.1f s)" %
              ("diskless" if a.diskless == "yes" else "disk", t_sync, t_apply / t_sync,
               t_apply, t_load / t_sync, t_load))
        peak_info, peak_smaps, used, written, t_cow, r3 = cow_during_sync(a, m, mp, mport,
                                                                          procs, blobs)
        print("cow       replica 3 synced in %.2f s under %d pipelined writes: copy-on-write "
              "peak %.1f MB (INFO current_cow_peak) / %.1f MB (smaps Private_Dirty), master "
              "used_memory %.1f MB" % (t_cow, written, peak_info / 1e6, peak_smaps / 1e6,
                                       used / 1e6))
        wait_synced(m, r1)
        wait_synced(m, r2)
        wait_synced(m, r3)
        dm = m.execute_command("DEBUG", "DIGEST")
        same = dm == r1.execute_command("DEBUG", "DIGEST") == r2.execute_command(
            "DEBUG", "DIGEST") == r3.execute_command("DEBUG", "DIGEST")
        print("digest    %s on the four servers" % ("equal" if same else "DIFFERENT"))
        if not same:
            sys.exit(1)
    finally:
        for proc, d in reversed(procs):
            proc.terminate()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
