#!/usr/bin/python3
"""redis_py_vset.py -- interop of Debian's python3-redis (4.3.4) with Quiver's vector sets.

redis-py 4.3.4 has no vset() helpers, so every command goes through execute_command with the
exact argument lists redis-py 6.x/8.x's helpers put on the wire (docs/ecosystem.md
§3.1): VALUES with floats written by repr(), FP32 with a little-endian float32 blob, SETATTR with
json.dumps output (spaces after ':' and ','), fixed option order, vsetattr(None) sending "{}".
Replies are decoded the way those helpers' callbacks do (flat WITHSCORES pairs -> dict of float,
VINFO pairs -> dict, VGETATTR -> json.loads) and checked against a brute-force cosine oracle
computed here over the vectors we sent.

The flow: add with attributes (FP32 and VALUES, REDUCE and NOQUANT), filtered search (with
TRUTH, EPSILON, FILTER-EF), update, attribute changes, remove, VINFO as a dict, VEMB/RAW,
VLINKS, VRANDMEMBER, VRANGE, a transaction pipeline and a plain pipeline.

Starts its own server (src/quiver-server, or $QUIVER_SERVER) on a free port and stops it.
Run from the repository root:  /usr/bin/python3 tests/interop/redis_py_vset.py
"""
import json
import math
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("QUIVER_SERVER", os.path.join(ROOT, "src", "quiver-server"))

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server():
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="qv-redispy-vset-",
                               dir=os.environ.get("QUIVER_TEST_TMPDIR") or None)
    log = open(os.path.join(workdir, "server.log"), "wb")
    proc = subprocess.Popen([SERVER, "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", workdir], stdout=log, stderr=subprocess.STDOUT)
    r = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.time() + 10
    while True:
        try:
            if r.ping():
                return proc, r, workdir
        except redis.ConnectionError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("server did not start; see %s/server.log" % workdir)
        time.sleep(0.05)


# ---- the wire forms of redis-py's vset() helpers (ecosystem.md §3.1) ----

def vadd(r, key, vector, element, reduce_dim=None, cas=False, quantization=None, ef=None,
         attributes=None, numlinks=None):
    args = []
    if reduce_dim:
        args += ["REDUCE", reduce_dim]
    if isinstance(vector, bytes):
        args += ["FP32", vector]
    else:
        args += ["VALUES", len(vector)] + [repr(float(x)) for x in vector]
    args.append(element)
    if cas:
        args.append("CAS")
    if quantization:
        args.append(quantization)
    if ef:
        args += ["EF", ef]
    if attributes is not None:
        args += ["SETATTR", json.dumps(attributes) if isinstance(attributes, dict) else attributes]
    if numlinks:
        args += ["M", numlinks]
    return r.execute_command("VADD", key, *args)


def vsim(r, key, query, with_scores=False, with_attribs=False, count=None, epsilon=None,
         ef=None, filter=None, filter_ef=None, truth=False, no_thread=False):
    args = []
    if isinstance(query, bytes):
        args += ["FP32", query]
    elif isinstance(query, str):
        args += ["ELE", query]
    else:
        args += ["VALUES", len(query)] + [repr(float(x)) for x in query]
    if with_scores:
        args.append("WITHSCORES")
    if with_attribs:
        args.append("WITHATTRIBS")
    if count:
        args += ["COUNT", count]
    if epsilon:
        args += ["EPSILON", epsilon]
    if ef:
        args += ["EF", ef]
    if filter:
        args += ["FILTER", filter]
    if filter_ef:
        args += ["FILTER-EF", filter_ef]
    if truth:
        args.append("TRUTH")
    if no_thread:
        args.append("NOTHREAD")
    res = r.execute_command("VSIM", key, *args)
    # The helpers' response callback (RESP2): flat pairs/triples -> dict.
    if with_scores and with_attribs:
        return {res[i]: (float(res[i + 1]), json.loads(res[i + 2]) if res[i + 2] else None)
                for i in range(0, len(res), 3)}
    if with_scores:
        return {res[i]: float(res[i + 1]) for i in range(0, len(res), 2)}
    if with_attribs:
        return {res[i]: (json.loads(res[i + 1]) if res[i + 1] else None)
                for i in range(0, len(res), 2)}
    return res


def vinfo(r, key):
    res = r.execute_command("VINFO", key)
    if res is None:
        return None
    return {res[i].decode() if isinstance(res[i], bytes) else res[i]: res[i + 1]
            for i in range(0, len(res), 2)}, res


def vgetattr(r, key, element):
    res = r.execute_command("VGETATTR", key, element)
    return json.loads(res) if res else None


def vsetattr(r, key, element, attributes=None):
    return r.execute_command("VSETATTR", key, element,
                             json.dumps(attributes) if attributes is not None else "{}")


def vemb(r, key, element, raw=False):
    if raw:
        return r.execute_command("VEMB", key, element, "RAW")
    res = r.execute_command("VEMB", key, element)
    return None if res is None else [float(x) for x in res]


# ---- oracle ----

def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return dot / (na * nb)


def score(a, b):
    return (1 + cosine(a, b)) / 2  # Redis's similarity: 1 - d/2 with d = 1 - cos


def brute(vectors, q, k, keep=lambda name: True):
    ranked = sorted(((score(v, q), n) for n, v in vectors.items() if keep(n)), reverse=True)
    return [n for _, n in ranked[:k]]


def fp32(vec):
    return struct.pack("<%df" % len(vec), *vec)


# ---- the flow ----

def flow(r):
    rnd = random.Random(20240601)
    r.delete("vs")

    # 1. Add: half through FP32 blobs, half through VALUES; every element with attributes.
    dim = 8
    vectors, attrs = {}, {}
    for i in range(200):
        name = "item:%d" % i
        v = [rnd.uniform(-1, 1) for _ in range(dim)]
        a = {"year": 1900 + i % 120, "genre": ["action", "drama", "comedy"][i % 3],
             "rating": round(rnd.uniform(0, 10), 1), "tags": [i % 5, "t%d" % (i % 7)]}
        if i % 2:
            added = vadd(r, "vs", fp32(v), name, quantization="NOQUANT", attributes=a)
            # The blob round-trips as float32: keep what the server actually got.
            v = list(struct.unpack("<%df" % dim, fp32(v)))
        else:
            added = vadd(r, "vs", v, name, quantization="NOQUANT", ef=200, attributes=a)
        check(added == 1, "VADD of a new element returns 1 (got %r)" % added)
        vectors[name], attrs[name] = v, a
    check(r.execute_command("VCARD", "vs") == 200, "VCARD counts every VADD")
    check(r.execute_command("VDIM", "vs") == dim, "VDIM")
    check(r.type("vs") == b"vectorset", "TYPE says vectorset")
    check(r.execute_command("VISMEMBER", "vs", "item:3") == 1, "VISMEMBER of a member")
    check(r.execute_command("VISMEMBER", "vs", "nope") == 0, "VISMEMBER of a non-member")
    check(vgetattr(r, "vs", "item:5") == attrs["item:5"], "VGETATTR gives the JSON back")

    # A later VADD without NOQUANT uses the set's own quantisation (Quiver, unlike Redis 8.8).
    extra = [rnd.uniform(-1, 1) for _ in range(dim)]
    check(vadd(r, "vs", extra, "extra") == 1, "VADD without the creation-time quant flag")
    check(vadd(r, "vs", extra, "extra2", quantization="NOQUANT", numlinks=16) == 1,
          "VADD with the same quant and M repeated")
    try:
        vadd(r, "vs", extra, "extra3", quantization="BIN")
        check(False, "a different explicit quantisation must fail")
    except redis.ResponseError as e:
        check("quantization mismatch" in str(e), "quantisation mismatch error: %s" % e)
    vectors["extra"] = vectors["extra2"] = extra
    attrs["extra"] = attrs["extra2"] = None

    # 2. Search. Unfiltered with scores: exact set from the oracle (NOQUANT, TRUTH).
    q = [rnd.uniform(-1, 1) for _ in range(dim)]
    got = vsim(r, "vs", q, with_scores=True, count=10, truth=True)
    want = brute(vectors, q, 10)
    check(list(got.keys()) == [w.encode() for w in want],
          "VSIM TRUTH order = brute force\n got %s\nwant %s" % (list(got), want))
    for name, s in got.items():
        check(abs(s - score(vectors[name.decode()], q)) < 1e-5, "score of %s" % name)
    # Graph search: recall vs brute force.
    approx = vsim(r, "vs", q, count=10)
    check(len(set(approx) & set(w.encode() for w in want)) >= 9, "graph recall@10 >= 0.9")
    # FP32 query gives the same as VALUES.
    check(vsim(r, "vs", fp32(q), count=10, truth=True) == [w.encode() for w in want],
          "FP32 query == VALUES query")

    # Filtered search, with the exact helper wire form from §3.1.
    flt = '.year > 1950 and .genre == "drama"'
    keep = (lambda n: attrs.get(n) is not None and attrs[n]["year"] > 1950
            and attrs[n]["genre"] == "drama")
    got = vsim(r, "vs", q, count=5, epsilon=1.5, ef=100, filter=flt, filter_ef=500,
               truth=True, no_thread=True)
    check(got == [w.encode() for w in brute(vectors, q, 5, keep)], "filtered TRUTH search")
    got = vsim(r, "vs", q, count=5, filter=flt)
    check(set(got) == set(w.encode() for w in brute(vectors, q, 5, keep)),
          "filtered graph search finds the filtered top 5")
    got = vsim(r, "vs", q, with_scores=True, with_attribs=True, count=3, filter=flt)
    for name, (s, a) in got.items():
        check(keep(name.decode()) and a == attrs[name.decode()], "WITHATTRIBS gives the JSON")
    got = vsim(r, "vs", q, with_attribs=True, count=50, filter=".rating >= 9 or 3 in .tags")
    for name, a in got.items():
        check(a["rating"] >= 9 or 3 in a["tags"], "filter with 'in' on a JSON array")
    # EPSILON: only similarity >= 1 - eps.
    got = vsim(r, "vs", q, with_scores=True, count=300, epsilon=0.3, truth=True)
    n_expected = sum(1 for v in vectors.values() if score(v, q) >= 0.7 + 1e-6)
    check(all(s >= 0.7 - 1e-6 for s in got.values()), "EPSILON cut-off")
    check(abs(len(got) - n_expected) <= 1, "EPSILON keeps everything above the cut-off")
    # ELE query: the element itself comes first with score 1.
    got = vsim(r, "vs", "item:10", with_scores=True, count=3)
    check(list(got)[0] == b"item:10" and abs(got[b"item:10"] - 1) < 1e-6, "VSIM ELE")
    try:
        vsim(r, "vs", q, filter=".year >>> 3")
        check(False, "a bad filter must fail")
    except redis.ResponseError as e:
        check(str(e).startswith("syntax error in FILTER expression near:"), "filter error %s" % e)

    # 3. Update: reply 0, the new vector, attributes kept without SETATTR, replaced with it.
    newv = [rnd.uniform(-1, 1) for _ in range(dim)]
    check(vadd(r, "vs", newv, "item:4", quantization="NOQUANT") == 0, "update replies 0")
    emb = vemb(r, "vs", "item:4")
    check(all(abs(a - b) < 1e-5 for a, b in zip(emb, newv)), "VEMB shows the updated vector")
    check(vgetattr(r, "vs", "item:4") == attrs["item:4"], "update without SETATTR keeps attrs")
    vectors["item:4"] = newv
    # NOQUANT gives back the float32 values sent, as Redis does (1, not 1.0000001192092896).
    check(r.execute_command("VADD", "nq", "VALUES", 5, 1, 4.32, 0.11, 0.5, 0.9, "e", "NOQUANT") == 1,
          "VADD NOQUANT")
    check(vemb(r, "nq", "e")[0] == 1.0 and vemb(r, "nq", "e")[3] == 0.5, "NOQUANT VEMB exact: %s"
          % vemb(r, "nq", "e"))
    try:
        r.execute_command("VADD", "nq")
        check(False, "VADD without arguments must fail")
    except redis.ResponseError as e:
        check(str(e) == "wrong number of arguments for 'VADD' command", "arity error text: %s" % e)
    r.delete("nq")
    check(vadd(r, "vs", fp32(newv), "item:6", attributes={"year": 3000}) == 0,
          "update with SETATTR replies 0")
    vectors["item:6"] = list(struct.unpack("<%df" % dim, fp32(newv)))
    check(vgetattr(r, "vs", "item:6") == {"year": 3000}, "update with SETATTR replaces attrs")
    attrs["item:6"] = {"year": 3000, "genre": None}
    check(vsim(r, "vs", newv, count=2, truth=True)[:2] in
          ([b"item:4", b"item:6"], [b"item:6", b"item:4"]), "the updated vectors are searched")
    check(r.execute_command("VCARD", "vs") == 202, "updates do not change VCARD")

    # VSETATTR with json.dumps, vsetattr(None) -> "{}", and "" removing.
    check(vsetattr(r, "vs", "item:8", {"year": 2000}) == 1, "VSETATTR")
    check(vgetattr(r, "vs", "item:8") == {"year": 2000}, "VSETATTR then VGETATTR")
    check(vsetattr(r, "vs", "item:8") == 1 and vgetattr(r, "vs", "item:8") == {},
          "vsetattr(None) stores {}")
    check(r.execute_command("VSETATTR", "vs", "item:8", "") == 1, "VSETATTR '' removes")
    check(r.execute_command("VGETATTR", "vs", "item:8") is None, "removed attribute is nil")
    check(vsetattr(r, "vs", "missing", {"a": 1}) == 0, "VSETATTR on a missing element is 0")
    # Text that is not JSON is stored and returned verbatim, as Redis does.
    check(r.execute_command("VSETATTR", "vs", "item:9", "{not json") == 1, "VSETATTR of plain text")
    check(r.execute_command("VGETATTR", "vs", "item:9") == b"{not json", "plain text comes back verbatim")
    check(vsetattr(r, "vs", "item:9", attrs["item:9"]) == 1, "JSON attributes set back")

    # 4. Remove.
    check(r.execute_command("VREM", "vs", "item:0") == 1, "VREM of a member")
    check(r.execute_command("VREM", "vs", "item:0") == 0, "VREM twice")
    del vectors["item:0"]
    check(r.execute_command("VCARD", "vs") == 201, "VCARD after VREM")
    check(b"item:0" not in vsim(r, "vs", q, count=300, truth=True), "removed element not found")

    # 5. VINFO as a dict (pairs_to_dict), the 9 fields in order.
    info, rawinfo = vinfo(r, "vs")
    check([rawinfo[i].decode() for i in range(0, 18, 2)] ==
          ["quant-type", "hnsw-m", "vector-dim", "projection-input-dim", "size", "max-level",
           "attributes-count", "vset-uid", "hnsw-max-node-uid"], "VINFO fields in order")
    check(info["quant-type"] == b"f32" and info["hnsw-m"] == 16 and info["vector-dim"] == dim,
          "VINFO quant/M/dim: %r" % info)
    check(info["projection-input-dim"] == 0 and info["size"] == 201, "VINFO size")
    check(info["attributes-count"] == 198, "VINFO attributes-count %r" % info["attributes-count"])
    check(info["hnsw-max-node-uid"] >= 204, "VINFO max node uid counts inserts and updates")
    check(vinfo(r, "nosuchkey") is None, "VINFO of a missing key is nil")

    # VEMB RAW as the helper expects: [quant, blob, norm(, range)].
    raw = vemb(r, "vs", "item:1", raw=True)
    check(len(raw) == 3 and raw[0] == b"f32" and len(raw[1]) == 4 * dim, "VEMB RAW f32")
    norm = math.sqrt(sum(x * x for x in vectors["item:1"]))
    check(abs(float(raw[2]) - norm) < 1e-4, "VEMB RAW norm")
    unit = struct.unpack("<%df" % dim, raw[1])
    check(all(abs(u * norm - x) < 1e-4 for u, x in zip(unit, vectors["item:1"])),
          "VEMB RAW blob is the normalised vector")

    # VLINKS WITHSCORES: one flat pair list per level, neighbours are members, scores in [0,1].
    links = r.execute_command("VLINKS", "vs", "item:1", "WITHSCORES")
    check(len(links) >= 1 and len(links[-1]) > 0, "VLINKS has level 0 neighbours")
    for level in links:
        for i in range(0, len(level), 2):
            n, s = level[i].decode(), float(level[i + 1])
            check(n in vectors and abs(s - score(vectors[n], vectors["item:1"])) < 1e-4,
                  "VLINKS score of %s" % n)

    # VRANDMEMBER 3 -> three distinct members.
    rm = r.execute_command("VRANDMEMBER", "vs", 3)
    check(len(set(rm)) == 3 and all(x.decode() in vectors for x in rm), "VRANDMEMBER 3")
    # VRANGE walks names in byte order.
    names = sorted(n.encode() for n in vectors)
    check(r.execute_command("VRANGE", "vs", "-", "+") == names, "VRANGE - + is sorted")
    check(r.execute_command("VRANGE", "vs", "[item:1", "(item:2", 5) == names[
        names.index(b"item:1"):names.index(b"item:1") + 5], "VRANGE bounds and count")

    # REDUCE + CAS + NOQUANT + EF + SETATTR + M: the exact §3.1 vadd form, 12-byte FP32 blob.
    r.delete("vr")
    check(vadd(r, "vr", fp32([1.0, 2.0, 3.0]), "e2", reduce_dim=2, cas=True,
               quantization="NOQUANT", ef=200, attributes={"year": 1950}, numlinks=16) == 1,
          "VADD REDUCE … CAS NOQUANT EF SETATTR M")
    check(vadd(r, "vr", [0.1, 0.2, 0.3], "e1", reduce_dim=2) == 1, "VADD REDUCE repeated")
    check(vadd(r, "vr", [0.3, 0.2, 0.1], "e3") == 1, "VADD on a REDUCE set without REDUCE")
    check(r.execute_command("VDIM", "vr") == 2, "VDIM reports the reduced dim")
    info, _ = vinfo(r, "vr")
    check(info["projection-input-dim"] == 3 and info["vector-dim"] == 2, "VINFO projection")
    check(vgetattr(r, "vr", "e2") == {"year": 1950}, "SETATTR via the helper form")
    check(vsim(r, "vr", "e1", count=1) == [b"e1"] or vsim(r, "vr", "e1", count=1) == [b"e2"],
          "VSIM ELE on a reduced set")  # e1 and e2 are parallel: both score 1

    # 6. Pipelines: transaction (MULTI/EXEC) and plain.
    p = r.pipeline()
    vadd(p, "vp", [1.0, 0.0], "a")
    vadd(p, "vp", [0.0, 1.0], "b")
    p.execute_command("VCARD", "vp")
    p.execute_command("VSIM", "vp", "VALUES", 2, "1", "0.1", "COUNT", 1)
    check(p.execute() == [1, 1, 2, [b"a"]], "VADD/VCARD/VSIM in MULTI/EXEC")
    p = r.pipeline(transaction=False)
    for i in range(50):
        vadd(p, "vp", [math.cos(i), math.sin(i)], "p%d" % i)
    check(p.execute() == [1] * 50, "50 pipelined VADDs")
    check(r.execute_command("VCARD", "vp") == 52, "VCARD after the pipeline")

    # WATCH: another client's VADD aborts the transaction.
    other = redis.Redis(host=r.connection_pool.connection_kwargs["host"],
                        port=r.connection_pool.connection_kwargs["port"])
    p = r.pipeline()
    p.watch("vp")
    other.execute_command("VADD", "vp", "VALUES", 2, "0.5", "0.5", "intruder")
    p.multi()
    p.execute_command("VCARD", "vp")
    try:
        p.execute()
        check(False, "EXEC after a concurrent VADD must abort")
    except redis.WatchError:
        pass
    other.close()

    # Removing every element deletes the key.
    for n in ["e1", "e2", "e3"]:
        r.execute_command("VREM", "vr", n)
    check(r.exists("vr") == 0, "removing the last element deletes the key")


def main():
    proc, r, workdir = start_server()
    try:
        flow(r)
        check(r.ping(), "the server is still up after the flow")
    finally:
        r.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)
    print("redis_py_vset: %d checks passed (redis-py %s)" % (checks, redis.__version__))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)
