#!/usr/bin/env bash
# A throwaway MariaDB 10.11 that speaks TLS, for the driver's TLS tests (scripts/db's protocol:
# start|stop|env DIR, and the test fixture's private_server runs it). In DIR: a CA (ca.pem), a
# server certificate for IP 127.0.0.1 signed by it, and a second CA (other-ca.pem) that signed
# nothing, so that verification can be seen to fail.
#
# Variables printed by env: LIFEGUARD_TLS_MYSQL_URL (tcp://127.0.0.1:PORT), _USER, _PASSWORD,
# LIFEGUARD_TLS_MYSQL_CA, LIFEGUARD_TLS_MYSQL_OTHER_CA, LIFEGUARD_TLS_MYSQL_PORT.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/db/common.sh
. "${LIFEGUARD_DB_COMMON:-$here/../../scripts/db/common.sh}"

mariadbd=/usr/sbin/mariadbd
[ -x "$mariadbd" ] || mariadbd="$(command -v mariadbd)" || db_die "MariaDB is not installed"
command -v openssl >/dev/null || db_die "openssl is not installed"

db_take_args "tls-mariadb.sh start|stop|restart|pause|resume|env|status DIR" "$@"
data="$dir/data"
sockfile="$dir/mariadb.sock"
pidfile="$dir/mariadb.pid"
log="$dir/mariadb.log"

make_certificates() {
    local subject
    for subject in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lifeguard-test-$subject" \
            -keyout "$dir/$subject.key" -out "$dir/$subject.pem" 2>/dev/null
    done
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" \
        -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
}

ping_server() {
    mariadb-admin --no-defaults --socket="$sockfile" -uroot --connect-timeout=2 ping
}

# Up when it answers a ping; a server that exited (its port taken) fails at once.
alive_or_answering() {
    ping_server || ! kill -0 "$1"
}

try_start() {
    local port="$1" pid
    : >"$log"
    rm -f "$pidfile"
    setsid "$mariadbd" --no-defaults --user=root --datadir="$data" --socket="$sockfile" \
        --port="$port" --bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$log" \
        --skip-log-bin --skip-name-resolve --tmpdir="$dir/tmp" --innodb-buffer-pool-size=32M \
        --ssl-ca="$dir/ca.pem" --ssl-cert="$dir/server.pem" --ssl-key="$dir/server.key" \
        </dev/null >/dev/null 2>&1 &
    pid=$!
    if db_wait_for 30 alive_or_answering "$pid" && ping_server >/dev/null 2>&1; then
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    return 1
}

start() {
    if [ ! -d "$data/mysql" ]; then
        db_prepare_dir "$dir"
        mkdir -p "$dir/tmp"
        make_certificates
        mariadb-install-db --no-defaults --datadir="$data" --user=root --tmpdir="$dir/tmp" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1 \
            || db_die "mariadb-install-db failed in $data"
    fi
    local fresh=0
    [ -f "$dir/port" ] || fresh=1
    db_start_on_port "MariaDB (TLS)" "$fresh"
    if [ ! -f "$dir/provisioned" ]; then
        head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/password"
        mariadb --no-defaults --socket="$sockfile" -uroot \
            -e "CREATE USER 'tls'@'%' IDENTIFIED BY '$(cat "$dir/password")'; GRANT USAGE ON *.* TO 'tls'@'%';" \
            || db_die "could not create the TLS test user in $dir"
        touch "$dir/provisioned"
    fi
}

stop() {
    db_stop mariadbd TERM:30
}

print_env() {
    local port
    port="$(db_started_port "MariaDB (TLS)")"
    echo "export LIFEGUARD_TLS_MYSQL_PORT='$port'"
    echo "export LIFEGUARD_TLS_MYSQL_URL='tcp://127.0.0.1:$port'"
    echo "export LIFEGUARD_TLS_MYSQL_USER='tls'"
    echo "export LIFEGUARD_TLS_MYSQL_PASSWORD='$(cat "$dir/password")'"
    echo "export LIFEGUARD_TLS_MYSQL_CA='$dir/ca.pem'"
    echo "export LIFEGUARD_TLS_MYSQL_OTHER_CA='$dir/other-ca.pem'"
}

db_run_command "$@"
