#!/usr/bin/env bash
# redis_cli.sh -- Debian's redis-cli against the real quiver-server: one-shot commands, --pipe
# mass insertion (RESP from stdin, then redis-cli's own bare CRLF + 20-byte binary ECHO to know
# it is done), -3 (HELLO 3 and RESP3 replies), and interactive start-up in a pseudo-terminal,
# where redis-cli loads COMMAND DOCS and asserts on its types (a bad reply crashes it).
. "$(dirname "$0")/lib/server.sh"

start_server
cli() { redis-cli -p "$PORT" "$@"; }

# ---- one-shot commands (non-tty output: raw values, errors prefixed by nothing) ----
expect_eq "PING" "PONG" "$(cli PING)"
expect_eq "ECHO with a space" "hello world" "$(cli ECHO "hello world")"
expect_eq "DBSIZE on an empty keyspace" "0" "$(cli DBSIZE)"
expect_eq "SELECT 0" "OK" "$(cli SELECT 0)"
expect_eq "-n 0 (sends SELECT 0)" "PONG" "$(cli -n 0 PING)"
expect_eq "unknown command error" "ERR unknown command 'NOSUCH', with args beginning with: 'x' " \
    "$(cli NOSUCH x)"
expect_eq "wrong arity error" "ERR wrong number of arguments for 'echo' command" "$(cli ECHO)"
check "INFO server has redis_version" bash -c "redis-cli -p $PORT INFO server | grep -q '^redis_version:'"
check "INFO server has tcp_port:$PORT" bash -c "redis-cli -p $PORT INFO server | tr -d '\r' | grep -qx 'tcp_port:$PORT'"
expect_eq "CONFIG GET maxclients" "$(printf 'maxclients\n10000')" "$(cli CONFIG GET maxclients)"
expect_eq "CONFIG SET timeout" "OK" "$(cli CONFIG SET timeout 0)"
expect_eq "VADD creates a key" "1" "$(cli VADD k VALUES 3 1 2 3 e1)"
expect_eq "TYPE of a vector set" "vectorset" "$(cli TYPE k)"
expect_eq "KEYS *" "k" "$(cli KEYS '*')"
expect_eq "DEL" "1" "$(cli DEL k)"
check "COMMAND COUNT is a number" bash -c "redis-cli -p $PORT COMMAND COUNT | grep -qE '^[0-9]+$'"
check "CLIENT LIST lists this client" bash -c "redis-cli -p $PORT CLIENT LIST | grep -q 'cmd=client|list'"
# -x reads the last argument from stdin, binary-safe.
expect_eq "-x ECHO from stdin" "from stdin" "$(printf 'from stdin' | cli -x ECHO)"
# Several commands on stdin, one per line.
expect_eq "commands from stdin" "$(printf 'PONG\na\nb')" "$(printf 'PING\nECHO a\nECHO b\n' | cli)"

# ---- --pipe mass insertion ----
N=10000
/usr/bin/python3 - "$N" >"$DIR/pipe.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    if i % 4 == 0:
        out.write(b"*1\r\n$4\r\nPING\r\n")
    elif i % 4 == 1:
        arg = b"value-%d" % i
        out.write(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(arg), arg))
    elif i % 4 == 2:
        out.write(b"ECHO inline-%d\r\n" % i)  # inline commands mixed in
    else:
        arg = b"vec-%d" % i
        out.write(b"*7\r\n$4\r\nVADD\r\n$4\r\npipe\r\n$6\r\nVALUES\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n%d\r\n$%d\r\n%s\r\n"
                  % (i % 10, len(arg), arg))
PY
PIPE_OUT=$(cli --pipe <"$DIR/pipe.resp" 2>&1)
echo "$PIPE_OUT" | sed 's/^/     /'
check "--pipe summary 'errors: 0, replies: $N'" grep -q "errors: 0, replies: $N" <<<"$PIPE_OUT"
expect_eq "--pipe VADDs all landed" "$((N / 4))" "$(cli VCARD pipe)"
# Errors in the stream are counted, not fatal.
printf 'PING\r\nNOSUCH\r\nPING\r\n' >"$DIR/pipe2.resp"
PIPE_OUT=$(cli --pipe <"$DIR/pipe2.resp" 2>&1 || true) # exits 1 when errors > 0
check "--pipe counts errors ('errors: 1, replies: 3')" grep -q "errors: 1, replies: 3" <<<"$PIPE_OUT"

# ---- RESP3 with -3 ----
HELLO=$(cli -3 HELLO 3)
check "-3 HELLO 3 reports proto 3" grep -qzE 'proto[[:space:]]+3' <<<"$HELLO"
check "-3 HELLO 3 reports server redis" grep -qzE 'server[[:space:]]+redis' <<<"$HELLO"
check "-3 INFO server is text" bash -c "redis-cli -p $PORT -3 INFO server | grep -q '^# Server'"
expect_eq "-3 null reply" "" "$(cli -3 CLIENT GETNAME)"
expect_eq "-3 boolean reply from VADD" "(true)" "$(cli -3 --no-raw VADD b VALUES 2 1 0 x)"
# redis-cli prints a RESP3 map entry as "key value" on one line (a RESP2 array: two lines).
expect_eq "-3 CONFIG GET map" "maxclients 10000" "$(cli -3 CONFIG GET maxclients)"
check "-3 COMMAND DOCS parses" bash -c "redis-cli -p $PORT -3 COMMAND DOCS ping | grep -q summary"

# ---- interactive start-up in a pseudo-terminal (COMMAND DOCS for hints) ----
# redis-cli sends COMMAND DOCS when it starts interactively and asserts on the reply's types.
# stty gives the pty a size so linenoise does not query the cursor position; Enter is \r.
INTERACTIVE=$( (sleep 0.5; printf 'PING\r'; sleep 0.3; printf 'ECHO typed\r'; sleep 0.3; printf 'quit\r'; sleep 0.3) |
    timeout 20 script -qec "stty cols 200 rows 40; redis-cli -p $PORT" /dev/null 2>&1 | tr -d '\033' || true)
check "interactive redis-cli did not crash on COMMAND DOCS" bash -c '! grep -qiE "assert|Segmentation|Aborted" <<<"$1"' _ "$INTERACTIVE"
check "interactive PING answered" grep -q "PONG" <<<"$INTERACTIVE"
check "interactive ECHO answered" grep -q '"typed"' <<<"$INTERACTIVE"
check "interactive hints came from COMMAND DOCS (ECHO's 'message' argument)" grep -q "message" <<<"$INTERACTIVE"

# ---- help from COMMAND DOCS: the vector commands are module commands, as in Redis 8 ----
HELP_MODULE=$(redis-cli -p $PORT help @module | sed 's/\x1b\[[0-9;]*m//g')
check "help @module lists VADD with its syntax" grep -q "VADD key \[REDUCE reduce\] vector element" <<<"$HELP_MODULE"
check "help @module lists VSIM, VCARD, VRANGE and IDX.CREATE" bash -c 'grep -q "^  VSIM " <<<"$1" && grep -q "^  VCARD " <<<"$1" && grep -q "^  VRANGE" <<<"$1" && grep -q "^  IDX.CREATE " <<<"$1"' _ "$HELP_MODULE"
HELP_VSIM=$(redis-cli -p $PORT help VSIM | sed 's/\x1b\[[0-9;]*m//g')
check "help VSIM shows its summary and group" bash -c 'grep -q "summary: Return elements by vector similarity" <<<"$1" && grep -q "group: module" <<<"$1"' _ "$HELP_VSIM"

# ---- MONITOR: redis-cli prints the server's lines ----
MON_OUT="$DIR/monitor.out"
timeout 3 redis-cli -p $PORT MONITOR >"$MON_OUT" 2>&1 &
MON_PID=$!
sleep 0.5
cli VADD monitored VALUES 2 1 2 el >/dev/null
wait $MON_PID || true
check "redis-cli MONITOR prints OK then the VADD line" bash -c 'grep -q "^OK" "$1" && grep -qE "^[0-9]+\.[0-9]{6} \[0 127\.0\.0\.1:[0-9]+\] \"VADD\" \"monitored\" \"VALUES\" \"2\" \"1\" \"2\" \"el\"$" "$1"' _ "$MON_OUT"

expect_eq "the server still answers" "PONG" "$(cli PING)"
finish
