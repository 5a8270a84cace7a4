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

db_take_args "pg.sh start|stop|restart|pause|resume|env|status DIR" "$@"
data="$dir/data"
sock="$dir/sock"
log="$dir/postgres.log"
pidfile="$data/postmaster.pid"

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
    [ -f "$data/PG_VERSION" ] || init_cluster
    local fresh=0
    [ -f "$dir/port" ] || fresh=1
    db_start_on_port PostgreSQL "$fresh"
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
    db_stop postmaster INT:30 QUIT:10
}

print_env() {
    local port password
    port="$(db_started_port PostgreSQL)"
    password="$(cat "$dir/password")"
    echo "export LIFEGUARD_PG_PORT='$port'"
    echo "export LIFEGUARD_PG_SOCKET_DIR='$sock'"
    echo "export LIFEGUARD_PG_CONNINFO='host=$sock port=$port dbname=$LIFEGUARD_TEST_DB user=postgres'"
    echo "export LIFEGUARD_PG_TCP_CONNINFO='host=127.0.0.1 port=$port dbname=$LIFEGUARD_TEST_DB user=postgres'"
    echo "export LIFEGUARD_PG_PASSWORD_CONNINFO='host=127.0.0.1 port=$port dbname=$LIFEGUARD_TEST_DB user=$LIFEGUARD_TEST_USER password=$password'"
    echo "export LIFEGUARD_PG_PASSWORD='$password'"
}

db_run_command "$@"
