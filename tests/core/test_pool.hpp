// Shared helpers for the core tests: a manual-mode pool over the fake driver and manual clock,
// and an observer that lets a test wait until callers are queued (no sleeps).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"
#include "support/manual_clock.hpp"

namespace lifeguard::testing {

using manual_pool = basic_pool<fake_driver, manual_clock>;

/// Records events and lets tests wait for them.
class recording_observer : public pool_observer {
public:
    void on_block(pool_view&, const wait_info& w) override {
        std::lock_guard lock(mutex_);
        blocked_.push_back(w.owner);
        cv_.notify_all();
    }
    void on_leak(pool_view&, const holder_info& h) override {
        std::lock_guard lock(mutex_);
        leaks_.push_back(h);
        cv_.notify_all();
    }
    void on_connection_closed(pool_view&, close_reason r) override {
        std::lock_guard lock(mutex_);
        closed_.push_back(r);
    }
    void on_clock_leap(pool_view&, std::chrono::nanoseconds leap) override {
        std::lock_guard lock(mutex_);
        leaps_.push_back(leap);
    }
    void on_acquire_failed(pool_view&, pool_diagnostics& d) override {
        std::lock_guard lock(mutex_);
        failures_.push_back(d.what);
    }

    /// Waits until `n` callers have blocked in total.
    void wait_blocked(std::size_t n) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return blocked_.size() >= n; });
    }
    /// As wait_blocked(), at most `limit` (a bound against a hang, not a timing assertion).
    /// False when fewer blocked.
    bool wait_blocked_for(std::size_t n, std::chrono::seconds limit) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, limit, [&] { return blocked_.size() >= n; });
    }
    /// Waits until `n` leaks were reported, at most `limit` (a bound against a hang, not a
    /// timing assertion). False when they were not.
    bool wait_leaks(std::size_t n, std::chrono::seconds limit) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, limit, [&] { return leaks_.size() >= n; });
    }
    std::vector<owner_id> blocked() const { std::lock_guard l(mutex_); return blocked_; }
    std::vector<holder_info> leaks() const { std::lock_guard l(mutex_); return leaks_; }
    std::vector<close_reason> closed() const { std::lock_guard l(mutex_); return closed_; }
    std::vector<std::chrono::nanoseconds> leaps() const { std::lock_guard l(mutex_); return leaps_; }
    std::vector<verdict> failures() const { std::lock_guard l(mutex_); return failures_; }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<owner_id> blocked_;
    std::vector<holder_info> leaks_;
    std::vector<close_reason> closed_;
    std::vector<std::chrono::nanoseconds> leaps_;
    std::vector<verdict> failures_;
};

/// Manual-mode pools over `Driver`: nothing happens in the background unless the test runs the
/// worker.
template <class Driver>
struct manual_fixture_for {
    using pool_type = basic_pool<Driver, manual_clock>;

    Driver driver;
    manual_clock clock;
    std::shared_ptr<recording_observer> events = std::make_shared<recording_observer>();

    std::unique_ptr<pool_type> make(pool_options o) {
        auto p = std::make_unique<pool_type>(driver, std::move(o), clock, worker_mode::manual);
        p->add_observer(events);
        return p;
    }
    /// A pool with `n` idle connections ready.
    std::unique_ptr<pool_type> make_filled(pool_options o) {
        auto p = make(std::move(o));
        p->run_worker_once();
        return p;
    }
};

using manual_fixture = manual_fixture_for<fake_driver>;

}  // namespace lifeguard::testing
