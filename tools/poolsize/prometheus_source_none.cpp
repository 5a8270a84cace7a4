// read_prometheus() for builds without cpp-httplib: --prometheus fails with a message that says
// so; --tasks and --snapshot still work.
#include "prometheus_source.hpp"
#include "usage_error.hpp"

namespace lifeguard::poolsize {

std::vector<observed_pool> read_prometheus(const prometheus_query& q) {
    throw usage_error("--prometheus " + q.url +
                      ": this poolsize was built without cpp-httplib (libcpp-httplib-dev); "
                      "give --tasks and --connections-per-task, or --snapshot FILE");
}

}  // namespace lifeguard::poolsize
