# The lab's Prometheus (sourced by scripts/lab.sh): a config that scrapes the service
# instances every second and loads the shipped alert rules, the server itself, and queries.

# lab_prometheus_config FILE RULES TARGET...: writes the config.
lab_prometheus_config() {
    local file="$1" rules="$2"
    shift 2
    local targets="" t
    for t in "$@"; do targets+="${targets:+, }'$t'"; done
    cat >"$file" <<CONFIG
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - '$rules'
scrape_configs:
  - job_name: login_service
    static_configs:
      - targets: [$targets]
CONFIG
}

# lab_prometheus_start DIR PORT: starts Prometheus on 127.0.0.1:PORT with DIR/prometheus.yml
# and waits until it is ready. Sets lab_prometheus_pid.
lab_prometheus_start() {
    local dir="$1" port="$2"
    lab_start prometheus "$dir/prometheus.log" prometheus --config.file="$dir/prometheus.yml" \
        --storage.tsdb.path="$dir/tsdb" --web.listen-address="127.0.0.1:$port" \
        --storage.tsdb.retention.time=1d
    lab_prometheus_pid=$lab_last_pid
    lab_wait_http 30 "http://127.0.0.1:$port/-/ready" || {
        tail -n 20 "$dir/prometheus.log" >&2
        return 1
    }
}

# lab_prometheus_value URL QUERY: prints the first sample's value of an instant query ("" when
# the result is empty).
lab_prometheus_value() {
    curl -fsS --max-time 5 -G "$1/api/v1/query" --data-urlencode "query=$2" |
        /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}

# lab_wait_scraped URL JOB TARGET SECONDS: waits until Prometheus has scraped TARGET of JOB.
lab_wait_scraped() {
    local url="$1" job="$2" target="$3" seconds="$4" tries
    for ((tries = 0; tries < seconds * 5; tries++)); do
        [ "$(lab_prometheus_value "$url" "up{job=\"$job\", instance=\"$target\"}")" = "1" ] && return 0
        sleep 0.2
    done
    return 1
}
