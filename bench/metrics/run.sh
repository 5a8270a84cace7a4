#!/usr/bin/env bash
# Runs the metrics overhead benchmark (already built) with interleaved repetitions and prints
# the medians. Build first:
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   ninja -C build-bench lifeguard_bench_metrics
#   bench/metrics/run.sh [--binary PATH] [google-benchmark flags...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=$root/build-bench/bench/metrics/lifeguard_bench_metrics
if [[ ${1:-} == --binary ]]; then
    binary=$2
    shift 2
fi
if [[ ! -x $binary ]]; then
    echo "run.sh: $binary not found; build the lifeguard_bench_metrics target first" >&2
    exit 1
fi

"$binary" \
    --benchmark_repetitions=9 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_min_time=0.2 \
    "$@"
