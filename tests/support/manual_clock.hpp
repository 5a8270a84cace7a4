// A clock that moves only when a test moves it. Copies share one time line. Pools subscribe to
// its advances so that waiters re-check their deadlines and the worker looks for due work.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace lifeguard::testing {

class manual_clock {
public:
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<manual_clock>;
    static constexpr bool is_steady = false;  // may be set backwards to test clock leaps

    manual_clock() : state_(std::make_shared<state>()) {}

    /// Lock-free, so pools may read it under their own locks.
    time_point now() const noexcept { return time_point(duration(state_->now.load(std::memory_order_acquire))); }

    /// Moves time forward (or backward with a negative step) and tells every subscriber.
    void advance(duration d) {
        state_->now.fetch_add(d.count(), std::memory_order_acq_rel);
        notify();
    }

    std::uint64_t subscribe(std::function<void()> f) {
        std::lock_guard lock(state_->mutex);
        const auto token = ++state_->next_token;
        state_->subscribers.emplace(token, std::move(f));
        return token;
    }

    /// After this returns the callback is not running and will not run again.
    void unsubscribe(std::uint64_t token) {
        std::lock_guard lock(state_->mutex);
        state_->subscribers.erase(token);
    }

private:
    struct state {
        std::atomic<std::int64_t> now{1'000'000'000'000};  // not zero: zero means "never" to some code
        std::mutex mutex;
        std::map<std::uint64_t, std::function<void()>> subscribers;
        std::uint64_t next_token = 0;
    };

    void notify() {
        std::lock_guard lock(state_->mutex);
        for (auto& [token, f] : state_->subscribers) f();
    }

    std::shared_ptr<state> state_;
};

}  // namespace lifeguard::testing
