// The pool's worker: filling, backoff, retirement by lifetime and idle time, keepalive, leak
// reports and clock leaps. Driven deterministically with the manual clock and run_worker_once().
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <thread>

#include "core/queued_caller.hpp"
#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

int connects(fake_driver& d) { return d.with([](auto& s) { return s.connects; }); }

TEST(PoolWorker, NeverOpensMoreThanMaxSize) {
    manual_fixture f;
    auto pool = f.make({.max_size = 3, .min_idle = 3});
    pool->run_worker_once();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 3u);
    auto a = pool->acquire(), b = pool->acquire(), c = pool->acquire();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 3u);
    EXPECT_EQ(connects(f.driver), 3);
}

TEST(PoolWorker, BacksOffFrom10msDoublingTo5s) {
    manual_fixture f;
    f.driver.with([](auto& s) { s.refuse_connects = true; });
    auto pool = f.make({.max_size = 1});
    pool->run_worker_once();
    EXPECT_EQ(connects(f.driver), 1);
    pool->run_worker_once();
    EXPECT_EQ(connects(f.driver), 1) << "retried before the backoff elapsed";
    std::vector<std::chrono::milliseconds> expected = {10ms, 20ms, 40ms, 80ms, 160ms, 320ms, 640ms, 1280ms, 2560ms, 5000ms, 5000ms};
    int attempts = 1;
    for (auto step : expected) {
        f.clock.advance(step - 1ms);
        pool->run_worker_once();
        EXPECT_EQ(connects(f.driver), attempts) << "retried early, before " << step.count() << " ms";
        f.clock.advance(1ms);
        pool->run_worker_once();
        EXPECT_EQ(connects(f.driver), ++attempts) << "no retry after " << step.count() << " ms";
    }
    EXPECT_EQ(pool->stats().connect_failures, static_cast<std::uint64_t>(attempts));
}

TEST(PoolWorker, RecoversWhenTheDatabaseComesBack) {
    manual_fixture f;
    f.driver.with([](auto& s) { s.refuse_connects = true; });
    auto pool = f.make({.max_size = 2});
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 0u);
    f.driver.with([](auto& s) { s.refuse_connects = false; });
    f.clock.advance(10ms);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().idle, 2u);
    f.clock.advance(1s);
    f.driver.with([](auto& s) { s.refuse_connects = true; });
    EXPECT_TRUE(pool->acquire()) << "backoff was not reset by the success";
}

TEST(PoolWorker, MaxLifetimeRetiresIdleConnectionsWithJitter) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 8, .max_lifetime = 30min, .keepalive_interval = 0ms});
    f.clock.advance(30min - 45s - 1s);  // jitter is at most 2.5% = 45 s: before any expiry
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 0u);
    f.clock.advance(46s);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 8u);
    EXPECT_EQ(pool->stats().idle, 8u) << "not refilled";
}

// Connections opened together must not all expire together (a reconnect storm): each lifetime
// is shortened by a random part of its last 2.5%. 40 connections opened in the same instant
// retire over many distinct seconds of that window, never one second for all.
TEST(PoolWorker, MaxLifetimeJitterSpreadsRetirementsOverTheWindow) {
    manual_fixture f;
    constexpr std::size_t n = 40;
    auto pool = f.make_filled({.max_size = n, .max_lifetime = 30min, .keepalive_interval = 0ms});
    f.clock.advance(30min - 46s);
    pool->run_worker_once();
    ASSERT_EQ(pool->stats().closed_for(close_reason::lifetime), 0u);
    std::uint64_t retired = 0;
    int seconds_with_retirements = 0;
    for (int second = 0; second < 46; ++second) {
        f.clock.advance(1s);
        pool->run_worker_once();
        const std::uint64_t now_retired = pool->stats().closed_for(close_reason::lifetime);
        seconds_with_retirements += now_retired > retired;
        retired = now_retired;
    }
    EXPECT_EQ(retired, n);
    // 40 uniform draws over 45 one-second buckets land in ~27 of them; fewer than 10 has a
    // chance below 1e-17 (C(45,9) x (9/45)^40).
    EXPECT_GE(seconds_with_retirements, 10) << "retirements bunched: is the lifetime jittered?";
}

TEST(PoolWorker, ExpiredIdleConnectionIsNotLent) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .max_lifetime = 30s, .keepalive_interval = 0ms});
    f.clock.advance(31s);
    std::thread refill([&] {
        f.events->wait_blocked(1);
        pool->run_worker_once();
    });
    auto lease = pool->acquire();
    refill.join();
    EXPECT_EQ(lease->id, 2u);
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 1u);
}

TEST(PoolWorker, IdleTimeoutRetiresDownToMinIdle) {
    manual_fixture f;
    auto pool = f.make({.max_size = 4, .min_idle = 1, .idle_timeout = 10min, .keepalive_interval = 0ms});
    pool->run_worker_once();
    ASSERT_EQ(pool->stats().idle, 1u);
    {
        // Three waiters make the worker open three more connections.
        auto first = pool->acquire();
        std::vector<std::thread> callers;
        std::vector<manual_pool::lease_type> leases(3);
        for (int i = 0; i < 3; ++i) callers.emplace_back([&, i] { leases[i] = pool->acquire(); });
        f.events->wait_blocked(3);
        pool->run_worker_once();
        for (auto& t : callers) t.join();
        EXPECT_EQ(pool->stats().active, 4u);
    }
    EXPECT_EQ(pool->stats().idle, 4u);
    f.clock.advance(9min);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().idle, 4u);
    f.clock.advance(2min);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().idle, 1u);
    EXPECT_EQ(pool->stats().closed_for(close_reason::idle), 3u);
}

TEST(PoolWorker, KeepaliveValidatesIdleConnectionsAndClosesBrokenOnes) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 3, .keepalive_interval = 2min});
    f.clock.advance(119s);
    pool->run_worker_once();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.validations; }), 0);
    f.driver.with([](auto& s) { s.broken = {2}; });
    f.clock.advance(2s);
    pool->run_worker_once();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.validations; }), 3);
    EXPECT_EQ(pool->stats().closed_for(close_reason::broken), 1u);
    EXPECT_EQ(pool->stats().idle, 3u);
    // A connection just checked by keepalive is lent without another validation.
    { auto lease = pool->acquire(); }
    EXPECT_EQ(f.driver.with([](auto& s) { return s.validations; }), 3);
}

TEST(PoolWorker, LeakIsReportedOnceAndNeverReclaimed) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .leak_detection_threshold = 2s});
    auto leaked = pool->acquire();
    f.clock.advance(1s);
    pool->run_worker_once();
    EXPECT_TRUE(f.events->leaks().empty());
    f.clock.advance(2s);
    pool->run_worker_once();
    pool->run_worker_once();
    f.clock.advance(10s);
    pool->run_worker_once();
    ASSERT_EQ(f.events->leaks().size(), 1u);
    EXPECT_EQ(f.events->leaks()[0].owner, current_owner());
    EXPECT_EQ(f.events->leaks()[0].age, 3s);
    EXPECT_EQ(pool->stats().leaks, 1u);
    EXPECT_EQ(pool->stats().active, 1u) << "a leaked lease must not be taken back";
    leaked.release();
    auto again = pool->acquire();  // a new lease of the same connection is a new candidate
    f.clock.advance(3s);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().leaks, 2u);
}

TEST(PoolWorker, LeakReportNamesTheTasksLabel) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .leak_detection_threshold = 2s});
    owner_scope request("login 17");
    auto leaked = pool->acquire();
    f.clock.advance(3s);
    pool->run_worker_once();
    ASSERT_EQ(f.events->leaks().size(), 1u);
    EXPECT_EQ(f.events->leaks()[0].owner, request.id());
    EXPECT_EQ(f.events->leaks()[0].owner_label, "login 17");
}

/// Calls back into the pool from on_clock_leap, as a metrics or logging observer may; from
/// another thread, bounded, so that a pool that still holds its lock there fails the test
/// instead of hanging it.
class calls_back_on_leap final : public pool_observer {
public:
    void on_clock_leap(pool_view& pool, std::chrono::nanoseconds) override {
        auto answer = std::async(std::launch::async, [&] { return pool.waiters().size(); });
        if (answer.wait_for(std::chrono::minutes(2)) != std::future_status::ready) {
            std::fprintf(stderr, "on_clock_leap ran with the pool's lock held\n");
            std::abort();
        }
        answered = true;
    }
    bool answered = false;
};

TEST(PoolWorker, ClockLeapIsToldOutsideThePoolLock) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto observer = std::make_shared<calls_back_on_leap>();
    pool->add_observer(observer);
    f.clock.advance(-5s);
    pool->run_worker_once();
    EXPECT_TRUE(observer->answered);
    ASSERT_EQ(f.events->leaps().size(), 1u);
}

TEST(PoolWorker, BackwardClockLeapEvictsEverything) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    auto held = pool->acquire();
    f.clock.advance(-5s);
    pool->run_worker_once();
    ASSERT_EQ(f.events->leaps().size(), 1u);
    EXPECT_LT(f.events->leaps()[0].count(), 0);
    EXPECT_EQ(pool->stats().closed_for(close_reason::evicted), 1u);
    held.release();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::evicted), 2u);
    EXPECT_EQ(pool->stats().idle, 2u);
}

TEST(PoolWorker, ForwardClockLeapIsReported) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .keepalive_interval = 0ms, .housekeeping_interval = 30s});
    f.clock.advance(30s);
    pool->run_worker_once();
    EXPECT_TRUE(f.events->leaps().empty());
    f.clock.advance(5min);
    pool->run_worker_once();
    ASSERT_EQ(f.events->leaps().size(), 1u);
    EXPECT_GT(f.events->leaps()[0], 4min);
}

TEST(PoolWorker, SoftEvictRetiresIdleNowAndLeasedOnReturn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 3});
    auto held = pool->acquire();
    pool->soft_evict();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::evicted), 2u);
    EXPECT_EQ(held->id, 1u) << "a lease in use must not be touched";
    held.release();
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::evicted), 3u);
    EXPECT_EQ(pool->stats().idle, 3u);
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 3);
}

// A caller queues in a pool at max_size: nothing the worker can do helps it (only a return
// can), so it must not wake the worker. Each wake-up is a context switch that, on a loaded
// machine, the running threads pay for (bench/core's tail waits doubled with it).
TEST(PoolWorker, ACallerWaitingInAFullPoolDoesNotWakeTheWorker) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .min_idle = 1});
    std::optional<manual_pool::lease_type> held = pool->acquire();
    const std::uint64_t before = pool->core().work_requests();
    queued_caller caller(*pool, *f.events);
    EXPECT_EQ(pool->core().work_requests(), before) << "the worker was woken for a caller it cannot serve";
    held.reset();
    caller.join();
    EXPECT_TRUE(caller.served());
}

// The other side: below max_size the worker must open a connection for the caller, at once.
TEST(PoolWorker, ACallerWaitingInAPoolWithRoomWakesTheWorkerToOpenOne) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .min_idle = 1});
    auto held = pool->acquire();
    const std::uint64_t before = pool->core().work_requests();
    queued_caller caller(*pool, *f.events);
    EXPECT_GT(pool->core().work_requests(), before) << "the worker was not asked to open a connection";
    pool->run_worker_once();
    caller.join();
    EXPECT_TRUE(caller.served());
    EXPECT_EQ(connects(f.driver), 2);
}

}  // namespace
}  // namespace lifeguard::testing
