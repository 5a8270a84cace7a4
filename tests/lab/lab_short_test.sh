#!/usr/bin/env bash
# The short lab end to end (scripts/lab.sh --short, which fails unless the phases show what
# they must), and then: nothing it started is left running and its work directory is gone,
# after a successful run as after an interrupted one (SIGTERM during phase 1).
#   lab_short_test.sh OUT_DIR SERVICE POOLSIZE
set -uo pipefail
out="$1" service="$2" poolsize="$3"
lab="$(cd "$(dirname "$0")/../../scripts" && pwd)/lab.sh"
fails=0

# left_behind WORKDIR: processes whose command line names WORKDIR or OUT (the lab's servers,
# services and Locust all do), and WORKDIR itself if it still exists.
left_behind() {
    local work="$1" found=""
    found="$(ps -eo pid=,args= | grep -F -e "$work" -e "$out" -e "$service --db" | grep -v -e grep -e "$0" || true)"
    [ -z "$found" ] || echo "still running: $found"
    [ ! -e "$work" ] || echo "work directory $work still exists"
}

workdir_of() { sed -n 's/.*work directory \([^ ]*\) (removed at the end).*/\1/p' "$1" | head -n 1; }

bash "$lab" --short --out "$out" --service "$service" --poolsize "$poolsize" 2>&1 | tee "$out.log"
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || { echo "FAIL: lab.sh --short exited $status" >&2; fails=$((fails + 1)); }
work="$(workdir_of "$out.log")"
[ -n "$work" ] || { echo "FAIL: lab.sh did not name its work directory" >&2; exit 1; }
leftover="$(left_behind "$work")"
[ -z "$leftover" ] || { echo "FAIL: after the run: $leftover" >&2; fails=$((fails + 1)); }

# Interrupted: SIGTERM once phase 1 runs; lab.sh must stop everything and exit 143.
interrupted="$out-interrupted"
bash "$lab" --short --out "$interrupted" --service "$service" --poolsize "$poolsize" >"$interrupted.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    grep -q "phase 1:" "$interrupted.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
status=$?
[ "$status" = 143 ] || { echo "FAIL: lab.sh stopped by SIGTERM exited $status, not 143" >&2; fails=$((fails + 1)); }
work="$(workdir_of "$interrupted.log")"
leftover="$(left_behind "${work:-/nonexistent-lab-dir}")"
[ -z "$leftover" ] || { echo "FAIL: after SIGTERM: $leftover" >&2; fails=$((fails + 1)); }
[ "$fails" = 0 ] && echo "lab short test: phases as they must be; nothing left running after the run or after SIGTERM"
exit $((fails > 0))
