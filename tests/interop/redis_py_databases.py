"""redis_py_databases.py -- databases, key expiry and keyspace notifications as real clients use
them: Debian's python3-redis (/usr/bin/python3) connecting with from_url('redis://host:port/1')
(the client sends SELECT 1 on every new connection of its pool), writes and TTLs there that
database 0 does not see, SWAPDB/MOVE, a pub/sub listener getting __keyspace@1__ events, and
redis-cli -n 1 reading the same database.

Starts its own server (src/quiver-server, or $QUIVER_SERVER) on a free port in a temporary
directory and removes both at the end. Exit 0 on success; prints every check.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from quiver import SERVER, check, checks, start_server  # noqa: E402


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip()


def next_message(p, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=1)
        if m and m["type"] == "pmessage":
            return m["channel"], m["data"]
    raise AssertionError("no keyspace message within %d s" % timeout)


def run(port):
    r1 = redis.Redis.from_url("redis://127.0.0.1:%d/1" % port, decode_responses=True,
                              socket_timeout=30)
    r0 = redis.Redis(port=port, decode_responses=True, socket_timeout=30)
    check(r1.ping() is True, "from_url(.../1) connects (SELECT 1 accepted)")
    check(r1.execute_command("VADD", "movies", "VALUES", 3, 0.1, 0.9, 0.2, "Alien") == 1,
          "VADD in database 1")
    check(r1.exists("movies") == 1 and r0.exists("movies") == 0,
          "the key is in database 1 only")
    check(r1.dbsize() == 1 and r0.dbsize() == 0, "dbsize() per database")
    info = r0.info("keyspace")
    check("db1" in info and info["db1"]["keys"] == 1, "info('keyspace') has db1 keys=1")
    check("db0" not in info, "info('keyspace') has no empty db0")
    # Expiry through the client's own helpers.
    check(r1.expire("movies", 100) is True, "expire() returns True")
    check(90 < r1.ttl("movies") <= 100, "ttl() counts down from 100")
    check(r1.expire("movies", 50, gt=True) is False, "expire(gt=True) with a smaller TTL is False")
    check(r1.persist("movies") is True and r1.ttl("movies") == -1, "persist() removes the TTL")
    check(r1.pexpire("movies", 200000) is True and r1.pexpiretime("movies") > 0,
          "pexpire() / pexpiretime()")
    # Every connection of the pool selects database 1 (a pipeline takes another connection).
    with r1.pipeline(transaction=True) as p:
        p.execute_command("VCARD", "movies")
        p.dbsize()
        res = p.execute()
    check(res == [1, 1], "a MULTI/EXEC pipeline runs in database 1 (%s)" % res)
    # redis-cli -n 1 sees the same database.
    check(cli(port, "-n", "1", "VCARD", "movies") == "1", "redis-cli -n 1 VCARD movies")
    check(cli(port, "-n", "0", "EXISTS", "movies") == "0", "redis-cli -n 0 does not see it")
    check(cli(port, "-n", "1", "TTL", "movies").isdigit(), "redis-cli -n 1 TTL movies")
    # Keyspace notifications through redis-py's pubsub.
    check(r0.config_set("notify-keyspace-events", "KEA") is True, "config_set notify-keyspace-events")
    check(r0.config_get("notify-keyspace-events")["notify-keyspace-events"] == "AKE",
          "config_get gives the canonical AKE")
    ps = r0.pubsub()
    ps.psubscribe("__keyspace@1__:*")
    r1.execute_command("VADD", "movies", "VALUES", 3, 0.2, 0.8, 0.1, "Aliens")
    check(next_message(ps) == ("__keyspace@1__:movies", "vadd"), "keyspace event vadd")
    r1.execute_command("VREM", "movies", "Aliens")
    check(next_message(ps) == ("__keyspace@1__:movies", "vrem"), "keyspace event vrem")
    r1.pexpire("movies", 50)
    check(next_message(ps) == ("__keyspace@1__:movies", "expire"), "keyspace event expire")
    check(next_message(ps) == ("__keyspace@1__:movies", "expired"),
          "keyspace event expired (the active cycle)")
    check(r1.exists("movies") == 0, "the key expired")
    ps.close()
    # SWAPDB and MOVE as clients call them.
    r0.execute_command("VADD", "k", "VALUES", 2, 1, 1, "e")
    check(r0.swapdb(0, 1) is True, "swapdb(0, 1)")
    check(r1.exists("k") == 1 and r0.exists("k") == 0, "after swapdb the key is in database 1")
    check(r1.move("k", 2) is True, "move('k', 2)")
    r2 = redis.Redis.from_url("redis://127.0.0.1:%d/2" % port, decode_responses=True)
    check(r2.exists("k") == 1, "the moved key is in database 2")
    check(r2.flushdb() is True and r2.dbsize() == 0, "flushdb() of database 2")
    try:
        redis.Redis.from_url("redis://127.0.0.1:%d/16" % port).ping()
        check(False, "from_url(.../16) must fail")
    except redis.ResponseError as e:
        check("DB index is out of range" in str(e), "from_url(.../16): %s" % e)


def main():
    if not os.access(SERVER, os.X_OK):
        print("FAIL: server binary %s not built" % SERVER)
        return 1
    tmp = tempfile.mkdtemp(prefix="interop-pydb.", dir=os.environ.get("QUIVER_TEST_TMPDIR"))
    proc = None
    try:
        proc, port = start_server(tmp)
        run(port)
        check(proc.poll() is None, "the server is still running")
        print("redis_py_databases.py: %d checks passed (redis-py %s)" % (checks(), redis.__version__))
        return 0
    except Exception as e:  # report, then clean up
        print("FAIL (redis_py_databases.py): %s: %s" % (type(e).__name__, e))
        log = os.path.join(tmp, "quiver.log")
        if os.path.exists(log):
            print("--- server log tail:\n" + open(log).read()[-2000:])
        return 1
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
