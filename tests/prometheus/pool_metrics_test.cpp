// prometheus_metrics attached to real pools (fake driver, manual clock, manual worker): the
// exported gauges follow the pool, histograms fill from its hooks, destroyed pools disappear.
#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "exposition.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/prometheus.hpp"
#include "support/manual_pool_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::prometheus_metrics;
using lifeguard::prometheus_options;
using lifeguard::testing::scrape;
using fixture = lifeguard::testing::manual_pool_fixture;

TEST(PoolMetrics, GaugesFollowTheLivePool) {
    fixture f;
    prometheus_metrics metrics(
        prometheus_options{.prefix = "hikaricp", .constant_labels = {{"application", "shop"}}});
    auto pool = f.make({.name = "orders", .max_size = 4, .min_idle = 4});
    metrics.attach(*pool);
    pool->run_worker_once();

    auto a = pool->acquire();
    auto b = pool->acquire();
    auto c = pool->acquire();
    auto e = scrape(metrics);
    const std::map<std::string, std::string> orders{{"pool", "orders"}, {"application", "shop"}};
    EXPECT_EQ(e.value("hikaricp_connections", orders), 4);
    EXPECT_EQ(e.value("hikaricp_connections_active", orders), 3);
    EXPECT_EQ(e.value("hikaricp_connections_idle", orders), 1);
    EXPECT_EQ(e.value("hikaricp_connections_pending", orders), 0);
    EXPECT_EQ(e.value("hikaricp_connections_max", orders), 4);
    EXPECT_EQ(e.value("hikaricp_connections_min", orders), 4);
    EXPECT_EQ(e.value("hikaricp_connections_acquire_seconds_count", orders), 3);
    EXPECT_EQ(e.value("hikaricp_connections_creation_seconds_count", orders), 4);
    EXPECT_EQ(e.value("hikaricp_connections_usage_seconds_count", orders), 0);

    f.clock.advance(250ms);
    b.release();
    c.invalidate();
    c.release();
    pool->run_worker_once();  // closes the invalidated one and refills
    e = scrape(metrics);
    EXPECT_EQ(e.value("hikaricp_connections_active", orders), 1);
    EXPECT_EQ(e.value("hikaricp_connections_usage_seconds_count", orders), 2);
    EXPECT_EQ(e.value("hikaricp_connections_usage_seconds_bucket", {{"pool", "orders"}, {"le", "0.1"}}), 0);
    EXPECT_EQ(e.value("hikaricp_connections_usage_seconds_bucket", {{"pool", "orders"}, {"le", "0.25"}}), 2);
    EXPECT_EQ(e.value("hikaricp_connections_closed_total", {{"pool", "orders"}, {"reason", "broken"}}), 1);
}

TEST(PoolMetrics, PendingAndTimeoutsComeFromTheWaitQueue) {
    fixture f;
    prometheus_metrics metrics;
    auto pool = f.make(
        {.name = "orders", .max_size = 1, .min_idle = 1, .acquire_timeout = 1s, .validation_timeout = 500ms});
    metrics.attach(*pool);
    pool->run_worker_once();
    auto held = pool->acquire();

    std::error_code ec;
    std::thread waiter([&] { auto lease = pool->acquire(ec); });
    f.blocks->wait_blocked(1);
    auto e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_pending", {{"pool", "orders"}}), 1);
    EXPECT_EQ(e.value("lifeguard_connections_active", {{"pool", "orders"}}), 1);
    EXPECT_EQ(e.value("lifeguard_connections_timeout_total", {{"pool", "orders"}}), 0);

    f.clock.advance(2s);  // past acquire_timeout on the pool's clock
    waiter.join();
    EXPECT_EQ(ec, lifeguard::errc::timeout);
    e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_pending", {{"pool", "orders"}}), 0);
    EXPECT_EQ(e.value("lifeguard_connections_timeout_total", {{"pool", "orders"}}), 1);
}

// What the detector does to a knot of one under heal (learn the claim, lend an emergency
// connection), done by hand: the claim and emergency series follow, and the emergency
// connection is counted closed as such when it comes back.
TEST(PoolMetrics, HealsClaimAndEmergencyConnectionsAreExported) {
    fixture f;
    prometheus_metrics metrics;
    auto pool = f.make({.name = "ids", .max_size = 2, .min_idle = 2, .on_deadlock = lifeguard::deadlock_policy::heal});
    metrics.attach(*pool);
    pool->run_worker_once();
    const auto task = lifeguard::new_owner_id();
    lifeguard::owner_scope scope(task);
    auto a = pool->acquire();
    auto b = pool->acquire();
    std::error_code ec;
    std::latch lent(1), done(1);
    std::thread nested([&] {
        lifeguard::owner_scope same_task(task);
        auto c = pool->acquire(ec);
        EXPECT_TRUE(c) << ec.message();
        lent.count_down();
        done.wait();
    });
    f.blocks->wait_blocked(1);
    const std::map<std::string, std::string> ids{{"pool", "ids"}};
    auto e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_claim", ids), 0);
    EXPECT_EQ(e.value("lifeguard_connections_emergency_total", ids), 0);

    pool->view().raise_claim(3);  // capped at max_size
    EXPECT_EQ(pool->view().heal_waiter(task, make_error_code(lifeguard::errc::deadlock), nullptr),
              lifeguard::pool_view::heal_outcome::lending);
    pool->run_worker_once();  // opens the emergency connection and hands it over
    lent.wait();
    e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_claim", ids), 2);
    EXPECT_EQ(e.value("lifeguard_connections_emergency", ids), 1);
    EXPECT_EQ(e.value("lifeguard_connections_emergency_total", ids), 1);
    EXPECT_EQ(e.value("lifeguard_connections_emergency_failed_total", ids), 0);
    EXPECT_EQ(e.value("lifeguard_connections", ids), 2) << "emergency connections are not in the total";
    done.count_down();
    nested.join();
    pool->run_worker_once();  // closes it
    e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_emergency", ids), 0);
    EXPECT_EQ(e.value("lifeguard_connections_closed_total", {{"pool", "ids"}, {"reason", "emergency"}}), 1);
}

TEST(PoolMetrics, WaitedAcquireIsTimedInTheHistogram) {
    fixture f;
    prometheus_metrics metrics;
    auto pool = f.make({.name = "orders", .max_size = 1, .min_idle = 1});
    metrics.attach(*pool);
    pool->run_worker_once();
    auto held = pool->acquire();
    std::thread waiter([&] { auto lease = pool->acquire(); });
    f.blocks->wait_blocked(1);
    f.clock.advance(3s);
    held.release();
    waiter.join();
    const auto e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_count", {{"pool", "orders"}}), 2);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_bucket", {{"pool", "orders"}, {"le", "2.5"}}),
              1);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_bucket", {{"pool", "orders"}, {"le", "5"}}), 2);
    EXPECT_GE(e.value("lifeguard_connections_acquire_seconds_max", {{"pool", "orders"}}), 3.0);
}

TEST(PoolMetrics, AnAcquireTimeoutOfForeverAddsNoBucket) {
    // Finite timeouts get buckets at the timeout and twice it; forever gets none (+Inf holds
    // every wait), not a bucket of 9.2e15 s.
    fixture f;
    prometheus_metrics metrics;
    auto pool = f.make({.name = "orders", .max_size = 1, .acquire_timeout = lifeguard::forever});
    metrics.attach(*pool);
    const auto e = scrape(metrics);
    const auto buckets = e.find("lifeguard_connections_acquire_seconds_bucket", {{"pool", "orders"}});
    ASSERT_FALSE(buckets.empty());
    for (const auto& b : buckets) {
        const std::string& le = b.labels.at("le");
        if (le != "+Inf") EXPECT_LE(std::stod(le), 3600.0) << le;
    }
}

// HikariCP times a borrow that runs out of time too (recordBorrowTimeoutStats records the
// elapsed nanos before counting the timeout): the acquire timer must show overload.
TEST(PoolMetrics, TimedOutAcquireIsTimedWithItsWait) {
    fixture f;
    prometheus_metrics metrics(prometheus_options{.prefix = "hikaricp", .legacy_hikaricp_names = true});
    auto pool = f.make(
        {.name = "orders", .max_size = 1, .min_idle = 1, .acquire_timeout = 1s, .validation_timeout = 500ms});
    metrics.attach(*pool);
    pool->run_worker_once();
    auto held = pool->acquire();  // one success, waited 0

    std::error_code ec;
    std::thread waiter([&] { auto lease = pool->acquire(ec); });
    f.blocks->wait_blocked(1);
    f.clock.advance(2s);  // past acquire_timeout on the pool's clock
    waiter.join();
    ASSERT_EQ(ec, lifeguard::errc::timeout);

    const auto e = scrape(metrics);
    const std::map<std::string, std::string> orders{{"pool", "orders"}};
    EXPECT_EQ(e.value("hikaricp_connections_timeout_total", orders), 1);
    EXPECT_EQ(e.value("hikaricp_connections_acquire_seconds_count", orders), 2);
    EXPECT_EQ(e.value("hikaricp_connections_acquire_seconds_bucket", {{"pool", "orders"}, {"le", "1"}}), 1);
    EXPECT_EQ(e.value("hikaricp_connections_acquire_seconds_bucket", {{"pool", "orders"}, {"le", "2.5"}}), 2);
    EXPECT_GE(e.value("hikaricp_connections_acquire_seconds_sum", orders), 2.0);
    EXPECT_GE(e.value("hikaricp_connections_acquire_seconds_max", orders), 2.0);
    // The legacy simpleclient timer is fed by the same records, in nanoseconds.
    EXPECT_EQ(e.value("hikaricp_connection_acquired_nanos_count", orders), 2);
    EXPECT_GE(e.value("hikaricp_connection_acquired_nanos_sum", orders), 2e9);
}

// A caller refused by max_pending is timed too (HikariCP has no such limit; lifeguard records
// every acquire that ends without a connection, with what it waited).
TEST(PoolMetrics, RefusedAcquireIsTimed) {
    fixture f;
    prometheus_metrics metrics;
    auto pool = f.make({.name = "orders", .max_size = 1, .min_idle = 1, .max_pending = 1});
    metrics.attach(*pool);
    pool->run_worker_once();
    auto held = pool->acquire();
    std::thread waiter([&] { auto lease = pool->acquire(); });
    f.blocks->wait_blocked(1);

    std::error_code ec;
    auto refused = pool->acquire(ec);
    EXPECT_EQ(ec, lifeguard::errc::pending_limit);
    auto e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_rejected_total", {{"pool", "orders"}}), 1);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_count", {{"pool", "orders"}}), 2);

    held.release();
    waiter.join();
    e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_count", {{"pool", "orders"}}), 3);
}

TEST(PoolMetrics, LeaksAreCounted) {
    fixture f;
    prometheus_metrics metrics;
    auto pool = f.make({.name = "orders", .max_size = 2, .min_idle = 2, .leak_detection_threshold = 2s});
    metrics.attach(*pool);
    pool->run_worker_once();
    auto lease = pool->acquire();
    f.clock.advance(3s);
    pool->run_worker_once();
    EXPECT_EQ(scrape(metrics).value("lifeguard_connections_leaks_total", {{"pool", "orders"}}), 1);
}

TEST(PoolMetrics, SeveralPoolsAndADestroyedOne) {
    fixture f;
    prometheus_metrics metrics;
    auto orders = f.make({.name = "orders", .max_size = 2, .min_idle = 2});
    auto users = f.make({.name = "users", .max_size = 3, .min_idle = 1});
    metrics.attach(*orders);
    metrics.attach(*users);
    auto twin = f.make({.name = "orders", .max_size = 1});
    EXPECT_THROW(metrics.attach(*twin), std::invalid_argument);

    auto e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_max", {{"pool", "orders"}}), 2);
    EXPECT_EQ(e.value("lifeguard_connections_max", {{"pool", "users"}}), 3);

    // Destroyed with a lease outstanding: it leaves the collection at once, the late return is
    // harmless, and its name is free again.
    orders->run_worker_once();
    auto lease = orders->acquire();
    orders.reset();
    e = scrape(metrics);
    EXPECT_TRUE(e.find("lifeguard_connections", {{"pool", "orders"}}).empty());
    EXPECT_EQ(e.value("lifeguard_connections_max", {{"pool", "users"}}), 3);
    EXPECT_EQ(metrics.pool_count(), 1u);
    lease.release();
    metrics.attach(*twin);
    EXPECT_EQ(scrape(metrics).value("lifeguard_connections_max", {{"pool", "orders"}}), 1);
}

}  // namespace
