# Shared by bench/<area>/run.sh (sourced, not run): finds the built benchmark binary, takes the
# scripts' own options, and warns when the machine is busy before a measurement starts.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../run-lib.sh"
#   bench_init AREA TARGET "$@"    # sets root, binary, out and bench_args (the remaining flags)
#   bench_warn_if_busy
#
# Options every run.sh accepts before the Google Benchmark flags:
#   --binary PATH   the benchmark (default build-bench/bench/AREA/TARGET)
#   --out FILE      where to keep the JSON (default build-bench/bench-AREA.json), for scripts that keep it

bench_init() {
    local area=$1 target=$2
    shift 2
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    binary=$root/build-bench/bench/$area/$target
    out=$root/build-bench/bench-$area.json
    while [[ $# -gt 0 ]]; do
        case $1 in
            --binary) binary=$2; shift 2 ;;
            --out) out=$2; shift 2 ;;
            *) break ;;
        esac
    done
    bench_args=("$@")
    if [[ ! -x $binary ]]; then
        echo "run.sh: $binary not found; build the $target target first" >&2
        exit 1
    fi
}

# Other work on the machine lands on whichever variant runs at that moment; say so up front.
# Sets `cores` (the CPU count) for the caller.
bench_warn_if_busy() {
    local load1 _
    read -r load1 _ </proc/loadavg
    cores=$(nproc)
    if awk -v l="$load1" -v c="$cores" 'BEGIN { exit !(l > c / 2) }'; then
        echo "run.sh: warning: load average $load1 on $cores cores before starting; expect noisy numbers" >&2
    fi
}
