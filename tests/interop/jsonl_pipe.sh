#!/usr/bin/env bash
# jsonl_pipe.sh -- the bulk-load path of the README: utils/jsonl2resp.py piped into the real
# `redis-cli --pipe` against a real server, for JSONL (with IDX.CREATE and attributes), CSV and
# .fvecs (siftsmall's first 1000 vectors); then the data is checked through redis-cli: counts,
# attributes, exact vectors (FP32) and a TEXT search over the loaded attributes.
# Starts its own server (src/quiver-server or $QUIVER_SERVER) in a temp dir and stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SERVER=${QUIVER_SERVER:-src/quiver-server}
DATASETS=${QUIVER_DATASETS:-datasets}
TMP=$(mktemp -d "${QUIVER_TEST_TMPDIR:-/tmp}/jsonl-pipe.XXXXXX")
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$TMP" --logfile "$TMP/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
cli() { redis-cli -p "$PORT" "$@"; }
for _ in $(seq 100); do cli PING >/dev/null 2>&1 && break; sleep 0.1; done

fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# JSONL: numeric and string ids, attributes with text, unicode, a record without attributes.
cat >"$TMP/docs.jsonl" <<'EOF'
{"id": "a", "vector": [1, 0, 0], "attributes": {"title": "Quick brown fox", "year": 1999}}
{"id": 2, "vector": [0, 1, 0], "attributes": {"title": "Lazy dog \u00e9t\u00e9", "year": 2005}}

{"id": "c", "vector": [0.5, 0.25, -1.5]}
EOF
utils/jsonl2resp.py --key docs --create "DIM 3 METRIC L2 QUANT FP32 TEXT title" "$TMP/docs.jsonl" \
    2>"$TMP/conv.err" | cli --pipe >"$TMP/pipe.out"
grep -q "errors: 0, replies: 4" "$TMP/pipe.out" || fail "pipe: $(cat "$TMP/pipe.out")"
expect "$(cat "$TMP/conv.err")" "3 records" "converter count"
expect "$(cli VCARD docs)" "3" "VCARD docs"
expect "$(cli VGETATTR docs 2)" '{"title":"Lazy dog été","year":2005}' "attributes"
expect "$(cli VEMB docs c | tr '\n' ' ')" "0.5 0.25 -1.5 " "exact FP32 vector"
expect "$(cli VSEARCH docs VALUES 3 0 0 0 TEXT FOX ALPHA 0 K 1 | head -1)" "a" "text search"
expect "$(cli IDX.INFO docs | grep -A1 '^metric$' | tail -1)" "L2" "IDX.CREATE applied"

# CSV: JSON-array and space-separated vectors, quoted attributes, no attributes.
cat >"$TMP/docs.csv" <<'EOF'
id,vector,attributes
x,"[1,2]","{""k"": ""v, with comma""}"
y,3 4,
EOF
utils/jsonl2resp.py --key csv --vadd NOQUANT "$TMP/docs.csv" 2>/dev/null | cli --pipe >"$TMP/pipe.out"
grep -q "errors: 0, replies: 2" "$TMP/pipe.out" || fail "csv pipe: $(cat "$TMP/pipe.out")"
expect "$(cli VGETATTR csv x)" '{"k":"v, with comma"}' "csv attributes"
expect "$(cli VEMB csv y | tr '\n' ' ')" "3 4 " "csv vector"

# .fvecs: siftsmall's first 1000 rows, ids are row numbers; FLAT L2 finds row 17 from itself.
utils/jsonl2resp.py --key sift --create "DIM 128 METRIC L2 QUANT FP32 ALGO FLAT" --limit 1000 \
    "$DATASETS/siftsmall_base.fvecs" 2>/dev/null | cli --pipe >"$TMP/pipe.out"
grep -q "errors: 0, replies: 1001" "$TMP/pipe.out" || fail "fvecs pipe: $(cat "$TMP/pipe.out")"
expect "$(cli VCARD sift)" "1000" "fvecs count"
expect "$(cli VSEARCH sift ELE 17 K 1 | head -1)" "17" "fvecs nearest"
echo "jsonl_pipe: all checks passed"
