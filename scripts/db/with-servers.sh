#!/usr/bin/env bash
# Runs a command with throwaway PostgreSQL 15, MariaDB 10.11 and PgBouncer servers, then stops
# them (also on failure or a signal) and exits with the command's status.
#
#   scripts/db/with-servers.sh ctest --test-dir build -L db
#
# The command sees (besides the variables pg.sh, mariadb.sh and pgbouncer.sh print):
#   LIFEGUARD_PG_CONNINFO            unix socket, superuser, no password
#   LIFEGUARD_PG_PASSWORD_CONNINFO   127.0.0.1, user "lifeguard" with its password
#   LIFEGUARD_PGBOUNCER_CONNINFO     PgBouncer (transaction pooling) in front of that server
#   LIFEGUARD_MYSQL_URL / _USER / _PASSWORD / _SCHEMA
#   LIFEGUARD_DB_SCRIPTS             this folder, so fault tests can start private servers
# A server that cannot start is an error (exit 1 with its log tail), never a silent skip.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

[ $# -ge 1 ] || { echo "usage: with-servers.sh CMD [ARGS...]" >&2; exit 2; }

root="$(mktemp -d "${TMPDIR:-/tmp}/lifeguard-db.XXXXXX")"
chmod 755 "$root"

cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    "$here/pgbouncer.sh" stop "$root/pgbouncer" >/dev/null 2>&1 || true
    "$here/pg.sh" stop "$root/pg" || true
    "$here/mariadb.sh" stop "$root/mariadb" || true
    if [ "${LIFEGUARD_KEEP_DB_DIR:-0}" = 1 ]; then
        echo "with-servers: kept $root" >&2
    else
        rm -rf "$root"
    fi
    exit "$status"
}
child=""
on_signal() {
    # Pass the signal on to the command, then stop the servers (cleanup runs on exit).
    [ -n "$child" ] && kill "-$1" "$child" 2>/dev/null || true
    exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

"$here/pg.sh" start "$root/pg"
"$here/mariadb.sh" start "$root/mariadb"
"$here/pgbouncer.sh" start "$root/pgbouncer" "$root/pg"

eval "$("$here/pg.sh" env "$root/pg")"
eval "$("$here/mariadb.sh" env "$root/mariadb")"
eval "$("$here/pgbouncer.sh" env "$root/pgbouncer")"
export LIFEGUARD_DB_SCRIPTS="$here"
export LIFEGUARD_DB_ROOT="$root"

echo "with-servers: PostgreSQL on port $LIFEGUARD_PG_PORT, MariaDB on $LIFEGUARD_MYSQL_PORT," \
     "PgBouncer on $LIFEGUARD_PGBOUNCER_PORT (in $root)" >&2

# Not exec: the servers are stopped after the command. In the background with `wait` so that a
# signal to this script is handled at once (bash defers traps while a foreground child runs);
# stdin is passed on explicitly because background commands would get /dev/null.
set +e
"$@" <&0 &
child=$!
wait "$child"
status=$?
child=""
set -e
exit "$status"
