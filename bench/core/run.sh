#!/usr/bin/env bash
# Runs the core pool benchmark (already built: it builds nothing) with the settings the README's
# numbers come from, keeps the JSON, and prints the tables (bench/core/table.py).
#
#   bench/core/run.sh [--binary PATH] [--out FILE] [google-benchmark flags...]
#
# Defaults: binary build-bench/bench/core/lifeguard_bench_core, JSON build-bench/bench-core.json.
# Extra flags go to the benchmark after the defaults, so they win, e.g.
#   bench/core/run.sh --benchmark_filter='size:2/hold_ns:1000' --benchmark_repetitions=5
# Build first:
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && ninja -C build-bench lifeguard_bench_core
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/../run-lib.sh"
bench_init core lifeguard_bench_core "$@"
bench_warn_if_busy

# CPU time (clock ticks) of the whole machine (busy, total) and of this script's finished children,
# so the report can say how much of the machine other processes took during the run.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
children_ticks() { sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }
read -r busy_before total_before < <(machine_ticks)
ours_before=$(children_ticks)

# All variants in one process, repetitions randomly interleaved so that a slow moment of the
# machine does not land on one variant only; the tables use the medians.
"$binary" \
    --benchmark_repetitions=3 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out" \
    --benchmark_out_format=json \
    "${bench_args[@]}"

read -r busy_after total_after < <(machine_ticks)
ours_after=$(children_ticks)
others_pct=$(( 100 * ((busy_after - busy_before) - (ours_after - ours_before)) / (total_after - total_before) ))
echo
echo "JSON: $out"
echo "Other work (other processes, hypervisor steal) took about ${others_pct}% of the $cores CPUs during the run."
if (( others_pct > 10 )); then
    echo "run.sh: warning: that is enough to distort the multi-thread numbers; re-run on a quiet machine" >&2
fi
echo
python3 "$here/table.py" "$out"
