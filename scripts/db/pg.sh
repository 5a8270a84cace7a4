#!/usr/bin/env bash
# Throwaway PostgreSQL 15 in one directory, on 127.0.0.1 and a unix socket.
#
#   pg.sh start DIR     initdb on first use (database and user "lifeguard" with a password),
#                       then start; the port is kept in DIR/port so a restart reuses it
#   pg.sh stop DIR      fast shutdown (SIGINT to the postmaster's pid), waits until it is gone
#   pg.sh restart DIR   stop, then start on the same port
#   pg.sh pause DIR     SIGSTOP the postmaster and its backends: the server accepts nothing and
#                       answers nothing, open connections hang (resume with `resume`)
#   pg.sh resume DIR    SIGCONT them
#   pg.sh env DIR       prints `export NAME='value'` lines for the tests (see below)
#   pg.sh status DIR    exit 0 when running
#
# Knobs for start (first start only for the last two): PG_MAX_CONNECTIONS (default 100),
# LIFEGUARD_TEST_PASSWORD (default s3cr3t-Pa55).
# Variables printed by env: LIFEGUARD_PG_CONNINFO (unix socket, superuser, no password),
# LIFEGUARD_PG_TCP_CONNINFO (127.0.0.1, superuser, trust), LIFEGUARD_PG_PASSWORD_CONNINFO
# (127.0.0.1, user lifeguard with its password), LIFEGUARD_PG_PASSWORD, LIFEGUARD_PG_PORT,
# LIFEGUARD_PG_SOCKET_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$here/common.sh"

pg_bin=/usr/lib/postgresql/15/bin
[ -x "$pg_bin/initdb" ] || db_die "PostgreSQL 15 is not installed ($pg_bin/initdb missing): run scripts/install-deps.sh"

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || db_die "usage: pg.sh start|stop|restart|pause|resume|env|status DIR"
dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
data="$dir/data"
sock="$dir/sock"
log="$dir/postgres.log"

postmaster_pid() {
    [ -f "$data/postmaster.pid" ] && head -n 1 "$data/postmaster.pid"
}

running() {
    local pid
    pid="$(postmaster_pid 2>/dev/null)" || return 1
    [ -n "$pid" ] && ! db_not_running "$pid"
}

init_cluster() {
    db_prepare_dir "$dir"
    install -d -m 700 "$data"
    install -d -m 755 "$sock"
    db_give_to_postgres "$data" "$sock"
    if ! db_as_postgres "$pg_bin/initdb" -D "$data" -U postgres -A trust --no-sync -E UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
        db_log_tail "$dir/initdb.log"
        db_die "initdb failed in $data"
    fi
    # Password logins for the test user over TCP; everything else stays trust (throwaway).
    { echo "host all $LIFEGUARD_TEST_USER 127.0.0.1/32 scram-sha-256"; cat "$data/pg_hba.conf"; } \
        >"$data/pg_hba.conf.new"
    mv "$data/pg_hba.conf.new" "$data/pg_hba.conf"
    db_give_to_postgres "$data/pg_hba.conf"
    echo "${PG_MAX_CONNECTIONS:-100}" >"$dir/max_connections"
}

psql_super() {
    "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$(cat "$dir/port")" -U postgres "$@"
}

try_start() {
    local port="$1" max reserved
    max="$(cat "$dir/max_connections")"
    reserved=3
    [ "$max" -gt 10 ] || reserved=0
    : >"$log"
    db_give_to_postgres "$log"
    db_as_postgres "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t 30 -o "-p $port \
        -c listen_addresses=127.0.0.1 -c unix_socket_directories=$sock -c fsync=off \
        -c max_connections=$max -c superuser_reserved_connections=$reserved" start >/dev/null 2>&1
}

start() {
    if running; then
        echo "pg.sh: already running in $dir" >&2
        return 0
    fi
    [ -f "$data/PG_VERSION" ] || init_cluster
    local fresh=0 attempt port
    [ -f "$dir/port" ] || fresh=1
    for attempt in 1 2 3 4 5; do
        if [ "$fresh" -eq 1 ]; then
            port="$(db_free_port)"
        else
            port="$(cat "$dir/port")"
        fi
        if try_start "$port"; then
            echo "$port" >"$dir/port"
            break
        fi
        if [ "$fresh" -eq 1 ] && grep -q "Address already in use" "$log"; then
            continue  # lost a race for the port: pick another one
        fi
        db_log_tail "$log"
        db_die "PostgreSQL did not start in $dir on port $port"
    done
    running || { db_log_tail "$log"; db_die "PostgreSQL did not start in $dir (ports kept being taken)"; }
    if [ ! -f "$dir/provisioned" ]; then
        psql_super -d postgres \
            -c "CREATE ROLE $LIFEGUARD_TEST_USER LOGIN PASSWORD '$LIFEGUARD_TEST_PASSWORD'" \
            -c "CREATE DATABASE $LIFEGUARD_TEST_DB OWNER $LIFEGUARD_TEST_USER" \
            || { db_log_tail "$log"; db_die "could not create the test database in $dir"; }
        echo "$LIFEGUARD_TEST_PASSWORD" >"$dir/password"
        touch "$dir/provisioned"
    fi
}

stop() {
    local pid
    pid="$(postmaster_pid 2>/dev/null)" || return 0
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    db_signal_tree CONT "$pid"  # a paused server cannot shut down
    kill -INT "$pid" 2>/dev/null || true
    if ! db_wait_gone "$pid" 30; then
        echo "pg.sh: postmaster $pid ignored SIGINT; sending SIGQUIT" >&2
        kill -QUIT "$pid" 2>/dev/null || true
        db_wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; db_wait_gone "$pid" 5 || true; }
    fi
}

print_env() {
    [ -f "$dir/port" ] || db_die "no PostgreSQL was started in $dir"
    local port password
    port="$(cat "$dir/port")"
    password="$(cat "$dir/password")"
    echo "export LIFEGUARD_PG_PORT='$port'"
    echo "export LIFEGUARD_PG_SOCKET_DIR='$sock'"
    echo "export LIFEGUARD_PG_CONNINFO='host=$sock port=$port dbname=$LIFEGUARD_TEST_DB user=postgres'"
    echo "export LIFEGUARD_PG_TCP_CONNINFO='host=127.0.0.1 port=$port dbname=$LIFEGUARD_TEST_DB user=postgres'"
    echo "export LIFEGUARD_PG_PASSWORD_CONNINFO='host=127.0.0.1 port=$port dbname=$LIFEGUARD_TEST_DB user=$LIFEGUARD_TEST_USER password=$password'"
    echo "export LIFEGUARD_PG_PASSWORD='$password'"
}

case "$cmd" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
pause) running || db_die "not running in $dir"; db_signal_tree STOP "$(postmaster_pid)" ;;
resume) running || db_die "not running in $dir"; db_signal_tree CONT "$(postmaster_pid)" ;;
env) print_env ;;
status) running ;;
*) db_die "unknown command '$cmd' (start|stop|restart|pause|resume|env|status)" ;;
esac
