// When the pool's worker must look again: a pure decision, no locks, no clocks, no slots.
//
// The worker sleeps until the earliest time something becomes due: a housekeeping pass, an
// idle connection's lifetime or keepalive, a lease's leak threshold, a connect retry. The
// engine feeds it what it sees (pool_core::next_due_locked) and sleeps until `at()`.
//
// What it cannot see is what happens while it sleeps: borrowing and returning never take the
// pool's lock or wake the worker (that is what keeps them at a few nanoseconds). So a lease
// taken a moment after the worker went to sleep would only be looked at on the next
// housekeeping pass: with a 2 s leak threshold a leak was reported after ~10 s, and with a 30 s
// pass, 30 s late. The horizon closes that gap without touching the hot path: nothing that
// begins after `now` can become due before `now + interval`, so the worker never sleeps past
// `now + leak threshold` (nor `now + keepalive interval`). When it wakes it sees the new lease
// and schedules its exact threshold; a leak is reported on time, at the cost of one wake-up per
// threshold while leak detection is on.
#pragma once

#include "lifeguard/detail/saturating_time.hpp"

#include <algorithm>
#include <cstdint>

namespace lifeguard::detail {

/// The options that decide the worker's wake-ups, in nanoseconds; 0 = off (forever saturates
/// to ns_max, which is never).
struct wake_intervals {
    std::int64_t housekeeping = 0;
    std::int64_t keepalive = 0;  ///< 0: keepalive off
    std::int64_t leak = 0;       ///< 0: leak detection off
};

class worker_wake {
public:
    /// Starts from the next housekeeping pass and the horizon for what begins after `now`.
    constexpr worker_wake(std::int64_t now, std::int64_t last_housekeeping, const wake_intervals& every) noexcept
        : every_(every), at_(add_ns(last_housekeeping, every.housekeeping)) {
        if (every.leak > 0) at_ = std::min(at_, add_ns(now, every.leak));
        if (every.keepalive > 0) at_ = std::min(at_, add_ns(now, every.keepalive));
    }

    /// An idle connection: its lifetime ends at `expires_at`; it was last used or checked at
    /// `last_active`.
    constexpr void idle(std::int64_t expires_at, std::int64_t last_active) noexcept {
        at_ = std::min(at_, expires_at);
        if (every_.keepalive > 0) at_ = std::min(at_, add_ns(last_active, every_.keepalive));
    }

    /// A lease taken at `acquired_at` whose leak has not been reported yet.
    constexpr void unreported_lease(std::int64_t acquired_at) noexcept {
        if (every_.leak > 0) at_ = std::min(at_, add_ns(acquired_at, every_.leak));
    }

    /// A connection is wanted and the next attempt may start at `retry_at`.
    constexpr void connect_retry(std::int64_t retry_at) noexcept { at_ = std::min(at_, retry_at); }

    constexpr std::int64_t at() const noexcept { return at_; }

private:
    wake_intervals every_;
    std::int64_t at_;
};

}  // namespace lifeguard::detail
