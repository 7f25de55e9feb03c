# server.sh -- sourced by the interop shell scripts: start the real quiver-server on a free port
# in a fresh temporary directory, stop it and clean up on exit, and count checks.
#
#   . "$(dirname "$0")/lib/server.sh"
#   start_server [extra args...]     sets PORT, DIR, LOG, SERVER_PID
#   check "what" <command...>        runs the command, fails the script with "what" if it fails
#   finish                            prints the summary and exits 0
#
# Kept out of tests/interop/*.sh itself so scripts/run-tests.sh does not run it as a test.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
QUIVER_SERVER=${QUIVER_SERVER:-$ROOT/src/quiver-server}
case "$QUIVER_SERVER" in /*) ;; *) QUIVER_SERVER="$ROOT/$QUIVER_SERVER" ;; esac
SCRIPT_NAME=$(basename "$0")
CHECKS=0
SERVER_PID=
DIR=

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    [ -n "$DIR" ] && rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
    echo "FAIL ($SCRIPT_NAME): $*" >&2
    if [ -n "$DIR" ] && [ -f "$LOG" ]; then
        echo "--- server log tail:" >&2
        tail -n 20 "$LOG" >&2
    fi
    exit 1
}

start_server() {
    [ -x "$QUIVER_SERVER" ] || fail "server binary $QUIVER_SERVER not built"
    DIR=$(mktemp -d "${QUIVER_TEST_TMPDIR:-/tmp}/interop.XXXXXX")
    LOG="$DIR/quiver.log"
    for _attempt in 1 2 3; do
        PORT=$(free_port)
        "$QUIVER_SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --logfile "$LOG" "$@" \
            >"$DIR/stdout.log" 2>&1 </dev/null &
        SERVER_PID=$!
        for _ in $(seq 200); do
            if redis-cli -p "$PORT" PING 2>/dev/null | grep -q PONG; then return 0; fi
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$SERVER_PID" 2>/dev/null && break
        grep -q "Address already in use" "$LOG" 2>/dev/null || break
    done
    fail "server did not start on port $PORT"
}

# check "description" command...: the command must succeed.
check() {
    local what=$1
    shift
    if "$@"; then
        CHECKS=$((CHECKS + 1))
        echo "ok   $what"
    else
        fail "$what"
    fi
}

# expect_eq "description" "expected" "actual"
expect_eq() {
    if [ "$2" == "$3" ]; then
        CHECKS=$((CHECKS + 1))
        echo "ok   $1"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

finish() {
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died during the test"
    echo "$SCRIPT_NAME: $CHECKS checks passed"
    exit 0
}
