"""acl_clients.py -- ACL users and JWTs through real clients: Debian's python3-redis (redis-py,
/usr/bin/python3) and redis-cli.

redis-py: its ACL helpers parse Quiver's replies (acl_setuser, acl_getuser, acl_list,
acl_users, acl_whoami, acl_cat, acl_log with its client-info parsing, acl_dryrun,
acl_genpass, acl_deluser); Redis(username=..., password=...) connects as an ACL user, whose key
prefix holds for VADD and VSIM (NoPermissionError outside it); a wrong password raises
AuthenticationError; with jwt-secret set, an HS256 token made here with Python's hmac is the
password (Redis(username=..., password=token) and Redis(password=token)).
redis-cli: --user/--pass (and --no-auth-warning) run commands as the user.

Starts its own server (src/quiver-server, or $QUIVER_SERVER) on a free port in a temporary
directory and removes both at the end. Exit 0 on success; prints every check.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from quiver import check, checks, start_server  # noqa: E402

SECRET = "interop-jwt-secret"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(sub, ttl, secret=SECRET):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": sub, "exp": int(time.time()) + ttl}).encode())
    signing_input = (header + "." + payload).encode()
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return header + "." + payload + "." + b64url(sig)


def main():
    tmp = tempfile.mkdtemp(prefix="quiver-acl-", dir=os.environ.get("QUIVER_TEST_TMPDIR"))
    proc = None
    try:
        proc, port = start_server(
            tmp, ["--requirepass", "adminpw", "--jwt-secret", SECRET], password="adminpw")
        admin = redis.Redis(port=port, password="adminpw", decode_responses=True)

        # ---- redis-py's ACL helpers against Quiver's replies ----
        check(admin.acl_setuser("tenant1", enabled=True, passwords=["+t1pw"],
                                keys=["tenant1:*"], categories=["+@all", "-@dangerous"]),
              "acl_setuser")
        u = admin.acl_getuser("tenant1")
        check(u["enabled"] and u["keys"] == ["~tenant1:*"], "acl_getuser: enabled, keys %r" % u["keys"])
        check(u["categories"] == ["+@all", "-@dangerous"], "acl_getuser categories %r" % u["categories"])
        check(u["passwords"] == [hashlib.sha256(b"t1pw").hexdigest()],
              "acl_getuser passwords are the SHA-256 of the password")
        check(sorted(admin.acl_users()) == ["default", "tenant1"], "acl_users")
        check(any(line.startswith("user tenant1 on #") for line in admin.acl_list()), "acl_list")
        check(admin.acl_whoami() == "default", "acl_whoami")
        check("vector" in admin.acl_cat() and "vsim" in admin.acl_cat("vector"), "acl_cat vector")
        check(len(admin.acl_genpass()) == 64, "acl_genpass")
        check(admin.execute_command("ACL", "DRYRUN", "tenant1", "VSIM", "tenant2:k", "ELE", "x")
              == "No permissions to access the 'tenant2:k' key", "ACL DRYRUN")

        # ---- Redis(username=..., password=...) ----
        t1 = redis.Redis(port=port, username="tenant1", password="t1pw", decode_responses=True)
        check(t1.acl_whoami() == "tenant1", "connected as tenant1")
        check(t1.execute_command("VADD", "tenant1:docs", "VALUES", 2, 1, 0, "d1") == 1,
              "VADD on its own prefix")
        check(t1.execute_command("VSIM", "tenant1:docs", "VALUES", 2, 1, 0) == ["d1"],
              "VSIM on its own prefix")
        for args in (("VADD", "tenant2:docs", "VALUES", 2, 1, 0, "d1"),
                     ("VSIM", "tenant2:docs", "VALUES", 2, 1, 0),
                     ("CONFIG", "GET", "port")):
            try:
                t1.execute_command(*args)
                check(False, "%s refused" % args[0])
            except redis.exceptions.NoPermissionError as e:
                check("NoPermission" in type(e).__name__, "%s %s refused: %s" % (args[0], args[1], e))
        # A transaction through redis-py's default pipeline: refused while queuing.
        try:
            t1.pipeline().execute_command("VADD", "tenant2:x", "VALUES", 1, 1, "e").execute()
            check(False, "pipeline refused")
        except redis.exceptions.ResponseError as e:
            check("NOPERM" in str(e) or "EXECABORT" in str(e) or "permissions" in str(e),
                  "a MULTI with a forbidden key fails: %s" % e)
        try:
            redis.Redis(port=port, username="tenant1", password="wrong").ping()
            check(False, "wrong password refused")
        except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
            # redis-py 4.3 raises -WRONGPASS as a ResponseError, later ones AuthenticationError.
            check("invalid username-password pair" in str(e), "wrong password: %s" % e)
        log = admin.acl_log()
        check(log and log[0]["reason"] == "auth" and log[0]["username"] == "tenant1"
              and isinstance(log[0]["client-info"], dict) and isinstance(log[0]["age-seconds"], float),
              "acl_log parsed by redis-py (reason auth, client-info a dict)")
        check(any(e["reason"] == "key" and e["object"] == "tenant2:docs" for e in log),
              "acl_log has the refused key")

        # ---- JWT as the password ----
        token = make_jwt("tenant1", 300)
        tj = redis.Redis(port=port, username="tenant1", password=token, decode_responses=True)
        check(tj.acl_whoami() == "tenant1", "Redis(username, password=<JWT>)")
        tj2 = redis.Redis(port=port, password=token, decode_responses=True)
        check(tj2.acl_whoami() == "tenant1", "Redis(password=<JWT>): AUTH <token> names the user")
        for bad, what in ((make_jwt("tenant1", -10), "expired"),
                          (make_jwt("tenant1", 300, "wrong-secret"), "bad signature"),
                          (make_jwt("nobody", 300), "unknown subject")):
            try:
                redis.Redis(port=port, password=bad).ping()
                check(False, "%s token refused" % what)
            except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
                check("WRONGPASS" in str(e) or "invalid username-password" in str(e),
                      "%s token refused" % what)

        # ---- redis-cli --user --pass ----
        def cli(*args):
            return subprocess.run(["redis-cli", "-p", str(port), "--user", "tenant1", "--pass",
                                   "t1pw", "--no-auth-warning"] + list(args),
                                  capture_output=True, text=True, timeout=10).stdout.strip()
        check(cli("ACL", "WHOAMI") == "tenant1", "redis-cli --user --pass: ACL WHOAMI")
        check(cli("VCARD", "tenant1:docs") == "1", "redis-cli --user --pass: VCARD")
        check("No permissions to access a key" in cli("VCARD", "tenant2:docs"),
              "redis-cli --user --pass: NOPERM outside the prefix")
        out = subprocess.run(["redis-cli", "-p", str(port), "--user", "tenant1", "--pass", token,
                              "--no-auth-warning", "ACL", "WHOAMI"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        check(out == "tenant1", "redis-cli --user --pass <JWT>")

        check(admin.acl_deluser("tenant1") == 1, "acl_deluser")
        try:
            t1.ping()
            t1.ping()
            check(False, "a deleted user's connection is closed")
        except (redis.ConnectionError, redis.exceptions.AuthenticationError,
                redis.exceptions.ResponseError):
            check(True, "a deleted user's connection is closed (a reconnect cannot log in)")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks passed" % checks())


if __name__ == "__main__":
    main()
