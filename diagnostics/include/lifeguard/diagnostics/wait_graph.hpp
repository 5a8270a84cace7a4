// The pure heart of the deadlock detector: the knot search over an abstract wait-for state of
// owners (tasks) and connection pools. No threads, no locks, no pools: tests drive it with
// plain data, the detector with live pool views.
//
// Model (Holt's reusable resources, OR requests). An owner may hold units (leases) of pools
// and may wait on pools, asking for one unit each. A waiter can go on as soon as *any* unit of
// its pool frees up, so:
//   - sinks are owners that wait on nothing (they run and can release what they hold) and
//     pools with room (an idle connection, room to open one, one being opened);
//   - a waiting owner is deadlocked iff no sink is reachable from it along
//       owner -> pool it waits on -> owners holding that pool -> pool they wait on -> ...
// A cycle alone is not enough: pool P of size 2, T1 holds P and waits Q, T3 holds Q and waits P,
// T2 holds P and runs. T1 -> Q -> T3 -> P -> T1 is a cycle, but T2 can release P: no deadlock.
// An owner that waits on several pools at once (two threads acting for one task, or an async
// task awaiting several acquisitions) is freed when any one of them can be served.
//
// Cost. find_knot() is the block-time check: a depth-first search from one owner that stops
// at the first sink, so in a healthy system it looks at one pool and one holder. Its worst
// case is linear in the owners, pools and leases reachable from the start. find_deadlocked()
// is the full reduction (what the watchdog runs): a backward propagation from every sink,
// linear in the whole state. Both allocate; neither is meant for a hot path.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>
#include <ranges>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lifeguard/owner.hpp"

namespace lifeguard::diagnostics {

/// Identifies a pool in a wait-for state (the detector uses pool_view::id()).
using pool_key = std::uint64_t;

/// A materialized wait-for state. Owners that appear only as holders run. A pool that is
/// waited on but not listed is unknown and counted as a sink (it might have room).
struct wait_state {
    struct pool_node {
        pool_key pool = 0;
        bool room = false;               ///< can serve a waiter without anyone releasing
        std::vector<owner_id> holders;   ///< one entry per lease out (an owner may repeat)
    };
    struct wait_edge {
        owner_id owner = 0;
        pool_key pool = 0;
    };
    std::vector<pool_node> pools;
    std::vector<wait_edge> waits;  ///< an owner may wait on several pools
};

/// A set of waiting owners none of which can ever go on, and the pools they wait on. Sorted.
struct knot {
    std::vector<owner_id> owners;
    std::vector<pool_key> pools;

    friend bool operator==(const knot&, const knot&) = default;
};

/// What the knot search needs to know about a state; the graph may answer lazily.
///   room(p)     true when pool p can serve a waiter now
///   holders(p)  the owners holding leases of p
///   waits(o)    the pools owner o waits on; empty when o runs
template <class G>
concept wait_graph = requires(G& g, owner_id o, pool_key p) {
    { g.room(p) } -> std::convertible_to<bool>;
    { g.holders(p) } -> std::ranges::input_range;
    { g.waits(o) } -> std::ranges::input_range;
};

/// The block-time check. Returns every owner and pool reachable from `start` when none of them
/// is a sink (so all are deadlocked), or nullopt as soon as a sink is found, or when `start`
/// does not wait. Holders of a pool are all looked at before going deeper, so a running holder
/// ends the search at once.
template <wait_graph G>
std::optional<knot> find_knot(G& graph, owner_id start) {
    if (std::ranges::empty(graph.waits(start))) return std::nullopt;
    std::unordered_set<owner_id> owners{start};
    std::unordered_set<pool_key> pools;
    std::vector<pool_key> stack;
    for (pool_key p : graph.waits(start))
        if (pools.insert(p).second) stack.push_back(p);
    while (!stack.empty()) {
        const pool_key p = stack.back();
        stack.pop_back();
        if (graph.room(p)) return std::nullopt;
        const auto& holders = graph.holders(p);
        for (owner_id h : holders)
            if (!owners.contains(h) && std::ranges::empty(graph.waits(h))) return std::nullopt;
        for (owner_id h : holders) {
            if (!owners.insert(h).second) continue;
            for (pool_key q : graph.waits(h))
                if (pools.insert(q).second) stack.push_back(q);
        }
    }
    knot k{{owners.begin(), owners.end()}, {pools.begin(), pools.end()}};
    std::ranges::sort(k.owners);
    std::ranges::sort(k.pools);
    return k;
}

/// A wait_state indexed for find_knot. Holds a reference: the state must outlive it.
class wait_state_graph {
public:
    explicit wait_state_graph(const wait_state& state);

    bool room(pool_key p) const;
    const std::vector<owner_id>& holders(pool_key p) const;
    const std::vector<pool_key>& waits(owner_id o) const;
    /// The pools `o` holds leases of (each once).
    const std::vector<pool_key>& held(owner_id o) const;
    bool known(pool_key p) const { return pools_.contains(p); }

private:
    std::unordered_map<pool_key, const wait_state::pool_node*> pools_;
    std::unordered_map<owner_id, std::vector<pool_key>> waits_;
    std::unordered_map<owner_id, std::vector<pool_key>> held_;
    static const std::vector<owner_id> no_owners_;
    static const std::vector<pool_key> no_pools_;
};

/// The full reduction (the watchdog's check): every deadlocked owner and every pool they wait
/// on, over the whole state. Equivalent to running find_knot from every waiting owner.
knot find_deadlocked(const wait_state& state);

/// Splits deadlocked owners and pools into independent knots (connected through waits and
/// holds), each sorted, ordered by their smallest owner.
std::vector<knot> split_knots(const wait_state& state, const knot& deadlocked);

/// Who is who inside a knot: `members` hold a lease of one of the knot's pools (failing one of
/// them can break the knot); `behind` only wait (failing them changes nothing).
struct knot_roles {
    std::vector<owner_id> members;
    std::vector<owner_id> behind;
};

template <wait_graph G>
knot_roles roles_of(G& graph, const knot& k) {
    std::unordered_set<owner_id> holding;
    for (pool_key p : k.pools)
        for (owner_id h : graph.holders(p)) holding.insert(h);
    knot_roles r;
    for (owner_id o : k.owners) (holding.contains(o) ? r.members : r.behind).push_back(o);
    return r;
}

}  // namespace lifeguard::diagnostics
