// Helpers for the asynchronous acquire tests: an io_context run by threads of its own, a driver
// that records which threads ran its blocking calls (and can hold a validation until the test
// lets it go), and an observer to wait until callers are queued. Nothing here sleeps.
#pragma once

// clang-format off
#include "lifeguard/asio.hpp"  // first: it brings <utility> before Asio (GCC 12)
// clang-format on

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"
#include "support/manual_clock.hpp"

namespace lifeguard::testing {

using namespace std::chrono_literals;
using manual_pool = basic_pool<fake_driver, manual_clock>;

/// An io_context run by `n` threads until destroyed (or until join()).
class io_threads {
public:
    explicit io_threads(int n = 1) : work_(std::in_place, io.get_executor()) {
        for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io.run(); });
    }
    ~io_threads() { join(); }
    io_threads(const io_threads&) = delete;
    io_threads& operator=(const io_threads&) = delete;

    /// Lets run() return once the handlers and operations in flight are done; waits for that.
    void join() {
        work_.reset();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    bool runs_here() const {
        for (const auto& t : threads_)
            if (t.get_id() == std::this_thread::get_id()) return true;
        return false;
    }
    std::vector<std::thread::id> ids() const {
        std::vector<std::thread::id> out;
        for (const auto& t : threads_) out.push_back(t.get_id());
        return out;
    }

    boost::asio::io_context io;

private:
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
};

/// Notes the threads that pass it and can hold them until released (a driver call the test
/// wants to see, or to stop halfway).
class held_gate {
public:
    /// Notes this thread, then waits while the gate holds.
    void pass() {
        std::unique_lock lock(mutex_);
        passed_on_.push_back(std::this_thread::get_id());
        ++held_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !holding_; });
        --held_;
    }
    void hold() {
        std::lock_guard lock(mutex_);
        holding_ = true;
    }
    void release() {
        std::lock_guard lock(mutex_);
        holding_ = false;
        cv_.notify_all();
    }
    /// Waits until `n` threads have passed (or are held at) the gate.
    void wait_passed(std::size_t n) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return passed_on_.size() >= n; });
    }
    /// Waits until a thread is held at the gate.
    void wait_held() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return holding_ && held_ > 0; });
    }
    std::vector<std::thread::id> passed_on() const {
        std::lock_guard lock(mutex_);
        return passed_on_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::thread::id> passed_on_;
    bool holding_ = false;
    int held_ = 0;
};

/// The worker of a worker_mode::manual pool, run on a thread of its own for as long as this
/// lives: a lease from async_acquire is reset by the worker when it comes back, so coroutines
/// that wait for each other's returns need one. It polls (run_worker_once, then yield): a
/// manual pool has no condition for a test thread to wait on. The destructor does one last
/// pass after stopping, so what came back is idle when the test reads the pool.
template <class Pool>
class worker_pump {
public:
    explicit worker_pump(Pool& pool) : pool_(pool), thread_([this] {
        while (!stop_.load()) {
            pool_.run_worker_once();
            std::this_thread::yield();
        }
    }) {}
    ~worker_pump() {
        stop_ = true;
        thread_.join();
        pool_.run_worker_once();
    }
    worker_pump(const worker_pump&) = delete;
    worker_pump& operator=(const worker_pump&) = delete;

private:
    Pool& pool_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// A fake driver that notes the thread of every connect, validation and reset, and can hold
/// validations and resets until released.
class recording_driver {
public:
    using connection_type = fake_connection;

    connection_type connect(std::chrono::steady_clock::time_point deadline) {
        {
            std::lock_guard lock(record_->mutex);
            record_->connected_on.push_back(std::this_thread::get_id());
        }
        return fake.connect(deadline);
    }
    bool is_valid(connection_type& c, std::chrono::milliseconds timeout) {
        record_->validations.pass();
        return fake.is_valid(c, timeout);
    }
    bool reset(connection_type& c) {
        record_->resets.pass();
        return fake.reset(c);
    }
    void close(connection_type& c) noexcept { fake.close(c); }
    std::string describe() const { return fake.describe(); }

    void hold_validations() { record_->validations.hold(); }
    void release_validations() { record_->validations.release(); }
    /// Waits until a validation is being held.
    void wait_for_held_validation() { record_->validations.wait_held(); }
    std::vector<std::thread::id> validated_on() const { return record_->validations.passed_on(); }

    /// The resets, as a gate: which threads ran them; hold them halfway.
    held_gate& resets() { return record_->resets; }

    fake_driver fake;  // copies share its state, and the record

private:
    struct record {
        std::mutex mutex;
        std::vector<std::thread::id> connected_on;
        held_gate validations, resets;
    };
    std::shared_ptr<record> record_ = std::make_shared<record>();
};

/// The recording driver with the optional hook of driver.hpp: a connection with no transaction
/// and no session setting needs no round trip to be reset.
class local_reset_driver : public recording_driver {
public:
    bool reset_is_local(const connection_type& c) const noexcept {
        return !c.in_transaction && c.session_setting == 0;
    }
};

/// Counts callers that queued (on_block) and lets a test wait for them.
class block_counter final : public pool_observer {
public:
    void on_block(pool_view&, const wait_info& w) override {
        std::lock_guard lock(mutex_);
        owners_.push_back(w.owner);
        cv_.notify_all();
    }
    void wait_blocked(std::size_t n) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return owners_.size() >= n; });
    }
    std::vector<owner_id> owners() const {
        std::lock_guard lock(mutex_);
        return owners_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<owner_id> owners_;
};

/// A manual-mode pool over the fake driver and the manual clock, connections opened up front.
struct manual_fixture {
    fake_driver driver;
    manual_clock clock;
    std::shared_ptr<block_counter> blocks = std::make_shared<block_counter>();

    std::unique_ptr<manual_pool> make_filled(pool_options o) {
        auto p = std::make_unique<manual_pool>(driver, std::move(o), clock, worker_mode::manual);
        p->add_observer(blocks);
        p->run_worker_once();
        return p;
    }
};

/// A one-shot result slot a handler fills and a test waits on.
template <class T>
class awaited {
public:
    void set(T value) {
        std::lock_guard lock(mutex_);
        value_.emplace(std::move(value));
        cv_.notify_all();
    }
    T take() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return value_.has_value(); });
        T out = std::move(*value_);
        value_.reset();
        return out;
    }
    bool ready() const {
        std::lock_guard lock(mutex_);
        return value_.has_value();
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<T> value_;
};

}  // namespace lifeguard::testing
