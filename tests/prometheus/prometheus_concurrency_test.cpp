// prometheus_metrics under concurrent recording and scraping (also run under ThreadSanitizer):
// no observation is lost and scrapes never see torn or decreasing counts.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "exposition.hpp"
#include "lifeguard/prometheus.hpp"
#include "stub_pool_view.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::testing::scrape;

TEST(PrometheusConcurrency, ConcurrentObservationsAreAllCountedWhileScraping) {
    constexpr int threads = 4;
    constexpr int per_thread = 20000;
    lifeguard::prometheus_metrics metrics;
    lifeguard::testing::stub_pool_view pool("orders");
    auto observer = metrics.make_observer();
    observer->on_attach(pool);

    std::latch start(threads + 1);
    std::atomic<int> running{threads};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < per_thread; ++i) {
                observer->on_acquired(pool, {}, std::chrono::microseconds(i % 7 == 0 ? 1500 : 0));
                observer->on_release(pool, {}, std::chrono::microseconds(100 + t));
            }
            running.fetch_sub(1);
        });
    }
    start.arrive_and_wait();
    double last_count = 0;
    int scrapes = 0;
    while (running.load() > 0 && scrapes < 100000) {
        const auto e = scrape(metrics);
        const double count = e.value("lifeguard_connections_usage_seconds_count", {{"pool", "orders"}});
        const double inf =
            e.value("lifeguard_connections_usage_seconds_bucket", {{"pool", "orders"}, {"le", "+Inf"}});
        EXPECT_GE(count, last_count);
        EXPECT_EQ(count, inf);
        last_count = count;
        ++scrapes;
    }
    for (auto& w : workers) w.join();

    const auto e = scrape(metrics);
    constexpr double total = double(threads) * per_thread;
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_count", {{"pool", "orders"}}), total);
    EXPECT_EQ(e.value("lifeguard_connections_usage_seconds_count", {{"pool", "orders"}}), total);
    // Every usage observation was 100..103 us: all land in the 0.0005 bucket.
    EXPECT_EQ(e.value("lifeguard_connections_usage_seconds_bucket", {{"pool", "orders"}, {"le", "0.0005"}}),
              total);
    double waited = 0;
    for (int i = 0; i < per_thread; ++i) waited += (i % 7 == 0);
    EXPECT_EQ(
        e.value("lifeguard_connections_acquire_seconds_bucket", {{"pool", "orders"}, {"le", "0.0025"}}) -
            e.value("lifeguard_connections_acquire_seconds_bucket", {{"pool", "orders"}, {"le", "0.001"}}),
        waited * threads);
    EXPECT_NEAR(e.value("lifeguard_connections_acquire_seconds_sum", {{"pool", "orders"}}),
                waited * threads * 0.0015, 1e-9);
    EXPECT_DOUBLE_EQ(e.value("lifeguard_connections_usage_seconds_max", {{"pool", "orders"}}), 0.000103);
}

TEST(PrometheusConcurrency, PoolsComeAndGoWhileScraping) {
    lifeguard::prometheus_metrics metrics;
    std::atomic<bool> done{false};
    std::latch start(2);
    std::thread scraper([&] {
        start.arrive_and_wait();
        int scrapes = 0;
        while (!done.load() && scrapes < 100000) {
            const auto e = scrape(metrics);
            // A pool's families appear together or not at all.
            EXPECT_EQ(e.find("lifeguard_connections", {}).size(),
                      e.find("lifeguard_connections_idle", {}).size());
            ++scrapes;
        }
    });
    start.arrive_and_wait();
    for (int i = 0; i < 2000; ++i) {
        lifeguard::testing::stub_pool_view pool("pool-" + std::to_string(i % 3));
        auto observer = metrics.make_observer();
        observer->on_attach(pool);
        observer->on_acquired(pool, {}, 1ms);
        observer->on_detach(pool);
    }
    done.store(true);
    scraper.join();
    EXPECT_EQ(metrics.pool_count(), 0u);
    EXPECT_TRUE(metrics.Collect().empty());
}

}  // namespace
