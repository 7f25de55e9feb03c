"""redis_py.py -- Debian's python3-redis (redis-py, run through /usr/bin/python3) against the
real quiver-server: what an application does first with redis-py. ping(), info() parsed into a
dict, config_get()/config_set(), the default pipeline() (transaction=True: MULTI ... EXEC in one
write, one +QUEUED per command, an EXEC array of exactly that length), a plain pipeline, WATCH
raising WatchError, an EXECABORT surfacing as the queuing error, client_setname/getname,
client_list/client_info, client_id, connection pools.

Starts its own server (src/quiver-server, or $QUIVER_SERVER) on a free port in a temporary
directory and removes both at the end. Exit 0 on success; prints every check.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from quiver import SERVER, check, checks, start_server  # noqa: E402


def run(port):
    r = redis.Redis(port=port, socket_timeout=30, decode_responses=True)

    # ---- basics ----
    check(r.ping() is True, "ping() is True")
    check(r.echo("héllo") == "héllo", "echo() round-trips UTF-8")
    info = r.info()
    check(isinstance(info, dict), "info() parses into a dict")
    major = int(str(info["redis_version"]).split(".")[0])
    check(major >= 7, "info()['redis_version'] is a Redis >= 7 version (%s)" % info["redis_version"])
    # The Redis release whose vector-set surface Quiver implements; Quiver's own is apart.
    check(str(info["redis_version"]) == "8.8.0", "redis_version is 8.8.0 (%s)" % info["redis_version"])
    check("quiver_version" in info, "info() has quiver_version")
    check(info["tcp_port"] == port, "info()['tcp_port'] == %d" % port)
    check(info["loading"] == 0, "info()['loading'] == 0 (ioredis-style readiness)")
    check(info["connected_clients"] >= 1, "info()['connected_clients'] >= 1")
    check("used_memory" in info and "role" in info, "info() has used_memory and role")
    server = r.info("server")
    check("redis_version" in server and "used_memory" not in server,
          "info('server') has only the server section")
    check(r.info("keyspace") == {}, "info('keyspace') is empty with no keys")

    # ---- CONFIG ----
    check(r.config_get("maxclients") == {"maxclients": "10000"}, "config_get('maxclients')")
    got = r.config_get("proto-max-*")
    check(got.get("proto-max-bulk-len") == "536870912", "config_get with a glob pattern")
    check(r.config_set("timeout", 120) is True, "config_set('timeout', 120)")
    check(r.config_get("timeout") == {"timeout": "120"}, "config_get shows the new value")
    try:
        r.config_set("timeout", "abc")
        check(False, "config_set with a bad value raises")
    except redis.ResponseError as e:
        check("argument couldn't be parsed into an integer" in str(e),
              "config_set with a bad value raises ResponseError (%s)" % e)
    check(r.config_resetstat() is True, "config_resetstat()")

    # ---- client name, id, list ----
    check(r.client_getname() is None, "client_getname() is None before a name is set")
    check(r.client_setname("interop-py") is True, "client_setname()")
    check(r.client_getname() == "interop-py", "client_getname() returns the name")
    cid = r.client_id()
    check(isinstance(cid, int) and cid > 0, "client_id() is a positive int")
    clients = r.client_list()
    mine = [c for c in clients if c.get("name") == "interop-py"]
    check(len(mine) == 1, "client_list() has our named connection")
    check(int(mine[0]["id"]) == cid, "client_list() id matches client_id()")
    check(mine[0]["addr"].startswith("127.0.0.1:"), "client_list() addr is ip:port")
    ci = r.client_info()
    check(ci["name"] == "interop-py" and int(ci["id"]) == cid, "client_info() parses")

    # ---- pipelines ----
    p = r.pipeline()  # transaction=True: MULTI ... EXEC
    p.ping().echo("a").execute_command("VADD", "pk", "VALUES", 2, 1, 2, "e1").echo("b").dbsize()
    res = p.execute()
    check(res == [True, "a", 1, "b", 1], "pipeline() transaction returns one result per command: %r"
          % (res,))
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.echo(str(i))
    res = p.execute()
    check(res == [str(i) for i in range(1000)], "pipeline(transaction=False) of 1000 in order")
    p = r.pipeline()
    for i in range(500):
        p.echo("t%d" % i)
    res = p.execute()
    check(len(res) == 500 and res[499] == "t499", "a 500-command transaction")

    # A command failing at run time comes back as an exception object (raise_on_error=False)
    # or raises, and does not stop the others.
    p = r.pipeline()
    p.echo("before").execute_command("RENAME", "nokey", "x").echo("after")
    res = p.execute(raise_on_error=False)
    check(res[0] == "before" and isinstance(res[1], redis.ResponseError) and res[2] == "after",
          "a runtime error inside EXEC is reported for that command only")

    # A queuing error: EXECABORT, surfaced by redis-py as the first queuing error.
    p = r.pipeline()
    p.echo("x").execute_command("NOSUCHCMD")
    try:
        p.execute()
        check(False, "a queuing error must fail the transaction")
    except redis.ResponseError as e:
        check("unknown command" in str(e), "EXECABORT surfaces the queuing error (%s)" % e)
    check(r.ping(), "the connection is usable after EXECABORT")

    # WATCH: another client's write aborts, WatchError is raised.
    other = redis.Redis(port=port, decode_responses=True)
    with r.pipeline() as p:
        p.watch("pk")
        other.execute_command("VADD", "pk", "VALUES", 2, 3, 4, "e2")
        p.multi()
        p.echo("never")
        try:
            p.execute()
            check(False, "WATCH must abort")
        except redis.WatchError:
            check(True, "WATCH + another client's VADD raises WatchError")
    with r.pipeline() as p:
        p.watch("pk")
        p.multi()
        p.echo("runs")
        check(p.execute() == ["runs"], "WATCH with no change executes")
    other.close()

    # ---- keyspace through redis-py helpers ----
    check(r.exists("pk") == 1 and r.type("pk") == "vectorset", "exists()/type() on a vector set")
    check(sorted(r.keys("*")) == ["pk"], "keys()")
    check(list(r.scan_iter(match="p*")) == ["pk"], "scan_iter()")
    check(r.rename("pk", "pk2") is True and r.exists("pk2") == 1, "rename()")
    check(r.delete("pk2") == 1 and r.dbsize() == 0, "delete() and dbsize()")
    check(r.flushall() is True, "flushall()")

    # ---- connection pool: many connections, each handshake ----
    pool = redis.ConnectionPool(port=port, max_connections=20, decode_responses=True)
    rs = [redis.Redis(connection_pool=pool) for _ in range(5)]
    check(all(x.ping() for x in rs), "pooled clients ping")
    pool.disconnect()

    # ---- errors map to redis-py exceptions ----
    try:
        r.execute_command("NOSUCH", "a")
        check(False, "unknown command raises")
    except redis.ResponseError as e:
        check(str(e).startswith("unknown command 'NOSUCH'"), "unknown command raises ResponseError")
    try:
        r.execute_command("SELECT", 16)
        check(False, "SELECT 16 raises")
    except redis.ResponseError as e:
        check("DB index is out of range" in str(e), "SELECT 16 raises 'DB index is out of range'")
    check(r.execute_command("SELECT", 0) is True, "SELECT 0 is OK (redis-py db=0)")
    check(redis.Redis(port=port, db=0).ping(), "Redis(db=0) connects")

    # ---- binary-safe values without decoding ----
    rb = redis.Redis(port=port)
    blob = bytes(range(256)) * 100
    check(rb.echo(blob) == blob, "echo() of 25.6 KB of every byte value")


def main():
    if not os.access(SERVER, os.X_OK):
        print("FAIL: server binary %s not built" % SERVER)
        return 1
    tmp = tempfile.mkdtemp(prefix="interop-py.", dir=os.environ.get("QUIVER_TEST_TMPDIR"))
    proc = None
    try:
        proc, port = start_server(tmp)
        run(port)
        check(proc.poll() is None, "the server is still running")
        print("redis_py.py: %d checks passed (redis-py %s)" % (checks(), redis.__version__))
        return 0
    except Exception as e:  # report, then clean up
        print("FAIL (redis_py.py): %s: %s" % (type(e).__name__, e))
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
