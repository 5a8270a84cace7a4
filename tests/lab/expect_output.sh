# Sourced by the lab's command-line tests: runs a program and checks its exit status and output.
#   expect_output NAME BINARY WANT_STATUS TEXT ARGS...
# Counts a mismatch in `fails` (the caller starts it at 0 and exits non-zero when it is not).
expect_output() {
    local name="$1" binary="$2" want="$3" text="$4" out status
    shift 4
    out="$("$binary" "$@" 2>&1)"
    status=$?
    if [ "$status" != "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
        echo "FAIL: $name $* -> status $status (want $want), output lacks '$text':" >&2
        echo "$out" | head -8 >&2
        fails=$((fails + 1))
    fi
}
