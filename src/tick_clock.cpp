// The tick word's slow paths and the process ticker thread; see lifeguard/detail/tick_clock.hpp.
#include "lifeguard/detail/tick_clock.hpp"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <new>
#include <thread>

namespace lifeguard::detail {

bool tick_source::tick() noexcept {
    const std::int64_t now = now_() | unread;
    const std::int64_t last = word_.exchange(now, std::memory_order_relaxed);
    const bool last_was_read = last == 0 || (last & unread) == 0;
    if (last_was_read) {
        idle_ = 0;
        return true;
    }
    if (++idle_ < idle_ticks_) return true;
    idle_ = 0;
    std::int64_t expected = now;  // a reader that took this tick in the meantime keeps us going
    return !word_.compare_exchange_strong(expected, 0, std::memory_order_relaxed);
}

std::int64_t tick_source::read_slow(std::int64_t seen) noexcept {
    if (seen != 0) {
        // The first read of this tick: tell the ticker somebody still reads. Losing the race to
        // another reader is fine (it told it); losing it to the next tick at worst lets the
        // ticker stop a little early, and the next read starts it again.
        std::int64_t expected = seen;
        word_.compare_exchange_strong(expected, seen & ~unread, std::memory_order_relaxed);
        return seen & ~unread;
    }
    const std::int64_t now = now_();  // before the start: the ticker's first tick is no earlier
    start_(*this);
    return now;
}

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

namespace {

constexpr auto tick_interval = std::chrono::milliseconds(1);

/// What the ticker thread and the readers that wake it share. It lives in static storage that
/// is never destroyed (the thread is detached and may outlive main()), and is rebuilt in a
/// child after fork(), where the ticker thread does not exist.
struct ticker_state {
    std::mutex mutex;
    std::condition_variable wake;
    bool wanted = false;   // a reader found the ticker stopped
    bool started = false;  // the thread exists
    bool broken = false;   // the thread could not be started: readers keep reading the clock
};

alignas(ticker_state) unsigned char ticker_storage[sizeof(ticker_state)];
ticker_state* ticker = nullptr;
std::once_flag ticker_once;

void run_ticker(tick_source& source) noexcept {
    for (;;) {
        {
            std::unique_lock lock(ticker->mutex);
            ticker->wake.wait(lock, [] { return ticker->wanted; });
            ticker->wanted = false;
        }
        while (source.tick()) std::this_thread::sleep_for(tick_interval);
    }
}

void after_fork_in_child() noexcept {
    ticker = ::new (ticker_storage) ticker_state;  // the parent's may be locked, its thread is gone
    process_ticks.reset();
}

}  // namespace

void start_process_ticker(tick_source& source) noexcept {
    std::call_once(ticker_once, [] {
        ticker = ::new (ticker_storage) ticker_state;
        ::pthread_atfork(nullptr, nullptr, &after_fork_in_child);
    });
    std::lock_guard lock(ticker->mutex);
    if (ticker->broken) return;
    ticker->wanted = true;
    if (!ticker->started) {
        try {
            std::thread(run_ticker, std::ref(source)).detach();
            ticker->started = true;
        } catch (...) {
            ticker->broken = true;  // no threads to be had: every read takes the clock
            return;
        }
    }
    ticker->wake.notify_one();
}

}  // namespace lifeguard::detail
