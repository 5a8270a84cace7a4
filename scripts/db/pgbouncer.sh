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

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || db_die "usage: pgbouncer.sh start DIR PGDIR | stop|restart|env|status DIR"
dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
ini="$dir/pgbouncer.ini"
pidfile="$dir/pgbouncer.pid"
log="$dir/pgbouncer.log"

bouncer_pid() {
    [ -f "$pidfile" ] && cat "$pidfile"
}

running() {
    local pid
    pid="$(bouncer_pid 2>/dev/null)" || return 1
    [ -n "$pid" ] && ! db_not_running "$pid"
}

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
    running && (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
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
    if running; then
        echo "pgbouncer.sh: already running in $dir" >&2
        return 0
    fi
    local fresh=0 attempt port
    if [ ! -f "$ini" ]; then
        [ -n "${3:-}" ] || db_die "start needs the PostgreSQL directory the first time"
        write_config "$3" 0
        fresh=1
    fi
    for attempt in 1 2 3 4 5; do
        if [ "$fresh" -eq 1 ]; then
            port="$(db_free_port)"
        else
            port="$(cat "$dir/port")"
        fi
        if try_start "$port"; then
            echo "$port" >"$dir/port"
            return 0
        fi
        stop  # a daemon that started but never became ready must not linger
        if [ "$fresh" -eq 1 ] && grep -q "Address already in use" "$log"; then
            continue
        fi
        break
    done
    db_log_tail "$log"
    db_die "PgBouncer did not start in $dir on port $port"
}

stop() {
    local pid
    pid="$(bouncer_pid 2>/dev/null)" || return 0
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -INT "$pid" 2>/dev/null || true
    if ! db_wait_gone "$pid" 10; then
        kill -KILL "$pid" 2>/dev/null || true
        db_wait_gone "$pid" 5 || true
    fi
}

print_env() {
    [ -f "$dir/port" ] || db_die "no PgBouncer was started in $dir"
    local port
    port="$(cat "$dir/port")"
    echo "export LIFEGUARD_PGBOUNCER_PORT='$port'"
    echo "export LIFEGUARD_PGBOUNCER_CONNINFO='host=127.0.0.1 port=$port dbname=$LIFEGUARD_TEST_DB user=$LIFEGUARD_TEST_USER password=$(cat "$dir/password")'"
}

case "$cmd" in
start) start "$@" ;;
stop) stop ;;
restart) stop; start "$@" ;;
pause) running || db_die "not running in $dir"; kill -STOP "$(bouncer_pid)" ;;
resume) running || db_die "not running in $dir"; kill -CONT "$(bouncer_pid)" ;;
env) print_env ;;
status) running ;;
*) db_die "unknown command '$cmd' (start|stop|restart|env|status)" ;;
esac
