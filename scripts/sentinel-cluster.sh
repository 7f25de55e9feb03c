#!/usr/bin/env bash
# sentinel-cluster.sh -- starts, on loopback, a Quiver master with two replicas and three Redis
# Sentinels (redis-sentinel from Debian's redis-sentinel package) watching it, each in its own
# directory under $DIR, and stops them.
#
#   scripts/sentinel-cluster.sh start [DIR]   (default DIR: /tmp/quiver-sentinel)
#   scripts/sentinel-cluster.sh stop  [DIR]
#
# Ports: Quiver 6379 (master), 6380, 6381 (replicas); sentinels 26379-26381 (override with
# QUIVER_PORT_BASE and SENTINEL_PORT_BASE). Ask a sentinel where the master is:
#   redis-cli -p 26379 SENTINEL GET-MASTER-ADDR-BY-NAME quiver
# Each process's pid is in DIR/<name>/pid, its log in DIR/<name>/log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
cmd=${1:-}
DIR=${2:-/tmp/quiver-sentinel}
QBASE=${QUIVER_PORT_BASE:-6379}
SBASE=${SENTINEL_PORT_BASE:-26379}
SERVER=${QUIVER_SERVER:-$ROOT/src/quiver-server}
SENTINEL=${QUIVER_SENTINEL:-/usr/bin/redis-sentinel}

waitPort() { # port: up to 10 s for PING to answer
    for _ in $(seq 1 100); do
        redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "nothing answers on port $1" >&2
    return 1
}

case "$cmd" in
start)
    [ -x "$SERVER" ] || { echo "build first: make (no $SERVER)" >&2; exit 1; }
    [ -x "$SENTINEL" ] || { echo "install redis-sentinel (apt-get install redis-sentinel)" >&2; exit 1; }
    mkdir -p "$DIR"
    for i in 0 1 2; do
        name=quiver$i port=$((QBASE + i))
        mkdir -p "$DIR/$name"
        extra=()
        [ "$i" -gt 0 ] && extra=(--replicaof 127.0.0.1 "$QBASE")
        "$SERVER" --port "$port" --bind 127.0.0.1 --dir "$DIR/$name" --logfile "$DIR/$name/log" \
            --daemonize yes --pidfile "$DIR/$name/pid" "${extra[@]}"
        waitPort "$port"
    done
    for i in 0 1 2; do
        name=sentinel$i port=$((SBASE + i))
        mkdir -p "$DIR/$name"
        { echo "port $port"; echo "bind 127.0.0.1"; echo "dir $DIR/$name"
          echo "logfile $DIR/$name/log"; echo "daemonize yes"; echo "pidfile $DIR/$name/pid"
          sed "s/^sentinel monitor quiver 127.0.0.1 6379 /sentinel monitor quiver 127.0.0.1 $QBASE /" \
              conf/sentinel.conf; } > "$DIR/$name/sentinel.conf"
        "$SENTINEL" "$DIR/$name/sentinel.conf"
        waitPort "$port"
    done
    echo "master 127.0.0.1:$QBASE, replicas :$((QBASE + 1)) :$((QBASE + 2)), sentinels :$SBASE-:$((SBASE + 2)) (in $DIR)"
    ;;
stop)
    for name in sentinel0 sentinel1 sentinel2 quiver0 quiver1 quiver2; do
        f="$DIR/$name/pid"
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$f"
    done
    ;;
*)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
