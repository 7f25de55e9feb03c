"""quiver.py -- what the Python interop scripts share: where the server binary is
(src/quiver-server, or $QUIVER_SERVER), check() with its running count, a free loopback port,
and start_server(), which starts the real server on a free port in a given directory and waits
until it answers PING (Debian's python3-redis, /usr/bin/python3)."""
import os
import socket
import subprocess
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SERVER = os.environ.get("QUIVER_SERVER", os.path.join(ROOT, "src", "quiver-server"))
if not os.path.isabs(SERVER):
    SERVER = os.path.join(ROOT, SERVER)

_checks = 0


def check(cond, what):
    """Fails the script unless cond holds; prints and counts what was checked."""
    global _checks
    if not cond:
        raise AssertionError(what)
    _checks += 1
    print("ok   " + what)


def checks():
    return _checks


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(tmp, extra=(), password=None):
    """(process, port) of a server started in tmp with the extra arguments; a port taken
    between free_port() and the bind is retried. password: the one PING must authenticate
    with."""
    log = os.path.join(tmp, "quiver.log")
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--logfile", log]
            + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline and proc.poll() is None:
            try:
                if redis.Redis(port=port, password=password, socket_timeout=1).ping():
                    return proc, port
            except redis.ConnectionError:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            break
    raise RuntimeError("server did not start; log:\n" + open(log).read()[-2000:])
