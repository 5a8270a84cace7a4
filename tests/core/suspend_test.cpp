// suspend() / resume(): while suspended nobody is lent a connection, waits time out as usual,
// and resume() serves the waiters in the order they came; with soft_evict(), the failover recipe.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "core/queued_caller.hpp"
#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolSuspend, ASuspendedPoolLendsNothingAndWaitsTimeOut) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .acquire_timeout = 1s});
    pool->suspend();
    EXPECT_TRUE(pool->stats().suspended);
    EXPECT_FALSE(pool->try_acquire()) << "two idle connections, but suspended";
    queued_caller caller(*pool, *f.events);
    EXPECT_EQ(pool->stats().pending, 1u);
    f.clock.advance(1s);
    caller.join();
    EXPECT_EQ(caller.error(), errc::timeout);
    EXPECT_EQ(pool->stats().idle, 2u);
    pool->resume();
    EXPECT_FALSE(pool->stats().suspended);
    EXPECT_TRUE(pool->try_acquire());
}

TEST(PoolSuspend, ResumeServesTheWaitersInTheOrderTheyCame) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    pool->suspend();
    std::vector<int> served;
    std::mutex served_mutex;
    std::vector<std::unique_ptr<queued_caller<manual_pool>>> callers;
    for (int i = 0; i < 4; ++i)
        callers.push_back(std::make_unique<queued_caller<manual_pool>>(*pool, *f.events, [&, i](fake_connection&) {
            std::lock_guard lock(served_mutex);
            served.push_back(i);
        }));
    pool->resume();
    callers.clear();  // joins them
    EXPECT_EQ(served, (std::vector<int>{0, 1, 2, 3}));
}

TEST(PoolSuspend, AConnectionOpenedWhileSuspendedWaitsForResume) {
    manual_fixture f;
    auto pool = f.make({.max_size = 1, .min_idle = 0});
    pool->suspend();
    queued_caller caller(*pool, *f.events);
    pool->run_worker_once();  // opens one for the waiter, but may not hand it over
    EXPECT_EQ(pool->stats().idle, 1u);
    EXPECT_EQ(pool->stats().pending, 1u);
    EXPECT_FALSE(caller.served());
    pool->resume();
    caller.join();
    EXPECT_TRUE(caller.served());
}

TEST(PoolSuspend, AReturnWhileSuspendedServesNobody) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    std::optional<manual_pool::lease_type> held = pool->acquire();
    pool->suspend();
    queued_caller caller(*pool, *f.events);
    held.reset();
    EXPECT_EQ(pool->stats().idle, 1u);
    EXPECT_FALSE(caller.served());
    pool->resume();
    caller.join();
    EXPECT_TRUE(caller.served());
}

TEST(PoolSuspend, SuspendSoftEvictResumeIsTheFailoverRecipe) {
    // suspend(); soft_evict(); repoint the target; resume(): no lease is interrupted, every
    // connection lent after resume() is a new one.
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    std::optional<manual_pool::lease_type> in_use = pool->acquire();
    const auto old_id = (*in_use)->id;
    pool->suspend();
    pool->soft_evict();
    pool->run_worker_once();  // closes the idle one, opens a new one (idle: suspended)
    queued_caller caller(*pool, *f.events);
    (*in_use)->session_setting = 1;  // the lease still works
    in_use.reset();                  // retired as it comes back
    pool->run_worker_once();
    pool->resume();
    caller.join();
    EXPECT_GT(caller.connection_id(), 2u) << "a connection opened after the eviction";
    EXPECT_NE(caller.connection_id(), old_id);
    EXPECT_EQ(pool->stats().closed_for(close_reason::evicted), 2u);
}

TEST(PoolSuspend, SuspendAndResumeAreIdempotentAndCloseEndsTheWait) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    pool->resume();  // not suspended: nothing
    pool->suspend();
    pool->suspend();
    queued_caller caller(*pool, *f.events);
    pool->close();
    caller.join();
    EXPECT_EQ(caller.error(), errc::pool_closed);
}

}  // namespace
}  // namespace lifeguard::testing
