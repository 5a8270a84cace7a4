#!/usr/bin/env bash
# Throwaway MariaDB 10.11 in one directory, on 127.0.0.1 and a unix socket.
#
#   mariadb.sh start DIR     mariadb-install-db on first use (schema and user "lifeguard" with a
#                            password), then start; the port is kept in DIR/port for restarts
#   mariadb.sh stop DIR      SIGTERM to the pid in DIR/mariadb.pid, waits until it is gone
#   mariadb.sh restart DIR   stop, then start on the same port
#   mariadb.sh pause DIR     SIGSTOP the server: connections hang, nothing answers
#   mariadb.sh resume DIR    SIGCONT it
#   mariadb.sh env DIR       prints `export NAME='value'` lines for the tests (see below)
#   mariadb.sh status DIR    exit 0 when running
#
# Knobs for start: MARIADB_MAX_CONNECTIONS (default 151), LIFEGUARD_TEST_PASSWORD (first start),
# MARIADB_EXTRA_ARGS (more mariadbd options, split on blanks, e.g. --ssl-ca=... for TLS).
# Variables printed by env: LIFEGUARD_MYSQL_URL (tcp://127.0.0.1:PORT), LIFEGUARD_MYSQL_SOCKET_URL
# (unix://...), LIFEGUARD_MYSQL_USER, LIFEGUARD_MYSQL_PASSWORD, LIFEGUARD_MYSQL_SCHEMA,
# LIFEGUARD_MYSQL_ROOT_SOCKET (root logs in over it without a password), LIFEGUARD_MYSQL_PORT.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$here/common.sh"

command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] \
    || db_die "MariaDB is not installed (mariadbd missing): run scripts/install-deps.sh"
mariadbd=/usr/sbin/mariadbd
[ -x "$mariadbd" ] || mariadbd="$(command -v mariadbd)"

db_take_args "mariadb.sh start|stop|restart|pause|resume|env|status DIR" "$@"
data="$dir/data"
sockfile="$dir/mariadb.sock"
pidfile="$dir/mariadb.pid"
log="$dir/mariadb.log"

ping_server() {
    mariadb-admin --no-defaults --socket="$sockfile" -uroot --connect-timeout=2 ping
}

init_datadir() {
    db_prepare_dir "$dir"
    # A private tmpdir: concurrent bootstraps sharing /tmp trip over each other's temp tables.
    mkdir -p "$dir/tmp"
    if ! mariadb-install-db --no-defaults --datadir="$data" --user=root --tmpdir="$dir/tmp" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1; then
        echo "---- errors in $dir/install-db.log ----" >&2
        grep -iE "error|warn|fail|cannot|can't" "$dir/install-db.log" | head -n 20 >&2 || true
        db_die "mariadb-install-db failed in $data"
    fi
}

try_start() {
    local port="$1" pid
    : >"$log"
    rm -f "$pidfile"
    # setsid: the server must not share the caller's process group (a test runner's ^C).
    setsid "$mariadbd" --no-defaults --user=root --datadir="$data" --socket="$sockfile" \
        --port="$port" --bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$log" \
        --skip-log-bin --skip-name-resolve --tmpdir="$dir/tmp" --max-connections="${MARIADB_MAX_CONNECTIONS:-151}" \
        --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=32M ${MARIADB_EXTRA_ARGS:-} \
        </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$dir/launcher.pid"
    local i
    for i in $(seq 1 300); do
        if ping_server >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    return 1
}

start() {
    [ -d "$data/mysql" ] || init_datadir
    mkdir -p "$dir/tmp"
    local fresh=0
    [ -f "$dir/port" ] || fresh=1
    db_start_on_port MariaDB "$fresh"
    if [ ! -f "$dir/provisioned" ]; then
        mariadb --no-defaults --socket="$sockfile" -uroot <<SQL \
            || { db_log_tail "$log"; db_die "could not create the test schema in $dir"; }
CREATE DATABASE IF NOT EXISTS $LIFEGUARD_TEST_DB;
CREATE USER '$LIFEGUARD_TEST_USER'@'%' IDENTIFIED BY '$LIFEGUARD_TEST_PASSWORD';
GRANT ALL PRIVILEGES ON $LIFEGUARD_TEST_DB.* TO '$LIFEGUARD_TEST_USER'@'%';
FLUSH PRIVILEGES;
SQL
        echo "$LIFEGUARD_TEST_PASSWORD" >"$dir/password"
        touch "$dir/provisioned"
    fi
}

stop() {
    db_stop mariadbd TERM:30
}

print_env() {
    local port
    port="$(db_started_port MariaDB)"
    echo "export LIFEGUARD_MYSQL_PORT='$port'"
    echo "export LIFEGUARD_MYSQL_URL='tcp://127.0.0.1:$port'"
    echo "export LIFEGUARD_MYSQL_SOCKET_URL='unix://$sockfile'"
    echo "export LIFEGUARD_MYSQL_USER='$LIFEGUARD_TEST_USER'"
    echo "export LIFEGUARD_MYSQL_PASSWORD='$(cat "$dir/password")'"
    echo "export LIFEGUARD_MYSQL_SCHEMA='$LIFEGUARD_TEST_DB'"
    echo "export LIFEGUARD_MYSQL_ROOT_SOCKET='$sockfile'"
}

db_run_command "$@"
