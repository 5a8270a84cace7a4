#!/usr/bin/env bash
# Runs the admission benchmark (already built: it builds nothing) with the settings the README's
# numbers come from: 9 repetitions in random order, medians.
#
#   bench/admission/run.sh [--binary PATH] [google-benchmark flags...]
#
# Default binary: build-bench/bench/admission/lifeguard_bench_admission. Build first:
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && ninja -C build-bench lifeguard_bench_admission
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../run-lib.sh"
bench_init admission lifeguard_bench_admission "$@"
bench_warn_if_busy

exec "$binary" --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "${bench_args[@]}"
