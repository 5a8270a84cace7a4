// Failed acquires explain themselves: verdict, counters, last connection error, holders.
#include <gtest/gtest.h>

#include <thread>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolDiagnostics, ErrorCategoryNamesItselfAndEachCode) {
    EXPECT_STREQ(pool_category().name(), "lifeguard.pool");
    std::error_code ec = errc::timeout;
    EXPECT_EQ(&ec.category(), &pool_category());
    EXPECT_NE(ec.message().find("acquire_timeout"), std::string::npos);
    EXPECT_NE(make_error_code(errc::pending_limit).message().find("max_pending"), std::string::npos);
    EXPECT_NE(make_error_code(errc::deadlock).message().find("deadlock"), std::string::npos);
    EXPECT_NE(make_error_code(errc::pool_closed).message().find("closed"), std::string::npos);
}

TEST(PoolDiagnostics, ExhaustedTimeoutNamesTheHolders) {
    manual_fixture f;
    auto pool = f.make_filled({.name = "orders", .max_size = 1, .acquire_timeout = 2s, .validation_timeout = 1s});
    owner_scope request("checkout 12");
    auto held = pool->acquire();
    const auto held_line = held.site().line();
    std::optional<pool_error> failure;
    std::thread caller([&] {
        try {
            auto l = pool->acquire();
        } catch (const pool_error& e) {
            failure = e;
        }
    });
    f.events->wait_blocked(1);
    f.clock.advance(1s);
    f.clock.advance(1s);
    caller.join();
    ASSERT_TRUE(failure.has_value());
    const auto& d = failure->diagnostics();
    EXPECT_EQ(failure->code(), errc::timeout);
    EXPECT_EQ(d.what, verdict::exhausted);
    EXPECT_EQ(d.pool_name, "orders");
    EXPECT_EQ(d.waited, 2s);
    EXPECT_EQ(d.stats.active, 1u);
    EXPECT_EQ(d.stats.max, 1u);
    ASSERT_EQ(d.holders.size(), 1u);
    EXPECT_EQ(d.holders[0].owner, request.id());
    EXPECT_EQ(d.holders[0].owner_label, "checkout 12");
    EXPECT_EQ(d.holders[0].site.line(), held_line);
    EXPECT_EQ(d.holders[0].age, 2s);
    const std::string text = failure->what();
    EXPECT_NE(text.find("pool 'orders': timed out after 2000 ms, pool exhausted: 1/1 connections in use"),
              std::string::npos) << text;
    EXPECT_NE(text.find("diagnostics_test.cpp:" + std::to_string(held_line)), std::string::npos) << text;
    EXPECT_NE(d.to_string().find("holders (1):"), std::string::npos);
    EXPECT_NE(text.find("longest holder: checkout 12 (task " + std::to_string(request.id()) + ")"), std::string::npos)
        << text;
    EXPECT_EQ(pool->stats().timeouts, 1u);
    EXPECT_EQ(f.events->failures(), std::vector<verdict>{verdict::exhausted});
}

TEST(PoolDiagnostics, UnreachableDatabaseTimeoutCarriesTheLastError) {
    manual_fixture f;
    f.driver.with([](auto& s) {
        s.refuse_connects = true;
        s.connect_error = "could not connect to 127.0.0.1:5432: Connection refused";
    });
    auto pool = f.make({.max_size = 2, .acquire_timeout = 1s, .validation_timeout = 500ms});
    std::error_code ec;
    std::thread caller([&] { auto l = pool->acquire(ec); });
    f.events->wait_blocked(1);
    pool->run_worker_once();
    f.clock.advance(1s);
    caller.join();
    EXPECT_EQ(ec, errc::timeout);
    auto d = pool->last_failure();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->what, verdict::database_unreachable);
    EXPECT_EQ(d->last_connect_error, "could not connect to 127.0.0.1:5432: Connection refused");
    EXPECT_NE(d->summary().find("database unreachable"), std::string::npos) << d->summary();
    EXPECT_NE(d->summary().find("Connection refused"), std::string::npos) << d->summary();
    EXPECT_NE(d->to_string().find("target: fake://db"), std::string::npos) << d->to_string();
}

TEST(PoolDiagnostics, FullQueueRejectsAtOnce) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .max_pending = 1});
    auto held = pool->acquire();
    std::error_code first;
    std::thread waiter([&] { auto l = pool->acquire(first); });
    f.events->wait_blocked(1);
    std::error_code second;
    auto rejected = pool->acquire(second);
    EXPECT_FALSE(rejected);
    EXPECT_EQ(second, errc::pending_limit);
    EXPECT_EQ(pool->last_failure()->what, verdict::rejected);
    EXPECT_EQ(pool->stats().rejected, 1u);
    held.release();
    waiter.join();
    EXPECT_FALSE(first);
}

TEST(PoolDiagnostics, HangingConnectNeverHoldsAnAcquirePastItsTimeout) {
    // Real clock and worker thread: the connect hangs until its deadline, the acquire gives up
    // at its own timeout (300 ms) with the verdict "database unreachable" — whether the connect
    // is still hanging then or has just failed.
    fake_driver driver;
    driver.with([](auto& s) { s.hold_connects = true; });
    pool<fake_driver> p(driver, {.max_size = 1, .acquire_timeout = 300ms, .validation_timeout = 250ms});
    std::error_code ec;
    auto lease = p.acquire(ec);
    EXPECT_EQ(ec, errc::timeout);
    EXPECT_EQ(p.last_failure()->what, verdict::database_unreachable);
    EXPECT_GE(p.last_failure()->waited, 300ms);
    const auto& d = *p.last_failure();
    EXPECT_TRUE(d.stats.creating == 1u || d.last_connect_error == "connect timed out (fake)") << d.to_string();
    driver.with([](auto& s) { s.hold_connects = false; });
}

}  // namespace
}  // namespace lifeguard::testing
