// The login service's settings, all from command-line flags (CLI11). The database comes from
// the environment scripts/db/with-servers.sh exports (LIFEGUARD_MYSQL_URL / _USER / _PASSWORD /
// _SCHEMA, LIFEGUARD_PG_CONNINFO): a password is never a flag, so it never shows in `ps`.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "lifeguard/options.hpp"

namespace login_service {

struct settings {
    std::string db = "mariadb";  ///< "mariadb" or "postgres"
    std::string host = "127.0.0.1";
    int port = 8080;  ///< 0 picks a free port
    std::size_t pool_size = 10;
    lifeguard::deadlock_policy policy = lifeguard::deadlock_policy::report;
    std::chrono::milliseconds acquire_timeout{30000};
    std::chrono::milliseconds work{20};  ///< each request's time holding its connection
    int http_threads = 64;
    std::string instance = "login-service";  ///< the `application` label of every metric
    std::string metrics_prefix = "hikaricp";
    int phase = 0;  ///< stored with every account the service creates
    bool create_schema = false;
};

/// Parses the flags. On --help prints the usage and exits 0; on bad usage names the flag, the
/// value and the rule and exits 2.
settings parse_settings(int argc, char** argv);

}  // namespace login_service
