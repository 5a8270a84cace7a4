#!/usr/bin/env bash
# README command one: the AUTO-ID pool deadlock, live, from a fresh Debian 12 machine.
#
#   bash scripts/demo.sh [DEMO OPTIONS]      e.g. --timeout-ms 5000, --db mariadb (see --help)
#
#   1. installs what is needed (scripts/install-deps.sh; root is needed the first time),
#   2. builds the demo and the poolsize CLI with CMake + Ninja, Release, in build/demo,
#   3. starts a throwaway MariaDB 10.11 and PostgreSQL 15 (scripts/db),
#   4. runs the demo (examples/autoid_demo): the deadlock without diagnosis, with lifeguard's
#      detector, and with the pool sized by poolsize.
# The servers are stopped and their files removed when it ends: normally, on failure and on
# Ctrl-C. Nothing is left running. Exit status: the demo's (0 when every phase went as told).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
build="$root/build/demo"
started=$(date +%s)

if [ -t 1 ]; then bold=$'\033[1m'; plain=$'\033[0m'; else bold=""; plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

# --- cleanup: stop what we started, by the pid files the scripts keep -------------------------
servers=""
start_jobs=()
child=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if [ -n "$servers" ]; then
        # A server still starting finishes first (its start ignores Ctrl-C), then it is stopped.
        local job
        for job in "${start_jobs[@]}"; do wait "$job" 2>/dev/null || true; done
        echo "stopping the servers" >&2
        bash scripts/db/mariadb.sh stop "$servers/mariadb" >/dev/null 2>&1 || true
        bash scripts/db/pg.sh stop "$servers/pg" >/dev/null 2>&1 || true
        rm -rf "$servers"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs a command in the background and waits for it: bash runs a trap only once a foreground
# command has finished, so this is what lets Ctrl-C stop the script at once (cleanup then
# stops the command: background commands of a script do not get the terminal's Ctrl-C).
run() {
    "$@" &
    child=$!
    local status=0
    wait "$child" || status=$?
    child=""
    return "$status"
}

# --- 1. dependencies -------------------------------------------------------------------------
step "1/4 dependencies (scripts/install-deps.sh)"
mkdir -p "$build"
echo "(on a fresh machine this installs the Debian packages with apt: a few minutes, once)"
if ! bash scripts/install-deps.sh >"$build/install-deps.log" 2>&1; then
    tail -n 20 "$build/install-deps.log" >&2
    die "installing the dependencies failed (log: build/demo/install-deps.log)"
fi
tail -n 1 "$build/install-deps.log"

# --- 2. build --------------------------------------------------------------------------------
step "2/4 building the demo and poolsize (CMake + Ninja, Release, build/demo)"
t0=$(date +%s)
if ! { run cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
           -DLIFEGUARD_BUILD_TESTS=OFF -DLIFEGUARD_BUILD_BENCH=OFF -DLIFEGUARD_BUILD_EXAMPLES=ON \
           -DLIFEGUARD_BUILD_TOOLS=ON -DLIFEGUARD_WITH_PROMETHEUS=OFF -DLIFEGUARD_INSTALL=OFF &&
       run ninja -C "$build" -j "$(nproc)" lifeguard_example_autoid_demo poolsize; } >"$build/build.log" 2>&1; then
    tail -n 30 "$build/build.log" >&2
    die "the build failed (log: build/demo/build.log)"
fi
demo="$build/examples/autoid_demo/autoid_demo"
[ -x "$demo" ] || die "the build made no $demo (log: build/demo/build.log)"
echo "built in $(( $(date +%s) - t0 )) s: build/demo/examples/autoid_demo/autoid_demo, build/demo/tools/poolsize/poolsize"

# --- 3. servers ------------------------------------------------------------------------------
step "3/4 starting a throwaway MariaDB 10.11 and PostgreSQL 15"
t0=$(date +%s)
servers="$(mktemp -d "${TMPDIR:-/tmp}/lifeguard-demo.XXXXXX")"
chmod 755 "$servers"
# In their own session (setsid --wait): a Ctrl-C now cannot kill a start half-way and leave a
# server running that no pid file names yet. Both start at once.
setsid --wait bash scripts/db/mariadb.sh start "$servers/mariadb" &
start_jobs+=($!)
setsid --wait bash scripts/db/pg.sh start "$servers/pg" &
start_jobs+=($!)
for job in "${start_jobs[@]}"; do
    wait "$job" || die "a database server did not start (see the messages above)"
done
start_jobs=()
eval "$(bash scripts/db/mariadb.sh env "$servers/mariadb")"
eval "$(bash scripts/db/pg.sh env "$servers/pg")"
echo "MariaDB on 127.0.0.1:$LIFEGUARD_MYSQL_PORT and PostgreSQL on port $LIFEGUARD_PG_PORT, up in" \
     "$(( $(date +%s) - t0 )) s; their files ($servers) go when the demo ends"

# --- 4. the demo -----------------------------------------------------------------------------
step "4/4 the demo"
# The password reaches the demo through the environment, never its command line.
status=0
run "$demo" --snapshot-dir "$build" --json-summary "$build/autoid-summary.json" "$@" || status=$?
echo
echo "demo.sh: done in $(( $(date +%s) - started )) s (snapshots and build/demo/autoid-summary.json kept in build/demo)"
exit "$status"
