// The full reduction and the helpers of wait_graph.hpp.
#include "lifeguard/diagnostics/wait_graph.hpp"

#include <deque>

namespace lifeguard::diagnostics {

const std::vector<owner_id> wait_state_graph::no_owners_;
const std::vector<pool_key> wait_state_graph::no_pools_;

wait_state_graph::wait_state_graph(const wait_state& state) {
    for (const auto& p : state.pools) {
        pools_.emplace(p.pool, &p);
        for (owner_id h : p.holders) {
            auto& held = held_[h];
            if (std::ranges::find(held, p.pool) == held.end()) held.push_back(p.pool);
        }
    }
    for (const auto& w : state.waits) {
        auto& waits = waits_[w.owner];
        if (std::ranges::find(waits, w.pool) == waits.end()) waits.push_back(w.pool);
    }
}

bool wait_state_graph::room(pool_key p) const {
    const auto it = pools_.find(p);
    return it == pools_.end() || it->second->room;  // unknown pools might have room
}

const std::vector<owner_id>& wait_state_graph::holders(pool_key p) const {
    const auto it = pools_.find(p);
    return it == pools_.end() ? no_owners_ : it->second->holders;
}

const std::vector<pool_key>& wait_state_graph::waits(owner_id o) const {
    const auto it = waits_.find(o);
    return it == waits_.end() ? no_pools_ : it->second;
}

const std::vector<pool_key>& wait_state_graph::held(owner_id o) const {
    const auto it = held_.find(o);
    return it == held_.end() ? no_pools_ : it->second;
}

knot find_deadlocked(const wait_state& state) {
    // Backward propagation from the sinks: a pool is freeable when it has room or one of its
    // holders can go on; an owner can go on when it runs or one of its pools is freeable.
    // Whatever waits and is never reached is deadlocked.
    const wait_state_graph graph(state);
    std::unordered_map<pool_key, std::vector<owner_id>> waiters;
    std::unordered_set<owner_id> owners;
    for (const auto& w : state.waits) {
        waiters[w.pool].push_back(w.owner);
        owners.insert(w.owner);
    }
    for (const auto& p : state.pools)
        for (owner_id h : p.holders) owners.insert(h);

    std::unordered_set<pool_key> freeable;
    std::unordered_set<owner_id> free_owners;
    std::deque<pool_key> pool_work;
    std::deque<owner_id> owner_work;
    for (const auto& w : state.waits)
        if (graph.room(w.pool) && freeable.insert(w.pool).second) pool_work.push_back(w.pool);
    for (owner_id o : owners)
        if (graph.waits(o).empty() && free_owners.insert(o).second) owner_work.push_back(o);

    while (!pool_work.empty() || !owner_work.empty()) {
        if (!owner_work.empty()) {
            const owner_id o = owner_work.front();
            owner_work.pop_front();
            for (pool_key p : graph.held(o))
                if (freeable.insert(p).second) pool_work.push_back(p);
            continue;
        }
        const pool_key p = pool_work.front();
        pool_work.pop_front();
        if (const auto it = waiters.find(p); it != waiters.end())
            for (owner_id o : it->second)
                if (free_owners.insert(o).second) owner_work.push_back(o);
    }

    knot out;
    for (owner_id o : owners)
        if (!free_owners.contains(o)) out.owners.push_back(o);
    std::unordered_set<pool_key> pools;
    for (owner_id o : out.owners)
        for (pool_key p : graph.waits(o)) pools.insert(p);
    out.pools.assign(pools.begin(), pools.end());
    std::ranges::sort(out.owners);
    std::ranges::sort(out.pools);
    return out;
}

std::vector<knot> split_knots(const wait_state& state, const knot& deadlocked) {
    // Union-find over the deadlocked owners and pools, joined by waits and holds.
    const wait_state_graph graph(state);
    std::unordered_map<std::uint64_t, std::size_t> index;  // owners then pools, disjoint by tag
    std::vector<std::size_t> parent;
    auto node = [&](bool is_pool, std::uint64_t id) {
        const std::uint64_t key = id * 2 + (is_pool ? 1 : 0);
        auto [it, fresh] = index.emplace(key, parent.size());
        if (fresh) parent.push_back(parent.size());
        return it->second;
    };
    auto find = [&](std::size_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    auto unite = [&](std::size_t a, std::size_t b) { parent[find(a)] = find(b); };

    const std::unordered_set<pool_key> dead_pools(deadlocked.pools.begin(), deadlocked.pools.end());
    for (owner_id o : deadlocked.owners) {
        const std::size_t n = node(false, o);
        for (pool_key p : graph.waits(o)) unite(n, node(true, p));
        for (pool_key p : graph.held(o))
            if (dead_pools.contains(p)) unite(n, node(true, p));
    }
    std::unordered_map<std::size_t, knot> groups;
    for (owner_id o : deadlocked.owners) groups[find(node(false, o))].owners.push_back(o);
    for (pool_key p : deadlocked.pools) groups[find(node(true, p))].pools.push_back(p);
    std::vector<knot> out;
    for (auto& [root, k] : groups) {
        if (k.owners.empty()) continue;
        std::ranges::sort(k.owners);
        std::ranges::sort(k.pools);
        out.push_back(std::move(k));
    }
    std::ranges::sort(out, {}, [](const knot& k) { return k.owners.front(); });
    return out;
}

}  // namespace lifeguard::diagnostics
