// lifeguard::basic_pool — a HikariCP-style connection pool for any `driver`, that watches
// itself. See pool_core.hpp for the cost model and the hand-off policy.
//
//     lifeguard::pool<my_driver> pool{my_driver{...}, {.name = "orders", .max_size = 20}};
//     auto lease = pool.acquire();          // waits up to acquire_timeout, else pool_error
//     lease->query("...");                  // the connection
//                                           // returned when `lease` goes out of scope
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <system_error>

#include "lifeguard/detail/pool_core.hpp"
#include "lifeguard/driver.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/health.hpp"
#include "lifeguard/lease.hpp"
#include "lifeguard/observer.hpp"
#include "lifeguard/options.hpp"
#include "lifeguard/owner.hpp"
#include "lifeguard/startup.hpp"
#include "lifeguard/stats.hpp"

namespace lifeguard {

template <driver Driver, class Clock = std::chrono::steady_clock>
    requires detail::pool_clock<Clock>
class basic_pool {
public:
    using driver_type = Driver;
    using clock_type = Clock;
    using connection_type = typename Driver::connection_type;
    using core_type = detail::pool_core<Driver, Clock>;
    using lease_type = basic_lease<basic_pool>;

    /// Makes a pool and starts its worker, which opens min_idle connections in the background.
    /// Throws options_error when an option is out of range. With initialization_fail_timeout
    /// >= 0, first opens one connection on this thread and throws startup_error (a pool_error
    /// carrying the driver's last error) if none opened in time.
    explicit basic_pool(Driver driver, pool_options options = {}, Clock clock = Clock{},
                        worker_mode mode = worker_mode::thread)
        : core_(new core_type(std::move(driver), std::move(options), std::move(clock), mode)) {}

    basic_pool(const basic_pool&) = delete;
    basic_pool& operator=(const basic_pool&) = delete;

    /// Closes the pool (waiters fail with errc::pool_closed) and stops its worker. Safe with
    /// leases outstanding: their connections are closed as they come back.
    ~basic_pool() {
        if (core_->shut_down()) delete core_;
    }

    /// Borrows a connection for the current owner (see owner.hpp), waiting up to
    /// acquire_timeout. Thread-safe. Throws pool_error (or a type derived from it, such as a
    /// detector's deadlock_error) whose diagnostics() explain the failure.
    lease_type acquire(std::source_location site = std::source_location::current()) {
        const owner_id owner = current_owner();
        std::int64_t started = 0;
        if (auto* s = core_->acquire_idle(owner, site, started)) [[likely]]
            return lease_type(core_, s);
        return acquire_queued(owner, site, started);
    }

    /// As acquire(), but reports failure through `ec` and returns an empty lease; the
    /// diagnostics are then in last_failure(). Never throws pool_error.
    lease_type acquire(std::error_code& ec, std::source_location site = std::source_location::current()) {
        auto* s = core_->acquire(current_owner(), current_owner_label(), site, ec, nullptr, nullptr);
        return s ? lease_type(core_, s) : lease_type();
    }

    /// As acquire(), but waits at most `timeout` instead of options().acquire_timeout (HikariCP
    /// has only the pool-wide one; pgxpool and bb8 take it per call). Zero or negative: no wait,
    /// an idle connection or errc::timeout at once. Saturates: duration::max() waits until a
    /// connection comes or the pool closes.
    template <class Rep, class Period>
    lease_type acquire_for(std::chrono::duration<Rep, Period> timeout,
                           std::source_location site = std::source_location::current()) {
        return acquire_by(deadline_after_ns(timeout), site);
    }

    /// As acquire_for(), reporting failure through `ec` (diagnostics in last_failure()).
    template <class Rep, class Period>
    lease_type acquire_for(std::chrono::duration<Rep, Period> timeout, std::error_code& ec,
                           std::source_location site = std::source_location::current()) {
        return acquire_by(deadline_after_ns(timeout), ec, site);
    }

    /// As acquire(), but gives up at `deadline` on the pool's clock (a deadline in the past: no
    /// wait). For a request budget shared by several acquisitions.
    lease_type acquire_until(typename Clock::time_point deadline,
                             std::source_location site = std::source_location::current()) {
        return acquire_by(detail::to_ns(deadline.time_since_epoch()), site);
    }

    /// As acquire_until(), reporting failure through `ec` (diagnostics in last_failure()).
    lease_type acquire_until(typename Clock::time_point deadline, std::error_code& ec,
                             std::source_location site = std::source_location::current()) {
        return acquire_by(detail::to_ns(deadline.time_since_epoch()), ec, site);
    }

    /// Borrows an idle connection if one is ready; never waits.
    std::optional<lease_type> try_acquire(std::source_location site = std::source_location::current()) {
        if (auto* s = core_->try_acquire(current_owner(), site)) return lease_type(core_, s);
        return std::nullopt;
    }

    /// Fails all waiters with errc::pool_closed and closes idle connections; leased ones are
    /// closed as they come back. Idempotent.
    void close() { core_->close(); }

    /// Retires every connection (e.g. after a failover): idle ones now, leased ones when they
    /// come back. Leases in use are not interrupted; the worker refills to min_idle.
    void soft_evict() { core_->soft_evict(); }

    /// Lends no connection until resume() (HikariCP's suspendPool): acquisitions, blocking and
    /// asynchronous, wait and time out as usual; leases out are not interrupted. With
    /// soft_evict() it is the failover recipe: suspend(), soft_evict(), repoint the driver's
    /// target (e.g. DNS), resume(). Idempotent; no effect on a closed pool.
    void suspend() { core_->suspend(); }

    /// Ends suspend(): waiters are served in the order they came. Idempotent.
    void resume() { core_->resume(); }

    /// Changes options on the live pool (HikariConfigMXBean's set): the fields of `change`
    /// that are set; the others keep their value. Checked like the constructor's options:
    /// throws options_error naming field, value and rule, and changes nothing. Thread-safe.
    void reconfigure(const pool_settings& change) { core_->reconfigure(change); }

    /// A readiness snapshot (health.hpp): connectivity, saturation over the last `window`, and
    /// a verdict (healthy, degraded, down). Thread-safe; never waits for the pool's lock.
    pool_health health(std::chrono::nanoseconds window = std::chrono::seconds(60)) const {
        return core_->health(window);
    }

    /// Attaches an observer (detector, metrics, logging). Thread-safe, any time.
    void add_observer(std::shared_ptr<pool_observer> observer) { core_->add_observer(std::move(observer)); }

    /// Snapshot of gauges, counters and timings. Never takes the pool's mutex; summing the
    /// nested-acquisition count's per-thread cells takes a brief process-wide lock.
    pool_stats stats() const noexcept { return core_->stats(); }

    /// The diagnostics of the most recent failed acquire, or null.
    std::shared_ptr<const pool_diagnostics> last_failure() const { return core_->last_failure(); }

    /// worker_mode::manual only: performs all background work due now on this thread.
    void run_worker_once() { core_->run_worker_once(); }

    const std::string& name() const noexcept { return core_->name(); }
    /// The options in force now, a copy: reconfigure() may change them at any time.
    pool_options options() const { return core_->options(); }
    Driver& driver() noexcept { return core_->driver(); }
    /// The type-erased face observers see; also handy for tests and tools.
    pool_view& view() noexcept { return *core_; }
    const pool_view& view() const noexcept { return *core_; }

    /// The engine, for front-ends such as lifeguard/asio.hpp (detail: no stability promise).
    core_type& core() noexcept { return *core_; }
    /// Wraps a slot the engine leased (try_acquire, complete_async) in a lease. Static: an
    /// asynchronous completion may run after this handle was destroyed (the engine lives on).
    static lease_type make_lease(core_type& core, typename core_type::slot_type* slot) noexcept {
        return lease_type(&core, slot);
    }

private:
    template <class Rep, class Period>
    std::int64_t deadline_after_ns(std::chrono::duration<Rep, Period> timeout) const noexcept {
        return detail::add_ns(core_->clock_now_ns(), detail::to_ns(timeout));
    }

    lease_type acquire_by(std::int64_t deadline, const std::source_location& site) {
        const owner_id owner = current_owner();
        std::int64_t started = 0;
        if (auto* s = core_->acquire_idle(owner, site, started)) return lease_type(core_, s);
        return acquire_queued(owner, site, started, deadline);
    }

    lease_type acquire_by(std::int64_t deadline, std::error_code& ec, const std::source_location& site) {
        auto* s = core_->acquire(current_owner(), current_owner_label(), site, ec, nullptr, nullptr, deadline);
        return s ? lease_type(core_, s) : lease_type();
    }

    /// acquire() when no connection could be lent at once: out of line, so that the fast path
    /// builds no error code, diagnostics or exception.
    [[gnu::noinline]] lease_type acquire_queued(owner_id owner, const std::source_location& site,
                                                std::int64_t started,
                                                std::optional<std::int64_t> deadline = std::nullopt) {
        std::error_code ec;
        std::shared_ptr<const pool_diagnostics> diagnostics;
        std::exception_ptr exception;
        auto* s = core_->acquire_queued(owner, current_owner_label(), site, started, ec, &diagnostics, &exception,
                                        deadline);
        if (!s) {
            if (exception) std::rethrow_exception(exception);
            throw pool_error(std::move(diagnostics));
        }
        return lease_type(core_, s);
    }

    core_type* core_;
};

template <driver Driver>
using pool = basic_pool<Driver>;

}  // namespace lifeguard
