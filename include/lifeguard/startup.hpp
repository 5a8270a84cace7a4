// What a pool's constructor throws when initialization_fail_timeout asked for a first
// connection and none could be opened (see options.hpp).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "lifeguard/errors.hpp"

namespace lifeguard {

/// A pool_error (code errc::timeout, verdict database_unreachable) whose diagnostics carry the
/// driver's last error in last_connect_error; what() reads, e.g.
///   pool 'orders': no connection opened within initialization_fail_timeout (2000 ms, 7 attempts):
///   password authentication failed for user "app"
/// The text is the driver's, which never contains a password (driver.hpp).
class startup_error : public pool_error {
public:
    startup_error(std::shared_ptr<const pool_diagnostics> d, std::string message)
        : pool_error(std::move(d)), message_(std::move(message)) {}

    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

}  // namespace lifeguard
