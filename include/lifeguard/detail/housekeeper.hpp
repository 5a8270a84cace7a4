// What the pool's worker must do, and when: a decision unit over the slot table.
//
// The housekeeper keeps the worker's own bookkeeping (the last housekeeping pass, the connect
// backoff, the lifetime jitter) and answers, for a given `now`: is a housekeeping pass due and
// did the clock leap; which idle connections retire (lifetime, idle timeout above min_idle);
// whose keepalive is due; which lease has become a leak; whether to open a connection; when to
// wake next. It takes no locks, calls no driver and notifies nobody: the engine (pool_core.hpp)
// calls it under the pool's mutex and runs the jobs (closing, validating, connecting, telling
// observers) after unlocking.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "lifeguard/detail/connect_backoff.hpp"
#include "lifeguard/detail/saturating_time.hpp"
#include "lifeguard/detail/slot_table.hpp"
#include "lifeguard/detail/worker_wake.hpp"
#include "lifeguard/options.hpp"

namespace lifeguard::detail {

/// Clock movements smaller than this are scheduling noise, not leaps.
inline constexpr std::int64_t leap_tolerance_ns = 128'000'000;

/// The pool options the worker goes by, in nanoseconds (0 = off).
struct upkeep_settings {
    std::int64_t housekeeping = 0;
    std::int64_t idle_timeout = 0;
    std::int64_t max_lifetime = 0;
    std::int64_t keepalive = 0;
    std::int64_t leak = 0;
    std::size_t min_idle = 0;
    std::size_t max_size = 0;

    static upkeep_settings from(const pool_options& o) noexcept {
        return {to_ns(o.housekeeping_interval), to_ns(o.idle_timeout), to_ns(o.max_lifetime),
                to_ns(o.keepalive_interval), to_ns(o.leak_detection_threshold), o.min_idle, o.max_size};
    }
};

/// What a housekeeping pass found about the clock since the previous pass.
struct clock_leap {
    std::int64_t by = 0;    ///< how far it leapt (negative: backward); 0: no leap
    bool backward = false;  ///< ages and lifetimes measured so far are meaningless: evict all
};

/// A lease held past the leak threshold, reported once.
template <class Slot>
struct leak_found {
    Slot* slot = nullptr;
    std::int64_t age = 0;
};

template <class Connection>
class housekeeper {
public:
    using table_type = slot_table<Connection>;
    using slot_type = typename table_type::slot_type;

    housekeeper(const upkeep_settings& settings, std::uint64_t jitter_seed) noexcept
        : every_(settings), jitter_state_(jitter_seed | 1) {}

    const upkeep_settings& settings() const noexcept { return every_; }

    /// reconfigure(): the options the worker goes by from now on (bookkeeping is kept).
    void apply(const upkeep_settings& settings) noexcept { every_ = settings; }

    /// The pool starts at `now`: the first pass is due one interval later.
    void start(std::int64_t now) noexcept { last_pass_ = now; }

    /// A pass is due every housekeeping interval, and at once when the clock went backward.
    bool pass_due(std::int64_t now) const noexcept {
        return now - last_pass_ >= every_.housekeeping || now < last_pass_ - leap_tolerance_ns;
    }

    /// Runs the pass's own bookkeeping and says whether the clock leapt since the last one
    /// (forward: the gap exceeded one and a half intervals).
    clock_leap run_pass(std::int64_t now) noexcept {
        const std::int64_t elapsed = now - last_pass_;
        last_pass_ = now;
        if (elapsed < -leap_tolerance_ns) return {elapsed, true};
        if (elapsed > every_.housekeeping + every_.housekeeping / 2 + leap_tolerance_ns)
            return {elapsed - every_.housekeeping, false};
        return {};
    }

    /// Takes the idle slots due for retirement from `table` and passes each to
    /// `retire(slot, reason)`: those past their lifetime, then those idle past idle_timeout
    /// while more than min_idle are idle. False when none was due.
    template <class Retire>
    bool take_idle_retirements(table_type& table, std::int64_t now, Retire&& retire) {
        bool any = false;
        table.take_idle_if([&](const slot_type& s) { return now >= s.expires_at; },
                           [&](slot_type& s) {
                               any = true;
                               retire(s, close_reason::lifetime);
                           });
        if (every_.idle_timeout > 0 && every_.min_idle < every_.max_size) {
            std::size_t idle = table.census().idle;
            table.take_idle_if(
                [&](const slot_type& s) {
                    if (idle <= every_.min_idle || now - s.last_used.load(std::memory_order_relaxed) < every_.idle_timeout)
                        return false;
                    --idle;
                    return true;
                },
                [&](slot_type& s) {
                    any = true;
                    retire(s, close_reason::idle);
                });
        }
        return any;
    }

    /// Takes (idle → held_by_pool) one idle slot whose keepalive is due, or returns nullptr.
    slot_type* take_keepalive_due(table_type& table, std::int64_t now) noexcept {
        if (every_.keepalive == 0) return nullptr;
        for (slot_type& s : table)
            if (s.state.load(std::memory_order_relaxed) == slot_idle && now - s.last_active() >= every_.keepalive &&
                table_type::take(s, slot_idle, slot_held_by_pool))
                return &s;
        return nullptr;
    }

    /// The first lease held past the leak threshold that was not reported yet; marks it
    /// reported. Leases nobody holds yet (being handed over) or any more (coming back) are not.
    leak_found<slot_type> find_leak(table_type& table, std::int64_t now) noexcept {
        if (every_.leak == 0) return {};
        for (slot_type& s : table) {
            if (s.state.load(std::memory_order_acquire) != slot_leased) continue;
            const std::uint64_t seq = s.lease_seq.load(std::memory_order_relaxed);
            if (s.leak_reported_seq.load(std::memory_order_relaxed) == seq) continue;
            if (s.owner.load(std::memory_order_acquire) == 0) continue;
            const std::int64_t age = now - s.acquired_at.load(std::memory_order_relaxed);
            if (age < every_.leak) continue;
            s.leak_reported_seq.store(seq, std::memory_order_relaxed);
            return {&s, age};
        }
        return {};
    }

    /// Whether a connection should be opened, and for whom: room is left, and fewer are idle or
    /// being opened than callers wait (waiters), or than min_idle (refill).
    connect_need connection_need(const slot_census& c, std::size_t waiting) const noexcept {
        if (c.open() + c.creating >= every_.max_size) return connect_need::none;
        if (waiting > c.idle + c.creating) return connect_need::waiters;
        if (c.idle + c.creating < every_.min_idle) return connect_need::refill;
        return connect_need::none;
    }
    bool wants_connection(const slot_census& c, std::size_t waiting) const noexcept {
        return connection_need(c, waiting) != connect_need::none;
    }

    /// The backoff lets an attempt for `need` start at `now` (connect_backoff.hpp).
    bool may_connect(std::int64_t now, connect_need need) const noexcept { return backoff_.allows(now, need); }

    /// A connect attempt that ended at `ended` failed.
    void connect_failed(std::int64_t ended) noexcept { backoff_.failed(ended); }
    void connect_succeeded() noexcept { backoff_.succeeded(); }

    /// When a connection opened at `created` reaches its lifetime: max_lifetime less up to 2.5%,
    /// so that connections opened together do not all retire together.
    std::int64_t lifetime_end(std::int64_t created) noexcept {
        if (every_.max_lifetime == 0) return never;
        jitter_state_ ^= jitter_state_ << 13;
        jitter_state_ ^= jitter_state_ >> 7;
        jitter_state_ ^= jitter_state_ << 17;
        const auto window = static_cast<std::uint64_t>(every_.max_lifetime / 40 + 1);
        return add_ns(created, every_.max_lifetime - static_cast<std::int64_t>(jitter_state_ % window));
    }

    /// When the worker must look again (worker_wake.hpp): the next pass, idle lifetimes and
    /// keepalives, unreported leases' thresholds, and the connect retry when one is `needed`.
    std::int64_t next_wake(const table_type& table, std::int64_t now, connect_need needed) const noexcept {
        worker_wake wake(now, last_pass_, {.housekeeping = every_.housekeeping, .keepalive = every_.keepalive, .leak = every_.leak});
        for (const slot_type& s : table) {
            const auto st = s.state.load(std::memory_order_relaxed);
            if (st == slot_idle)
                wake.idle(s.expires_at, s.last_active());
            else if (st == slot_leased && every_.leak > 0 &&
                     s.leak_reported_seq.load(std::memory_order_relaxed) != s.lease_seq.load(std::memory_order_relaxed))
                wake.unreported_lease(s.acquired_at.load(std::memory_order_relaxed));
        }
        if (needed != connect_need::none) {
            if (const std::int64_t retry = backoff_.retry_at(needed); retry > 0) wake.connect_retry(retry);
        }
        return wake.at();
    }

private:
    upkeep_settings every_;
    std::int64_t last_pass_ = 0;
    connect_backoff backoff_;
    std::uint64_t jitter_state_;
};

}  // namespace lifeguard::detail
