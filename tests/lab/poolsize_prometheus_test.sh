#!/usr/bin/env bash
# poolsize --prometheus against a real Prometheus 2.42 scraping a fleet of two instances (static
# exposition files served over HTTP, in the format login_service serves): the write-up's numbers
# (Tn 20, Cm 2, pool 10) on instance A, fewer on B.
#   - recommends max_size 21 per instance and a fleet of 2 x 21 = 42, naming both instances;
#   - --check 21 passes when the server has room (100) and fails (exit 3) when it has 40;
#   - --check 10 fails (below the deadlock-free minimum);
#   - bad input gets exit 2 naming the option: a URL that is not http(s), a job name that would
#     break the PromQL, a Prometheus that does not answer, a job without series.
#   poolsize_prometheus_test.sh POOLSIZE
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/expect_output.sh"
poolsize="$1"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../scripts/db/common.sh
source "$here/../../scripts/db/common.sh"
source "$here/../../scripts/lab/processes.sh"
source "$here/../../scripts/lab/prometheus.sh"
command -v prometheus >/dev/null || { echo "prometheus is not installed" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'lab_stop_all; rm -rf "$tmp"' EXIT

exposition() {  # exposition DIR TN CM MAX
    mkdir -p "$1"
    cat >"$1/metrics" <<METRICS
# TYPE hikaricp_connections_max gauge
hikaricp_connections_max{pool="app",application="login-service"} $4
# TYPE hikaricp_connections_observed_tasks gauge
hikaricp_connections_observed_tasks{pool="app",application="login-service"} $2
# TYPE hikaricp_connections_observed_per_task gauge
hikaricp_connections_observed_per_task{pool="app",application="login-service"} $3
METRICS
}
exposition "$tmp/a" 20 2 10
exposition "$tmp/b" 12 2 10
port_a="$(db_free_port)" port_b="$(db_free_port)" prometheus_port="$(db_free_port)"
lab_start "instance a" "$tmp/a.log" /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$tmp/a" "$port_a"
lab_start "instance b" "$tmp/b.log" /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$tmp/b" "$port_b"
lab_wait_http 20 "http://127.0.0.1:$port_a/metrics" && lab_wait_http 20 "http://127.0.0.1:$port_b/metrics" ||
    { echo "the exposition servers did not start" >&2; exit 1; }
mkdir -p "$tmp/prometheus"
sed 's/job_name: login_service/job_name: fleet/' <(lab_prometheus_config /dev/stdout /dev/null \
    "127.0.0.1:$port_a" "127.0.0.1:$port_b") | grep -v "rule_files\|/dev/null" >"$tmp/prometheus/prometheus.yml"
lab_prometheus_start "$tmp/prometheus" "$prometheus_port" || { echo "Prometheus did not start" >&2; exit 1; }
url="http://127.0.0.1:$prometheus_port"
for _ in $(seq 1 150); do
    [ "$(lab_prometheus_value "$url" 'count(hikaricp_connections_observed_tasks{job="fleet"})')" = 2 ] && break
    sleep 0.2
done

fails=0
check() { expect_output poolsize "$poolsize" "$@"; }  # check WANT_STATUS TEXT ARGS...
fleet=(--prometheus "$url" --job fleet --metric-prefix hikaricp --cores 2)
check 0 "recommended for pool app: max_size 21" "${fleet[@]}"
check 0 "instance 127.0.0.1:$port_a pool app: Tn 20, Cm 2, max_size 10" "${fleet[@]}"
check 0 "instance 127.0.0.1:$port_b pool app: Tn 12, Cm 2, max_size 10" "${fleet[@]}"
check 0 "instances x max_size = 2 x 21" "${fleet[@]}" --server-max-connections 100
check 0 '"max_size": 21' "${fleet[@]}" --json
check 0 "recommended for pool app: max_size 21" "${fleet[@]}" --server-max-connections 100 --check 21
check 3 "does NOT fit" "${fleet[@]}" --server-max-connections 40 --check 21
check 3 "check failed" "${fleet[@]}" --server-max-connections 100 --check 10
check 2 "--prometheus ftp://x: expected http://HOST[:PORT][/PATH]" --prometheus ftp://x --cores 2
check 2 "--job a\"b: a scrape job name" --prometheus "$url" --job 'a"b' --cores 2
check 2 "--window 0m: a Prometheus duration above 0" --prometheus "$url" --window 0m --cores 2
check 2 "no hikaricp_connections_observed_tasks series of job nosuch" --prometheus "$url" --job nosuch \
    --metric-prefix hikaricp --cores 2
check 2 "cannot reach Prometheus" --prometheus "http://127.0.0.1:$(db_free_port)" --cores 2
check 2 "excludes" --prometheus "$url" --tasks 3 --cores 2
[ "$fails" = 0 ] && echo "poolsize --prometheus: all checks passed"
exit $((fails > 0))
