// Reading a fleet's observations from Prometheus (`poolsize --prometheus URL [--job NAME]`):
// every scraped instance's observed Tn, Cm and max_size per pool, as lifeguard's exporters
// publish them (P_connections_observed_tasks, _observed_per_task and _max, with
// lifeguard::detector_metrics attached). Prometheus is what aggregates the fleet; poolsize only
// asks it, with instant queries of max_over_time over a window, so that instances that were
// scraped recently but are down now still count.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace lifeguard::poolsize {

struct prometheus_query {
    std::string url;                 ///< http(s)://host:port[/path prefix]
    std::optional<std::string> job;  ///< only series of this scrape job
    std::string prefix = "lifeguard";  ///< prometheus_options.prefix of the services
    std::string window = "1h";       ///< how far back observations count (PromQL duration)
};

/// One pool of one scraped instance.
struct observed_pool {
    std::string instance;  ///< the `instance` label (host:port of the scrape target)
    std::string pool;      ///< the `pool` label
    std::size_t tasks = 0;     ///< Tn
    std::size_t per_task = 0;  ///< Cm
    std::optional<std::size_t> max_size;
};

/// Checks the query's fields; throws usage_error naming the option, the value and the rule.
void validate(const prometheus_query& q);

/// Every (instance, pool) with observations, sorted. Throws usage_error when Prometheus cannot
/// be reached, answers with an error, returns a value that is not a whole number >= 0 (or >= 1
/// for Cm), or has no series at all (the message says which metric, job and window).
std::vector<observed_pool> read_prometheus(const prometheus_query& q);

}  // namespace lifeguard::poolsize
