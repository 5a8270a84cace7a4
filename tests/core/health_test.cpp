// pool.health(): connectivity, saturation over a recent window, and the verdict rule of
// health.hpp; its JSON.
#include <gtest/gtest.h>

#include <numeric>

#include "core/queued_caller.hpp"
#include "core/test_pool.hpp"
#include "lifeguard/detail/health_window.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolHealth, AFilledPoolIsHealthy) {
    manual_fixture f;
    auto pool = f.make_filled({.name = "ok", .max_size = 2});
    f.clock.advance(3s);
    const pool_health h = pool->health();
    EXPECT_EQ(h.verdict, health_verdict::healthy) << h.reason;
    EXPECT_EQ(h.pool_name, "ok");
    EXPECT_EQ(h.since_last_connect, 3s);
    EXPECT_FALSE(h.since_last_failure);
    EXPECT_FALSE(h.down_for);
    EXPECT_EQ(h.open, 2u);
    EXPECT_EQ(h.idle, 2u);
    EXPECT_EQ(h.max_size, 2u);
    EXPECT_EQ(h.window, 60s);
}

TEST(PoolHealth, NoConnectionAndFailingConnectsIsDown) {
    manual_fixture f;
    f.driver.with([](auto& s) {
        s.refuse_connects = true;
        s.connect_error = "could not connect to server: Connection refused";
    });
    auto pool = f.make({.max_size = 2, .min_idle = 1});
    EXPECT_EQ(pool->health().verdict, health_verdict::healthy) << "nothing tried yet";
    pool->run_worker_once();
    f.clock.advance(5s);
    const pool_health h = pool->health();
    EXPECT_EQ(h.verdict, health_verdict::down);
    EXPECT_EQ(h.down_for, 5s);
    EXPECT_EQ(h.since_last_failure, 5s);
    EXPECT_EQ(h.failures_in_a_row, 1u);
    EXPECT_EQ(h.last_error, "could not connect to server: Connection refused");
    EXPECT_NE(h.reason.find("no connection open, and connecting fails for 5 s: could not connect"), std::string::npos)
        << h.reason;
}

TEST(PoolHealth, FailingWithConnectionsOpenIsDegradedAndASuccessHeals) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .min_idle = 1});
    f.driver.with([](auto& s) { s.refuse_connects = true; });
    pool->reconfigure({.min_idle = 2});
    pool->run_worker_once();
    pool_health h = pool->health();
    EXPECT_EQ(h.verdict, health_verdict::degraded);
    EXPECT_NE(h.reason.find("1 connections still open"), std::string::npos) << h.reason;
    f.driver.with([](auto& s) { s.refuse_connects = false; });
    f.clock.advance(1s);  // past the connect backoff
    pool->run_worker_once();
    h = pool->health();
    EXPECT_EQ(h.verdict, health_verdict::healthy) << h.reason;
    EXPECT_FALSE(h.down_for);
    EXPECT_EQ(h.failures_in_a_row, 0u);
    EXPECT_EQ(h.since_last_failure, 1s);
    EXPECT_EQ(h.last_error, "connection refused (fake)") << "kept after the success";
}

TEST(PoolHealth, TimeoutsInTheWindowDegradeUntilTheWindowMovesOn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 1s});
    auto held = pool->acquire();
    queued_caller caller(*pool, *f.events);
    EXPECT_EQ(pool->health().pending, 1u);
    f.clock.advance(1s);
    caller.join();
    ASSERT_EQ(caller.error(), errc::timeout);
    pool_health h = pool->health();
    EXPECT_EQ(h.verdict, health_verdict::degraded);
    EXPECT_EQ(h.timeouts_in_window, 1u);
    EXPECT_EQ(h.queued_in_window, 1u);
    EXPECT_EQ(h.p99_queued_wait, 1s);
    EXPECT_NE(h.reason.find("1 acquires timed out in the last 60 s"), std::string::npos) << h.reason;
    f.clock.advance(60s);
    h = pool->health();
    EXPECT_EQ(h.timeouts_in_window, 0u);
    EXPECT_EQ(h.verdict, health_verdict::healthy) << h.reason;
    EXPECT_EQ(pool->health(10min).timeouts_in_window, 1u) << "a longer window still sees it";
}

TEST(PoolHealth, LongQueuedWaitsDegrade) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 2s});
    std::optional<manual_pool::lease_type> held = pool->acquire();
    queued_caller caller(*pool, *f.events);
    f.clock.advance(1s);  // half the acquire_timeout
    held.reset();
    caller.join();
    const pool_health h = pool->health();
    EXPECT_EQ(h.timeouts_in_window, 0u);
    EXPECT_EQ(h.p99_queued_wait, 1s);
    EXPECT_EQ(h.verdict, health_verdict::degraded);
    EXPECT_NE(h.reason.find("p99 wait of queued acquires 1000.000 ms"), std::string::npos) << h.reason;
}

TEST(PoolHealth, SuspendedIsDegradedAndClosedIsDown) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    pool->suspend();
    pool_health h = pool->health();
    EXPECT_TRUE(h.suspended);
    EXPECT_EQ(h.verdict, health_verdict::degraded);
    pool->close();
    h = pool->health();
    EXPECT_TRUE(h.closed);
    EXPECT_EQ(h.verdict, health_verdict::down);
    EXPECT_EQ(h.reason, "the pool is closed");
}

TEST(HealthWindow, P99IsTheNearestRank) {
    std::vector<std::int64_t> v(100);
    std::iota(v.begin(), v.end(), 1);
    EXPECT_EQ(detail::health_window::p99(v), 99);
    v.resize(1000);
    std::iota(v.begin(), v.end(), 1);
    EXPECT_EQ(detail::health_window::p99(v), 990);
    v = {7};
    EXPECT_EQ(detail::health_window::p99(v), 7);
    v.clear();
    EXPECT_EQ(detail::health_window::p99(v), 0);
}

TEST(HealthWindow, KeepsTheMostRecentAcquires) {
    detail::health_window w;
    for (std::int64_t i = 0; i < 3000; ++i) w.queued(i, i, i % 1000 == 0);
    pool_health h;
    w.fill(h, 3000, 1'000'000);
    EXPECT_EQ(h.queued_in_window, detail::health_window::capacity);
    EXPECT_EQ(h.timeouts_in_window, 1u) << "of 0, 1000 and 2000 only 2000 is among the last 1024";
}

TEST(HealthJson, EscapesTextAndWritesNullForAbsentValues) {
    pool_health h;
    h.pool_name = "p";
    h.verdict = health_verdict::down;
    h.last_error = "FATAL: \"x\"\n\\";
    h.since_last_failure = 1500us;
    const std::string j = to_json(h);
    EXPECT_EQ(j.front(), '{');
    EXPECT_EQ(j.back(), '}');
    EXPECT_NE(j.find(R"("pool":"p","verdict":"down")"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("last_error":"FATAL: \"x\"\u000a\\")"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("since_last_connect_ms":null)"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("since_last_failure_ms":1.500)"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("suspended":false)"), std::string::npos) << j;
}

}  // namespace
}  // namespace lifeguard::testing
