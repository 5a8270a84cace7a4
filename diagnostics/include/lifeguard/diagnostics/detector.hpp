// lifeguard's deadlock detector: a pool observer that names a connection-pool deadlock the
// moment it forms, instead of letting every caller wait out acquire_timeout.
//
//     auto detector = std::make_shared<lifeguard::diagnostics::deadlock_detector>();
//     app_pool.add_observer(detector);      // one detector may watch several pools
//     audit_pool.add_observer(detector);
//
// What it detects (see report.hpp for the reports and wait_graph.hpp for the model):
//   - live deadlocks (knots), when a caller is about to block on an exhausted pool and when a
//     lease is handed to a task that still waits elsewhere; a watchdog thread runs the full
//     reduction periodically to catch what those checks could not see;
//   - nested acquisition from one pool (once per pair of call sites), with the observed Cm and
//     Tn and the safe size Tn x (Cm - 1) + 1, even when nothing blocks;
//   - pool-order inversions (A then B somewhere, B then A elsewhere), before anything blocks;
//   - outages: callers queue on a pool that cannot open connections (not a deadlock).
// What each pool does about a deadlock is its pool_options::on_deadlock: ignore, report (log,
// count, callback), fail_fast (throw deadlock_error into a knot member that holds a lease, so
// that its unwinding unties the knot) or abort. Timeouts explained by a knot get the verdict
// `deadlocked` and the report as their detail: the detector answers the pool's
// explain_acquire_failure, so observers called before it see that verdict too.
//
// Owners are tasks (see lifeguard/owner.hpp): what a task holds is keyed by its owner id, so a
// lease may be released on another thread and two owners may take turns on one thread. A task
// counts as blocked while any of its acquisitions waits (two threads acting for one task, or an
// async task awaiting several acquisitions, block together).
//
// Cost (bench/detector): an acquire+return by a task holding nothing takes no lock, allocates
// nothing and does no read-modify-write: a look at one cache line of a lock-free table keyed by
// owner, and a few plain stores into the slot the thread keeps parked for its task (one CAS the
// first time a task borrows on a thread). Holding a lease of the same pool adds a scan of the
// task's entries, the pool's nested-acquisition counter, and a compare with the nesting pair the
// thread saw last (a new pair costs one lock-free probe; counts are added in batches). Holding a
// lease of another pool adds a lock-free probe per pool pair. Graph work happens only for
// first-seen pairs and edges and when a caller blocks. A knot the blocking check finds is
// confirmed from the pools' own holders and waiters, read twice, before anybody is reported or
// failed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "lifeguard/diagnostics/report.hpp"
#include "lifeguard/diagnostics/snapshot.hpp"
#include "lifeguard/observer.hpp"

namespace spdlog {
class logger;
}

namespace lifeguard::diagnostics {

using namespace std::chrono_literals;

struct detector_options {
    /// Where reports go: deadlocks, order inversions and outages at error (critical before an
    /// abort), nested acquisitions at warn when the pool is too small for them, else info.
    /// Default: a logger named "lifeguard.detector" writing to stderr, made for this detector
    /// and never registered with spdlog.
    std::shared_ptr<spdlog::logger> logger;

    /// Called with every report after deduplication (not rate-limited), on the thread that
    /// found it (a caller of a pool, a pool's worker, or the watchdog), outside the detector's
    /// locks. It may use the pools, but must not throw and must not destroy them. Default: none.
    std::function<void(const report&)> on_report;

    /// How often the watchdog thread runs the full check. Default 1 s; 0 = no thread
    /// (check_now() still works).
    std::chrono::milliseconds watchdog_interval = 1s;

    /// Most reports logged per minute; the rest are counted and mentioned by the next one
    /// logged. Callbacks, counters and recent_reports() see all of them. Default 60; 0 = no limit.
    std::size_t max_logged_per_minute = 60;

    /// Leases and waits tracked at once (all tasks, all pools). Beyond it nesting and order
    /// checks see less (counted in stats().dropped); knots are still found. Default 8192.
    std::size_t capacity = 8192;

    /// Reports kept for recent_reports(). Default 64.
    std::size_t history = 64;
};

/// Counters of the detector itself.
struct detector_stats {
    std::uint64_t deadlocks = 0;         ///< knots reported (each once while it lasts)
    std::uint64_t nested_pairs = 0;      ///< distinct (pool, outer site, inner site) pairs seen
    std::uint64_t order_inversions = 0;  ///< pool-order cycles reported
    std::uint64_t outages = 0;           ///< outage reports
    std::uint64_t failed_tasks = 0;      ///< tasks failed with deadlock_error (fail_fast; heal when none could be lent)
    std::uint64_t healed_tasks = 0;      ///< knot members lent an emergency connection (heal)
    std::uint64_t confirmations = 0;     ///< fast checks that found no sink and went to the pools
    std::uint64_t unconfirmed = 0;       ///< ... of which the pools' own state disproved
    std::uint64_t suppressed = 0;        ///< reports not logged because of the rate limit
    std::uint64_t dropped = 0;           ///< leases or waits not tracked for lack of room
};

class deadlock_detector final : public pool_observer {
public:
    /// Starts the watchdog thread unless options.watchdog_interval is 0.
    explicit deadlock_detector(detector_options options = {});
    /// Stops and joins the watchdog. Pools hold the detector by shared_ptr, so it outlives them.
    ~deadlock_detector() override;

    deadlock_detector(const deadlock_detector&) = delete;
    deadlock_detector& operator=(const deadlock_detector&) = delete;

    /// Runs the watchdog's full check now, on the calling thread: knots in all attached pools,
    /// outages, and fresh Tn samples. Thread-safe.
    void check_now();

    /// The most recent reports, oldest first (at most options.history). Thread-safe.
    std::vector<std::shared_ptr<const report>> recent_reports() const;

    /// Thread-safe, cheap.
    detector_stats stats() const noexcept;

    /// Observed Tn, Cm, nested pairs and order edges of every pool this detector has watched
    /// (detached ones included). Thread-safe.
    diagnostics::snapshot snapshot() const;

    // pool_observer: called by the pools.
    void on_attach(pool_view& pool) override;
    void on_detach(pool_view& pool) override;
    void on_acquire_start(pool_view& pool, owner_id owner, const std::source_location& site) override;
    void on_block(pool_view& pool, const wait_info& waiter) override;
    void on_unblock(pool_view& pool, const wait_info& waiter) override;
    void on_acquired(pool_view& pool, const lease_info& lease, std::chrono::nanoseconds waited) override;
    void on_release(pool_view& pool, const lease_info& lease, std::chrono::nanoseconds held) override;
    std::optional<failure_explanation> explain_acquire_failure(pool_view& pool,
                                                               const pool_diagnostics& diagnostics) override;
    void on_connection_created(pool_view& pool, std::chrono::nanoseconds took) override;
    void on_connect_failed(pool_view& pool, std::string_view error) override;

private:
    class impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace lifeguard::diagnostics
