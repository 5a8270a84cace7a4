// Asking a live PostgreSQL for its connection limits (`poolsize --pg CONNINFO`), so the fleet
// budget uses the server's real max_connections and reserved slots instead of typed numbers.
// The connection goes through lifeguard::postgres (server_limits_postgres.cpp); builds without
// that driver use server_limits_none.cpp. No libpq header is included here or there.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace lifeguard::poolsize {

struct pg_limits {
    std::size_t max_connections = 0;
    std::size_t superuser_reserved_connections = 0;
    std::optional<std::size_t> reserved_connections;  ///< PostgreSQL 16+ only
    std::string server_version;                       ///< e.g. "15.8"
    std::string where;  ///< the conninfo's host/port/dbname/user, password masked, for reports

    std::size_t reserved() const noexcept {
        return superuser_reserved_connections + reserved_connections.value_or(0);
    }
};

/// Connects with `conninfo` (key=value or URI; a connect_timeout of 10 s applies unless the
/// conninfo sets one, and bounds the query too), reads the limits from pg_settings, disconnects.
/// Throws usage_error when the PostgreSQL driver is not built in, the conninfo is malformed
/// (connect_timeout included), the connection or the query fails. Messages never contain the
/// password.
pg_limits query_pg_limits(const std::string& conninfo);

/// The conninfo with every password replaced by "***" (key=value and URI forms), for messages.
std::string mask_conninfo(const std::string& conninfo);

}  // namespace lifeguard::poolsize
