#!/usr/bin/env bash
# install-deps.sh -- installs what Quiver needs, by purpose, so that a missing benchmark package
# never blocks a build:
#
#   scripts/install-deps.sh [--check-only] [build] [test] [bench] [all]   (default: all)
#
#   build  deps/debian-build.txt: compiler and libraries (make, make run)
#   test   deps/debian-test.txt, then the npm tools of tests/package.json into tests/node_modules
#          (s3rver, the local S3 server of the integration tests; node-redis and ioredis, the
#          clients of tests/interop/*.mjs, *.js) with Debian's npm
#   bench  deps/debian-bench.txt: peers and Python packages of the benchmarks in utils/
#   all    the three
#
# Debian packages already installed are left alone; the missing ones are installed with apt-get,
# which needs root. Without root (or with --check-only) it names what is missing and exits 1.
# Nothing is downloaded from anywhere but Debian's archive and, for `test`, the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
groups=()
for arg in "$@"; do
    case "$arg" in
        --check-only) check_only=1 ;;
        build | test | bench) groups+=("$arg") ;;
        all) groups+=(build test bench) ;;
        *)
            echo "usage: $0 [--check-only] [build] [test] [bench] [all]" >&2
            exit 2
            ;;
    esac
done
[ ${#groups[@]} -gt 0 ] || groups=(build test bench)

want=()
npm_tools=0
for g in "${groups[@]}"; do
    # shellcheck disable=SC2207
    want+=($(sed -e 's/#.*//' "deps/debian-$g.txt" | awk 'NF{print $1}'))
    [ "$g" = test ] && npm_tools=1
done

# A package counts as present when it is installed or an installed package provides it (e.g. a
# nodejs package that ships its own npm provides "npm"; installing Debian's would conflict).
present=" $(dpkg-query -W -f='${Status}|${Package}, ${Provides}\n' 2>/dev/null |
    sed -n 's/^install ok installed|//p' | sed -e 's/ *([^)]*)//g' -e 's/, */ /g' | tr '\n' ' ') "
missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
    [[ "$present" == *" $p "* ]] || missing+=("$p")
done

# tests/node_modules is complete when every tool of tests/package.json is there: s3rver's program,
# and the client libraries the interop scripts load (node-redis 6 as `redis`, node-redis 5 as `redis5`, ioredis).
npm_missing=0
if [ $npm_tools -eq 1 ] && ! { [ -x tests/node_modules/.bin/s3rver ] &&
    [ -f tests/node_modules/redis/package.json ] && [ -f tests/node_modules/redis5/package.json ] &&
    [ -f tests/node_modules/ioredis/package.json ] &&
    grep -q '"version": "6.3.1"' tests/node_modules/redis/package.json; }; then
    npm_missing=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $npm_missing -eq 0 ]; then exit 0; fi

if [ $check_only -eq 1 ]; then
    [ ${#missing[@]} -eq 0 ] || echo "missing Debian packages: ${missing[*]}" >&2
    [ $npm_missing -eq 0 ] || echo "missing npm tools in tests/node_modules (s3rver, redis, redis5, ioredis)" >&2
    exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages: ${missing[*]} (run 'scripts/install-deps.sh ${groups[*]}' as root)" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $npm_missing -eq 1 ]; then
    echo "installing the npm tools of tests/package.json into tests/node_modules"
    # npm ci: exactly the versions of tests/package-lock.json, whatever the registry has since.
    npm ci --prefix tests --no-audit --no-fund --loglevel=error >/dev/null
    [ -x tests/node_modules/.bin/s3rver ] || {
        echo "npm install did not provide tests/node_modules/.bin/s3rver" >&2
        exit 1
    }
fi
