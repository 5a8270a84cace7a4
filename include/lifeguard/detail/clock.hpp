// How the pool reads and waits on its clock. The hot path uses a coarse timestamp (a load of the
// process tick word, see tick_clock.hpp); precise reads are taken only when a caller has to wait.
//
// A pool clock is either std::chrono::steady_clock (waits are real timed waits) or a clock
// that lets the pool subscribe to its advances (the manual clock of the unit tests: waiters
// sleep untimed and are woken to re-check their deadlines whenever the test moves time).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "lifeguard/detail/saturating_time.hpp"
#include "lifeguard/detail/tick_clock.hpp"

namespace lifeguard::detail {

template <class Clock>
concept subscribable_clock = requires(Clock& c, std::function<void()> f, std::uint64_t token) {
    { c.subscribe(f) } -> std::same_as<std::uint64_t>;
    c.unsubscribe(token);
};

template <class Clock>
concept pool_clock = std::same_as<Clock, std::chrono::steady_clock> || subscribable_clock<Clock>;

/// Nanoseconds since the clock's epoch.
template <class Clock>
std::int64_t precise_now(const Clock& clock) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock.now().time_since_epoch()).count();
}

/// Like precise_now, but may lag by about a millisecond (more while the machine is overloaded):
/// for the steady clock, the process tick word (tick_clock.hpp), never ahead of the clock.
template <class Clock>
std::int64_t coarse_now(const Clock& clock) noexcept {
    if constexpr (std::same_as<Clock, std::chrono::steady_clock>) {
        return process_ticks.read();
    } else {
        return precise_now(clock);
    }
}

/// Waits on `cv` until notified or until `deadline_ns` on the pool clock. With a subscribable
/// clock the wait is untimed: the pool wakes its waiters whenever the clock advances.
template <class Clock>
void wait_until(const Clock&, std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                std::int64_t deadline_ns) {
    if constexpr (std::same_as<Clock, std::chrono::steady_clock>) {
        cv.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)));
    } else {
        cv.wait(lock);
    }
}

}  // namespace lifeguard::detail
