# Background processes of the lab (sourced by scripts/lab.sh): started with their pid kept,
# stopped by that pid (SIGTERM, then SIGKILL after a grace period), all of them on exit.

lab_pids=()   # every process the lab started and has not stopped yet
lab_names=()

# lab_start NAME LOG CMD...: runs CMD in the background with stdout and stderr in LOG; sets
# lab_last_pid.
lab_start() {
    local name="$1" log="$2"
    shift 2
    "$@" >"$log" 2>&1 &
    lab_last_pid=$!
    lab_pids+=("$lab_last_pid")
    lab_names+=("$name")
}

# lab_forget PID: the process ended (we waited for it); drop it from the list.
lab_forget() {
    local i
    for i in "${!lab_pids[@]}"; do
        if [ "${lab_pids[$i]}" = "$1" ]; then
            unset 'lab_pids[i]' 'lab_names[i]'
        fi
    done
}

# lab_stop PID NAME [GRACE_SECONDS]: SIGTERM, wait up to GRACE (default 20 s), then SIGKILL.
# Returns the process's exit status (143 / 137 when killed by the signal).
lab_stop() {
    local pid="$1" name="$2" grace="${3:-20}" status=0 waited=0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((grace * 10)) ]; do
            sleep 0.1
            waited=$((waited + 1))
            # a zombie is gone: it only waits for us to reap it
            case "$(ps -o stat= -p "$pid" 2>/dev/null)" in Z*) break ;; esac
        done
        if kill -0 "$pid" 2>/dev/null && ! ps -o stat= -p "$pid" 2>/dev/null | grep -q '^Z'; then
            echo "lab: $name ($pid) did not stop in ${grace} s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || status=$?
    lab_forget "$pid"
    return "$status"
}

# Stops everything still running, newest first.
lab_stop_all() {
    local i
    for ((i = ${#lab_pids[@]} - 1; i >= 0; i--)); do
        [ -n "${lab_pids[$i]:-}" ] || continue
        lab_stop "${lab_pids[$i]}" "${lab_names[$i]}" 10 || true
    done
}

# lab_wait_http SECONDS URL: polls URL until it answers 2xx (a readiness probe, bounded).
lab_wait_http() {
    local seconds="$1" url="$2" tries
    for ((tries = 0; tries < seconds * 10; tries++)); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
