#!/usr/bin/env bash
# Runs the metrics overhead benchmark (already built) with interleaved repetitions and prints
# the medians. Build first:
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   ninja -C build-bench lifeguard_bench_metrics
#   bench/metrics/run.sh [--binary PATH] [google-benchmark flags...]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../run-lib.sh"
bench_init metrics lifeguard_bench_metrics "$@"
bench_warn_if_busy

"$binary" \
    --benchmark_repetitions=9 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_min_time=0.2 \
    "${bench_args[@]}"
