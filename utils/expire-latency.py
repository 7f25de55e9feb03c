#!/usr/bin/env python3
"""expire-latency.py -- what the active expiry cycle costs other clients.

Starts a quiver-server and Debian's redis-server side by side (free ports, temporary
directories, no persistence), loads N keys in each -- vector sets of one 2-d element in Quiver,
plain strings in Redis -- all with the same PEXPIREAT a few seconds ahead, and then, from a
client that sends PING, waits for PONG and sleeps 0.2 ms, records every round trip from a
moment before the keys expire until the last one is gone. Nobody reads the keys: only the
active cycle removes them. Prints per server: PING p50/p99/p99.9/max while the keys expire,
the same before they expire (the machine's noise), and how long the expiry took (from the
PEXPIREAT moment until DBSIZE 0). Standard library only. Not part of make test (it measures
time).

    utils/expire-latency.py [--n 100000] [--quiver src/quiver-server] [--redis redis-server]
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def reply(self):
        ln = self.line()
        if ln[:1] == b"$":
            n = int(ln[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 16)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if ln[:1] == b"*":
            return [self.reply() for _ in range(int(ln[1:]))]
        if ln[:1] == b":":
            return int(ln[1:])
        if ln[:1] == b"-":
            raise RuntimeError(ln.decode())
        return ln[1:]

    def call(self, *args):
        self.s.sendall(resp(*args))
        return self.reply()

    def pipeline(self, cmds):
        self.s.sendall(b"".join(resp(*c) for c in cmds))
        return [self.reply() for _ in cmds]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(argv, port):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            c = Conn(port)
            c.call("PING")
            return proc, c
        except (OSError, ConnectionError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("%s did not start" % argv[0])


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def summary(lat):
    ms = [x * 1000 for x in lat]
    return "p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%d PINGs)" % (
        pct(ms, 0.5), pct(ms, 0.99), pct(ms, 0.999), max(ms) if ms else 0, len(ms))


def measure(name, c, n, quiver):
    batch = []
    for i in range(n):
        if quiver:
            batch.append(("VADD", "key:%d" % i, "VALUES", 2, 1, i % 7, "e"))
        else:
            batch.append(("SET", "key:%d" % i, "value"))
        if len(batch) >= 2000:
            c.pipeline(batch)
            batch = []
    if batch:
        c.pipeline(batch)
    # Then the same moment for every key, far enough ahead for the PEXPIREATs to be sent.
    at = int(time.time() * 1000) + 3000 + n // 20
    for i in range(0, n, 2000):
        c.pipeline([("PEXPIREAT", "key:%d" % j, at) for j in range(i, min(n, i + 2000))])
    assert c.call("DBSIZE") == n, "not all keys loaded"
    ping = Conn(c.s.getpeername()[1])
    before, during = [], []
    start_at = at / 1000.0 - 1.0
    if time.time() > start_at:
        raise RuntimeError("loading took too long: raise the lead time")
    while time.time() < start_at:
        t0 = time.perf_counter()
        ping.call("PING")
        before.append(time.perf_counter() - t0)
        time.sleep(0.0002)
    while time.time() < at / 1000.0:
        time.sleep(0.0005)
    done = None
    k = 0
    while True:
        t0 = time.perf_counter()
        ping.call("PING")
        during.append(time.perf_counter() - t0)
        k += 1
        if k % 50 == 0 and c.call("DBSIZE") == 0:
            done = time.time() - at / 1000.0
            break
        time.sleep(0.0002)
    print("%-13s before expiry: %s" % (name, summary(before)))
    print("%-13s while %d keys expire: %s" % (name, n, summary(during)))
    print("%-13s all %d keys gone %.2f s after their PEXPIREAT" % (name, n, done))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--quiver", default=os.path.join(os.path.dirname(__file__), "..", "src",
                                                        "quiver-server"))
    ap.add_argument("--redis", default="redis-server")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="expire-latency.")
    procs = []
    try:
        qp = free_port()
        proc, c = start([a.quiver, "--port", str(qp), "--bind", "127.0.0.1", "--dir", tmp,
                         "--save", "", "--logfile", os.path.join(tmp, "q.log")], qp)
        procs.append(proc)
        measure("quiver", c, a.n, True)
        rp = free_port()
        rdir = os.path.join(tmp, "redis")
        os.mkdir(rdir)
        proc, c = start([shutil.which(a.redis) or a.redis, "--port", str(rp), "--bind",
                         "127.0.0.1", "--dir", rdir, "--save", "", "--appendonly", "no"], rp)
        procs.append(proc)
        measure("redis-server", c, a.n, False)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
