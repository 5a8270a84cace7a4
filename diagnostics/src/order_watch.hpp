// The order watch: the pool-order graph (an edge A -> B when a task acquires B while holding
// A), and the report when an edge closes a cycle (pools taken in both orders). It returns the
// report; the detector logs it.
//
// Hot path: a known edge is one lock-free probe. A new one runs with the detector's registry
// lock held (shared) and the watch's own leaf lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <source_location>
#include <unordered_map>
#include <vector>

#include "lifeguard/diagnostics/detail/seen_table.hpp"
#include "lifeguard/diagnostics/snapshot.hpp"
#include "records.hpp"

namespace lifeguard::diagnostics::detail {

class order_watch {
public:
    order_watch() : seen_edges_(1024) {}

    /// The key of the edge between two pools by key_of(), or nullopt when the edge is known.
    std::optional<std::uint64_t> unseen_edge(std::uint64_t from, std::uint64_t to) const noexcept {
        const std::uint64_t key = mix(from, to);
        if (seen_edges_.find(key) != seen_table::npos) [[likely]]
            return std::nullopt;
        return key;
    }

    /// Records the edge `from` -> `to` (by key_of(); `key` from unseen_edge()). The report when
    /// it closes a cycle. Registry lock held.
    std::optional<report_to_emit> add_edge(const pool_registry& pools, std::uint64_t from, std::uint64_t to,
                                           std::uint64_t key, const std::source_location& held_site,
                                           const std::source_location& site);

    /// A pool detached: edges are cached by pool address, which a new pool may reuse, so the
    /// cache forgets them all (the slow path re-learns the ones it knows by id).
    void pool_detached();

    /// Adds the edges to a snapshot.
    void add_to(diagnostics::snapshot& s) const;

    std::uint64_t inversions() const noexcept { return inversions_.load(std::memory_order_relaxed); }

private:
    std::vector<edge_record> path(std::uint64_t a, std::uint64_t b);

    seen_table seen_edges_;
    std::atomic<std::uint64_t> inversions_{0};
    mutable std::mutex tables_;
    std::unordered_map<std::uint64_t, edge_record> edges_;  // by mix(from id, to id)
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> adjacency_;
};

}  // namespace lifeguard::diagnostics::detail
