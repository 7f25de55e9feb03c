#!/usr/bin/python3
"""s3-backup-bench.py -- the figures of S3 backups against a local S3 server (npm's s3rver).

  /usr/bin/python3 utils/s3-backup-bench.py [--mb 200] [--dim 512] [--part-size 16mb]

Starts s3rver (tests/node_modules/.bin/s3rver, installed by `scripts/install-deps.sh test`, or
$QUIVER_S3RVER) and src/quiver-server (or $QUIVER_SERVER) in temporary directories, loads a FLAT
FP32 index of about --mb megabytes (random vectors, pipelined VADD) plus a small HNSW index, then:

  1. BGBACKUP while idle: wall time from the command to s3_uploads+1, bytes uploaded, MB/s, and
     the child's copy-on-write peak (s3_last_upload_cow_size);
  2. BGBACKUP while a client writes (VADD into the big index, as fast as it can): the same;
  3. one element added to the small index, BGBACKUP again: bytes uploaded (only that index).

Everything runs on this machine, so the throughput is bounded by s3rver (node) and the disk,
not by a network.
"""
import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("QUIVER_SERVER", os.path.join(ROOT, "src", "quiver-server"))
S3RVER = os.environ.get("QUIVER_S3RVER", os.path.join(ROOT, "tests", "node_modules", ".bin",
                                                      "s3rver"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_backup(r, before):
    t0 = time.time()
    while True:
        info = r.info("persistence")
        if info["s3_uploads"] + info["s3_upload_failures"] > before:
            return info, time.time() - t0
        time.sleep(0.02)


def backup(r):
    info = r.info("persistence")
    before = info["s3_uploads"] + info["s3_upload_failures"]
    t0 = time.time()
    r.execute_command("BGBACKUP")
    info, _ = wait_backup(r, before)
    secs = time.time() - t0
    if info["s3_last_upload_status"] != "ok":
        raise SystemExit("backup failed: %s" % info["s3_last_upload_error"])
    return info, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--part-size", default="16mb")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="qv-s3-bench-")
    os.makedirs(os.path.join(work, "s3"))
    os.makedirs(os.path.join(work, "server"))
    s3log = open(os.path.join(work, "s3.log"), "wb")
    s3 = subprocess.Popen([S3RVER, "--directory", os.path.join(work, "s3"), "--address",
                           "127.0.0.1", "--port", "0", "--configure-bucket", "bench"],
                          stdout=s3log, stderr=subprocess.STDOUT)
    s3port = None
    for _ in range(600):
        text = open(os.path.join(work, "s3.log")).read()
        if "listening on 127.0.0.1:" in text:
            s3port = int(text.split("listening on 127.0.0.1:")[1].split()[0])
            break
        time.sleep(0.05)
    port = free_port()
    srv = subprocess.Popen([SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir",
                            os.path.join(work, "server"), "--save", "", "--logfile",
                            os.path.join(work, "server.log"), "--s3-bucket", "bench",
                            "--s3-endpoint", "http://127.0.0.1:%d" % s3port,
                            "--s3-force-path-style", "yes", "--s3-access-key-id", "S3RVER",
                            "--s3-secret-access-key", "S3RVER", "--s3-part-size", args.part_size])
    try:
        r = redis.Redis(port=port)
        for _ in range(200):
            try:
                r.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        n = args.mb * 1024 * 1024 // (4 * args.dim)
        r.execute_command("IDX.CREATE", "bulk", "DIM", args.dim, "METRIC", "L2", "ALGO", "FLAT",
                          "QUANT", "FP32")
        rnd = random.Random(1)
        t0 = time.time()
        pipe = r.pipeline(transaction=False)
        for i in range(n):
            vec = struct.pack("<%df" % args.dim, *[rnd.random() for _ in range(args.dim)])
            pipe.execute_command("VADD", "bulk", "FP32", vec, "e%d" % i)
            if i % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        for i in range(100):
            r.execute_command("VADD", "small", "VALUES", 4, i, 1, 2, 3, "s%d" % i)
        print("loaded %d x %d FP32 vectors (%d MB of vectors) in %.1f s; used_memory %d MB"
              % (n, args.dim, args.mb, time.time() - t0, r.info("memory")["used_memory"] >> 20))

        info, secs = backup(r)
        mb = info["s3_last_upload_bytes"] / 1e6
        print("backup 1 (idle):    %.1f MB uploaded in %.2f s = %.1f MB/s; child copy-on-write "
              "peak %.1f MB" % (mb, secs, mb / secs, info["s3_last_upload_cow_size"] / 1e6))

        stop = threading.Event()
        written = [0]

        def writer():
            w = redis.Redis(port=port)
            wr = random.Random(2)
            p = w.pipeline(transaction=False)
            while not stop.is_set():
                for _ in range(100):
                    vec = struct.pack("<%df" % args.dim, *[wr.random() for _ in range(args.dim)])
                    p.execute_command("VADD", "bulk", "FP32", vec, "w%d" % written[0])
                    written[0] += 1
                p.execute()

        th = threading.Thread(target=writer)
        th.start()
        # Writes must be going on at the fork, or the index is unchanged and not uploaded.
        card = r.execute_command("VCARD", "bulk")
        while r.execute_command("VCARD", "bulk") <= card:
            time.sleep(0.01)
        info, secs = backup(r)
        stop.set()
        th.join()
        mb = info["s3_last_upload_bytes"] / 1e6
        print("backup 2 (writes):  %.1f MB uploaded in %.2f s = %.1f MB/s; child copy-on-write "
              "peak %.1f MB while %d VADDs went in" % (mb, secs, mb / secs,
                                                       info["s3_last_upload_cow_size"] / 1e6,
                                                       written[0]))
        # The writer changed "bulk": back it up once more so that only "small" changes next.
        backup(r)
        r.execute_command("VADD", "small", "VALUES", 4, 9, 9, 9, 9, "changed")
        info, secs = backup(r)
        print("backup after one small index changed: %d bytes uploaded (%d of %d indexes "
              "skipped) in %.2f s" % (info["s3_last_upload_bytes"],
                                      info["s3_last_upload_indexes_skipped"],
                                      info["s3_last_upload_indexes"], secs))
    finally:
        srv.terminate()
        srv.wait()
        s3.terminate()
        s3.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
