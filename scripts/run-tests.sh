#!/usr/bin/env bash
# run-tests.sh -- runs Quiver's test suites and prints one verdict; `make test` and friends call it.
#
#   QUIVER_BUILD=build scripts/run-tests.sh all|unit|integration|interop|fuzz [more suites...]
#
# Suites:
#   unit         every $QUIVER_BUILD/tests/unit/test_* binary (criterion)
#   integration  every $QUIVER_BUILD/tests/integration/test_* binary (criterion + hiredis, each
#                test starts the real server itself)
#   interop      every tests/interop/*.sh (bash), tests/interop/*.py (/usr/bin/python3, which
#                has Debian's python3-redis) and tests/interop/*.mjs, *.js (node, with node-redis
#                and ioredis from tests/node_modules)
#   fuzz         `make fuzz FUZZ_TIME=15`, a brief libFuzzer smoke run of every harness from its
#                committed seeds (skipped without clang)
#   format       `make format-check`: the tree is formatted by the checked-in .clang-format
#   all          all of the above
#
# Environment:
#   QUIVER_BUILD       build directory holding tests/ (default: build)
#   QUIVER_SERVER      server binary the tests start (default: src/quiver-server)
#   QUIVER_UNIT_ONLY   "test_a test_b": run only these unit binaries (make tsan uses it)
#   QUIVER_INTEG_ONLY  the same for the integration binaries
#   QUIVER_TEST_TIMEOUT  seconds one binary or script may run before it counts as failed (600)
#
# Every binary or script counts as one result. Its output is kept and shown only when it fails,
# so a green run stays short and a red one shows what broke. The last line is exactly
# "N passed, N failed" and the exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${QUIVER_BUILD:-build}
export QUIVER_SERVER=${QUIVER_SERVER:-src/quiver-server}
TIMEOUT=${QUIVER_TEST_TIMEOUT:-600}
# Criterion forks one process per test; two jobs match the 2-core machines we run on.
CRITERION_JOBS=${CRITERION_JOBS:-2}

passed=0
failed=0
failed_names=()

# Every server a test starts lives under this directory, so whatever a crashed test leaves
# behind is removed here (the harness and the interop scripts read QUIVER_TEST_TMPDIR).
QUIVER_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/quiver-tests.XXXXXX")
export QUIVER_TEST_TMPDIR
LOGDIR="$QUIVER_TEST_TMPDIR/logs"
mkdir -p "$LOGDIR"
trap 'rm -rf "$QUIVER_TEST_TMPDIR"' EXIT

# run_one <label> <command...>: runs it with a time limit, records the verdict, shows the
# criterion synthesis line (or the last line) on success and the whole output on failure.
run_one() {
    local label=$1
    shift
    local log="$LOGDIR/$(echo "$label" | tr '/ ' '__').log"
    local start=$SECONDS
    timeout --kill-after=10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null
    local rc=$?
    local secs=$((SECONDS - start))
    local summary
    summary=$(grep -a 'Synthesis:' "$log" | tail -n 1)
    # Scripts: their own "FAIL ..." line says more than whatever came last (a log tail).
    [ -n "$summary" ] || [ $rc -eq 0 ] || summary=$(grep -a '^FAIL' "$log" | head -n 1)
    [ -n "$summary" ] || summary=$(grep -av '^[[:space:]]*$' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS  %-42s %4ds  %s\n' "$label" "$secs" "$summary"
    else
        failed=$((failed + 1))
        failed_names+=("$label")
        [ $rc -eq 124 ] && summary="timed out after ${TIMEOUT}s; $summary"
        printf 'FAIL  %-42s %4ds  exit %d  %s\n' "$label" "$secs" "$rc" "$summary"
        echo "------------------------------------------------------------ output of $label"
        # Criterion prints every passing test too with --verbose; keep failures readable.
        grep -av '^\[RUN \]\|^\[PASS\]' "$log" | tail -n 300
        echo "------------------------------------------------------------ end of $label"
    fi
}

is_criterion() {
    grep -qa 'criterion' "$1"
}

run_binaries() {
    local dir=$1 only=${2:-}
    if [ ! -d "$dir" ]; then
        echo "note: $dir does not exist (nothing built for this suite)"
        return
    fi
    local found=0 bin name
    for bin in "$dir"/test_*; do
        [ -f "$bin" ] && [ -x "$bin" ] || continue
        name=$(basename "$bin")
        if [ -n "$only" ] && ! [[ " $only " == *" $name "* ]]; then continue; fi
        found=1
        if is_criterion "$bin"; then
            run_one "$name" "$bin" --jobs "$CRITERION_JOBS"
        else
            run_one "$name" "$bin"
        fi
    done
    [ $found -eq 1 ] || echo "note: no test binaries in $dir"
}

suite_unit() {
    echo "== unit ($BUILD/tests/unit)"
    run_binaries "$BUILD/tests/unit" "${QUIVER_UNIT_ONLY:-}"
}

suite_integration() {
    echo "== integration ($BUILD/tests/integration, server $QUIVER_SERVER)"
    if [ ! -x "$QUIVER_SERVER" ]; then
        echo "FAIL  $QUIVER_SERVER is not built"
        failed=$((failed + 1))
        failed_names+=("quiver-server missing")
        return
    fi
    run_binaries "$BUILD/tests/integration" "${QUIVER_INTEG_ONLY:-}"
}

suite_interop() {
    echo "== interop (tests/interop)"
    local f found=0
    for f in tests/interop/*.sh tests/interop/*.py tests/interop/*.mjs tests/interop/*.js; do
        [ -f "$f" ] || continue
        found=1
        case "$f" in
            *.sh) run_one "interop/$(basename "$f")" bash "$f" ;;
            *.py) run_one "interop/$(basename "$f")" /usr/bin/python3 "$f" ;;
            *.mjs | *.js) run_one "interop/$(basename "$f")" node "$f" ;;
        esac
    done
    [ $found -eq 1 ] || echo "note: no interop scripts"
}

suite_fuzz() {
    echo "== fuzz smoke"
    if ! command -v clang >/dev/null 2>&1; then
        echo "note: clang not found, fuzz smoke skipped"
        return
    fi
    run_one "fuzz (make fuzz FUZZ_TIME=15)" make --no-print-directory fuzz FUZZ_TIME=15
}

[ $# -gt 0 ] || set -- all
suite_format() {
    echo "== format"
    if ! command -v clang-format >/dev/null 2>&1; then
        echo "note: clang-format not found, format check skipped"
        return
    fi
    run_one "format (make format-check)" make --no-print-directory format-check
}

for suite in "$@"; do
    case "$suite" in
        all) suite_format; suite_unit; suite_integration; suite_interop; suite_fuzz ;;
        unit) suite_unit ;;
        integration) suite_integration ;;
        interop) suite_interop ;;
        fuzz) suite_fuzz ;;
        format) suite_format ;;
        *) echo "unknown suite '$suite' (all, unit, integration, interop, fuzz, format)" >&2; exit 2 ;;
    esac
done

echo
if [ $failed -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
