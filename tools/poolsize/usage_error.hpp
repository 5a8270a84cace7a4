// The one error type of the poolsize CLI: bad arguments or unusable input. main() prints it on
// stderr and exits with status 2. Messages name the argument (or file) and what is wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace lifeguard::poolsize {

class usage_error : public std::runtime_error {
public:
    explicit usage_error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace lifeguard::poolsize
