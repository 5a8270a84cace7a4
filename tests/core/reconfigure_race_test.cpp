// reconfigure(), suspend()/resume() and health() while threads borrow and return: no data race
// (run under TSan: -DLIFEGUARD_SANITIZE=thread), never more connections open than the ceiling,
// and once the last change has settled, no more than its max_size.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolReconfigureRace, ChangesWhileThreadsBorrowAndReturn) {
    fake_driver d;
    basic_pool<fake_driver> pool(d, {.name = "race", .max_size = 2, .max_size_ceiling = 6, .acquire_timeout = 10s});
    constexpr int threads = 4, rounds = 2000;
    std::atomic<bool> stop{false};
    std::atomic<int> most_open{0};
    std::latch started(threads + 1);
    std::vector<std::thread> borrowers;
    for (int t = 0; t < threads; ++t) {
        borrowers.emplace_back([&] {
            started.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                std::error_code ec;
                auto lease = pool.acquire(ec);
                if (lease) lease->session_setting = i;
                const int open = d.with([](auto& s) { return s.open; });
                for (int seen = most_open.load(); open > seen && !most_open.compare_exchange_weak(seen, open);) {
                }
            }
        });
    }
    std::thread changer([&] {
        started.arrive_and_wait();
        for (std::size_t i = 0; !stop.load(); ++i) {
            pool.reconfigure({.max_size = 1 + i % 6, .min_idle = i % 2, .acquire_timeout = std::chrono::milliseconds(5000 + i % 7),
                              .leak_detection_threshold = i % 3 == 0 ? 0ms : 60s});
            if (i % 5 == 0) pool.suspend();
            if (i % 5 == 1) pool.resume();
            const pool_options o = pool.options();  // a consistent snapshot
            EXPECT_LE(o.min_idle, o.max_size);
            EXPECT_EQ(pool.view().options().name, "race");
            (void)pool.health();
            (void)pool.stats();
        }
        pool.resume();
    });
    for (auto& t : borrowers) t.join();
    stop = true;
    changer.join();
    EXPECT_LE(most_open.load(), 6) << "never more than max_size_ceiling";
    pool.reconfigure({.max_size = 2, .min_idle = 0});
    d.wait_for([](auto& s) { return s.open <= 2; });  // the worker closes what is above max_size
    EXPECT_LE(pool.stats().total, 2u);
    EXPECT_EQ(pool.stats().timeouts, 0u);
}

}  // namespace
}  // namespace lifeguard::testing
