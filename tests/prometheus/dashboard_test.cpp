// dashboards/lifeguard.json: every metric its PromQL queries use must be one the adapter really
// exports (taken from a live scrape, not a hand-kept list), and every panel filters by $pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "exposition.hpp"
#include "lifeguard/prometheus.hpp"
#include "stub_pool_view.hpp"

namespace {

using nlohmann::json;

json load_dashboard() {
    std::ifstream in(LIFEGUARD_DASHBOARD_PATH);
    if (!in) throw std::runtime_error("cannot open " LIFEGUARD_DASHBOARD_PATH);
    return json::parse(in);
}

// Every sample name the adapter produces with the default prefix, from a real Collect().
std::set<std::string> exported_names() {
    lifeguard::prometheus_metrics metrics;
    lifeguard::testing::stub_pool_view pool("orders");
    auto observer = metrics.make_observer();
    observer->on_attach(pool);
    return lifeguard::testing::scrape(metrics).sample_names();
}

// Collects the values of every "expr" and of query-variable definitions, anywhere in the tree.
void collect_queries(const json& node, std::vector<std::string>& out) {
    if (node.is_object()) {
        for (const auto& [key, value] : node.items()) {
            if ((key == "expr" || key == "definition") && value.is_string())
                out.push_back(value.get<std::string>());
            collect_queries(value, out);
        }
    } else if (node.is_array()) {
        for (const auto& item : node) collect_queries(item, out);
    }
}

// Identifiers in a PromQL expression that name lifeguard metrics (string literals removed, so
// label values are never mistaken for metric names).
std::set<std::string> metric_names(const std::string& expr) {
    const auto unquoted = std::regex_replace(expr, std::regex(R"("[^"]*")"), "\"\"");
    static const std::regex identifier(R"([a-zA-Z_:][a-zA-Z0-9_:]*)");
    std::set<std::string> names;
    for (auto it = std::sregex_iterator(unquoted.begin(), unquoted.end(), identifier);
         it != std::sregex_iterator(); ++it)
        if (it->str().rfind("lifeguard_", 0) == 0) names.insert(it->str());
    return names;
}

TEST(Dashboard, EveryQueriedMetricIsExported) {
    const auto dashboard = load_dashboard();
    const auto exported = exported_names();
    ASSERT_GT(exported.size(), 20u);
    std::vector<std::string> queries;
    collect_queries(dashboard, queries);
    ASSERT_GE(queries.size(), 15u);

    std::set<std::string> used;
    for (const auto& q : queries)
        for (const auto& name : metric_names(q)) {
            used.insert(name);
            EXPECT_TRUE(exported.count(name)) << name << " in `" << q << "` is not exported";
        }
    // The panels the issue asks for are there.
    for (const auto* name :
         {"lifeguard_connections_pending", "lifeguard_connections_active", "lifeguard_connections_idle",
          "lifeguard_connections_acquire_seconds_bucket", "lifeguard_connections_timeout_total",
          "lifeguard_connections_deadlocks_total", "lifeguard_connections_nested_acquisitions_total",
          "lifeguard_connections_leaks_total"})
        EXPECT_TRUE(used.count(name)) << name << " is not on the dashboard";
}

TEST(Dashboard, AcquireP95UsesHistogramQuantileOverBuckets) {
    std::vector<std::string> queries;
    collect_queries(load_dashboard(), queries);
    const std::regex p95(R"(histogram_quantile\(0\.95,\s*sum by \((pool, le|le, pool)\) )"
                         R"(\(rate\(lifeguard_connections_acquire_seconds_bucket\{)");
    EXPECT_TRUE(std::any_of(queries.begin(), queries.end(),
                            [&](const auto& q) { return std::regex_search(q, p95); }));
}

TEST(Dashboard, HasAPoolVariableAndEveryPanelFiltersByIt) {
    const auto dashboard = load_dashboard();
    const auto& variables = dashboard.at("templating").at("list");
    const auto pool = std::find_if(variables.begin(), variables.end(),
                                   [](const json& v) { return v.at("name") == "pool"; });
    ASSERT_NE(pool, variables.end());
    EXPECT_EQ(pool->at("type"), "query");
    EXPECT_TRUE(pool->at("multi").get<bool>());
    EXPECT_EQ(metric_names(pool->at("definition").get<std::string>()),
              std::set<std::string>{"lifeguard_connections"});

    std::size_t panels_with_queries = 0;
    for (const auto& panel : dashboard.at("panels")) {
        if (panel.at("type") == "row") continue;
        ASSERT_TRUE(panel.contains("targets")) << panel.at("title");
        ++panels_with_queries;
        for (const auto& target : panel.at("targets")) {
            const auto expr = target.at("expr").get<std::string>();
            EXPECT_NE(expr.find("pool=~\"$pool\""), std::string::npos) << panel.at("title") << ": " << expr;
        }
    }
    EXPECT_GE(panels_with_queries, 10u);
}

// The check above must be able to fail: a misspelt metric is caught.
TEST(Dashboard, NameExtractionSeesMetricsAndIgnoresLabelValues) {
    EXPECT_EQ(metric_names(R"(rate(lifeguard_connections_timeout_totl{pool=~"lifeguard_x"}[5m]))"),
              std::set<std::string>{"lifeguard_connections_timeout_totl"});
    EXPECT_FALSE(exported_names().count("lifeguard_connections_timeout_totl"));
}

}  // namespace
