// The poolsize recommendation: takes validated inputs (from arguments or a snapshot), runs the
// formulas of lifeguard/sizing.hpp, and renders the result for a terminal and as JSON. The
// human text and the JSON `reasons` are made from the same lines, so they never disagree.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server_limits.hpp"
#include "snapshot.hpp"

namespace lifeguard::poolsize {

struct pool_request {
    std::string name;  ///< empty when sized from --tasks
    std::size_t tasks = 0;
    std::size_t connections_per_task = 1;
    std::optional<std::size_t> configured_max_size;  ///< from a snapshot
    std::vector<nested_acquisition> nested;          ///< from a snapshot
};

struct server_request {
    std::size_t max_connections = 0;
    std::size_t reserved = 0;
    bool reserved_given = false;  ///< --reserved was given (else 0)
    std::optional<pg_limits> pg;  ///< set when the numbers came from --pg
};

struct request {
    std::vector<pool_request> pools;  ///< the pools to size; at least one
    bool several = false;             ///< render a "pools" array (a snapshot with several pools)
    std::size_t cores = 0;
    std::size_t spindles = 0;
    std::size_t instances = 1;
    std::optional<server_request> server;
    std::optional<std::size_t> check;
    std::optional<std::string> snapshot_path;
    std::vector<std::string> skipped_pools;     ///< in the snapshot, nothing observed
    std::vector<std::string> unselected_pools;  ///< in the snapshot, not picked by --pool
};

struct outcome {
    std::string text;                         ///< for a terminal, ends with a newline
    nlohmann::ordered_json json;              ///< one object
    std::vector<std::string> check_failures;  ///< empty when --check passed or was not asked
};

/// Throws usage_error when a result overflows (naming the arguments that caused it) or the
/// server's reserved connections leave nothing for pools.
outcome evaluate(const request& req);

}  // namespace lifeguard::poolsize
