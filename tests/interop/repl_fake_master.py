"""repl_fake_master.py -- a real quiver-server replica against a scripted master (a Python
socket server speaking the replication protocol), to check what a real master cannot be made to
do on cue: the link is cut in the middle of a MULTI ... EXEC of the stream; and a diskless
master's "$EOF:<mark>" payload, as Redis 7 sends it (the stream only after the replica's ACK).

The replica must not count the half transaction in its offset: it reconnects with PSYNC
<replid> <offset of the byte after the last complete command>, the master resends the
transaction whole from there, and the replica applies it once. Also checked: the handshake the
replica sends (PING, REPLCONF listening-port, REPLCONF capa eof capa psync2, PSYNC ? -1), the
SELECT 0 the stream starts with, and REPLCONF ACK with the applied offset.

The snapshot the scripted master ships is an empty dataset saved by a real quiver-server.
Starts its own processes on free ports in a temporary directory. Exit 0 on success.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from quiver import SERVER, check, checks, free_port  # noqa: E402

REPLID = "ab" * 20


def start(tmp, name, extra):
    d = os.path.join(tmp, name)
    os.mkdir(d)
    port = free_port()
    proc = subprocess.Popen([SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                             "--logfile", os.path.join(d, "log")] + extra,
                            stdin=subprocess.DEVNULL)
    c = redis.Redis(port=port, socket_timeout=5)
    for _ in range(100):
        try:
            c.ping()
            return proc, port, d, c
        except redis.RedisError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_command(f):
    """One RESP multibulk command from the replica, as a list of str."""
    line = f.readline()
    if not line:
        raise EOFError
    assert line.startswith(b"*"), line
    args = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        args.append(f.read(n + 2)[:-2].decode())
    return args


def accept_handshake(listener):
    conn, _ = listener.accept()
    conn.settimeout(10)
    f = conn.makefile("rb")
    seen = []
    while True:
        cmd = read_command(f)
        seen.append(cmd)
        if cmd[0].upper() == "PSYNC":
            return conn, f, seen
        conn.sendall(b"+PONG\r\n" if cmd[0].upper() == "PING" else b"+OK\r\n")


def main():
    tmp = tempfile.mkdtemp(prefix="quiver-fake-master-")
    procs = []
    try:
        # An empty snapshot, as a real server writes it.
        p, _, d, c = start(tmp, "donor", [])
        procs.append(p)
        c.save()
        with open(os.path.join(d, "dump.qvs"), "rb") as fh:
            snapshot = fh.read()

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(15)
        mport = listener.getsockname()[1]
        rp, rport, _, r = start(tmp, "replica", ["--replicaof", "127.0.0.1", str(mport)])
        procs.append(rp)

        conn, f, seen = accept_handshake(listener)
        names = [" ".join(x[:2]).upper() for x in seen]
        check(names[0] == "PING" and "REPLCONF LISTENING-PORT" in names,
              "handshake: PING, REPLCONF listening-port (%s)" % names)
        check(["REPLCONF", "capa", "eof", "capa", "psync2"] in seen, "REPLCONF capa eof capa psync2")
        check(seen[-1] == ["PSYNC", "?", "-1"], "a fresh replica asks PSYNC ? -1")

        conn.sendall(b"+FULLRESYNC %s 0\r\n$%d\r\n" % (REPLID.encode(), len(snapshot)) + snapshot)
        first = resp("SELECT", 0) + resp("VADD", "k", "VALUES", 2, 1, 0, "a")
        conn.sendall(first)
        for _ in range(100):
            if r.execute_command("VCARD", "k") == 1:  # EXISTS is 1 before its batch is applied
                break
            time.sleep(0.05)
        check(r.execute_command("VCARD", "k") == 1, "the stream after the snapshot is applied")
        offset = len(first)
        # Its ACK carries the applied offset (one sent before the VADD was applied says 0).
        for _ in range(5):
            ack = read_command(f)
            while ack[:2] != ["REPLCONF", "ACK"]:
                ack = read_command(f)
            if int(ack[2]) == offset:
                break
        check(int(ack[2]) == offset, "REPLCONF ACK %s = bytes applied (%d)" % (ack[2], offset))

        # Half a transaction, then the link breaks.
        tx = resp("MULTI") + resp("VADD", "k", "VALUES", 2, 0, 1, "b") + resp("EXEC")
        half = resp("MULTI") + resp("VADD", "k", "VALUES", 2, 0, 1, "b")
        conn.sendall(half)
        time.sleep(0.3)
        f.close()
        conn.close()

        conn, f, seen = accept_handshake(listener)
        psync = seen[-1]
        check(psync[1] == REPLID and int(psync[2]) == offset + 1,
              "after the cut: PSYNC %s %s, the byte after the last whole command (%d)" %
              (psync[1][:8], psync[2], offset + 1))
        conn.sendall(b"+CONTINUE %s\r\n" % REPLID.encode() + tx)
        for _ in range(100):
            if r.execute_command("VCARD", "k") == 2:
                break
            time.sleep(0.05)
        check(r.execute_command("VCARD", "k") == 2, "the resent transaction is applied once")
        info = r.info("replication")
        check(info["slave_repl_offset"] == offset + len(tx),
              "slave_repl_offset counts the whole transaction once (%d)" % info["slave_repl_offset"])
        f.close()
        conn.close()

        rp.terminate()  # it would reconnect: a fresh listener for the next one
        rp.wait(10)
        listener.close()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(15)
        mport = listener.getsockname()[1]

        # A diskless master (Redis 7's default): keep-alive newlines (even before its answer to
        # PSYNC), "$EOF:<40 chars>", the snapshot, the same 40 chars, and nothing more until
        # the replica's first ACK. The mark arrives in two
        # pieces; this replica loads from memory (repl-diskless-load swapdb).
        rp2, _, r2dir, r2 = start(tmp, "replica2", ["--replicaof", "127.0.0.1", str(mport),
                                                    "--repl-diskless-load", "swapdb"])
        procs.append(rp2)
        conn, f, seen = accept_handshake(listener)
        mark = b"0123456789abcdef0123456789abcdef01234567"
        conn.sendall(b"\n\n+FULLRESYNC %s 1000\r\n\n$EOF:%s\r\n" % (REPLID.encode(), mark)
                     + snapshot + mark[:25])
        time.sleep(0.3)
        conn.sendall(mark[25:])
        ack = read_command(f)
        while ack[:2] != ["REPLCONF", "ACK"]:
            ack = read_command(f)
        check(int(ack[2]) == 1000, "after an $EOF payload the replica ACKs at once (%s)" % ack[2])
        conn.sendall(resp("SELECT", 0) + resp("VADD", "k2", "VALUES", 2, 1, 0, "a"))
        for _ in range(100):
            if r2.execute_command("VCARD", "k2") == 1:
                break
            time.sleep(0.05)
        check(r2.execute_command("VCARD", "k2") == 1, "the stream after an $EOF payload is applied")
        check(not os.path.exists(os.path.join(r2dir, "dump.qvs")),
              "repl-diskless-load swapdb wrote no snapshot file")
        f.close()
        conn.close()
        listener.close()
        print("%d checks passed" % checks())
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
