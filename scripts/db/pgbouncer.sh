#!/usr/bin/env bash
# Throwaway PgBouncer (transaction pooling) in front of a pg.sh server.
#
#   pgbouncer.sh start DIR PGDIR   start PgBouncer in DIR for the PostgreSQL started in PGDIR
#                                  (database "lifeguard", user "lifeguard" with its password)
#   pgbouncer.sh stop DIR          SIGINT to the pid in DIR/pgbouncer.pid, waits until it is gone
#   pgbouncer.sh restart DIR       stop, then start again with the same port and target
#   pgbouncer.sh pause DIR         SIGSTOP it: clients' connections hang, nothing answers
#   pgbouncer.sh resume DIR        SIGCONT it
#   pgbouncer.sh env DIR           prints LIFEGUARD_PGBOUNCER_CONNINFO and LIFEGUARD_PGBOUNCER_PORT
#   pgbouncer.sh status DIR        exit 0 when running
#
# Knobs for the first start: PGBOUNCER_POOL_SIZE (server connections per user/db, default 20).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$here/common.sh"

bouncer="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
[ -x "$bouncer" ] || db_die "PgBouncer is not installed: run scripts/install-deps.sh"

db_take_args "pgbouncer.sh start DIR PGDIR | stop|restart|env|status DIR" "$@"
ini="$dir/pgbouncer.ini"
pidfile="$dir/pgbouncer.pid"
log="$dir/pgbouncer.log"

write_config() {
    local pgdir="$1" port="$2" pgport password
    [ -f "$pgdir/port" ] && [ -f "$pgdir/password" ] || db_die "no pg.sh server in $pgdir"
    pgport="$(cat "$pgdir/port")"
    password="$(cat "$pgdir/password")"
    db_prepare_dir "$dir"
    db_give_to_postgres "$dir"
    cat >"$ini" <<INI
[databases]
$LIFEGUARD_TEST_DB = host=127.0.0.1 port=$pgport dbname=$LIFEGUARD_TEST_DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = ${PGBOUNCER_POOL_SIZE:-20}
max_client_conn = 500
pidfile = $pidfile
logfile = $log
ignore_startup_parameters = extra_float_digits
; a throwaway server restarts often in tests: retry a failed server login after 1 s, not 15 s
server_login_retry = 1
INI
    printf '"%s" "%s"\n' "$LIFEGUARD_TEST_USER" "$password" >"$dir/userlist.txt"
    echo "$password" >"$dir/password"
    chmod 600 "$dir/userlist.txt"
    db_give_to_postgres "$ini" "$dir/userlist.txt"
}

ready() {
    db_running "$pidfile" && (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

try_start() {
    local port="$1"
    sed -i "s/^listen_port = .*/listen_port = $port/" "$ini"
    # A root-owned log left behind makes the daemon die silently: always hand it to postgres.
    : >"$log"
    db_give_to_postgres "$log"
    rm -f "$pidfile"
    db_as_postgres "$bouncer" -d -q "$ini" >/dev/null 2>&1 || return 1
    # Ready when the daemon has written its pid file and accepts connections.
    db_wait_for 10 ready "$port"
}

start() {
    local fresh=0
    if [ ! -f "$ini" ]; then
        [ -n "${3:-}" ] || db_die "start needs the PostgreSQL directory the first time"
        write_config "$3" 0
        fresh=1
    fi
    # A daemon that started but never became ready must not linger: stop after a failed try.
    db_start_on_port PgBouncer "$fresh" stop
}

stop() {
    db_stop pgbouncer INT:10
}

print_env() {
    local port
    port="$(db_started_port PgBouncer)"
    echo "export LIFEGUARD_PGBOUNCER_PORT='$port'"
    echo "export LIFEGUARD_PGBOUNCER_CONNINFO='host=127.0.0.1 port=$port dbname=$LIFEGUARD_TEST_DB user=$LIFEGUARD_TEST_USER password=$(cat "$dir/password")'"
}

db_run_command "$@"
