#!/usr/bin/env bash
# Runs the detector benchmark (already built: it builds nothing) with the settings the README's
# numbers come from; the binary itself prints the closing table of medians and deltas against
# a pool with no observer (on - off).
#
#   bench/detector/run.sh [--binary PATH] [google-benchmark flags...]
#
# Default binary: build-bench/bench/detector/lifeguard_bench_detector. Extra flags go after the
# defaults, so they win, e.g.  bench/detector/run.sh --benchmark_filter='nested' --benchmark_repetitions=9
# Build first:
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && ninja -C build-bench lifeguard_bench_detector
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../run-lib.sh"
bench_init detector lifeguard_bench_detector "$@"
bench_warn_if_busy

exec "$binary" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "${bench_args[@]}"
