// Unit tests of lifeguard::logging_observer: messages and levels captured with spdlog's
// ringbuffer sink, rate limiting on the pool's clock, and no use of spdlog's global state.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "lifeguard/logging.hpp"
#include "stub_pool_view.hpp"
#include "support/captured_log.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::logging_observer;
using lifeguard::logging_options;
using lifeguard::testing::stub_pool_view;
using level = spdlog::level::level_enum;

using captured = lifeguard::testing::captured_log;
using lifeguard::testing::contains;

lifeguard::pool_diagnostics failure(const std::string& pool, lifeguard::errc code) {
    lifeguard::pool_diagnostics d;
    d.pool_name = pool;
    d.code = code;
    d.waited = 30s;
    d.holders.push_back(
        {.owner = 7, .owner_label = "login 7", .site = std::source_location::current(), .age = 12s});
    d.detail = "holder detail line";
    return d;
}

TEST(LoggingObserver, LogsStartWithConfigurationAndTargetOnceAtInfo) {
    captured log;
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders", {.name = "orders", .max_size = 20, .min_idle = 5, .acquire_timeout = 5s});
    pool.target_text = "postgres 127.0.0.1:5432/app user=app";
    observer.on_attach(pool);

    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].lvl, level::info);
    for (const auto* part : {"pool 'orders' started", "postgres 127.0.0.1:5432/app user=app", "max_size 20",
                             "min_idle 5", "acquire_timeout 5000 ms", "leak_detection_threshold off",
                             "max_pending unbounded", "on_deadlock report"})
        EXPECT_TRUE(contains(lines[0].text, part)) << part << " in: " << lines[0].text;
}

TEST(LoggingObserver, ForeverReadsAsForeverOrOff) {
    captured log;
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders", {.name = "orders", .acquire_timeout = lifeguard::forever,
                                   .leak_detection_threshold = lifeguard::forever});
    observer.on_attach(pool);
    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 1u);
    for (const auto* part : {"acquire_timeout forever", "leak_detection_threshold off"})
        EXPECT_TRUE(contains(lines[0].text, part)) << part << " in: " << lines[0].text;
    EXPECT_FALSE(contains(lines[0].text, "9223372036854775807")) << lines[0].text;
}

TEST(LoggingObserver, PerAcquireEventsAreTraceOrDebug) {
    captured log;
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders");
    const lifeguard::lease_info lease{.lease_id = 42, .owner = 9, .site = std::source_location::current()};
    observer.on_acquired(pool, lease, 0ns);
    observer.on_acquired(pool, lease, 5ms);
    observer.on_release(pool, lease, 3ms);
    observer.on_block(pool, {.owner = 9, .owner_label = "checkout", .site = lease.site, .since = 0ns});
    observer.on_unblock(pool, {.owner = 9, .owner_label = "checkout", .site = lease.site, .since = 0ns});
    observer.on_connection_closed(pool, lifeguard::close_reason::idle);

    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines[0].lvl, level::trace);
    EXPECT_TRUE(contains(lines[0].text, "lease 42 to task 9 at "));
    EXPECT_EQ(lines[1].lvl, level::debug);  // it waited
    EXPECT_TRUE(contains(lines[1].text, "after waiting 5.000 ms"));
    EXPECT_EQ(lines[2].lvl, level::trace);
    EXPECT_TRUE(contains(lines[2].text, "returned by task 9 after 3.000 ms"));
    EXPECT_EQ(lines[3].lvl, level::debug);
    EXPECT_TRUE(contains(lines[3].text, "checkout (task 9) waits"));
    EXPECT_TRUE(contains(lines[3].text, "logging_observer_test.cpp:"));
    EXPECT_EQ(lines[4].lvl, level::trace);
    EXPECT_EQ(lines[5].lvl, level::debug);
    EXPECT_TRUE(contains(lines[5].text, "closed a connection (idle)"));
}

TEST(LoggingObserver, PerAcquireEventsAreSilentAtInfo) {
    captured log(level::info);
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders");
    observer.on_acquired(pool, {}, 5ms);
    observer.on_release(pool, {}, 5ms);
    observer.on_block(pool, {});
    observer.on_unblock(pool, {});
    observer.on_connection_created(pool, 2ms);
    EXPECT_TRUE(log.lines().empty());
}

TEST(LoggingObserver, TimeoutIsAWarningWithThePoolSnapshot) {
    captured log;
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders");
    auto d = failure("orders", lifeguard::errc::timeout);
    observer.on_acquire_failed(pool, d);
    const auto warnings = log.at(level::warn);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0].text, d.to_string());
    EXPECT_TRUE(contains(warnings[0].text, "holder detail line"));
}

TEST(LoggingObserver, ClosedPoolFailuresAreOnlyDebug) {
    captured log;
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders");
    auto d = failure("orders", lifeguard::errc::pool_closed);
    observer.on_acquire_failed(pool, d);
    ASSERT_EQ(log.lines().size(), 1u);
    EXPECT_EQ(log.lines()[0].lvl, level::debug);
}

TEST(LoggingObserver, LeaksSlowCreationAndClockLeapsAreWarnings) {
    captured log;
    logging_observer observer({.logger = log.logger(), .slow_connect_threshold = 500ms});
    stub_pool_view pool("orders", {.name = "orders", .leak_detection_threshold = 2s});
    observer.on_leak(pool,
                     {.owner = 3, .owner_label = "", .site = std::source_location::current(), .age = 2500ms});
    observer.on_connection_created(pool, 700ms);
    observer.on_connection_created(pool, 20ms);
    observer.on_clock_leap(pool, -5s);

    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0].lvl, level::warn);
    EXPECT_TRUE(contains(lines[0].text, "apparent connection leak"));
    EXPECT_TRUE(contains(lines[0].text, "task 3 has held a lease taken at "));
    EXPECT_TRUE(contains(lines[0].text, " for 2500 ms (leak_detection_threshold 2000 ms)"));
    EXPECT_EQ(lines[1].lvl, level::warn);
    EXPECT_TRUE(contains(lines[1].text, "took 700.0 ms"));
    EXPECT_EQ(lines[2].lvl, level::debug);  // fast enough
    EXPECT_EQ(lines[3].lvl, level::warn);
    EXPECT_TRUE(contains(lines[3].text, "jumped backward by 5000 ms"));
}

TEST(LoggingObserver, ConnectFailuresAreErrorsRateLimitedWithASummary) {
    captured log;
    logging_observer observer({.logger = log.logger(), .summary_interval = 30s});
    stub_pool_view pool("orders");
    pool.target_text = "mysql tcp://127.0.0.1:3306/app";
    auto fail_at = [&](std::chrono::nanoseconds t, const std::string& why) {
        pool.now_value = t;
        observer.on_connect_failed(pool, why);
    };
    fail_at(0s, "connection refused #0");
    for (int i = 1; i <= 5; ++i) fail_at(std::chrono::seconds(i), "connection refused #" + std::to_string(i));
    ASSERT_EQ(log.lines().size(), 1u);  // only the first, in full
    EXPECT_EQ(log.lines()[0].lvl, level::err);
    EXPECT_EQ(
        log.lines()[0].text,
        "pool 'orders': cannot open a connection to mysql tcp://127.0.0.1:3306/app: connection refused #0");

    fail_at(31s, "connection refused #6");
    ASSERT_EQ(log.lines().size(), 2u);
    EXPECT_EQ(log.lines()[1].lvl, level::err);
    EXPECT_EQ(log.lines()[1].text,
              "pool 'orders': 6 more failures to open a connection in the last 31.0 s; latest: connection "
              "refused #6");

    fail_at(32s, "connection refused #7");
    EXPECT_EQ(log.lines().size(), 2u);
    pool.now_value = 41s;
    observer.on_connection_created(pool, 3ms);
    auto lines = log.lines();
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[2].lvl, level::err);
    EXPECT_EQ(lines[2].text,
              "pool 'orders': 1 more failure to open a connection in the last 10.0 s; latest: connection "
              "refused #7");
    EXPECT_EQ(lines[3].lvl, level::info);
    EXPECT_EQ(lines[3].text, "pool 'orders': connected again after 8 failed attempts");
    EXPECT_EQ(lines[4].lvl, level::debug);

    fail_at(42s, "connection refused #8");  // a new outage starts with a full message
    ASSERT_EQ(log.lines().size(), 6u);
    EXPECT_TRUE(contains(log.lines()[5].text, "cannot open a connection"));
}

TEST(LoggingObserver, TimeoutsAndRejectionsAreLimitedSeparatelyPerPool) {
    captured log;
    logging_observer observer({.logger = log.logger(), .summary_interval = 10s});
    stub_pool_view orders("orders"), users("users");
    for (int i = 0; i < 3; ++i) {
        auto t = failure("orders", lifeguard::errc::timeout);
        observer.on_acquire_failed(orders, t);
        auto r = failure("orders", lifeguard::errc::pending_limit);
        observer.on_acquire_failed(orders, r);
        auto u = failure("users", lifeguard::errc::timeout);
        observer.on_acquire_failed(users, u);
    }
    EXPECT_EQ(log.at(level::warn).size(), 3u);  // the first of each kind and pool
    orders.now_value = 10s;
    auto t = failure("orders", lifeguard::errc::timeout);
    observer.on_acquire_failed(orders, t);
    const auto warnings = log.at(level::warn);
    ASSERT_EQ(warnings.size(), 4u);
    EXPECT_TRUE(
        contains(warnings[3].text, "pool 'orders': 3 more acquire timeouts in the last 10.0 s; latest: "))
        << warnings[3].text;
}

TEST(LoggingObserver, ZeroIntervalLogsEveryFailure) {
    captured log;
    logging_observer observer({.logger = log.logger(), .summary_interval = 0ms});
    stub_pool_view pool("orders");
    for (int i = 0; i < 4; ++i) observer.on_connect_failed(pool, "refused");
    EXPECT_EQ(log.at(level::err).size(), 4u);
}

TEST(LoggingObserver, StopFlushesCountedFailuresAndLogsTotals) {
    captured log;
    logging_observer observer({.logger = log.logger()});
    stub_pool_view pool("orders");
    pool.snapshot.acquired = 1234;
    pool.snapshot.timeouts = 5;
    observer.on_attach(pool);
    observer.on_connect_failed(pool, "refused");
    pool.now_value = 2s;
    observer.on_connect_failed(pool, "refused again");
    pool.now_value = 3s;
    observer.on_detach(pool);

    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[2].lvl, level::err);
    EXPECT_EQ(lines[2].text,
              "pool 'orders': 1 more failure to open a connection in the last 3.0 s; latest: refused again");
    EXPECT_EQ(lines[3].lvl, level::info);
    EXPECT_TRUE(contains(lines[3].text, "pool 'orders' stopped: acquired 1234, timeouts 5"));
}

// Everything the observer can do, with and without a logger of the user's, must leave spdlog's
// registry, default logger and levels exactly as they were.
TEST(LoggingObserver, NeverTouchesSpdlogGlobalState) {
    auto previous_default = spdlog::default_logger();
    captured global(level::trace);  // stands in as the default logger to catch stray output
    spdlog::set_default_logger(global.logger());
    const auto level_before = spdlog::default_logger()->level();

    {
        captured mine;
        logging_observer with_logger({.logger = mine.logger(), .summary_interval = 0ms});
        logging_observer without_logger({.logger = nullptr, .slow_connect_threshold = 1ms});
        EXPECT_EQ(without_logger.logger()->name(), "lifeguard");
        EXPECT_EQ(without_logger.logger()->level(), level::info);
        EXPECT_NE(without_logger.logger(), spdlog::default_logger());
        EXPECT_EQ(without_logger.logger()->sinks().size(), 1u);
        for (auto* observer : {&with_logger, &without_logger}) {
            stub_pool_view pool("orders");
            observer->on_attach(pool);
            observer->on_acquired(pool, {}, 1ms);
            observer->on_connect_failed(pool, "refused");
            observer->on_connection_created(pool, 5ms);
            auto d = failure("orders", lifeguard::errc::timeout);
            observer->on_acquire_failed(pool, d);
            observer->on_detach(pool);
        }
        EXPECT_FALSE(mine.lines().empty());
    }

    EXPECT_EQ(spdlog::get("lifeguard"), nullptr);
    EXPECT_EQ(spdlog::default_logger(), global.logger());
    EXPECT_EQ(spdlog::default_logger()->level(), level_before);
    EXPECT_TRUE(global.lines().empty());
    spdlog::set_default_logger(previous_default);
}

}  // namespace
