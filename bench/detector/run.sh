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

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=$root/build-bench/bench/detector/lifeguard_bench_detector

if [[ ${1:-} == --binary ]]; then
    binary=$2
    shift 2
fi
if [[ ! -x $binary ]]; then
    echo "run.sh: $binary not found; build the lifeguard_bench_detector target first" >&2
    exit 1
fi

# Other work on the machine lands on whichever variant runs at that moment; say so up front.
read -r load1 _ </proc/loadavg
cores=$(nproc)
if awk -v l="$load1" -v c="$cores" 'BEGIN { exit !(l > c / 2) }'; then
    echo "run.sh: warning: load average $load1 on $cores cores before starting; expect noisy numbers" >&2
fi

exec "$binary" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "$@"
