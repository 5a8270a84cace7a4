#!/usr/bin/env bash
# The load-test lab: the users' own loop with real parts. A throwaway MariaDB (PostgreSQL with
# --db postgres), examples/login_service over lifeguard, Prometheus 2.42 scraping it every second
# with the alert rules of dashboards/alerts, and Locust 2.12 driving the write-up's user journey:
#
#   1. pool 10, 10 users, no diagnosis: steady
#   2. pool 10, 20 users, no diagnosis, a shortened acquire_timeout: pending climbs, requests/s
#      collapse, timeouts (the write-up's graph)
#   3. the same with the detector (fail_fast): the knot named within milliseconds in the log
#      and the metrics, and broken by failing one login; a second instance (10 users) joins:
#      the fleet
#   4. both pools sized from what Prometheus saw (poolsize --prometheus): 0 errors; and
#      poolsize --check shows the same fleet failing on a server with 40 connections
#
# then renders build/lab/report.html and the PNGs from Prometheus' HTTP API and Locust's CSV.
#
#   bash scripts/lab.sh [--short] [--db mariadb|postgres] [--out DIR]
#                       [--service BIN] [--poolsize BIN]
#
# --short (<= 90 s; the test command runs it) checks what the phases must show and fails when
# they do not. --service/--poolsize use built binaries instead of building build/lab-build.
# Everything the lab starts is stopped when it ends: normally, on failure and on Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lab/processes.sh
source "$here/lab/processes.sh"
# shellcheck source=lab/prometheus.sh
source "$here/lab/prometheus.sh"
# shellcheck source=db/common.sh
source "$here/db/common.sh"

short=0 db=mariadb out="$root/build/lab" service="" poolsize=""
usage() {
    sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit "$1"
}
while [ $# -gt 0 ]; do
    case "$1" in
    --short) short=1 ;;
    --db) db="${2:?--db needs mariadb or postgres}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --service) service="${2:?--service needs a path}"; shift ;;
    --poolsize) poolsize="${2:?--poolsize needs a path}"; shift ;;
    -h | --help) usage 0 ;;
    *) echo "lab.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
    shift
done
case "$db" in mariadb | postgres) ;; *) echo "lab.sh: --db must be mariadb or postgres, got '$db'" >&2; exit 2 ;; esac

started=$(date +%s)
say() { printf '[lab %3ds] %s\n' $(($(date +%s) - started)) "$*"; }
die() { echo "lab.sh: $*" >&2; exit 1; }

# --- cleanup: everything we started, by pid; the database by its script -----------------------
tmp="" db_started=0 locust_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    lab_stop_all
    if [ "$db_started" = 1 ]; then
        bash "$here/db/$db_script" stop "$tmp/db" >/dev/null 2>&1 || true
    fi
    [ -z "$tmp" ] || rm -rf "$tmp"
    [ "$status" -eq 0 ] || echo "lab.sh: failed (status $status); logs in $out" >&2
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- 1. tools --------------------------------------------------------------------------------
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out"/phase* "$out"/*.png "$out"/report.html "$out"/*.json "$out"/*.log
say "dependencies (scripts/install-deps.sh)"
bash "$here/install-deps.sh" >"$out/install-deps.log" 2>&1 || { tail -n 20 "$out/install-deps.log" >&2; die "installing the dependencies failed"; }
for tool in prometheus promtool locust curl /usr/bin/python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || die "python3-matplotlib is not installed"
promtool check rules "$root/dashboards/alerts/lifeguard.rules.yml" >"$out/promtool.log" 2>&1 ||
    { cat "$out/promtool.log" >&2; die "the alert rules do not pass promtool check rules"; }

if [ -z "$service" ] || [ -z "$poolsize" ]; then
    say "building login_service and poolsize (Release, build/lab-build)"
    cmake -S "$root" -B "$root/build/lab-build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIFEGUARD_BUILD_TESTS=OFF \
        -DLIFEGUARD_BUILD_BENCH=OFF -DLIFEGUARD_INSTALL=OFF >"$out/build.log" 2>&1 &&
        cmake --build "$root/build/lab-build" -j "$(nproc)" --target lifeguard_example_login_service poolsize \
            >>"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log" >&2; die "the build failed (log: $out/build.log)"; }
    service="${service:-$root/build/lab-build/examples/login_service/login_service}"
    poolsize="${poolsize:-$root/build/lab-build/tools/poolsize/poolsize}"
fi
[ -x "$service" ] || die "no login_service at $service"
[ -x "$poolsize" ] || die "no poolsize at $poolsize"

# --- 2. the database, Prometheus -------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/lifeguard-lab.XXXXXX")"
chmod 755 "$tmp"
say "work directory $tmp (removed at the end)"
if [ "$db" = mariadb ]; then db_script=mariadb.sh; else db_script=pg.sh; fi
say "starting a throwaway $db"
db_started=1
setsid --wait bash "$here/db/$db_script" start "$tmp/db" >"$out/db.log" 2>&1 || { cat "$out/db.log" >&2; die "$db did not start"; }
eval "$(bash "$here/db/$db_script" env "$tmp/db")"

service_port="$(db_free_port)"
fleet_port="$(db_free_port)"
prometheus_port="$(db_free_port)"
prometheus_url="http://127.0.0.1:$prometheus_port"
mkdir -p "$tmp/prometheus"
lab_prometheus_config "$tmp/prometheus/prometheus.yml" "$root/dashboards/alerts/lifeguard.rules.yml" \
    "127.0.0.1:$service_port" "127.0.0.1:$fleet_port"
say "starting Prometheus on $prometheus_url (scrapes 127.0.0.1:$service_port and :$fleet_port every second)"
lab_prometheus_start "$tmp/prometheus" "$prometheus_port" || die "Prometheus did not become ready"

# --- 3. the phases ---------------------------------------------------------------------------
if [ "$short" = 1 ]; then
    durations=(12 14 12 12) short_timeout_ms=1000
else
    durations=(45 75 45 45) short_timeout_ms=3000
fi
printf 'phase\ttitle\tstart\tend\tusers\tpool\tpolicy\tacquire_timeout_ms\n' >"$out/phases.tsv"

# start_instance N NAME PORT POOL POLICY TIMEOUT_MS [ARGS...]: one login_service for phase N,
# up and scraped; sets instance_pid.
start_instance() {
    local n="$1" name="$2" port="$3" pool="$4" policy="$5" timeout_ms="$6"
    shift 6
    local log="$out/phase$n-$name.log"
    lab_start "$name phase $n" "$log" "$service" --db "$db" --port "$port" --pool-size "$pool" --policy "$policy" \
        --acquire-timeout-ms "$timeout_ms" --phase "$n" --instance "$name" "$@"
    instance_pid=$lab_last_pid
    lab_wait_http 30 "http://127.0.0.1:$port/health" || { tail -n 20 "$log" >&2; die "$name did not start in phase $n"; }
    lab_wait_scraped "$prometheus_url" login_service "127.0.0.1:$port" 30 || die "Prometheus does not scrape $name"
}

# stop_instance N NAME PID: SIGTERM; in-flight requests finish, the pool must close idle.
stop_instance() {
    local n="$1" name="$2" pid="$3" log="$out/phase$1-$2.log"
    lab_stop "$pid" "$name phase $n" 30 || { tail -n 20 "$log" >&2; die "$name did not stop cleanly after phase $n"; }
    grep -q '^stopped: pool closed with 0 leased, 0 waiting' "$log" || die "$name phase $n: the pool was not idle when closed"
}

# run_phase N TITLE USERS SPAWN_RATE POOL POLICY TIMEOUT_MS SECONDS FLEET_USERS: the service with
# these settings under Locust for SECONDS; with FLEET_USERS > 0 a second instance, the same
# settings, gets that many more users. The instances must stop cleanly afterwards.
run_phase() {
    local n="$1" title="$2" users="$3" rate="$4" pool="$5" policy="$6" timeout_ms="$7" seconds="$8" fleet_users="$9"
    local schema=() hosts="http://127.0.0.1:$service_port=$users" a_pid b_pid=""
    [ "$n" = 1 ] && schema=(--create-schema)
    say "phase $n: $title (pool $pool, $users users, policy $policy, acquire_timeout $timeout_ms ms, $seconds s)"
    start_instance "$n" login-service "$service_port" "$pool" "$policy" "$timeout_ms" "${schema[@]}"
    a_pid=$instance_pid
    if [ "$fleet_users" -gt 0 ]; then
        say "         a second instance login-service-b: pool $pool, $fleet_users users"
        start_instance "$n" login-service-b "$fleet_port" "$pool" "$policy" "$timeout_ms"
        b_pid=$instance_pid
        hosts+=",http://127.0.0.1:$fleet_port=$fleet_users"
    fi
    local t0 t1 status=0
    t0=$(date +%s.%N)
    LAB_HOSTS="$hosts" lab_start "locust phase $n" "$out/phase$n-locust.log" locust \
        -f "$root/examples/login_service/load/locustfile.py" --headless --users $((users + fleet_users)) \
        --spawn-rate "$rate" --run-time "${seconds}s" --stop-timeout 5 --host "http://127.0.0.1:$service_port" \
        --csv "$out/phase$n" --csv-full-history --only-summary --exit-code-on-error 0
    locust_pid=$lab_last_pid
    wait "$locust_pid" || status=$?
    lab_forget "$locust_pid"
    [ "$status" = 0 ] || { tail -n 20 "$out/phase$n-locust.log" >&2; die "Locust failed in phase $n (status $status)"; }
    t1=$(date +%s.%N)
    sleep 1.5  # one more scrape of the phase's last state (Prometheus scrapes every second)
    curl -fsS --max-time 5 "$prometheus_url/api/v1/alerts" >"$out/phase$n-alerts.json" || die "no alerts from Prometheus"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$title" "$t0" "$t1" $((users + fleet_users)) "$pool" "$policy" \
        "$timeout_ms" >>"$out/phases.tsv"
    stop_instance "$n" login-service "$a_pid"
    [ -z "$b_pid" ] || stop_instance "$n" login-service-b "$b_pid"
}

# The server's connection limit, for the fleet's budget.
server_max_connections() {
    if [ "$db" = mariadb ]; then
        MYSQL_PWD="$LIFEGUARD_MYSQL_PASSWORD" mariadb --protocol=tcp -h 127.0.0.1 -P "$LIFEGUARD_MYSQL_PORT" \
            -u "$LIFEGUARD_MYSQL_USER" -N -e 'SELECT @@max_connections'
    else
        psql "$LIFEGUARD_PG_CONNINFO" -At -c 'SHOW max_connections'
    fi
}

# Phase 1 ramps its users up (2 a second) as a load test does: 10 logins at the same instant
# would knot a pool of 10 at once (Tn 10 needs 11 connections). Its acquire_timeout is the
# shortened one too, so that a rare knot costs seconds, not the run.
run_phase 1 "steady" 10 2 10 ignore "$short_timeout_ms" "${durations[0]}" 0
run_phase 2 "no diagnosis" 20 20 10 ignore "$short_timeout_ms" "${durations[1]}" 0
run_phase 3 "detector, fleet of 2" 20 30 10 fail_fast "$short_timeout_ms" "${durations[2]}" 10

limit="$(server_max_connections)" || die "cannot read the server's max_connections"
sizing=(--prometheus "$prometheus_url" --job login_service --metric-prefix hikaricp --cores "$(nproc)")
say "sizing the pools from what Prometheus saw: poolsize ${sizing[*]} --server-max-connections $limit"
"$poolsize" "${sizing[@]}" --server-max-connections "$limit" >"$out/poolsize.txt" 2>&1 ||
    { cat "$out/poolsize.txt" >&2; die "poolsize --prometheus failed"; }
"$poolsize" "${sizing[@]}" --server-max-connections "$limit" --json >"$out/poolsize.json" 2>"$out/poolsize.log" ||
    { cat "$out/poolsize.log" >&2; die "poolsize --prometheus --json failed"; }
sed 's/^/    /' "$out/poolsize.txt" | head -n 8
sized="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_size"])' "$out/poolsize.json")"
# The same fleet on a server with 40 connections: poolsize --check must fail (exit 3).
check_status=0
"$poolsize" "${sizing[@]}" --server-max-connections 40 --check "$sized" >"$out/fleet-check.txt" 2>&1 || check_status=$?
echo "exit status $check_status" >>"$out/fleet-check.txt"
say "poolsize --check $sized with a 40-connection server: exit $check_status (3: the fleet does not fit)"
run_phase 4 "sized by poolsize" 20 30 "$sized" report 30000 "${durations[3]}" 10

# --- 4. the picture --------------------------------------------------------------------------
say "rendering the report from Prometheus and Locust's CSV"
/usr/bin/python3 "$here/lab/report.py" --prometheus "$prometheus_url" --out "$out" >"$out/report.log" 2>&1 ||
    { cat "$out/report.log" >&2; die "rendering the report failed"; }
cat "$out/report.log"

if [ "$short" = 1 ]; then
    say "checking what the phases must show"
    /usr/bin/python3 "$here/lab/check_phases.py" "$out" || die "the phases did not show what they must"
fi
say "done: $out/report.html"
