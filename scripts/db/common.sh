# Shared helpers for the throwaway database scripts (sourced, not run).
#
# Every server lives in one directory DIR that holds its data, socket, log, pid and the port it
# was given; `env DIR` prints the variables tests read. Servers are stopped by the pid they
# wrote, never by name.
#
# A server script calls db_take_args, sets `pidfile` (the file whose first line is the server's
# pid) and `log`, defines `start`, `stop` (with db_stop), `print_env` and `try_start PORT`, and
# ends with db_run_command "$@".

# shellcheck disable=SC2154  # pidfile and log are the calling script's

LIFEGUARD_TEST_PASSWORD="${LIFEGUARD_TEST_PASSWORD:-s3cr3t-Pa55}"
LIFEGUARD_TEST_USER="${LIFEGUARD_TEST_USER:-lifeguard}"
LIFEGUARD_TEST_DB="${LIFEGUARD_TEST_DB:-lifeguard}"

db_die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# Prints the last lines of a log file to stderr, so a server that did not start says why.
db_log_tail() {
    local log="$1"
    if [ -f "$log" ]; then
        echo "---- last lines of $log ----" >&2
        tail -n 30 "$log" >&2
        echo "----" >&2
    fi
}

# True when nothing accepts TCP connections on 127.0.0.1:PORT.
db_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a port that nothing listens on right now. A race with another process is still
# possible; callers retry their start with a new port when the bind fails.
db_free_port() {
    local i p
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if db_port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    db_die "no free TCP port found on 127.0.0.1"
}

# Makes DIR (and parents) exist and be traversable by an unprivileged server user: mktemp -d
# makes 0700 directories that the postgres user could not enter.
db_prepare_dir() {
    local dir="$1"
    mkdir -p "$dir"
    chmod 755 "$dir"
}

# As root, hands files to the postgres user (PostgreSQL and PgBouncer refuse to run as root);
# as anyone else the servers run as that user and nothing needs changing.
db_give_to_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$@"
    fi
}

# Runs a command as the postgres user when we are root.
db_as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Waits up to SECONDS for a command to succeed (bounded polling of a readiness probe).
db_wait_for() {
    local seconds="$1"
    shift
    local deadline=$(( $(date +%s%N) / 1000000 + seconds * 1000 ))
    while ! "$@" >/dev/null 2>&1; do
        if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
            return 1
        fi
        sleep 0.05
    done
}

# Waits up to SECONDS for process PID to exit.
db_wait_gone() {
    local pid="$1" seconds="$2"
    db_wait_for "$seconds" db_not_running "$pid"
}

# A zombie counts as gone: a server whose launcher exited is reaped by whoever adopted it.
db_not_running() {
    kill -0 "$1" 2>/dev/null || return 0
    case "$(ps -o stat= -p "$1" 2>/dev/null)" in
    Z*) return 0 ;;
    *) return 1 ;;
    esac
}

# Sends SIGNAL to a process and to its direct children (the server's backends), by pid.
db_signal_tree() {
    local signal="$1" pid="$2" child
    kill "-$signal" "$pid" 2>/dev/null || true
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        kill "-$signal" "$child" 2>/dev/null || true
    done
}

# Reads the `COMMAND DIR` every script takes into the globals cmd and dir (DIR made to exist and
# absolute). USAGE is what to say when either is missing.
db_take_args() {
    local usage="$1"
    shift
    cmd="${1:-}"
    dir="${2:-}"
    [ -n "$cmd" ] && [ -n "$dir" ] || db_die "usage: $usage"
    dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
}

# Prints the pid on the first line of FILE; fails when there is no FILE.
db_pid_in() {
    [ -f "$1" ] && head -n 1 "$1"
}

# True when the process whose pid FILE holds is alive.
db_running() {
    local pid
    pid="$(db_pid_in "$1" 2>/dev/null)" || return 1
    [ -n "$pid" ] && ! db_not_running "$pid"
}

# Starts the server with the script's `try_start PORT`: on the port kept in DIR/port when FRESH
# is 0, on a free port when it is 1. A fresh start whose port was taken meanwhile (the log says
# "Address already in use") tries another port, five times at most; CLEANUP, when given, is a
# command run after every failed try. Keeps the port in DIR/port; dies with the log's tail when
# NAME (the server, for the message) does not come up.
db_start_on_port() {
    local name="$1" fresh="$2" cleanup="${3:-}" port
    for _ in 1 2 3 4 5; do
        if [ "$fresh" -eq 1 ]; then
            port="$(db_free_port)"
        else
            port="$(cat "$dir/port")"
        fi
        if try_start "$port"; then
            echo "$port" >"$dir/port"
            db_running "$pidfile" && return 0
            break
        fi
        [ -z "$cleanup" ] || "$cleanup"
        if [ "$fresh" -eq 1 ] && grep -q "Address already in use" "$log"; then
            continue  # lost a race for the port: pick another one
        fi
        break
    done
    db_log_tail "$log"
    db_die "$name did not start in $dir on port $port"
}

# Prints the port DIR's server was started on; dies saying no NAME was started when none was.
db_started_port() {
    [ -f "$dir/port" ] || db_die "no $1 was started in $dir"
    cat "$dir/port"
}

# Stops the server whose pid $pidfile holds, if it runs: wakes it (a paused server cannot shut
# down), then for each SIGNAL:SECONDS sends SIGNAL and waits up to SECONDS for the exit before
# going on to the next; SIGKILL comes last. NAME is the process, for the messages.
db_stop() {
    local name="$1" pid step signal previous=""
    shift
    pid="$(db_pid_in "$pidfile" 2>/dev/null)" || return 0
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    db_signal_tree CONT "$pid"
    for step in "$@" KILL:5; do
        signal="${step%%:*}"
        [ -z "$previous" ] || echo "$(basename "$0"): $name $pid ignored SIG$previous; sending SIG$signal" >&2
        kill "-$signal" "$pid" 2>/dev/null || true
        db_wait_gone "$pid" "${step##*:}" && return 0
        previous="$signal"
    done
    return 0
}

# Runs $cmd with what follows it as arguments (the script's own "$@"): the commands every
# script has, with its start, stop and print_env. pause and resume signal the server and its
# direct children (PostgreSQL's backends).
db_run_command() {
    case "$cmd" in
    start) db_start_unless_running "$@" ;;
    stop) stop ;;
    restart) stop; db_start_unless_running "$@" ;;
    pause) db_signal_server STOP ;;
    resume) db_signal_server CONT ;;
    env) print_env ;;
    status) db_running "$pidfile" ;;
    *) db_die "unknown command '$cmd' (start|stop|restart|pause|resume|env|status)" ;;
    esac
}

db_signal_server() {
    db_running "$pidfile" || db_die "not running in $dir"
    db_signal_tree "$1" "$(db_pid_in "$pidfile")"
}

db_start_unless_running() {
    if db_running "$pidfile"; then
        echo "$(basename "$0"): already running in $dir" >&2
        return 0
    fi
    start "$@"
}
