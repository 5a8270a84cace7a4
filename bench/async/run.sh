#!/usr/bin/env bash
# Runs the asynchronous acquire benchmarks (already built: it builds nothing) with repetitions in
# random interleaving, keeps the JSON and prints the medians.
#
#   bench/async/run.sh [--binary PATH] [--out FILE] [google-benchmark flags...]
#
# Defaults: binary build-bench/bench/async/lifeguard_bench_async, JSON build-bench/bench-async.json.
# Build first:
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && ninja -C build-bench lifeguard_bench_async
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../run-lib.sh"
bench_init async lifeguard_bench_async "$@"
bench_warn_if_busy

"$binary" \
    --benchmark_repetitions=5 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out" \
    --benchmark_out_format=json \
    "${bench_args[@]}"

echo
echo "JSON: $out"
echo
# Medians of the repetitions: ns per acquisition on the wall clock and on the benchmark thread's CPU
# clock (the pool's worker thread is not in the latter), and acquisitions per wall-clock second.
python3 - "$out" <<'PY'
import json, sys
scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
data = json.load(open(sys.argv[1]))
print(f"{'benchmark':28} {'ns/acq (wall)':>14} {'ns/acq (cpu)':>13} {'acq/s (wall)':>13}")
for b in data["benchmarks"]:
    if b.get("aggregate_name") != "median" or not b.get("items_per_second"):
        continue
    unit = scale[b.get("time_unit", "ns")]
    cpu_ns = 1e9 / b["items_per_second"]                      # items/s is per CPU second
    items_per_iteration = b["cpu_time"] * unit / cpu_ns
    wall_ns = b["real_time"] * unit / items_per_iteration
    print(f"{b['run_name']:28} {wall_ns:14.1f} {cpu_ns:13.1f} {1e9 / wall_ns:13.0f}")
PY
