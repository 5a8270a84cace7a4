// query_pg_limits() for builds without lifeguard's PostgreSQL driver (LIFEGUARD_WITH_POSTGRES=OFF):
// --pg then fails with a message that says so, and the typed --server-max-connections still works.
#include "server_limits.hpp"
#include "usage_error.hpp"

namespace lifeguard::poolsize {

pg_limits query_pg_limits(const std::string& conninfo) {
    throw usage_error(
        "--pg " + mask_conninfo(conninfo) +
        ": this poolsize was built without the PostgreSQL driver (LIFEGUARD_WITH_POSTGRES=OFF); "
        "give --server-max-connections and --reserved");
}

}  // namespace lifeguard::poolsize
