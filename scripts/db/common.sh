# Shared helpers for the throwaway database scripts (sourced, not run).
#
# Every server lives in one directory DIR that holds its data, socket, log, pid and the port it
# was given; `env DIR` prints the variables tests read. Servers are stopped by the pid they
# wrote, never by name.

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
