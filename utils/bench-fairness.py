#!/usr/bin/env python3
"""bench-fairness.py -- what one flooding client costs every other client.

One connection pipelines N commands in one go (VEMB of a DIM-d element by default, or PING) and
reads the replies; meanwhile a second process sends PING, waits for PONG, sleeps 1 ms, again,
and records each round trip. Prints the flood's duration and the other client's p50/p99/max,
after the same PING loop with no flood (the machine's own noise). Standard library only; the
server must be running. Not part of make test (it measures time).

    utils/bench-fairness.py --port 6379 [--cmd VEMB|PING] [--n 20000] [--dim 128]
"""
import argparse
import multiprocessing
import random
import socket
import struct
import threading
import time


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_line(s):
    data = b""
    while not data.endswith(b"\r\n"):
        data += s.recv(1)
    return data


def pinger(port, stop, out):
    s = connect(port)
    lat = []
    while not stop.is_set():
        t = time.perf_counter()
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        if s.recv(64) != b"+PONG\r\n":
            raise SystemExit("unexpected reply to PING")
        lat.append(time.perf_counter() - t)
        time.sleep(0.001)
    out.put(lat)


def summary(lat):
    lat.sort()
    n = len(lat)
    return "n=%d p50=%.2fms p99=%.2fms max=%.2fms" % (
        n, lat[n // 2] * 1e3, lat[min(n - 1, int(n * 0.99))] * 1e3, lat[-1] * 1e3)


def measure(port, seconds=None, flood=None):
    stop = multiprocessing.Event()
    out = multiprocessing.Queue()
    p = multiprocessing.Process(target=pinger, args=(port, stop, out))
    p.start()
    time.sleep(0.2)
    elapsed = flood() if flood else time.sleep(seconds)
    stop.set()
    lat = out.get()
    p.join()
    return elapsed, summary(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--cmd", choices=["VEMB", "PING"], default="VEMB")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=128)
    a = ap.parse_args()

    s = connect(a.port)
    key = "bench-fairness"
    if a.cmd == "VEMB":
        s.sendall(resp("DEL", key))
        read_line(s)
        vec = struct.pack("<%df" % a.dim, *[random.random() for _ in range(a.dim)])
        s.sendall(resp("VADD", key, "FP32", vec, "e"))
        read_line(s)
        one, end = resp("VEMB", key, "e"), b"*%d\r\n" % a.dim
    else:
        one, end = resp("PING"), b"+PONG\r\n"

    def flood():
        t = time.perf_counter()
        sender = threading.Thread(target=s.sendall, args=(one * a.n,))
        sender.start()
        seen, tail = 0, b""
        while seen < a.n:  # count reply heads, also across read boundaries
            buf = tail + s.recv(1 << 20)
            seen += buf.count(end, max(0, len(tail) - len(end) + 1))
            tail = buf[-len(end):]
        sender.join()
        return time.perf_counter() - t

    _, idle = measure(a.port, seconds=3)
    print("no flood:            other client's PING %s" % idle)
    elapsed, busy = measure(a.port, flood=flood)
    print("%s x%d (%.2fs, %.0f/s): other client's PING %s" % (a.cmd, a.n, elapsed, a.n / elapsed, busy))
    if a.cmd == "VEMB":
        s.sendall(resp("DEL", key))
        read_line(s)


if __name__ == "__main__":
    main()
