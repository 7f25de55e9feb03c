#!/usr/bin/env bash
# bench-tls.sh -- TLS throughput of quiver-server relative to plaintext, measured by Debian's
# redis-benchmark (built with TLS) against one server with a plain port and a tls-port:
#
#   PING   redis-benchmark -t ping_mbulk -c 50 -n 200000 [-P 16]
#   VSIM   redis-benchmark -c 50 -n 20000 -r 10000 VSIM bench ELE e__rand_int__ COUNT 10
#          on a 10,000-element 32-d set loaded first (redis-cli --pipe)
#
# TLS runs add --tls --cacert/--cert/--key (ECDSA P-256 certificates made here with openssl;
# the connections are made once per client, so the handshake is not what is measured). Each
# pair (plain, TLS) runs ROUNDS times (default 3), alternating; the best of each is kept, which
# filters out a neighbour's burst on a shared machine. Prints every run and the ratio TLS/plain.
#
#   utils/bench-tls.sh                      QUIVER_SERVER=src/quiver-server ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
QUIVER_SERVER=${QUIVER_SERVER:-src/quiver-server}
ROUNDS=${ROUNDS:-3}
[ -x "$QUIVER_SERVER" ] || { echo "build $QUIVER_SERVER first (make)" >&2; exit 1; }
redis-benchmark --help 2>&1 | grep -q -- --tls || { echo "this redis-benchmark has no --tls" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
TMP=$(mktemp -d /tmp/bench-tls.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

(
    cd "$TMP"
    ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
    # shellcheck disable=SC2086
    openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj /CN=ca
    # shellcheck disable=SC2086
    openssl req $ec -keyout server.key -out server.csr -subj /CN=server
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2
) >"$TMP/openssl.log" 2>&1

PORT=$(free_port)
TLS_PORT=$(free_port)
"$QUIVER_SERVER" --port "$PORT" --tls-port "$TLS_PORT" --bind 127.0.0.1 --dir "$TMP" --save "" \
    --appendonly no --tls-cert-file "$TMP/server.crt" --tls-key-file "$TMP/server.key" \
    --tls-ca-cert-file "$TMP/ca.crt" --tls-auth-clients no --logfile "$TMP/quiver.log" &
PID=$!
for _ in $(seq 200); do redis-cli -p "$PORT" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done

python3 - <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import random, struct, sys
random.seed(1)
out = sys.stdout.buffer
for i in range(10000):
    blob = struct.pack("<32f", *[random.random() for _ in range(32)])
    name = b"e%012d" % i  # redis-benchmark -r writes __rand_int__ as 12 digits
    out.write(b"*5\r\n$4\r\nVADD\r\n$5\r\nbench\r\n$4\r\nFP32\r\n$128\r\n" + blob +
              b"\r\n$%d\r\n%s\r\n" % (len(name), name))
PY
echo "loaded $(redis-cli -p "$PORT" VCARD bench) elements"

TLS=(--tls --cacert "$TMP/ca.crt")
rps() { tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

declare -A RESULTS
run_case() { # name, args...
    local name=$1
    shift
    local plain=() tls=()
    for r in $(seq "$ROUNDS"); do
        local p t
        p=$(redis-benchmark -p "$PORT" "$@" 2>&1 | rps)
        t=$(redis-benchmark -p "$TLS_PORT" "${TLS[@]}" "$@" 2>&1 | rps)
        echo "  $name round $r: plain $p rps, TLS $t rps"
        plain+=("$p")
        tls+=("$t")
    done
    local bp bt
    bp=$(best "${plain[@]}")
    bt=$(best "${tls[@]}")
    RESULTS[$name]="plain $bp, TLS $bt, TLS/plain $(python3 -c "print(f'{$bt/$bp:.2f}')")"
}

run_case "PING -P 1" -t ping_mbulk -c 50 -n 200000 -q
run_case "PING -P 16" -t ping_mbulk -c 50 -n 2000000 -P 16 -q
run_case "VSIM COUNT 10" -c 50 -n 20000 -r 10000 -q VSIM bench ELE e__rand_int__ COUNT 10
echo "best of $ROUNDS (requests/s):"
for k in "PING -P 1" "PING -P 16" "VSIM COUNT 10"; do echo "  $k: ${RESULTS[$k]}"; done
