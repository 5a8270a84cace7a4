// A pool observer that logs pool events through spdlog.
//
// It writes to the logger you give it; without one it makes its own logger named "lifeguard"
// (on stderr, level info) and never registers it. It never touches spdlog's global state: no
// registry, no default logger, no global level or pattern.
//
//     auto log = lifeguard::make_logging_observer({.logger = my_logger});
//     pool.add_observer(log);        // one observer may watch several pools
//
// Levels:
//   trace   every acquire, release and leave of the wait queue
//   debug   a caller starts waiting; an acquire served after a wait; connections opened/closed
//   info    pool start (its configuration and target, never a password) and stop (totals);
//           a pool that reconnects after failures
//   warn    acquire timeouts with the pool snapshot (holders, counters, verdict), rejections by
//           max_pending, deadlock failures (one line: the detector logs the report itself at
//           error), leaks, slow connection opening, clock leaps
//   error   failures to open a connection
// Timeouts, rejections, deadlock failures and connect failures are rate-limited per pool: the
// first is logged in full, the following ones within `summary_interval` are counted, and the
// next one after the interval logs "N more ... in the last X s" with the latest message. Pending
// counts are flushed when the pool reconnects or stops.
//
// Cost: per-acquire hooks do one relaxed load (should_log) unless trace/debug is enabled.
// Attach a deadlock detector before this observer so that failures show its refined verdict.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <memory>

#include "lifeguard/observer.hpp"

namespace lifeguard {

using namespace std::chrono_literals;

struct logging_options {
    /// Where to log. Default: a new, unregistered logger named "lifeguard" writing to stderr at
    /// level info.
    std::shared_ptr<spdlog::logger> logger;

    /// Opening a connection that takes longer than this is logged at warn. Default 1 s; 0 = off.
    std::chrono::milliseconds slow_connect_threshold = 1s;

    /// Rate limit of repeated failures per pool and kind (see the file comment). Default 30 s;
    /// 0 = log every one.
    std::chrono::milliseconds summary_interval = 30s;
};

/// Logs pool events; see the file comment for levels.
/// Thread-safety: hooks may run concurrently from any pools' threads.
/// Object lifetimes: pools keep the observer alive; the logger is kept alive by the observer.
class logging_observer final : public pool_observer {
public:
    explicit logging_observer(logging_options options = {});
    ~logging_observer() override;

    logging_observer(const logging_observer&) = delete;
    logging_observer& operator=(const logging_observer&) = delete;

    const std::shared_ptr<spdlog::logger>& logger() const noexcept { return logger_; }

    void on_attach(pool_view& pool) override;
    void on_detach(pool_view& pool) override;
    void on_block(pool_view& pool, const wait_info& waiter) override;
    void on_unblock(pool_view& pool, const wait_info& waiter) override;
    void on_acquired(pool_view& pool, const lease_info& lease, std::chrono::nanoseconds waited) override;
    void on_release(pool_view& pool, const lease_info& lease, std::chrono::nanoseconds held) override;
    void on_acquire_failed(pool_view& pool, pool_diagnostics& diagnostics) override;
    void on_connection_created(pool_view& pool, std::chrono::nanoseconds took) override;
    void on_connect_failed(pool_view& pool, std::string_view error) override;
    void on_connection_closed(pool_view& pool, close_reason why) override;
    void on_leak(pool_view& pool, const holder_info& holder) override;
    void on_clock_leap(pool_view& pool, std::chrono::nanoseconds leap) override;

    struct pool_state;  // detail: rate limiters of one pool

private:
    pool_state& state_of(pool_view& pool);

    std::shared_ptr<spdlog::logger> logger_;
    std::chrono::nanoseconds slow_connect_threshold_;
    std::chrono::nanoseconds summary_interval_;
    struct registry;
    std::unique_ptr<registry> pools_;
};

/// Convenience: `std::make_shared<logging_observer>(std::move(options))`.
std::shared_ptr<logging_observer> make_logging_observer(logging_options options = {});

}  // namespace lifeguard
