// What the detector has learnt about how a program uses its pools, as data the `poolsize` CLI
// can read instead of guessed numbers: per pool the observed concurrency Tn and nesting depth
// Cm with the safe size Tn x (Cm - 1) + 1, the nested-acquisition pairs, and the pool-order
// edges. Written as JSON:
//
//   {"lifeguard_snapshot": 1,
//    "pools": [{"name": "app", "max_size": 10, "observed_tasks": 20,
//               "observed_connections_per_task": 2, "safe_size": 21,
//               "nested": [{"outer_site": "login.cpp:42 login()", "inner_site": "idgen.cpp:17 next_id()",
//                           "depth": 2, "tasks": 20, "count": 40}]}],
//    "order_edges": [{"from": "app", "to": "audit", "site": "audit.cpp:9 write()"}]}
//
// Field names are a contract with the CLI; new fields may be added, none renamed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lifeguard::diagnostics {

struct snapshot {
    static constexpr int format_version = 1;

    struct nested_pair {
        std::string outer_site;  ///< as describe_site() prints it
        std::string inner_site;
        std::uint64_t depth = 0;  ///< Cm seen for this pair
        std::uint64_t tasks = 0;  ///< Tn of its pool
        std::uint64_t count = 0;  ///< how often it happened (< 16 per running thread may be late)
        friend bool operator==(const nested_pair&, const nested_pair&) = default;
    };
    struct pool {
        std::string name;
        std::uint64_t max_size = 0;
        std::uint64_t observed_tasks = 0;                 ///< Tn; 0 when never sampled
        std::uint64_t observed_connections_per_task = 1;  ///< Cm; 1 without nesting
        std::uint64_t safe_size = 0;                      ///< Tn x (Cm - 1) + 1; 0 when Tn unknown
        std::vector<nested_pair> nested;
        friend bool operator==(const pool&, const pool&) = default;
    };
    struct order_edge {
        std::string from;
        std::string to;
        std::string site;  ///< where `to` was acquired while holding `from`
        friend bool operator==(const order_edge&, const order_edge&) = default;
    };

    std::vector<pool> pools;
    std::vector<order_edge> order_edges;
    friend bool operator==(const snapshot&, const snapshot&) = default;
};

/// The JSON text above (pretty-printed with `indent` spaces; -1 for one line).
std::string to_json(const snapshot& s, int indent = 2);

/// Parses what to_json wrote. Throws std::invalid_argument naming the problem.
snapshot snapshot_from_json(std::string_view json);

/// Writes to_json(s) to `path` through a temporary file and a rename, so a reader never sees
/// half a file. Throws std::system_error on I/O failure.
void write_snapshot(const snapshot& s, const std::filesystem::path& path);

}  // namespace lifeguard::diagnostics
