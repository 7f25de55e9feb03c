#!/usr/bin/env bash
# bench-acl.sh -- what the ACL check costs per command: redis-benchmark against one quiver-server
# as `default` (nopass, +@all ~* &*: the check is one flag test) and as a user with 20 rules
# (command and category rules plus 10 key patterns, the key matched by the last one, so every
# pattern before it is tried), in the same run, alternating ROUNDS times (default 3); the best
# requests/second of each is kept, which filters out a neighbour's burst on a shared machine.
#
#   PING:  redis-benchmark -P 16 -c 50 -n 2000000 -t ping_mbulk            (no key)
#   VSIM:  redis-benchmark -P 16 -c 50 -n 200000 VSIM <key> VALUES 8 ... COUNT 1 NOTHREAD
#          on a 256-element set (a search cheap enough that the check is not lost in it)
#
# Prints every run, then each one's best requests/second and least server CPU per command
# (INFO cpu over total_commands_processed: steadier than req/s on a shared machine), and the
# ratios user/default. Not part of make test.
#
#   utils/bench-acl.sh                       QUIVER_SERVER=src/quiver-server ROUNDS=5 ...
set -euo pipefail
cd "$(dirname "$0")/.."
QUIVER_SERVER=${QUIVER_SERVER:-src/quiver-server}
ROUNDS=${ROUNDS:-3}
[ -x "$QUIVER_SERVER" ] || { echo "build $QUIVER_SERVER first (make)" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (redis-tools)" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
TMP=$(mktemp -d /tmp/bench-acl.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

"$QUIVER_SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$TMP" --logfile "$TMP/log" --save "" &
PID=$!
for _ in $(seq 200); do redis-cli -p "$PORT" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done

KEY="tenant9:vectors"
python3 - "$PORT" "$KEY" <<'PY'
import random, subprocess, sys
port, key = sys.argv[1], sys.argv[2]
random.seed(1)
cmds = []
for i in range(256):
    vals = " ".join("%.4f" % random.random() for _ in range(8))
    cmds.append("VADD %s VALUES 8 %s e%d" % (key, vals, i))
subprocess.run(["redis-cli", "-p", port], input="\n".join(cmds) + "\n", text=True,
               stdout=subprocess.DEVNULL, check=True)
PY
# 20 rules: on, a password, 10 key patterns (the benchmark key matches only the last), and 8
# command/category rules.
redis-cli -p "$PORT" ACL SETUSER bench on '>benchpw' \
    '~tenant0:*' '~tenant1:*' '~tenant2:*' '~tenant3:*' '~tenant4:*' \
    '~tenant5:*' '~tenant6:*' '~tenant7:*' '~tenant8:*' '~tenant9:*' \
    '+@all' '-@dangerous' '-@admin' '+info' '-debug' '+@read' '+@vector' '-flushall' >/dev/null
[ "$(redis-cli -p "$PORT" --user bench --pass benchpw --no-auth-warning VCARD "$KEY")" = 256 ] ||
    { echo "the bench user cannot read $KEY" >&2; exit 1; }

QUERY="VSIM $KEY VALUES 8 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 COUNT 1 NOTHREAD"
rps() { tr '\r' '\n' | grep -o '[0-9.]* requests per second' | awk '{print $1}' | tail -1; }
# The server's CPU seconds (user + sys) and commands so far: CPU per command is steadier than
# requests per second on a machine shared with other work.
cpu_cmds() {
    redis-cli -p "$PORT" INFO all | tr -d '\r' |
        awk -F: '/^used_cpu_(user|sys):/ {c += $2} /^total_commands_processed:/ {n = $2}
                 END {printf "%.6f %d\n", c, n}'
}
bench() { # $1 = what (ping|vsim), rest = auth args; prints "rps cpu_us_per_command"
    local what=$1; shift
    local before after r
    before=$(cpu_cmds)
    if [ "$what" = ping ]; then
        r=$(redis-benchmark -p "$PORT" "$@" -P 16 -c 50 -n 2000000 -t ping_mbulk -q 2>/dev/null | rps)
    else
        r=$(redis-benchmark -p "$PORT" "$@" -P 16 -c 50 -n 200000 -q $QUERY 2>/dev/null | rps)
    fi
    after=$(cpu_cmds)
    echo "$r $before $after" | awk '{printf "%s %.3f", $1, ($4 - $2) * 1e6 / ($5 - $3)}'
}
run() { # $1 = label, rest = auth args
    local label=$1; shift
    echo "$label PING $(bench ping "$@") VSIM $(bench vsim "$@")"
}
best() { sort -g | tail -1; }
least() { sort -g | head -1; }
: >"$TMP/runs"
echo "# label PING req/s cpu-us/cmd VSIM req/s cpu-us/cmd"
for r in $(seq "$ROUNDS"); do
    run default | tee -a "$TMP/runs"
    run user --user bench -a benchpw | tee -a "$TMP/runs"
done
col() { awk -v l="$1" -v c="$2" '$1==l {print $c}' "$TMP/runs"; }
dp=$(col default 3 | best) dpc=$(col default 4 | least) dv=$(col default 6 | best) dvc=$(col default 7 | least)
up=$(col user 3 | best) upc=$(col user 4 | least) uv=$(col user 6 | best) uvc=$(col user 7 | least)
echo "best req/s:  default PING $dp VSIM $dv; 20-rule user PING $up VSIM $uv"
echo "least server CPU us/command: default PING $dpc VSIM $dvc; 20-rule user PING $upc VSIM $uvc"
python3 -c "print('user/default: req/s PING %.3f VSIM %.3f; CPU/command PING %.3f VSIM %.3f' % ($up/$dp, $uv/$dv, $upc/$dpc, $uvc/$dvc))"
