// One place for a connection in the pool. A slot's state word is the only synchronisation on
// the borrow/return fast path: whoever moves it out of `idle` (by CAS) owns the connection
// exclusively until it publishes a new state with a release store.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <source_location>

#include "lifeguard/owner.hpp"

namespace lifeguard::detail {

enum slot_state : std::uint32_t {
    slot_empty,     ///< no connection; the worker may claim it to open one
    slot_creating,  ///< the worker is opening a connection here
    slot_idle,      ///< ready to lend
    slot_leased,    ///< lent to a caller (or being handed to a waiter)
    slot_held_by_pool,  ///< the pool itself holds it: being validated, or queued to be closed
};

/// A counter with a single writer at a time (whoever owns the slot), read racily by
/// snapshots: no read-modify-write needed.
struct owned_counter {
    std::atomic<std::uint64_t> value{0};
    void add(std::uint64_t n) noexcept {
        value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void raise_to(std::uint64_t n) noexcept {
        if (n > value.load(std::memory_order_relaxed)) value.store(n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

inline constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

template <class Connection>
struct alignas(64) slot {
    std::atomic<std::uint32_t> state{slot_empty};
    std::uint32_t index = 0;
    std::optional<Connection> connection;

    // Owned by whoever owns the slot (set by the worker when the connection is opened).
    std::int64_t created_at = 0;
    std::int64_t expires_at = never;
    std::uint64_t generation = 0;  ///< the pool's eviction generation when it was opened
    /// Lent by async_acquire: the return leaves the reset to the worker unless the driver says
    /// it needs no round trip (set by the async hand-off, cleared by the return; owned by the
    /// lease's holder).
    bool reset_by_worker = false;

    // Read by housekeeping and diagnostics while others own the slot: relaxed atomics.
    std::atomic<std::int64_t> last_used{0};     ///< when it was last returned
    std::atomic<std::int64_t> last_checked{0};  ///< when it was last validated
    std::atomic<owner_id> owner{0};
    std::atomic<std::source_location> site{std::source_location{}};
    std::atomic<std::int64_t> acquired_at{0};
    std::atomic<std::uint64_t> lease_seq{0};          ///< leases ever made from this slot (= its acquires)
    std::atomic<std::uint64_t> leak_reported_seq{0};  ///< the lease last reported as a leak
    /// When lease_seq reaches this, the head waiter has been passed over often enough: the
    /// return makes the pool fair and owes the head the next connection; written under the
    /// pool's mutex.
    std::atomic<std::uint64_t> owed_at_seq{std::numeric_limits<std::uint64_t>::max()};

    /// When the connection was last returned or validated: what freshness and keepalive go by.
    std::int64_t last_active() const noexcept {
        const std::int64_t used = last_used.load(std::memory_order_relaxed);
        const std::int64_t checked = last_checked.load(std::memory_order_relaxed);
        return used > checked ? used : checked;
    }

    // Statistics, summed over slots by snapshots.
    owned_counter usage_count;
    owned_counter usage_total_ns;
    owned_counter usage_max_ns;
};

}  // namespace lifeguard::detail
