#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, in one command:
#   1. installs every Debian package the project needs (scripts/install-deps.sh),
#   2. builds the suite under AddressSanitizer + UndefinedBehaviorSanitizer and runs all of it
#      against throwaway PostgreSQL 15 / MariaDB 10.11 servers it starts and stops itself,
#   3. builds under ThreadSanitizer and runs every test labelled `concurrency` or `fault`,
#   4. builds a Release tree (examples, benchmarks, tools), smoke-runs the benchmarks and checks
#      that an installed lifeguard works with find_package and add_subdirectory.
# A missing or unstartable database is a failure here (LIFEGUARD_REQUIRE_DB=1), never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh

jobs=$(nproc)

# Runs a command with the throwaway database servers up (and down again afterwards).
with_servers() {
    if [ -x scripts/db/with-servers.sh ]; then
        bash scripts/db/with-servers.sh "$@"
    else
        "$@"  # no database tests exist in this tree yet
    fi
}
export LIFEGUARD_REQUIRE_DB=1
export CTEST_OUTPUT_ON_FAILURE=1

# run_ctest LOG ARGS...: ctest with the servers up; a skipped test fails the run too (the tests
# already fail instead of skipping when LIFEGUARD_REQUIRE_DB=1; this catches any that do not).
run_ctest() {
    local log=$1
    shift
    with_servers ctest "$@" 2>&1 | tee "$log"
    if grep -q '\*\*\*Skipped' "$log"; then
        echo "test.sh: tests were skipped; in this run every test must run:" >&2
        grep '\*\*\*Skipped' "$log" >&2
        exit 1
    fi
}

# configure_and_build DIR TARGET -- CMAKE_ARGS...
configure_and_build() {
    local dir=$1 target=$2
    shift 3
    echo "== building $dir"
    cmake -S "$root" -B "$dir" -G Ninja "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
    cmake --build "$dir" -j "$jobs" --target "$target"
}

mkdir -p build
start=$(date +%s)

configure_and_build build/asan all -- -DCMAKE_BUILD_TYPE=Debug -DLIFEGUARD_SANITIZE=address -DLIFEGUARD_BUILD_BENCH=OFF
echo "== tests under ASan+UBSan (with throwaway database servers)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build/asan.ctest.log --test-dir build/asan -j "$jobs" --timeout 600

configure_and_build build/tsan lifeguard_thread_tests -- -DCMAKE_BUILD_TYPE=Debug -DLIFEGUARD_SANITIZE=thread -DLIFEGUARD_BUILD_BENCH=OFF \
    -DLIFEGUARD_BUILD_EXAMPLES=OFF -DLIFEGUARD_BUILD_TOOLS=OFF
echo "== concurrency and fault tests under TSan"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    run_ctest build/tsan.ctest.log --test-dir build/tsan -L 'concurrency|fault' -j "$jobs" --timeout 600

configure_and_build build/release all -- -DCMAKE_BUILD_TYPE=Release -DLIFEGUARD_BUILD_TESTS=ON
echo "== release: consumer builds and benchmark smoke runs"
run_ctest build/release.ctest.log --test-dir build/release -L release --timeout 900

echo "== all tests passed in $(( $(date +%s) - start )) s"
