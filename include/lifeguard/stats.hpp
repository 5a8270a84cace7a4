// A point-in-time snapshot of a pool: gauges, counters and timings. Taking one never takes the
// pool's mutex (the nested-acquisition count is summed under a brief process-wide lock).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "lifeguard/close_reason.hpp"

namespace lifeguard {

/// Count, sum and maximum of a duration. Averages are total / count.
struct timing_stats {
    std::uint64_t count = 0;
    std::chrono::nanoseconds total{0};
    std::chrono::nanoseconds max{0};
};

struct pool_stats {
    // Gauges (read from the slots at the moment of the snapshot; mutually consistent only
    // approximately while the pool is busy).
    std::size_t total = 0;     ///< open connections: idle + active + being validated or closed
    std::size_t active = 0;    ///< leased to callers
    std::size_t idle = 0;      ///< ready to lend
    std::size_t pending = 0;   ///< callers waiting for a connection
    std::size_t creating = 0;  ///< connections being opened by the pool's worker
    std::size_t max = 0;       ///< max_size
    std::size_t min = 0;       ///< min_idle
    std::size_t claim = 0;     ///< the claim admission goes by (max_nesting declared or learned); <= 1: none
    std::size_t emergency = 0; ///< emergency connections lent now, beyond max (on_deadlock heal; not in total or active)
    bool suspended = false;    ///< suspend() is in force: nobody is lent a connection until resume()

    // Counters since the pool was made.
    std::uint64_t acquired = 0;         ///< successful acquires
    std::uint64_t timeouts = 0;         ///< acquires that ran out of time
    std::uint64_t rejected = 0;         ///< acquires refused because max_pending waiters were queued
    std::uint64_t created = 0;          ///< connections opened
    std::uint64_t connect_failures = 0; ///< failed attempts to open one
    std::array<std::uint64_t, close_reason_count> closed{};  ///< indexed by close_reason
    std::uint64_t leaks = 0;            ///< leases reported as held past the leak threshold
    std::uint64_t deadlocks = 0;        ///< deadlocks reported by an attached detector
    std::uint64_t nested_acquisitions = 0;  ///< nested acquisitions seen by an attached detector
    std::uint64_t emergency_lent = 0;   ///< emergency connections lent to untie a knot (heal)
    std::uint64_t emergency_failed = 0; ///< knot members failed because none could be lent (heal)
    /// Returns of async leases whose reset the pool's worker ran, because the driver did not say
    /// it needed no round trip (driver.hpp, reset_is_local); the other returns were reset by the
    /// thread that returned them.
    std::uint64_t worker_resets = 0;

    // Timings.
    timing_stats acquire_wait;  ///< only acquires that had to wait are timed; others count as 0
    timing_stats usage;         ///< how long leases were held
    timing_stats creation;      ///< how long opening a connection took

    std::uint64_t closed_for(close_reason r) const noexcept {
        return closed[static_cast<std::size_t>(r)];
    }
};

}  // namespace lifeguard
