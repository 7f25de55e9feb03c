#!/usr/bin/env bash
# redis_benchmark.sh -- Debian's redis-benchmark completes against quiver-server: at start it
# pipelines CONFIG GET save / CONFIG GET appendonly, then runs PING_INLINE and PING_MBULK with
# 16 commands per pipeline. Only completion and the shape of its output are checked here; the
# speed is measured by utils/bench-ping.sh, never asserted in tests.
. "$(dirname "$0")/lib/server.sh"

start_server

OUT=$(timeout 120 redis-benchmark -p "$PORT" -t ping_inline,ping_mbulk -P 16 -n 100000 -q 2>&1 |
    tr '\r' '\n' | grep -v '^$' || true)
echo "$OUT" | grep -E '^PING_(INLINE|MBULK): [0-9.]+ requests per second' | sed 's/^/     /' || true
check "PING_INLINE completed" grep -qE '^PING_INLINE: [0-9.]+ requests per second' <<<"$OUT"
check "PING_MBULK completed" grep -qE '^PING_MBULK: [0-9.]+ requests per second' <<<"$OUT"
# redis-benchmark's start-up CONFIG GET save / appendonly must both answer a name/value pair,
# or it prints "WARNING: Could not fetch server CONFIG".
expect_eq "CONFIG GET save answers a pair" "2" "$(redis-cli -p "$PORT" CONFIG GET save | wc -l)"
expect_eq "CONFIG GET appendonly answers a pair" "2" "$(redis-cli -p "$PORT" CONFIG GET appendonly | wc -l)"
check "no error or warning from redis-benchmark" bash -c '! grep -qiE "error|warning|could not" <<<"$1"' _ "$OUT"

# 100,000 of each were answered: the server counted them.
CMDS=$(redis-cli -p "$PORT" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_ping:calls=\([0-9]*\),.*/\1/p')
check "the server processed all 200,000 PINGs (got ${CMDS:-none})" test "${CMDS:-0}" -ge 200000

# With RESP3 (-3 sends HELLO 3 first) and several clients, still fine.
OUT3=$(timeout 120 redis-benchmark -p "$PORT" -3 -t ping_mbulk -c 8 -P 4 -n 20000 -q 2>&1 |
    tr '\r' '\n' | grep -v '^$' || true)
check "RESP3 PING_MBULK completed" grep -qE '^PING_MBULK: [0-9.]+ requests per second' <<<"$OUT3"

expect_eq "the server still answers" "PONG" "$(redis-cli -p "$PORT" PING)"
finish
