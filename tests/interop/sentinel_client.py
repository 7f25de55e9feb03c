"""sentinel_client.py -- a Sentinel-aware application (redis.sentinel.Sentinel from Debian's
python3-redis) writing to and searching a Quiver master through a failover: one master, two
replicas and three Debian redis-sentinels on loopback (down-after-milliseconds 1000). The client
writes VADDs acknowledged with WAIT 1 and searches with VSIM (on a replica too); the master is
killed with SIGKILL; the client keeps going after a short pause (it retries while Sentinel
promotes a replica). Every write acknowledged before the crash is on the new master.

Starts its own processes on free ports in a temporary directory and removes them at the end.
Exit 0 on success; prints every check. Skipped (exit 0) without /usr/bin/redis-sentinel.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis
from redis.sentinel import Sentinel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from quiver import SERVER, check, checks, free_port  # noqa: E402

SENTINEL = os.environ.get("QUIVER_SENTINEL", "/usr/bin/redis-sentinel")


def wait_ping(port):
    for _ in range(100):
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise RuntimeError("nothing answers on port %d" % port)


def main():
    if not os.access(SENTINEL, os.X_OK):
        print("skip: no %s" % SENTINEL)
        return 0
    tmp = tempfile.mkdtemp(prefix="quiver-sentinel-client-")
    procs = []
    try:
        ports = [free_port() for _ in range(3)]
        for i, port in enumerate(ports):
            d = os.path.join(tmp, "q%d" % i)
            os.mkdir(d)
            args = [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                    "--logfile", os.path.join(d, "log"),
                    # full syncs at once, not after Redis 7's 5 s wait for more replicas: the
                    # WAIT below has a 1 s socket timeout
                    "--repl-diskless-sync-delay", "0"]
            if i:
                args += ["--replicaof", "127.0.0.1", str(ports[0])]
            procs.append(subprocess.Popen(args, stdin=subprocess.DEVNULL))
            wait_ping(port)
        sports = [free_port() for _ in range(3)]
        for i, port in enumerate(sports):
            d = os.path.join(tmp, "s%d" % i)
            os.mkdir(d)
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/log\n"
                        "sentinel monitor qv 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds qv 1000\n"
                        "sentinel failover-timeout qv 10000\n" % (port, d, d, ports[0]))
            procs.append(subprocess.Popen([SENTINEL, conf], stdin=subprocess.DEVNULL))
            wait_ping(port)

        sentinel = Sentinel([("127.0.0.1", p) for p in sports], socket_timeout=1)
        s0 = redis.Redis(port=sports[0])
        for _ in range(300):
            if (len(s0.execute_command("SENTINEL", "REPLICAS", "qv")) == 2
                    and len(s0.execute_command("SENTINEL", "SENTINELS", "qv")) == 2):
                break
            time.sleep(0.1)
        check(sentinel.discover_master("qv") == ("127.0.0.1", ports[0]),
              "Sentinel reports the Quiver master")
        master = sentinel.master_for("qv", socket_timeout=1)
        replica = sentinel.slave_for("qv", socket_timeout=1)

        acked = []
        for i in range(50):
            master.execute_command("VADD", "docs", "VALUES", 2, 1, i / 50.0, "d%d" % i)
            acked.append("d%d" % i)
        check(master.execute_command("WAIT", 1, 5000) >= 1, "WAIT 1 before the crash")
        res = replica.execute_command("VSIM", "docs", "VALUES", 2, 1, 0, "COUNT", 3)
        check(len(res) == 3, "a search through Sentinel's replica")

        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].wait()
        t0 = time.time()
        written_after = 0
        while time.time() - t0 < 60 and written_after < 20:
            try:
                master.execute_command("VADD", "docs", "VALUES", 2, 0, 1,
                                       "after%d" % written_after)
                master.execute_command("VSIM", "docs", "VALUES", 2, 1, 0, "COUNT", 1)
                written_after += 1
            except redis.RedisError:
                time.sleep(0.1)  # the pause while Sentinel promotes a replica
        check(written_after == 20, "the client writes and searches again after the failover")
        addr = sentinel.discover_master("qv")
        check(addr[1] in ports[1:], "a replica was promoted (%s:%d)" % addr)
        new_master = redis.Redis(port=addr[1])
        names = set(n.decode() for n in new_master.execute_command("VSIM", "docs", "VALUES", 2, 1, 0,
                                                                    "COUNT", 1000))
        check(all(n in names for n in acked),
              "every write acknowledged before the crash is on the new master")
        check(new_master.execute_command("VCARD", "docs") == 70, "and the writes made after it")
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
