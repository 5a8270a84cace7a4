// The records the detector's parts share: what it knows of each pool, nesting pair and order
// edge, a reading of the pools' own state, and the report on its way out. Plain data and small
// helpers; nothing here locks, logs or calls a pool.
#pragma once

#include <spdlog/common.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "lifeguard/diagnostics/detail/seen_table.hpp"
#include "lifeguard/diagnostics/report.hpp"
#include "lifeguard/diagnostics/wait_graph.hpp"
#include "lifeguard/observer.hpp"
#include "task_tally.hpp"

namespace lifeguard::diagnostics::detail {

using nanoseconds = std::chrono::nanoseconds;

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t x = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

/// Identifies a call site cheaply: where std::source_location is one pointer to a per-site
/// constant (libstdc++, libc++), that pointer; else a hash of its fields.
inline std::uint64_t site_key(const std::source_location& s) noexcept {
    if constexpr (sizeof(std::source_location) == sizeof(std::uint64_t) &&
                  std::is_trivially_copyable_v<std::source_location>) {
        return std::bit_cast<std::uint64_t>(s);
    } else {
        return mix(mix(reinterpret_cast<std::uintptr_t>(s.file_name()), reinterpret_cast<std::uintptr_t>(s.function_name())),
                   (std::uint64_t{s.line()} << 32) | s.column());
    }
}

/// The ledger's key for a pool: its view's address. Unique while the pool is attached (its
/// entries are purged when it detaches) and free to compute, unlike the virtual id().
inline std::uint64_t key_of(const pool_view& pool) noexcept { return reinterpret_cast<std::uintptr_t>(&pool); }

/// How strongly a policy acts: the strongest policy of a knot's pools applies to the knot.
inline int severity(deadlock_policy p) noexcept {
    switch (p) {
    case deadlock_policy::ignore: return 0;
    case deadlock_policy::report: return 1;
    case deadlock_policy::heal: return 2;
    case deadlock_policy::fail_fast: return 3;
    case deadlock_policy::abort: return 4;
    }
    return 1;
}

inline void raise_to(std::atomic<std::uint64_t>& a, std::uint64_t v) noexcept {
    std::uint64_t cur = a.load(std::memory_order_relaxed);
    while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

/// Tn and Cm of one pool, the most ever observed: the one place they are recorded. Lock-free.
class pool_usage {
public:
    /// Records one tally (task_tally.hpp counts it). True when it raised Tn.
    bool observe(const task_tally& t) noexcept {
        raise_to(depth_, t.depth);
        if (t.tasks <= tasks_.load(std::memory_order_relaxed)) return false;
        raise_to(tasks_, t.tasks);
        return true;
    }
    /// Records a nesting depth seen at an acquisition (no Tn sample).
    void observe_depth(std::uint64_t depth) noexcept { raise_to(depth_, depth); }

    std::uint64_t tasks() const noexcept { return tasks_.load(std::memory_order_relaxed); }  ///< Tn
    std::uint64_t depth() const noexcept { return depth_.load(std::memory_order_relaxed); }  ///< Cm

private:
    std::atomic<std::uint64_t> tasks_{0};
    std::atomic<std::uint64_t> depth_{1};
};

/// What the detector knows about one pool it watches (or watched).
struct pool_record {
    std::uint64_t id = 0;
    std::uint64_t key = 0;  // key_of(view) while attached
    std::string name;
    std::uint64_t max_size = 0;
    deadlock_policy policy = deadlock_policy::report;
    std::chrono::milliseconds acquire_timeout{0};
    pool_view* view = nullptr;  // null once detached; guarded by the registry lock
    pool_usage usage;
    std::atomic<bool> failing{false};
    // Guarded by the detector's table lock.
    std::string last_connect_error;
    bool outage_reported = false;
};

/// The pools attached now, by id and by key_of(view). Guarded by the registry lock.
struct pool_registry {
    std::unordered_map<std::uint64_t, pool_record*> by_id;
    std::unordered_map<std::uint64_t, pool_record*> by_key;

    pool_record* with_id(std::uint64_t id) const {
        const auto it = by_id.find(id);
        return it == by_id.end() ? nullptr : it->second;
    }
    pool_record* with_key(std::uint64_t key) const {
        const auto it = by_key.find(key);
        return it == by_key.end() ? nullptr : it->second;
    }
};

/// A nested-acquisition pair (pool, outer site, inner site).
struct pair_record {
    std::uint64_t pool_id = 0;
    const pool_record* pool = nullptr;  // kept by the detector for its whole life
    std::string pool_name;
    std::source_location outer, inner;
    std::size_t seen = seen_table::npos;  // counters live in the seen table when it had room
    std::uint64_t count = 0, depth = 0;   // ... else here
    bool reported_unsafe = false;
};

/// An edge of the pool-order graph.
struct edge_record {
    std::uint64_t from = 0, to = 0;
    std::string from_name, to_name;
    std::source_location held_site, site;
};

/// One pool's state read from the pool itself (as opposed to the ledger's hints).
struct pool_reading {
    pool_record* record = nullptr;
    pool_view* view = nullptr;
    pool_stats stats;
    bool has_room = false;
    nanoseconds now{0};
    struct holder {
        owner_id owner;
        std::source_location site;
        nanoseconds age;
        friend bool operator==(const holder& a, const holder& b) { return a.owner == b.owner && a.site.line() == b.site.line() && a.site.file_name() == b.site.file_name(); }
    };
    struct waiter {
        owner_id owner;
        std::string label;
        std::source_location site;
        nanoseconds since;
        owner_id through = 0;              ///< waits because this owner's call blocked its thread
        std::vector<owner_id> enclosing;   ///< (a queued waiter) owners whose scopes enclose the call
        friend bool operator==(const waiter& a, const waiter& b) {
            return a.owner == b.owner && a.since == b.since && a.through == b.through;
        }
    };
    std::vector<holder> holders;
    std::vector<waiter> waiters;
};

/// Tn and Cm of one pool as a reading shows it (a waiter through a nested scope's call is
/// counted with that call).
inline task_tally tally_of(const pool_reading& p) {
    std::vector<owner_id> holders;
    holders.reserve(p.holders.size());
    for (const auto& h : p.holders) holders.push_back(h.owner);
    std::vector<tally_wait> waits;
    for (const auto& w : p.waiters)
        if (w.through == 0) waits.push_back({w.owner, w.enclosing});
    return tally_tasks(holders, waits);
}

/// Every watched pool read once, and the wait-for state it shows.
struct pools_reading {
    std::vector<pool_reading> pools;
    wait_state state;

    const pool_reading* find(pool_key id) const {
        for (const auto& p : pools)
            if (p.record->id == id) return &p;
        return nullptr;
    }
};

/// A report waiting to be logged and handed to the callback once the locks are released.
struct report_to_emit {
    std::shared_ptr<const report> rep;
    spdlog::level::level_enum level = spdlog::level::err;
    bool abort = false;
};
using reports_to_emit = std::vector<report_to_emit>;

/// What makes an acquisition look further than its own ledger entry: waits in flight (low 32
/// bits) and owners with an explanation waiting for their failure (high 32 bits). One relaxed
/// load on the hot path tells whether either is non-zero.
class after_acquire_triggers {
public:
    bool any() const noexcept { return bits_.load(std::memory_order_relaxed) != 0; }
    void wait_added() noexcept { bits_.fetch_add(1, std::memory_order_relaxed); }
    void wait_removed() noexcept { bits_.fetch_sub(1, std::memory_order_relaxed); }
    /// Owners with an explanation waiting (a hint).
    std::size_t explanations_pending() const noexcept {
        return static_cast<std::size_t>(bits_.load(std::memory_order_relaxed) >> 32);
    }
    /// The number of owners with an explanation went from `before` to `after`.
    void explanations_changed(std::size_t before, std::size_t after) noexcept {
        const std::uint64_t delta = static_cast<std::uint64_t>(after) - before;  // may wrap: fine
        bits_.fetch_add(delta << 32, std::memory_order_relaxed);
    }

private:
    alignas(64) std::atomic<std::uint64_t> bits_{0};
};

}  // namespace lifeguard::diagnostics::detail
