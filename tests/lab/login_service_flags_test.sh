#!/usr/bin/env bash
# login_service's command line: --help exits 0; bad usage exits 2 naming the flag and the
# value; a missing database environment exits 2 saying what to set; an unreachable database
# exits 1, and its password never shows in what the service prints.
#   login_service_flags_test.sh BINARY
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/expect_output.sh"
bin="$1"
fails=0
expect() { expect_output login_service "$bin" "$@"; }  # expect WANT_STATUS TEXT ARGS...
unset LIFEGUARD_MYSQL_URL LIFEGUARD_PG_CONNINFO
expect 0 "--pool-size" --help
expect 2 "--pool-size: Value 0 not in range" --pool-size 0
expect 2 "--pool-size" --pool-size 100000
expect 2 "--policy: bogus not in" --policy bogus
expect 2 "--acquire-timeout-ms" --acquire-timeout-ms 10
expect 2 "--port" --port 70000
expect 2 "--db" --db oracle
expect 2 "--work-ms" --work-ms -1
expect 2 "LIFEGUARD_MYSQL_URL is not set"
expect 2 "LIFEGUARD_PG_CONNINFO is not set" --db postgres
# Nothing listens on port 1: the service says it cannot use the database, without the password.
out="$(LIFEGUARD_MYSQL_URL=tcp://127.0.0.1:1 LIFEGUARD_MYSQL_USER=u LIFEGUARD_MYSQL_PASSWORD=Sekr1t-pw-xyz "$bin" 2>&1)"
status=$?
if [ "$status" != 1 ] || ! grep -q "cannot use the database" <<<"$out" || grep -q "Sekr1t-pw-xyz" <<<"$out"; then
    echo "FAIL: unreachable database -> status $status, output: $out" >&2
    fails=$((fails + 1))
fi
[ "$fails" = 0 ] && echo "login_service flags: all checks passed"
exit $((fails > 0))
