#!/usr/bin/env bash
# bench-ping.sh -- PING throughput of quiver-server next to Debian's redis-server, measured by
# the same redis-benchmark in the same script on the same machine:
#
#   redis-benchmark -t ping_mbulk -P 16 -c 50 -n 2000000 -q     (pipelined)
#   redis-benchmark -t ping_mbulk -P 1  -c 50 -n 200000  -q     (one request per round trip)
#
# Both servers run at once on free ports (Redis with persistence off: --save "" --appendonly no)
# and the runs alternate between them, ROUNDS times (default 2); the best requests/second of
# each is kept, which filters out a neighbour's burst on a shared machine. Prints every run,
# then each server's best and the ratio quiver/redis (goal: >= 1.0). Not part of make test.
#
#   utils/bench-ping.sh                      QUIVER_SERVER=src/quiver-server ROUNDS=3 ...
set -euo pipefail
cd "$(dirname "$0")/.."
QUIVER_SERVER=${QUIVER_SERVER:-src/quiver-server}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || true)}
ROUNDS=${ROUNDS:-2}
[ -x "$QUIVER_SERVER" ] || { echo "build $QUIVER_SERVER first (make)" >&2; exit 1; }
[ -n "$REDIS_SERVER" ] || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (redis-tools)" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

TMP=$(mktemp -d /tmp/bench-ping.XXXXXX)
QPID= RPID=
cleanup() {
    for p in $QPID $RPID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

wait_ready() {
    for _ in $(seq 200); do
        redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2
    exit 1
}

QPORT=$(free_port)
"$QUIVER_SERVER" --port "$QPORT" --bind 127.0.0.1 --dir "$TMP" --logfile "$TMP/quiver.log" \
    --save "" >/dev/null 2>&1 &
QPID=$!
RPORT=$(free_port)
mkdir -p "$TMP/redis"
"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/redis" --save "" --appendonly no \
    --logfile "$TMP/redis.log" >/dev/null 2>&1 &
RPID=$!
wait_ready "$QPORT"
wait_ready "$RPORT"

echo "quiver-server: $("$QUIVER_SERVER" --version)"
echo "redis-server:  $("$REDIS_SERVER" --version)"
echo "redis-benchmark $(redis-benchmark --version 2>/dev/null | awk '{print $2}'), $(nproc) cores, $ROUNDS rounds"
echo

# run_bench <port> <P> <n>: prints the requests per second of one ping_mbulk run.
run_bench() {
    redis-benchmark -p "$1" -t ping_mbulk -P "$2" -c 50 -n "$3" -q 2>/dev/null | tr '\r' '\n' |
        sed -n 's/^PING_MBULK: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

declare -A BEST
for mode in "16 2000000" "1 200000"; do
    set -- $mode
    P=$1 N=$2
    BEST[q$P]=0 BEST[r$P]=0
    for round in $(seq "$ROUNDS"); do
        for who in quiver redis; do
            port=$QPORT key=q$P
            [ $who = redis ] && port=$RPORT key=r$P
            rps=$(run_bench "$port" "$P" "$N")
            [ -n "$rps" ] || { echo "redis-benchmark failed against $who" >&2; exit 1; }
            printf '  -P %-2s -n %-8s round %d  %-7s %12.0f req/s\n' "$P" "$N" "$round" "$who" "$rps"
            if awk -v a="$rps" -v b="${BEST[$key]}" 'BEGIN{exit !(a>b)}'; then BEST[$key]=$rps; fi
        done
    done
done

echo
printf '%-24s %14s %14s %8s\n' "ping_mbulk, -c 50" "quiver req/s" "redis req/s" "ratio"
for P in 16 1; do
    ratio=$(awk -v a="${BEST[q$P]}" -v b="${BEST[r$P]}" 'BEGIN{printf "%.2f", a/b}')
    printf '%-24s %14.0f %14.0f %8s\n' "-P $P" "${BEST[q$P]}" "${BEST[r$P]}" "$ratio"
done
