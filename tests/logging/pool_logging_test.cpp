// logging_observer attached to a real pool (fake driver, manual clock, manual worker): what a
// pool's life looks like in the log.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "lifeguard/logging.hpp"
#include "lifeguard/pool.hpp"
#include "support/captured_log.hpp"
#include "support/manual_pool_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::testing::contains;
using lifeguard::testing::manual_pool;
using level = spdlog::level::level_enum;
using line = lifeguard::testing::log_line;

// Pools that also log to a captured logger.
struct fixture : lifeguard::testing::manual_pool_fixture {
    lifeguard::testing::captured_log log{level::trace, "app", 500};

    std::unique_ptr<manual_pool> make(lifeguard::pool_options o) {
        auto p = manual_pool_fixture::make(std::move(o));
        p->add_observer(lifeguard::make_logging_observer({.logger = log.logger()}));
        return p;
    }
    std::vector<line> at(level lvl) const { return log.at(lvl); }
};

TEST(PoolLogging, StartFailureRecoveryUseAndStop) {
    fixture f;
    f.driver.with([](auto& s) { s.fail_next_connects = 1; });
    auto pool = f.make({.name = "orders", .max_size = 1, .min_idle = 1});
    pool->run_worker_once();  // the first connect fails
    f.clock.advance(1s);      // past the retry backoff
    pool->run_worker_once();
    {
        auto lease = pool->acquire();
        f.clock.advance(5ms);
    }
    pool.reset();

    const auto info = f.at(level::info);
    ASSERT_EQ(info.size(), 3u);
    EXPECT_TRUE(contains(info[0].text, "pool 'orders' started: target fake://db, max_size 1"))
        << info[0].text;
    EXPECT_EQ(info[1].text, "pool 'orders': connected again after 1 failed attempt");
    EXPECT_TRUE(contains(info[2].text, "pool 'orders' stopped: acquired 1, timeouts 0")) << info[2].text;

    const auto errors = f.at(level::err);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].text,
              "pool 'orders': cannot open a connection to fake://db: connection refused (fake)");

    const auto trace = f.at(level::trace);
    ASSERT_EQ(trace.size(), 2u);
    EXPECT_TRUE(contains(trace[0].text, "lease ")) << trace[0].text;
    EXPECT_TRUE(contains(trace[0].text, "pool_logging_test.cpp:")) << trace[0].text;
    EXPECT_TRUE(contains(trace[1].text, "after 5.000 ms")) << trace[1].text;
}

TEST(PoolLogging, TimeoutIsLoggedWithHoldersAtWarn) {
    fixture f;
    auto pool = f.make(
        {.name = "orders", .max_size = 1, .min_idle = 1, .acquire_timeout = 1s, .validation_timeout = 500ms});
    pool->run_worker_once();
    auto held = pool->acquire();
    std::error_code ec;
    std::thread waiter([&] { auto lease = pool->acquire(ec); });
    f.blocks->wait_blocked(1);
    f.clock.advance(2s);
    waiter.join();
    ASSERT_EQ(ec, lifeguard::errc::timeout);

    const auto warnings = f.at(level::warn);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0].text, "pool 'orders': timed out after")) << warnings[0].text;
    EXPECT_TRUE(contains(warnings[0].text, "holders (1)")) << warnings[0].text;
    EXPECT_TRUE(contains(warnings[0].text, "pool_logging_test.cpp:")) << warnings[0].text;
    const auto debug = f.at(level::debug);
    EXPECT_TRUE(std::any_of(debug.begin(), debug.end(),
                            [](const line& l) { return contains(l.text, "waits for a connection"); }));
}

}  // namespace
