// lifeguard::detector_metrics: the detector's Tn, Cm and safe size per pool as Prometheus gauges,
// with the pool and constant labels, nothing for a pool the detector has not sampled, and clear
// errors for a null detector or bad options. In-memory driver, no threads but the pools' workers.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "consumer/common/counter_driver.hpp"
#include "lifeguard/detector_metrics.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"

namespace {

std::shared_ptr<lifeguard::diagnostics::deadlock_detector> quiet_detector() {
    lifeguard::diagnostics::detector_options o;
    o.watchdog_interval = std::chrono::milliseconds(0);
    return std::make_shared<lifeguard::diagnostics::deadlock_detector>(std::move(o));
}

// family name -> pool -> value, and every sample's labels checked to hold `application`.
std::map<std::string, std::map<std::string, double>> values_of(const lifeguard::detector_metrics& m) {
    std::map<std::string, std::map<std::string, double>> out;
    for (const auto& f : m.Collect()) {
        EXPECT_EQ(f.type, ::prometheus::MetricType::Gauge) << f.name;
        auto& pools = out[f.name];
        for (const auto& s : f.metric) {
            std::map<std::string, std::string> labels;
            for (const auto& l : s.label) labels[l.name] = l.value;
            EXPECT_EQ(labels["application"], "shop") << f.name;
            pools[labels["pool"]] = s.gauge.value;
        }
    }
    return out;
}

TEST(DetectorMetrics, ExportsTnCmAndTheSafeSizeOfEverySampledPool) {
    auto detector = quiet_detector();
    lifeguard::pool<counter_driver> app(counter_driver{}, {.name = "app", .max_size = 4});
    lifeguard::pool<counter_driver> idle(counter_driver{}, {.name = "idle", .max_size = 2});
    app.add_observer(detector);
    idle.add_observer(detector);
    const lifeguard::detector_metrics metrics(
        detector, {.prefix = "hikaricp", .constant_labels = {{"application", "shop"}}});

    {
        lifeguard::owner_scope login("login 1");
        auto outer = app.acquire();
        auto inner = app.acquire();  // nested: Cm 2 for one task, so a safe size of 1 x (2 - 1) + 1
    }
    const auto v = values_of(metrics);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v.at("hikaricp_connections_observed_tasks").at("app"), 1);
    EXPECT_EQ(v.at("hikaricp_connections_observed_per_task").at("app"), 2);
    EXPECT_EQ(v.at("hikaricp_connections_safe_size").at("app"), 2);
    // "idle" was never used: the detector has no figure for it, so there is no sample.
    for (const auto& [family, pools] : v) EXPECT_FALSE(pools.contains("idle")) << family;
}

TEST(DetectorMetrics, NoSamplesBeforeThePoolIsUsed) {
    auto detector = quiet_detector();
    lifeguard::pool<counter_driver> app(counter_driver{}, {.name = "app", .max_size = 2});
    app.add_observer(detector);
    const lifeguard::detector_metrics metrics(detector);
    const auto families = metrics.Collect();
    ASSERT_EQ(families.size(), 3u);
    EXPECT_EQ(families[0].name, "lifeguard_connections_observed_tasks");  // the default prefix
    for (const auto& f : families) EXPECT_TRUE(f.metric.empty()) << f.name;
}

TEST(DetectorMetrics, RefusesANullDetectorAndBadOptionsByName) {
    try {
        lifeguard::detector_metrics m(nullptr);
        FAIL() << "a null detector was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("detector is null"), std::string::npos) << e.what();
    }
    try {
        lifeguard::detector_metrics m(quiet_detector(), {.prefix = "bad prefix"});
        FAIL() << "a bad prefix was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("prefix"), std::string::npos) << e.what();
    }
}

}  // namespace
