// Runs a program the way a user's script would (no shell) and captures its stdout, stderr and
// exit status, for the poolsize CLI tests.
#pragma once

#include <string>
#include <vector>

namespace lifeguard::testing {

struct process_result {
    int exit_code = -1;  ///< the exit status, or 128 + signal number if killed by a signal
    std::string out;
    std::string err;
    bool stopped = false;  ///< stdout showed `stop_at` and the program was sent SIGTERM
};

/// Runs `program` (a path, or a name looked up in PATH) with `args`, in directory `cwd` when not
/// empty. Fails the calling test (and returns exit_code -1) if the program cannot be started.
/// When `stop_at` is not empty and appears on stdout, the program is sent SIGTERM: a server that
/// should have refused to start is stopped instead of waited for.
process_result run_process(const std::string& program, const std::vector<std::string>& args,
                           const std::string& cwd = {}, const std::string& stop_at = {});

}  // namespace lifeguard::testing
