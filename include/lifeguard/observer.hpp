// Hook points through which diagnostics (the deadlock detector, metrics, logging) watch a pool.
//
// A pool calls its observer on the thread where the event happens, never while holding its own
// lock, so an observer may call back into the pool through `pool_view`. With no observer
// attached the pool pays one predictable branch per event.
//
// Observers are not templates: `pool_view` is the type-erased face every
// `basic_pool<Driver, Clock>` shows them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "lifeguard/close_reason.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/options.hpp"
#include "lifeguard/owner.hpp"
#include "lifeguard/stats.hpp"

namespace lifeguard {

/// Why an acquire failed, as an observer that knows tells the pool
/// (pool_observer::explain_acquire_failure).
struct failure_explanation {
    verdict what = verdict::exhausted;
    std::string detail;  ///< appended to pool_diagnostics::detail, on a line of its own
};

/// A lease as observers see it. Times are on the pool's clock (time since its epoch).
struct lease_info {
    std::uint64_t lease_id = 0;  ///< unique within its pool for the pool's lifetime
    owner_id owner = 0;
    std::source_location site;
    std::chrono::nanoseconds acquired_at{0};
};

/// A caller about to wait, or leaving the wait queue.
struct wait_info {
    owner_id owner = 0;
    std::string owner_label;  ///< empty for a thread owner (owned: waiters() outlives the wait)
    std::source_location site;
    std::chrono::nanoseconds since{0};  ///< when it started waiting, on the pool's clock
    /// A blocking acquire(): its thread waits, and on_block runs on that thread (so the owners
    /// of the scopes around the call wait too). False for async waiters.
    bool blocks_thread = false;
};

/// What a pool shows its observers. All members are thread-safe.
class pool_view {
public:
    /// Process-unique id of the pool (never reused).
    virtual std::uint64_t id() const noexcept = 0;
    virtual const std::string& name() const noexcept = 0;
    virtual const pool_options& options() const noexcept = 0;
    /// Snapshot; never takes the pool's mutex (see basic_pool::stats()).
    virtual pool_stats stats() const noexcept = 0;
    /// The pool clock's current time since its epoch.
    virtual std::chrono::nanoseconds now() const noexcept = 0;
    /// The leases out right now (owner, site, age).
    virtual std::vector<holder_info> holders() const = 0;
    /// The callers waiting right now, oldest first (a copy taken under the pool's lock).
    virtual std::vector<wait_info> waiters() const = 0;
    /// True when a waiter could be served without any holder releasing: an idle connection,
    /// room to open one, or one being opened.
    virtual bool has_room() const noexcept = 0;
    /// Fails the oldest waiting acquire of `owner` with `ec` (and rethrows `ex` from the
    /// throwing overloads when set). False if that owner is not waiting on this pool.
    virtual bool fail_waiter(owner_id owner, std::error_code ec, std::exception_ptr ex) = 0;
    /// What heal_waiter did.
    enum class heal_outcome {
        lending,      ///< an emergency connection is being opened for it (failed as asked if that fails)
        failed,       ///< none could be lent (max_overflow open, or 0): it was failed as asked
        not_waiting,  ///< that owner is not waiting on this pool
    };
    /// Unties a knot through its member `owner`, waiting on this pool: lends it an emergency
    /// connection beyond max_size when one may be opened, else fails it with `ec` / `ex` as
    /// fail_waiter does. The default cannot lend: it fails.
    virtual heal_outcome heal_waiter(owner_id owner, std::error_code ec, std::exception_ptr ex) {
        return fail_waiter(owner, ec, std::move(ex)) ? heal_outcome::failed : heal_outcome::not_waiting;
    }
    /// A task was seen holding `depth` connections of this pool at once: under on_deadlock heal
    /// the pool's admission claim (max_nesting) rises to it. The default ignores it.
    virtual void raise_claim(std::size_t /*depth*/) noexcept {}
    /// Counts a deadlock found on this pool in its stats.
    virtual void count_deadlock() noexcept = 0;
    /// Counts a nested acquisition (an owner acquiring while holding a lease of this pool).
    virtual void count_nested_acquisition() noexcept = 0;
    /// The driver's description of its target (never a password); may be empty.
    virtual std::string target() const = 0;

protected:
    ~pool_view() = default;
};

/// Hooks must not throw: they run inside acquire and release paths that promise otherwise.
class pool_observer {
public:
    virtual ~pool_observer() = default;

    /// The observer was attached to `pool`. It receives events until on_detach.
    virtual void on_attach(pool_view& /*pool*/) {}
    /// The pool is being destroyed; `pool` must not be used after this returns. Hooks of
    /// calls already in progress may still arrive after on_detach (the pool stays valid until
    /// they return).
    virtual void on_detach(pool_view& /*pool*/) {}

    // For one acquire the order is: on_acquire_start, then on_block ... on_unblock if it
    // waits, then on_acquired or on_acquire_failed.

    /// Every acquire, before it looks for a connection. On the caller's thread.
    virtual void on_acquire_start(pool_view& /*pool*/, owner_id /*owner*/,
                                  const std::source_location& /*site*/) {}
    /// The caller found nothing to borrow and is queued; it blocks after this returns unless
    /// an observer fails it (pool_view::fail_waiter). On the caller's thread.
    virtual void on_block(pool_view& /*pool*/, const wait_info& /*waiter*/) {}
    /// The caller left the queue (served, timed out or failed).
    virtual void on_unblock(pool_view& /*pool*/, const wait_info& /*waiter*/) {}
    /// A lease was handed out. `waited` is zero when the caller did not wait.
    virtual void on_acquired(pool_view& /*pool*/, const lease_info& /*lease*/,
                             std::chrono::nanoseconds /*waited*/) {}
    /// A lease came back (before its connection is reset).
    virtual void on_release(pool_view& /*pool*/, const lease_info& /*lease*/,
                            std::chrono::nanoseconds /*held*/) {}
    /// An acquire failed: before any on_acquire_failed runs, the pool asks every observer,
    /// once, whether it knows why (the deadlock detector does for a task of a knot it found).
    /// The pool sets the verdict from the first explanation and appends its detail
    /// (explain_failure below), so every on_acquire_failed and the caller see one verdict.
    virtual std::optional<failure_explanation> explain_acquire_failure(pool_view& /*pool*/,
                                                                       const pool_diagnostics& /*diagnostics*/) {
        return std::nullopt;
    }
    /// An acquire failed (timeout, closed, rejected, deadlock), explained already. Observers
    /// may add to the detail before the caller sees it.
    virtual void on_acquire_failed(pool_view& /*pool*/, pool_diagnostics& /*diagnostics*/) {}

    /// The worker opened a connection in `took`.
    virtual void on_connection_created(pool_view& /*pool*/, std::chrono::nanoseconds /*took*/) {}
    /// The worker failed to open a connection; `error` is the driver's message.
    virtual void on_connect_failed(pool_view& /*pool*/, std::string_view /*error*/) {}
    /// A connection was closed.
    virtual void on_connection_closed(pool_view& /*pool*/, close_reason /*why*/) {}
    /// A lease has been held past leak_detection_threshold (reported once per lease).
    virtual void on_leak(pool_view& /*pool*/, const holder_info& /*holder*/) {}
    /// Housekeeping saw the pool clock jump (`leap` > 0 forward, < 0 backward).
    virtual void on_clock_leap(pool_view& /*pool*/, std::chrono::nanoseconds /*leap*/) {}
};

/// The pool's side of explain_acquire_failure: asks `observer` (one, or a fan-out that asks
/// each) and sets the verdict and detail of `d` from the explanation, if there is one.
inline void explain_failure(pool_observer& observer, pool_view& pool, pool_diagnostics& d) {
    std::optional<failure_explanation> e = observer.explain_acquire_failure(pool, d);
    if (!e) return;
    d.what = e->what;
    if (!d.detail.empty()) d.detail += '\n';
    d.detail += e->detail;
}

}  // namespace lifeguard
