// Runs another program (the poolsize CLI) without a shell and captures what it prints.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace autoid {

struct program_output {
    int exit_code = -1;  ///< exit status; 128 + signal when killed; -1 when it could not start
    std::string out;
    std::string err;
};

/// Runs `path` with `args` and waits for it. `env` overrides variables of this process's
/// environment (an empty value removes one). A program still running after `timeout` (0: no
/// limit) is killed (exit_code 128 + SIGKILL). Never throws for the program's own failures.
program_output run_program(const std::string& path, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env = {},
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

}  // namespace autoid
