#!/usr/bin/env bash
# redis_cli_tls.sh -- Debian's redis-cli, redis-benchmark and redis-py over TLS (tls-port, served
# by mbedtls) with certificates this script makes with openssl: one-shot commands with a client
# certificate, refusal without one under tls-auth-clients yes, --pipe mass insertion and -3
# (RESP3) through TLS, the TLS and plain ports sharing the keyspace, a certificate reload with
# CONFIG SET seen by the next connection, and a short redis-benchmark --tls run.
. "$(dirname "$0")/lib/server.sh"

CERTS=$(mktemp -d "${QUIVER_TEST_TMPDIR:-/tmp}/interop-tls.XXXXXX")
trap 'cleanup; rm -rf "$CERTS"' EXIT
(
    cd "$CERTS"
    ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
    # shellcheck disable=SC2086
    openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj /CN=ca
    for n in server server2 client; do
        # shellcheck disable=SC2086
        openssl req $ec -keyout $n.key -out $n.csr -subj /CN=$n
        openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 2
    done
) >"$CERTS/openssl.log" 2>&1 || fail "openssl could not make the test certificates"

TLS_PORT=$(free_port)
start_server --tls-port "$TLS_PORT" --tls-cert-file "$CERTS/server.crt" \
    --tls-key-file "$CERTS/server.key" --tls-ca-cert-file "$CERTS/ca.crt" --tls-auth-clients yes
TLS_ARGS=(--tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" --key "$CERTS/client.key")
tcli() { redis-cli -p "$TLS_PORT" "${TLS_ARGS[@]}" "$@"; }
cli() { redis-cli -p "$PORT" "$@"; }

expect_eq "PING over TLS" "PONG" "$(tcli PING)"
expect_eq "VADD over TLS" "1" "$(tcli VADD k VALUES 3 1 0 0 secure)"
expect_eq "the plain port sees it" "1" "$(cli VISMEMBER k secure)"
expect_eq "VSIM over TLS" "secure" "$(tcli VSIM k VALUES 3 1 0 0 COUNT 1)"
NOCERT=$(redis-cli -p "$TLS_PORT" --tls --cacert "$CERTS/ca.crt" PING 2>&1 || true)
check "no client certificate: refused ($NOCERT)" bash -c "! grep -qx PONG <<<'$NOCERT'"
check "-3 over TLS: HELLO 3 answers a map" bash -c \
    "redis-cli -p $TLS_PORT ${TLS_ARGS[*]} -3 HELLO 3 | grep -q 'proto'"

N=5000
/usr/bin/python3 - "$N" >"$DIR/pipe.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    arg = b"v%d" % i
    out.write(b"*7\r\n$4\r\nVADD\r\n$4\r\npipe\r\n$6\r\nVALUES\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n%d\r\n$%d\r\n%s\r\n"
              % (i % 10, len(arg), arg))
PY
PIPE_OUT=$(tcli --pipe <"$DIR/pipe.resp" 2>&1)
check "--pipe over TLS: 'errors: 0, replies: $N'" grep -q "errors: 0, replies: $N" <<<"$PIPE_OUT"
expect_eq "--pipe VADDs all landed" "$N" "$(cli VCARD pipe)"

# Reload: the next TLS connection is served with server2's certificate.
expect_eq "CONFIG SET tls-cert-file/tls-key-file" "OK" \
    "$(cli CONFIG SET tls-cert-file "$CERTS/server2.crt" tls-key-file "$CERTS/server2.key")"
SUBJECT=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$CERTS/ca.crt" \
    -cert "$CERTS/client.crt" -key "$CERTS/client.key" </dev/null 2>/dev/null |
    sed -n 's/^subject=//p')
check "the next connection gets server2's certificate ($SUBJECT)" grep -q "server2" <<<"$SUBJECT"
expect_eq "PING over TLS after the reload" "PONG" "$(tcli PING)"

# redis-py with ssl=True.
PY_OUT=$(/usr/bin/python3 - "$TLS_PORT" "$CERTS" <<'PY'
import sys, redis
port, d = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(port=port, ssl=True, ssl_ca_certs=d + "/ca.crt", ssl_certfile=d + "/client.crt",
                ssl_keyfile=d + "/client.key")
r.execute_command("VADD", "py", "VALUES", 2, 0.5, 0.5, "p1")
print(r.execute_command("VCARD", "py"))
PY
)
expect_eq "redis-py over TLS" "1" "$PY_OUT"

BENCH=$(redis-benchmark -p "$TLS_PORT" "${TLS_ARGS[@]}" -t ping -n 2000 -c 4 -q 2>&1 | tr '\r' '\n')
check "redis-benchmark --tls runs PING" grep -q "PING_MBULK: .* requests per second" <<<"$BENCH"

finish
