#!/usr/bin/python3
"""jsonl2resp.py -- turn a file of vectors into the RESP stream `redis-cli --pipe` sends.

Bulk loading is a VADD pipeline: this script writes one `VADD key FP32 <blob> <id> [SETATTR json]
[options]` per input record, in RESP (binary-safe: the vector goes as a little-endian float32
blob), optionally preceded by an `IDX.CREATE` line, so that

    utils/jsonl2resp.py --key docs --create "DIM 384 METRIC COSINE TEXT title" docs.jsonl \\
        | redis-cli -p 6379 --pipe

loads a file at the server's pipelined insert speed without a client library.

Inputs (--format, guessed from the extension when omitted):
  jsonl  one JSON object per line: {"id": "...", "vector": [floats], "attributes": {...}}
         ("attributes" optional; "id" may be a number; other keys are ignored)
  csv    id,vector,attributes with a header line; vector as a JSON array or space-separated
         floats; attributes a JSON object (optional column). Python's csv module quoting.
  fvecs  TEXMEX .fvecs (int32 dim, then dim float32, per record); ids are the row numbers.

Options: --key (required), --create "<IDX.CREATE options>" (e.g. "DIM 128 METRIC L2"),
--vadd "<extra VADD options>" (e.g. "NOQUANT" or "EF 100"), --limit N. Writes to stdout.
Uses only the standard library (run with /usr/bin/python3).
"""
import argparse
import csv
import json
import shlex
import struct
import sys


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


def blob(vec):
    return struct.pack("<%df" % len(vec), *[float(x) for x in vec])


def records_jsonl(f):
    for lineno, line in enumerate(f, 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
            yield str(obj["id"]), obj["vector"], obj.get("attributes")
        except (ValueError, KeyError, TypeError) as e:
            sys.exit(f"line {lineno}: {e}")


def records_csv(f):
    for row in csv.DictReader(f):
        vec = row["vector"].strip()
        vec = json.loads(vec) if vec.startswith("[") else [float(x) for x in vec.split()]
        attrs = row.get("attributes")
        yield row["id"], vec, json.loads(attrs) if attrs else None


def records_fvecs(path):
    with open(path, "rb") as f:
        i = 0
        while True:
            head = f.read(4)
            if len(head) < 4:
                return
            (dim,) = struct.unpack("<i", head)
            yield str(i), struct.unpack("<%df" % dim, f.read(4 * dim)), None
            i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("--key", required=True)
    ap.add_argument("--format", choices=["jsonl", "csv", "fvecs"])
    ap.add_argument("--create", help='IDX.CREATE options, e.g. "DIM 128 METRIC L2"')
    ap.add_argument("--vadd", default="", help="extra VADD options")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    fmt = args.format or args.input.rsplit(".", 1)[-1]
    out = sys.stdout.buffer
    if args.create:
        out.write(resp(["IDX.CREATE", args.key] + shlex.split(args.create)))
    extra = shlex.split(args.vadd)
    if fmt == "fvecs":
        recs = records_fvecs(args.input)
    elif fmt in ("jsonl", "json", "ndjson"):
        recs = records_jsonl(open(args.input, encoding="utf-8"))
    elif fmt == "csv":
        recs = records_csv(open(args.input, encoding="utf-8", newline=""))
    else:
        sys.exit(f"unknown format '{fmt}' (jsonl, csv, fvecs)")
    n = 0
    for rid, vec, attrs in recs:
        cmd = ["VADD", args.key, "FP32", blob(vec), rid]
        if attrs is not None:
            cmd += ["SETATTR", json.dumps(attrs, separators=(",", ":"), ensure_ascii=False)]
        out.write(resp(cmd + extra))
        n += 1
        if args.limit and n >= args.limit:
            break
    print(f"{n} records", file=sys.stderr)


if __name__ == "__main__":
    main()
