// Closing and destroying pools: waiters fail, idle connections close, leased ones close as they
// come back, and a pool may die before its leases.
#include <gtest/gtest.h>

#include <thread>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolLifecycle, CloseFailsWaitersAndClosesIdleConnections) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    auto held = pool->acquire();
    auto held2 = pool->acquire();
    std::error_code waiter_error;
    std::thread waiter([&] { auto l = pool->acquire(waiter_error); });
    f.events->wait_blocked(1);
    held2.release();  // hand-off or idle: either way the waiter gets it
    waiter.join();
    EXPECT_FALSE(waiter_error) << waiter_error.message();

    held2 = pool->acquire();  // both connections out again: the next caller must wait
    std::thread late([&] { auto l = pool->acquire(waiter_error); });
    f.events->wait_blocked(2);
    pool->close();
    late.join();
    EXPECT_EQ(waiter_error, errc::pool_closed);
    held2.release();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::shutdown), 1u);
    EXPECT_EQ(held->id, 1u) << "a lease in use is not interrupted by close()";
    held.release();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::shutdown), 2u);
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 0);
}

TEST(PoolLifecycle, AcquireAfterCloseFailsAtOnce) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    pool->close();
    pool->close();  // idempotent
    std::error_code ec;
    auto lease = pool->acquire(ec);
    EXPECT_FALSE(lease);
    EXPECT_EQ(ec, errc::pool_closed);
    ASSERT_TRUE(pool->last_failure());
    EXPECT_EQ(pool->last_failure()->what, verdict::closed);
    EXPECT_THROW(pool->acquire(), pool_error);
}

TEST(PoolLifecycle, DestroyingThePoolWithLeasesOutIsSafe) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 3});
    auto a = pool->acquire();
    auto b = pool->acquire();
    b.invalidate();
    pool.reset();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 2) << "the idle connection is closed at once";
    a->session_setting = 5;  // still usable
    a.release();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 1);
    b.release();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 0);
}

TEST(PoolLifecycle, DestroyingWithAThreadWorkerClosesEverything) {
    fake_driver driver;
    {
        pool<fake_driver> p(driver, {.max_size = 4});
        driver.wait_for([](auto& s) { return s.open == 4; });
        auto lease = p.acquire();
    }
    EXPECT_EQ(driver.with([](auto& s) { return s.open; }), 0);
    EXPECT_EQ(driver.with([](auto& s) { return s.closes; }), 4);
}

TEST(PoolLifecycle, ShutdownDuringFillClosesTheLateConnection) {
    fake_driver driver;
    driver.with([](auto& s) { s.hold_connects = true; });
    std::thread release_connect;
    {
        pool<fake_driver> p(driver, {.max_size = 1, .acquire_timeout = 5s, .validation_timeout = 1s});
        driver.wait_for([](auto& s) { return s.connects_waiting == 1; });
        // Let the connect finish while the pool is shutting down.
        release_connect = std::thread([&] { driver.with([](auto& s) { s.hold_connects = false; }); });
    }
    release_connect.join();
    EXPECT_EQ(driver.with([](auto& s) { return s.open; }), 0);
}

TEST(PoolLifecycle, StatsCountEveryOutcome) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    for (int i = 0; i < 5; ++i) auto l = pool->acquire();
    const auto st = pool->stats();
    EXPECT_EQ(st.acquired, 5u);
    EXPECT_EQ(st.usage.count, 5u);
    EXPECT_EQ(st.created, 2u);
    EXPECT_EQ(st.acquire_wait.count, 5u);
    EXPECT_EQ(st.acquire_wait.total, 0ns) << "nobody waited";
}

}  // namespace
}  // namespace lifeguard::testing
