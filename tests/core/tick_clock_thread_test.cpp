// The process ticker thread: it starts on the first read, publishes the steady clock's time
// (never ahead of it), stops once nobody reads, and starts again on the next read.
#include "lifeguard/detail/tick_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace {

using lifeguard::detail::process_ticks;
using lifeguard::detail::steady_now_ns;

void wait_until_ticking(bool ticking) {
    // Polls a state the ticker reaches within milliseconds; the test's timeout bounds it.
    while (process_ticks.ticking() != ticking) {
        if (ticking) (void)process_ticks.read();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

TEST(ProcessTicker, StartsOnReadStopsWhenUnreadAndStartsAgain) {
    (void)process_ticks.read();
    wait_until_ticking(true);
    wait_until_ticking(false);  // nobody reads: it stops
    const std::int64_t before = steady_now_ns();
    EXPECT_GE(process_ticks.read(), before);  // stopped: the clock itself, not a stale tick
    wait_until_ticking(true);
}

TEST(ProcessTicker, ConcurrentReadersSeeTimeAdvanceAndNeverAheadOfTheClock) {
    constexpr int readers = 4;
    std::vector<std::thread> threads;
    for (int r = 0; r < readers; ++r) {
        threads.emplace_back([] {
            std::int64_t last = 0;
            int changes = 0;
            for (unsigned i = 1; changes < 5; ++i) {
                const std::int64_t t = process_ticks.read();
                const std::int64_t now = steady_now_ns();
                ASSERT_LE(t, now);
                if (t != last) ++changes;
                last = t;
                if (i % 64 == 0) std::this_thread::yield();
            }
        });
    }
    for (auto& t : threads) t.join();
}

}  // namespace
