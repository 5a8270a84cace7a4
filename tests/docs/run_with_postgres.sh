#!/usr/bin/env bash
# run_with_postgres.sh PROGRAM TEXT: runs a README program against the throwaway PostgreSQL of
# scripts/db/with-servers.sh (DATABASE_URL = LIFEGUARD_PG_CONNINFO) and checks that it exits 0
# and prints TEXT. No server: a failure when LIFEGUARD_REQUIRE_DB=1, else a skip (exit 77).
set -uo pipefail
program=$1
expected=$2
if [ -z "${LIFEGUARD_PG_CONNINFO:-}" ]; then
    if [ "${LIFEGUARD_REQUIRE_DB:-0}" != 0 ]; then
        echo "database required (LIFEGUARD_REQUIRE_DB=1) but LIFEGUARD_PG_CONNINFO is not set" >&2
        exit 1
    fi
    echo "no database: LIFEGUARD_PG_CONNINFO is not set (run under scripts/db/with-servers.sh)" >&2
    exit 77
fi
output=$(DATABASE_URL=$LIFEGUARD_PG_CONNINFO "$program" 2>&1)
status=$?
printf '%s\n' "$output"
if [ $status -ne 0 ]; then
    echo "run_with_postgres: $program exited with status $status" >&2
    exit 1
fi
if ! grep -qF -- "$expected" <<<"$output"; then
    echo "run_with_postgres: $program did not print '$expected'" >&2
    exit 1
fi
