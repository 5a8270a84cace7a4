// A driver for unit tests: connections are numbers, and the test decides what fails.
// Copies share one state, so a test keeps a handle on the driver it gave to a pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

namespace lifeguard::testing {

struct fake_connection {
    std::uint64_t id = 0;
    bool in_transaction = false;  // set by tests; reset() rolls it back
    int session_setting = 0;      // set by tests; reset() restores it
};

class fake_driver {
public:
    using connection_type = fake_connection;

    struct state {
        std::mutex mutex;
        std::condition_variable cv;
        // Faults.
        int fail_next_connects = 0;         // the next N connects throw
        bool refuse_connects = false;       // every connect throws until cleared
        std::string connect_error = "connection refused (fake)";
        bool hold_connects = false;         // connects block until released or their deadline
        bool hold_validations = false;      // validations block until cleared
        std::set<std::uint64_t> broken;     // connections that fail validation and reset
        bool reset_fails = false;
        // Observations.
        std::uint64_t next_id = 1;
        int connects = 0, connect_failures = 0, validations = 0, resets = 0, closes = 0, open = 0;
        int connects_waiting = 0;           // connects blocked by hold_connects
        int validations_waiting = 0;        // validations blocked by hold_validations
        int rollbacks = 0;
    };

    fake_driver() : state_(std::make_shared<state>()) {}

    fake_connection connect(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(state_->mutex);
        ++state_->connects;
        if (state_->hold_connects) {
            ++state_->connects_waiting;
            state_->cv.notify_all();
            state_->cv.wait_until(lock, deadline, [&] { return !state_->hold_connects; });
            --state_->connects_waiting;
            if (state_->hold_connects) {
                ++state_->connect_failures;
                state_->cv.notify_all();
                throw std::runtime_error("connect timed out (fake)");
            }
        }
        if (state_->refuse_connects || state_->fail_next_connects > 0) {
            if (state_->fail_next_connects > 0) --state_->fail_next_connects;
            ++state_->connect_failures;
            state_->cv.notify_all();
            throw std::runtime_error(state_->connect_error);
        }
        ++state_->open;
        state_->cv.notify_all();
        return fake_connection{state_->next_id++};
    }

    bool is_valid(fake_connection& c, std::chrono::milliseconds) {
        std::unique_lock lock(state_->mutex);
        ++state_->validations;
        if (state_->hold_validations) {
            ++state_->validations_waiting;
            state_->cv.notify_all();
            state_->cv.wait(lock, [&] { return !state_->hold_validations; });
            --state_->validations_waiting;
        }
        state_->cv.notify_all();
        return !state_->broken.contains(c.id);
    }

    bool reset(fake_connection& c) {
        std::lock_guard lock(state_->mutex);
        ++state_->resets;
        if (c.in_transaction) ++state_->rollbacks;
        c.in_transaction = false;
        c.session_setting = 0;
        state_->cv.notify_all();
        return !state_->reset_fails && !state_->broken.contains(c.id);
    }

    void close(fake_connection&) noexcept {
        std::lock_guard lock(state_->mutex);
        ++state_->closes;
        --state_->open;
        state_->cv.notify_all();
    }

    std::string describe() const { return "fake://db"; }

    /// Runs `f(state&)` under the state's lock and wakes held connects.
    template <class F>
    auto with(F&& f) {
        std::lock_guard lock(state_->mutex);
        struct notify_on_exit {
            std::condition_variable& cv;
            ~notify_on_exit() { cv.notify_all(); }
        } n{state_->cv};
        return f(*state_);
    }

    /// Blocks until `pred(state&)` holds (the worker runs on its own thread).
    template <class P>
    void wait_for(P&& pred) {
        std::unique_lock lock(state_->mutex);
        state_->cv.wait(lock, [&] { return pred(*state_); });
    }

private:
    std::shared_ptr<state> state_;
};

}  // namespace lifeguard::testing
