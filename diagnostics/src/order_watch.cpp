#include "order_watch.hpp"

#include <algorithm>
#include <deque>

#include "report_builder.hpp"

namespace lifeguard::diagnostics::detail {

std::optional<report_to_emit> order_watch::add_edge(const pool_registry& pools, std::uint64_t from, std::uint64_t to,
                                                    std::uint64_t key, const std::source_location& held_site,
                                                    const std::source_location& site) {
    pool_record* a = pools.with_key(from);
    pool_record* b = pools.with_key(to);
    if (!a || !b) return std::nullopt;
    const std::uint64_t by_id = mix(a->id, b->id);
    std::vector<edge_record> cycle;
    {
        std::lock_guard lock(tables_);
        // When the table is full the edge is still kept in edges_; the fast path then keeps
        // coming here, which costs a lock, not correctness.
        seen_edges_.insert(key);
        if (a->policy == deadlock_policy::ignore || edges_.contains(by_id)) return std::nullopt;
        edges_[by_id] = {a->id, b->id, a->name, b->name, held_site, site};
        adjacency_[a->id].push_back(b->id);
        cycle = path(b->id, a->id);
        if (!cycle.empty()) cycle.push_back(edges_[by_id]);
    }
    if (cycle.empty()) return std::nullopt;
    std::vector<pool_report> on_cycle;
    for (const auto& e : cycle)
        if (pool_record* r = pools.with_id(e.from);
            r && std::ranges::none_of(on_cycle, [&](const pool_report& p) { return p.id == r->id; }))
            on_cycle.push_back(pool_summary(*r, r->view->stats(), r->view->has_room()));
    inversions_.fetch_add(1, std::memory_order_relaxed);
    return report_to_emit{std::make_shared<const report>(order_inversion_report(cycle, std::move(on_cycle))),
                          spdlog::level::err, false};
}

void order_watch::pool_detached() {
    std::lock_guard lock(tables_);
    seen_edges_.clear();
}

void order_watch::add_to(diagnostics::snapshot& s) const {
    std::lock_guard lock(tables_);
    for (const auto& [key, e] : edges_) {
        snapshot::order_edge oe{e.from_name, e.to_name, describe_site(e.site)};
        if (std::ranges::find(s.order_edges, oe) == s.order_edges.end()) s.order_edges.push_back(std::move(oe));
    }
}

/// Edges of a path from `a` to `b` in the pool-order graph (tables lock held), or empty.
std::vector<edge_record> order_watch::path(std::uint64_t a, std::uint64_t b) {
    std::unordered_map<std::uint64_t, std::uint64_t> parent{{a, a}};
    std::deque<std::uint64_t> queue{a};
    while (!queue.empty()) {
        const std::uint64_t x = queue.front();
        queue.pop_front();
        if (x == b) break;
        const auto it = adjacency_.find(x);
        if (it == adjacency_.end()) continue;
        for (std::uint64_t y : it->second)
            if (parent.try_emplace(y, x).second) queue.push_back(y);
    }
    if (!parent.contains(b) || a == b) return {};
    std::vector<edge_record> edges;
    for (std::uint64_t x = b; x != a; x = parent[x]) edges.push_back(edges_[mix(parent[x], x)]);
    std::ranges::reverse(edges);
    return edges;
}

}  // namespace lifeguard::diagnostics::detail
