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
};

/// Runs `program` (a path, or a name looked up in PATH) with `args`, in directory `cwd` when not
/// empty. Fails the calling test (and returns exit_code -1) if the program cannot be started.
process_result run_process(const std::string& program, const std::vector<std::string>& args,
                           const std::string& cwd = {});

}  // namespace lifeguard::testing
