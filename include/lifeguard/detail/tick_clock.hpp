// A timestamp for the borrow/return hot path that costs a load instead of a clock read.
//
// Reading a clock costs 10-30 ns on some of the guests lifeguard runs on (kvm-clock through the
// vDSO, or a slow rdtsc), and a borrow plus a return need a timestamp each: more than the rest
// of the pair. Instead one process-wide ticker thread stores the steady clock's time into a
// shared word every `tick_interval` (1 ms); the hot path only loads it (the cache line changes
// once per tick), so a timestamp is never later than the clock and rarely more than a tick plus
// the ticker's scheduling delay behind it: finer than CLOCK_MONOTONIC_COARSE (1 jiffy, 4 ms).
//
// The ticker runs only while somebody reads: each tick is stored with an "unread" bit that the
// first reader clears; after `idle_ticks` ticks nobody read, the ticker stores 0 and sleeps. A
// reader that finds 0 reads the clock itself and wakes the ticker. So an idle process has no
// thread waking up, and a read after a pause is never stale.
#pragma once

#include <atomic>
#include <cstdint>

namespace lifeguard::detail {

/// The tick word and its protocol, apart from the thread that ticks (so tests can drive it).
class tick_source {
public:
    using now_fn = std::int64_t (*)() noexcept;         ///< nanoseconds since the clock's epoch
    using start_fn = void (*)(tick_source&) noexcept;   ///< asks for tick() to be called again

    static constexpr std::int64_t unread = 1;  ///< low bit of the word: nobody read this tick yet

    constexpr tick_source(now_fn now, start_fn start, unsigned idle_ticks) noexcept
        : now_(now), start_(start), idle_ticks_(idle_ticks) {}
    tick_source(const tick_source&) = delete;
    tick_source& operator=(const tick_source&) = delete;

    /// The time of the last tick; when the ticker is stopped, the clock's time (and a restart).
    std::int64_t read() noexcept {
        const std::int64_t t = word_.load(std::memory_order_relaxed);
        if (t != 0 && (t & unread) == 0) [[likely]]
            return t;
        return read_slow(t);
    }

    /// One tick: publishes the clock's time. False when nobody read the last `idle_ticks` ticks:
    /// then the word is 0 (stopped) and the next read() asks for ticking to start again.
    bool tick() noexcept;

    /// True while ticks are being published (a reader finding them takes no clock read).
    bool ticking() const noexcept { return word_.load(std::memory_order_relaxed) != 0; }

    /// In a child after fork(): the ticker thread is gone, so readers must use the clock.
    void reset() noexcept {
        word_.store(0, std::memory_order_relaxed);
        idle_ = 0;
    }

private:
    std::int64_t read_slow(std::int64_t seen) noexcept;

    alignas(64) std::atomic<std::int64_t> word_{0};
    now_fn now_;
    start_fn start_;
    unsigned idle_ticks_;
    unsigned idle_ = 0;  // consecutive ticks nobody read (ticker thread only)
};

std::int64_t steady_now_ns() noexcept;
/// Wakes (or, the first time, starts) the process ticker thread.
void start_process_ticker(tick_source&) noexcept;

/// Ticks kept by the process ticker: every 1 ms, stopping after 20 ms unread.
inline constinit tick_source process_ticks{&steady_now_ns, &start_process_ticker, 20};

}  // namespace lifeguard::detail
