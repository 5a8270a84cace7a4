// Unit tests of lifeguard::prometheus_metrics driven through a hand-set pool_view: family names
// for both prefixes, values read from stats(), histograms, several pools, detaching, options.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "exposition.hpp"
#include "lifeguard/prometheus.hpp"
#include "stub_pool_view.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::close_reason;
using lifeguard::lease_info;
using lifeguard::prometheus_metrics;
using lifeguard::prometheus_options;
using lifeguard::testing::exposition;
using lifeguard::testing::scrape;
using lifeguard::testing::stub_pool_view;

// Every family the adapter exports and its type, by suffix after "<prefix>_connections".
const std::vector<std::pair<std::string, std::string>> expected_families = {
    {"", "gauge"},
    {"_active", "gauge"},
    {"_idle", "gauge"},
    {"_pending", "gauge"},
    {"_max", "gauge"},
    {"_min", "gauge"},
    {"_timeout_total", "counter"},
    {"_acquire_seconds", "histogram"},
    {"_acquire_seconds_max", "gauge"},
    {"_usage_seconds", "histogram"},
    {"_usage_seconds_max", "gauge"},
    {"_creation_seconds", "histogram"},
    {"_creation_seconds_max", "gauge"},
    {"_deadlocks_total", "counter"},
    {"_nested_acquisitions_total", "counter"},
    {"_leaks_total", "counter"},
    {"_closed_total", "counter"},
    {"_connect_failures_total", "counter"},
    {"_rejected_total", "counter"},
    {"_claim", "gauge"},
    {"_emergency", "gauge"},
    {"_emergency_total", "counter"},
    {"_emergency_failed_total", "counter"},
};

lifeguard::pool_stats busy_stats() {
    lifeguard::pool_stats s;
    s.total = 9;
    s.active = 7;
    s.idle = 2;
    s.pending = 4;
    s.max = 10;
    s.min = 3;
    s.timeouts = 11;
    s.rejected = 5;
    s.connect_failures = 6;
    s.deadlocks = 2;
    s.nested_acquisitions = 13;
    s.leaks = 1;
    s.claim = 2;
    s.emergency = 1;
    s.emergency_lent = 14;
    s.emergency_failed = 15;
    s.closed[static_cast<std::size_t>(close_reason::broken)] = 3;
    s.closed[static_cast<std::size_t>(close_reason::idle)] = 4;
    s.closed[static_cast<std::size_t>(close_reason::lifetime)] = 8;
    s.closed[static_cast<std::size_t>(close_reason::evicted)] = 0;
    s.closed[static_cast<std::size_t>(close_reason::shutdown)] = 1;
    return s;
}

class PrometheusNames : public ::testing::TestWithParam<std::string> {};

TEST_P(PrometheusNames, ExportsEveryFamilyNameByName) {
    const auto prefix = GetParam();
    prometheus_metrics metrics(prometheus_options{.prefix = prefix});
    stub_pool_view pool("orders", {.name = "orders", .max_size = 10, .min_idle = 3});
    pool.snapshot = busy_stats();
    auto observer = metrics.make_observer();
    observer->on_attach(pool);

    const auto e = scrape(metrics);
    const auto base = prefix + "_connections";
    std::set<std::string> expected_names;
    for (const auto& [suffix, type] : expected_families) {
        const auto name = base + suffix;
        expected_names.insert(name);
        ASSERT_TRUE(e.types.count(name)) << name << " missing in:\n" << e.text;
        EXPECT_EQ(e.types.at(name), type) << name;
    }
    std::set<std::string> exported;
    for (const auto& [name, type] : e.types) exported.insert(name);
    EXPECT_EQ(exported, expected_names);

    const std::map<std::string, std::string> orders{{"pool", "orders"}};
    EXPECT_EQ(e.value(base, orders), 9);
    EXPECT_EQ(e.value(base + "_active", orders), 7);
    EXPECT_EQ(e.value(base + "_idle", orders), 2);
    EXPECT_EQ(e.value(base + "_pending", orders), 4);
    EXPECT_EQ(e.value(base + "_max", orders), 10);
    EXPECT_EQ(e.value(base + "_min", orders), 3);
    EXPECT_EQ(e.value(base + "_timeout_total", orders), 11);
    EXPECT_EQ(e.value(base + "_deadlocks_total", orders), 2);
    EXPECT_EQ(e.value(base + "_nested_acquisitions_total", orders), 13);
    EXPECT_EQ(e.value(base + "_leaks_total", orders), 1);
    EXPECT_EQ(e.value(base + "_connect_failures_total", orders), 6);
    EXPECT_EQ(e.value(base + "_rejected_total", orders), 5);
    EXPECT_EQ(e.value(base + "_claim", orders), 2);
    EXPECT_EQ(e.value(base + "_emergency", orders), 1);
    EXPECT_EQ(e.value(base + "_emergency_total", orders), 14);
    EXPECT_EQ(e.value(base + "_emergency_failed_total", orders), 15);
    EXPECT_EQ(e.value(base + "_closed_total", {{"pool", "orders"}, {"reason", "broken"}}), 3);
    EXPECT_EQ(e.value(base + "_closed_total", {{"pool", "orders"}, {"reason", "idle"}}), 4);
    EXPECT_EQ(e.value(base + "_closed_total", {{"pool", "orders"}, {"reason", "lifetime"}}), 8);
    EXPECT_EQ(e.value(base + "_closed_total", {{"pool", "orders"}, {"reason", "evicted"}}), 0);
    EXPECT_EQ(e.value(base + "_closed_total", {{"pool", "orders"}, {"reason", "shutdown"}}), 1);
    for (const auto* h : {"_acquire_seconds", "_usage_seconds", "_creation_seconds"}) {
        EXPECT_EQ(e.value(base + h + "_count", orders), 0) << h;
        EXPECT_EQ(e.value(base + h + "_sum", orders), 0) << h;
        EXPECT_EQ(e.value(base + h + "_bucket", {{"pool", "orders"}, {"le", "+Inf"}}), 0) << h;
    }
}

std::string prefix_name(const ::testing::TestParamInfo<std::string>& param) {
    return param.param;
}

INSTANTIATE_TEST_SUITE_P(Prefixes, PrometheusNames, ::testing::Values("lifeguard", "hikaricp"), prefix_name);

// The series Micrometer's HikariCP tracker produces and the Spring Boot dashboards (6083,
// 20729, 6756/19004) query; with prefix "hikaricp" every one must exist under the same name.
TEST(PrometheusNames, HikariPrefixReproducesMicrometerSeries) {
    prometheus_metrics metrics(prometheus_options{.prefix = "hikaricp"});
    stub_pool_view pool("HikariPool-1");
    auto observer = metrics.make_observer();
    observer->on_attach(pool);
    const auto names = scrape(metrics).sample_names();
    for (const auto* name :
         {"hikaricp_connections", "hikaricp_connections_active", "hikaricp_connections_idle",
          "hikaricp_connections_pending", "hikaricp_connections_max", "hikaricp_connections_min",
          "hikaricp_connections_timeout_total", "hikaricp_connections_acquire_seconds_count",
          "hikaricp_connections_acquire_seconds_sum", "hikaricp_connections_acquire_seconds_max",
          "hikaricp_connections_acquire_seconds_bucket", "hikaricp_connections_usage_seconds_count",
          "hikaricp_connections_usage_seconds_sum", "hikaricp_connections_usage_seconds_max",
          "hikaricp_connections_creation_seconds_count", "hikaricp_connections_creation_seconds_sum",
          "hikaricp_connections_creation_seconds_max"})
        EXPECT_TRUE(names.count(name)) << name;
}

// HikariCP's older simpleclient tracker names (dashboard 17313), only when asked for.
TEST(PrometheusNames, LegacyHikariNamesOnRequest) {
    stub_pool_view pool("HikariPool-1");
    pool.snapshot = busy_stats();
    prometheus_metrics plain(prometheus_options{.prefix = "hikaricp"});
    prometheus_metrics legacy(prometheus_options{.prefix = "hikaricp", .legacy_hikaricp_names = true});
    auto a = plain.make_observer();
    auto b = legacy.make_observer();
    a->on_attach(pool);
    b->on_attach(pool);
    b->on_acquired(pool, {}, 2ms);
    b->on_acquired(pool, {}, 0ns);
    b->on_release(pool, {}, 1500us);
    b->on_connection_created(pool, 40ms);

    const auto e = scrape(legacy);
    const std::map<std::string, std::string> p{{"pool", "HikariPool-1"}};
    EXPECT_EQ(e.value("hikaricp_connections", p), 9);
    EXPECT_EQ(e.value("hikaricp_active_connections", p), 7);
    EXPECT_EQ(e.value("hikaricp_idle_connections", p), 2);
    EXPECT_EQ(e.value("hikaricp_pending_threads", p), 4);
    EXPECT_EQ(e.value("hikaricp_max_connections", p), 10);
    EXPECT_EQ(e.value("hikaricp_min_connections", p), 3);
    EXPECT_EQ(e.value("hikaricp_connection_timeout_total", p), 11);
    EXPECT_EQ(e.types.at("hikaricp_connection_acquired_nanos"), "summary");
    EXPECT_EQ(e.value("hikaricp_connection_acquired_nanos_count", p), 2);
    EXPECT_DOUBLE_EQ(e.value("hikaricp_connection_acquired_nanos_sum", p), 2e6);
    EXPECT_EQ(e.value("hikaricp_connection_usage_millis_count", p), 1);
    EXPECT_DOUBLE_EQ(e.value("hikaricp_connection_usage_millis_sum", p), 1.5);
    EXPECT_EQ(e.value("hikaricp_connection_creation_millis_count", p), 1);
    EXPECT_DOUBLE_EQ(e.value("hikaricp_connection_creation_millis_sum", p), 40);
    // The Micrometer names are still there, once.
    EXPECT_EQ(e.value("hikaricp_connections_pending", p), 4);

    const auto names = scrape(plain).sample_names();
    for (const auto* legacy_name : {"hikaricp_pending_threads", "hikaricp_active_connections",
                                    "hikaricp_connection_acquired_nanos_count"})
        EXPECT_FALSE(names.count(legacy_name)) << legacy_name;
}

TEST(PrometheusMetrics, HistogramsCountWhatTheHooksSee) {
    prometheus_metrics metrics;
    stub_pool_view pool("orders");  // acquire_timeout 30 s
    auto observer = metrics.make_observer();
    observer->on_attach(pool);
    const lease_info lease{};
    for (int i = 0; i < 3; ++i) observer->on_acquired(pool, lease, 0ns);
    observer->on_acquired(pool, lease, 2ms);
    observer->on_acquired(pool, lease, 40s);
    observer->on_release(pool, lease, 300us);
    observer->on_release(pool, lease, 7ms);
    observer->on_connection_created(pool, 20ms);

    const auto e = scrape(metrics);
    auto bucket = [&](const std::string& name, const std::string& le) {
        return e.value(name + "_bucket", {{"pool", "orders"}, {"le", le}});
    };
    const std::string acquire = "lifeguard_connections_acquire_seconds";
    EXPECT_EQ(bucket(acquire, "0.0005"), 3);  // the three that did not wait
    EXPECT_EQ(bucket(acquire, "0.001"), 3);
    EXPECT_EQ(bucket(acquire, "0.0025"), 4);
    EXPECT_EQ(bucket(acquire, "30"), 4);
    EXPECT_EQ(bucket(acquire, "45"), 5);
    EXPECT_EQ(bucket(acquire, "+Inf"), 5);
    EXPECT_EQ(e.value(acquire + "_count", {{"pool", "orders"}}), 5);
    EXPECT_DOUBLE_EQ(e.value(acquire + "_sum", {{"pool", "orders"}}), 40.002);
    EXPECT_DOUBLE_EQ(e.value(acquire + "_max", {{"pool", "orders"}}), 40.0);

    const std::string usage = "lifeguard_connections_usage_seconds";
    EXPECT_EQ(bucket(usage, "0.0005"), 1);
    EXPECT_EQ(bucket(usage, "0.005"), 1);
    EXPECT_EQ(bucket(usage, "0.01"), 2);
    EXPECT_EQ(e.value(usage + "_count", {{"pool", "orders"}}), 2);
    EXPECT_DOUBLE_EQ(e.value(usage + "_sum", {{"pool", "orders"}}), 0.0073);
    EXPECT_DOUBLE_EQ(e.value(usage + "_max", {{"pool", "orders"}}), 0.007);

    const std::string creation = "lifeguard_connections_creation_seconds";
    EXPECT_EQ(bucket(creation, "0.01"), 0);
    EXPECT_EQ(bucket(creation, "0.025"), 1);
    EXPECT_EQ(e.value(creation + "_count", {{"pool", "orders"}}), 1);
    EXPECT_DOUBLE_EQ(e.value(creation + "_max", {{"pool", "orders"}}), 0.02);
}

TEST(PrometheusMetrics, BucketsReachPastTheAcquireTimeout) {
    prometheus_metrics metrics;
    stub_pool_view pool("slow", {.name = "slow", .acquire_timeout = 120s});
    auto observer = metrics.make_observer();
    observer->on_attach(pool);
    observer->on_acquired(pool, {}, 100s);
    const auto e = scrape(metrics);
    for (const auto* h :
         {"lifeguard_connections_acquire_seconds_bucket", "lifeguard_connections_creation_seconds_bucket"}) {
        std::vector<double> bounds;
        for (const auto& s : e.find(h, {{"pool", "slow"}}))
            if (s.labels.at("le") != "+Inf") bounds.push_back(std::stod(s.labels.at("le")));
        ASSERT_FALSE(bounds.empty());
        EXPECT_TRUE(std::is_sorted(bounds.begin(), bounds.end()));
        EXPECT_GT(bounds.back(), 120.0) << h;
        EXPECT_NE(std::find(bounds.begin(), bounds.end(), 120.0), bounds.end()) << h;
    }
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_bucket", {{"pool", "slow"}, {"le", "120"}}), 1);
}

TEST(PrometheusMetrics, SeveralPoolsShareOneCollectable) {
    prometheus_metrics metrics(prometheus_options{.constant_labels = {{"application", "shop"}}});
    stub_pool_view orders("orders"), users("users"), audit("audit");
    orders.snapshot.active = 1;
    users.snapshot.active = 2;
    audit.snapshot.active = 3;
    std::vector<std::shared_ptr<lifeguard::pool_observer>> observers;
    for (auto* p : {&orders, &users, &audit}) {
        observers.push_back(metrics.make_observer());
        observers.back()->on_attach(*p);
    }
    observers[1]->on_acquired(users, {}, 5ms);
    EXPECT_EQ(metrics.pool_count(), 3u);

    const auto e = scrape(metrics);
    EXPECT_EQ(e.value("lifeguard_connections_active", {{"pool", "orders"}}), 1);
    EXPECT_EQ(e.value("lifeguard_connections_active", {{"pool", "users"}}), 2);
    EXPECT_EQ(e.value("lifeguard_connections_active", {{"pool", "audit"}}), 3);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_count", {{"pool", "users"}}), 1);
    EXPECT_EQ(e.value("lifeguard_connections_acquire_seconds_count", {{"pool", "orders"}}), 0);
    EXPECT_EQ(e.find("lifeguard_connections_active", {}).size(), 3u);
    for (const auto& s : e.samples) {
        ASSERT_TRUE(s.labels.count("application")) << s.name;
        EXPECT_EQ(s.labels.at("application"), "shop") << s.name;
    }
    // One TYPE line per family however many pools.
    std::size_t type_lines = 0;
    for (std::size_t pos = 0;
         (pos = e.text.find("# TYPE lifeguard_connections_active ", pos)) != std::string::npos; ++pos)
        ++type_lines;
    EXPECT_EQ(type_lines, 1u);
}

TEST(PrometheusMetrics, DestroyedPoolStopsExporting) {
    prometheus_metrics metrics;
    stub_pool_view orders("orders"), users("users");
    auto a = metrics.make_observer();
    auto b = metrics.make_observer();
    a->on_attach(orders);
    b->on_attach(users);
    ASSERT_EQ(scrape(metrics).find("lifeguard_connections", {{"pool", "orders"}}).size(), 1u);

    a->on_detach(orders);
    a->on_acquired(orders, {}, 1ms);  // late hooks are ignored, not recorded or crashing
    auto e = scrape(metrics);
    EXPECT_TRUE(e.find("lifeguard_connections", {{"pool", "orders"}}).empty());
    for (const auto& s : e.samples) EXPECT_EQ(s.labels.at("pool"), "users") << s.name;
    EXPECT_EQ(metrics.pool_count(), 1u);
    EXPECT_FALSE(metrics.exports_pool_named("orders"));
    EXPECT_TRUE(metrics.exports_pool_named("users"));

    b->on_detach(users);
    EXPECT_TRUE(metrics.Collect().empty());
}

TEST(PrometheusMetrics, ObserverServesOnlyItsFirstPool) {
    prometheus_metrics metrics;
    stub_pool_view orders("orders"), users("users");
    auto observer = metrics.make_observer();
    observer->on_attach(orders);
    observer->on_attach(users);
    observer->on_detach(users);  // not its pool: orders keeps exporting
    const auto e = scrape(metrics);
    EXPECT_EQ(e.find("lifeguard_connections", {{"pool", "orders"}}).size(), 1u);
    EXPECT_TRUE(e.find("lifeguard_connections", {{"pool", "users"}}).empty());
}

// attach() works with anything that has name() and add_observer(), like basic_pool.
struct attachable_stub {
    explicit attachable_stub(std::string name) : view(std::move(name)) {}
    const std::string& name() const { return view.name(); }
    void add_observer(std::shared_ptr<lifeguard::pool_observer> o) {
        o->on_attach(view);
        observers.push_back(std::move(o));
    }
    stub_pool_view view;
    std::vector<std::shared_ptr<lifeguard::pool_observer>> observers;
};

TEST(PrometheusMetrics, AttachRefusesASecondLivePoolWithTheSameName) {
    prometheus_metrics metrics;
    attachable_stub first("orders"), second("orders"), other("users");
    metrics.attach(first);
    EXPECT_THROW(metrics.attach(second), std::invalid_argument);
    EXPECT_TRUE(second.observers.empty());
    metrics.attach(other);
    EXPECT_EQ(metrics.pool_count(), 2u);

    // Through make_observer() the check is not made; the collection still stays valid.
    second.add_observer(metrics.make_observer());
    EXPECT_EQ(scrape(metrics).find("lifeguard_connections", {{"pool", "orders"}}).size(), 1u);
}

TEST(PrometheusMetrics, MaxGaugesDecayOverTheWindowOnThePoolClock) {
    prometheus_metrics metrics(prometheus_options{.max_window = 3s});
    stub_pool_view pool("orders");
    auto observer = metrics.make_observer();
    observer->on_attach(pool);
    const std::string max = "lifeguard_connections_usage_seconds_max";
    auto current = [&] { return scrape(metrics).value(max, {{"pool", "orders"}}); };

    observer->on_release(pool, {}, 5ms);
    EXPECT_DOUBLE_EQ(current(), 0.005);
    pool.now_value = 1s;
    EXPECT_DOUBLE_EQ(current(), 0.005);
    observer->on_release(pool, {}, 2ms);
    pool.now_value = 2s;
    EXPECT_DOUBLE_EQ(current(), 0.005);
    pool.now_value = 3s;
    EXPECT_DOUBLE_EQ(current(), 0.002);  // the 5 ms is a full window old
    pool.now_value = 4s;
    EXPECT_DOUBLE_EQ(current(), 0.0);
    // The histogram itself never forgets.
    EXPECT_EQ(scrape(metrics).value("lifeguard_connections_usage_seconds_count", {{"pool", "orders"}}), 2);
    pool.now_value = 60s;  // a long gap resynchronises the window
    observer->on_release(pool, {}, 9ms);
    EXPECT_DOUBLE_EQ(current(), 0.009);
}

TEST(PrometheusOptions, RejectsBadValuesNamingTheField) {
    auto message = [](prometheus_options o) -> std::string {
        try {
            prometheus_metrics m(std::move(o));
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_NE(message({.prefix = ""}).find("prefix"), std::string::npos);
    EXPECT_NE(message({.prefix = "9lives"}).find("prefix"), std::string::npos);
    EXPECT_NE(message({.prefix = "my__app"}).find("prefix"), std::string::npos);
    EXPECT_NE(message({.prefix = "my-app"}).find("prefix"), std::string::npos);
    EXPECT_NE(message({.constant_labels = {{"pool", "x"}}}).find("'pool'"), std::string::npos);
    EXPECT_NE(message({.constant_labels = {{"bad-name", "x"}}}).find("'bad-name'"), std::string::npos);
    EXPECT_NE(message({.constant_labels = {{"__meta", "x"}}}).find("'__meta'"), std::string::npos);
    EXPECT_NE(message({.acquire_buckets = {0.1, 0.05}}).find("acquire_buckets[1]"), std::string::npos);
    EXPECT_NE(message({.usage_buckets = {-1}}).find("usage_buckets[0]"), std::string::npos);
    EXPECT_NE(message({.creation_buckets = {1, std::numeric_limits<double>::quiet_NaN()}})
                  .find("creation_buckets[1]"),
              std::string::npos);
    EXPECT_NE(message({.max_window = 1ms}).find("max_window"), std::string::npos);
    EXPECT_EQ(message({.prefix = "app:db", .constant_labels = {{"application", "shop"}}}), "");
}

}  // namespace
