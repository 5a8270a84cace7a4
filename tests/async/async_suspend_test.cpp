// suspend() / resume() with asynchronous acquires: a suspended pool answers no async waiter,
// its timer still fails it with errc::timeout, and resume() serves async and blocking waiters
// together in the order they came.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on
#include <gtest/gtest.h>

#include <boost/asio/bind_executor.hpp>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "async/async_support.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using manual_lease = manual_pool::lease_type;

TEST(AsyncSuspend, ASuspendedPoolAnswersAnAsyncWaiterOnlyWithItsTimeout) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .acquire_timeout = 1s});
    pool->suspend();
    io_threads runner;
    awaited<error_code> result;
    async_acquire(*pool, asio::bind_executor(runner.io, [&](error_code ec, manual_lease lease) {
                      EXPECT_FALSE(lease);
                      result.set(ec);
                  }));
    f.blocks->wait_blocked(1);
    EXPECT_EQ(pool->stats().idle, 2u) << "idle connections, but none lent";
    f.clock.advance(1s);
    EXPECT_EQ(result.take(), errc::timeout);
}

TEST(AsyncSuspend, ResumeServesAsyncAndBlockingWaitersInArrivalOrder) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    pool->suspend();
    io_threads runner;
    constexpr int n = 6;
    std::optional<worker_pump<manual_pool>> worker;  // resets the async leases' returns
    std::mutex served_mutex;
    std::vector<int> served;
    std::vector<std::thread> blocking;
    std::latch all_served(n);
    const auto note = [&](int i) {
        std::lock_guard lock(served_mutex);
        served.push_back(i);
        all_served.count_down();
    };
    for (int i = 0; i < n; ++i) {
        if (i % 2 == 0) {
            blocking.emplace_back([&, i] {
                auto lease = pool->acquire();
                note(i);
            });
        } else {
            async_acquire(*pool, asio::bind_executor(runner.io, [&, i](error_code ec, manual_lease lease) {
                              EXPECT_FALSE(ec);
                              EXPECT_TRUE(lease);
                              note(i);
                          }));
        }
        f.blocks->wait_blocked(static_cast<std::size_t>(i) + 1);
    }
    worker.emplace(*pool);
    pool->resume();
    all_served.wait();
    for (auto& t : blocking) t.join();
    worker.reset();
    EXPECT_EQ(served, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace lifeguard::testing
