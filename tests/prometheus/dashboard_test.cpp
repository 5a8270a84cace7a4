// dashboards/*.json: every metric their PromQL queries and variables use must be one the adapter
// really exports with the dashboard's prefix (taken from a live Collect(), not a hand-kept list);
// their variables read lifeguard's own series, never JVM ones; every panel filters by each
// selector variable; and the Grafana interpolation the e2e test relies on behaves as Grafana.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "exposition.hpp"
#include "grafana_dashboard.hpp"
#include "lifeguard/prometheus.hpp"
#include "spring_boot_recipe.hpp"
#include "stub_pool_view.hpp"

namespace {

using nlohmann::json;
namespace grafana = lifeguard::testing::grafana;

json load_dashboard(const std::string& file) {
    const auto path = std::string(LIFEGUARD_DASHBOARDS_DIR) + "/" + file;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return json::parse(in);
}

// Every sample name the adapter produces with `prefix`, from a real Collect().
std::set<std::string> exported_names(const std::string& prefix) {
    lifeguard::prometheus_metrics metrics(lifeguard::prometheus_options{.prefix = prefix});
    lifeguard::testing::stub_pool_view pool("orders");
    auto observer = metrics.make_observer();
    observer->on_attach(pool);
    return lifeguard::testing::scrape(metrics).sample_names();
}

// Every panel expression and every variable query of `dashboard`, with `${prefix}` (and its
// other spellings) replaced by `prefix`; other variables stay as written.
std::vector<std::string> queries_with_prefix(const json& dashboard, const std::string& prefix) {
    const std::vector<grafana::variable> p{{"prefix", {prefix}, prefix}};
    std::vector<std::string> out;
    for (const auto& [title, expr] : grafana::panel_queries(dashboard)) out.push_back(grafana::interpolate(expr, p));
    for (const auto& v : dashboard.at("templating").at("list"))
        if (v.at("type") == "query") out.push_back(grafana::interpolate(grafana::query_of(v), p));
    return out;
}

// Identifiers in a PromQL expression (string literals removed, so label values are never
// mistaken for metric names) that start with one of `starts`.
std::set<std::string> metric_names(const std::string& expr, const std::vector<std::string>& starts) {
    const auto unquoted = std::regex_replace(expr, std::regex(R"("[^"]*")"), "\"\"");
    static const std::regex identifier(R"([a-zA-Z_:][a-zA-Z0-9_:]*)");
    std::set<std::string> names;
    for (auto it = std::sregex_iterator(unquoted.begin(), unquoted.end(), identifier);
         it != std::sregex_iterator(); ++it)
        for (const auto& s : starts)
            if (it->str().rfind(s, 0) == 0) names.insert(it->str());
    return names;
}

// Checks that every name `dashboard` queries with `prefix` is exported, and returns them.
std::set<std::string> expect_only_exported_names(const json& dashboard, const std::string& prefix) {
    const auto exported = exported_names(prefix);
    EXPECT_GT(exported.size(), 20u);
    std::set<std::string> used;
    for (const auto& q : queries_with_prefix(dashboard, prefix)) {
        EXPECT_TRUE(metric_names(q, {"jvm_", "process_", "tomcat_", "http_"}).empty()) << "JVM series in `" << q << "`";
        for (const auto& name : metric_names(q, {prefix + "_"})) {
            used.insert(name);
            EXPECT_TRUE(exported.count(name)) << name << " in `" << q << "` is not exported";
        }
    }
    return used;
}

const json& variable_named(const json& dashboard, const std::string& name) {
    const auto& list = dashboard.at("templating").at("list");
    const auto it = std::find_if(list.begin(), list.end(), [&](const json& v) { return v.at("name") == name; });
    if (it == list.end()) throw std::runtime_error("no variable named " + name);
    return *it;
}

std::vector<std::string> variable_names(const json& dashboard) {
    std::vector<std::string> names;
    for (const auto& v : dashboard.at("templating").at("list")) names.push_back(v.at("name"));
    return names;
}

// Every panel query filters on each of `labels` with `label=~"$label"`.
void expect_every_panel_filters_by(const json& dashboard, const std::vector<std::string>& labels) {
    const auto queries = grafana::panel_queries(dashboard);
    EXPECT_GE(queries.size(), 15u);
    for (const auto& [title, expr] : queries)
        for (const auto& label : labels)
            EXPECT_NE(expr.find(label + "=~\"$" + label + "\""), std::string::npos) << title << ": " << expr;
}

TEST(LifeguardDashboard, EveryQueriedMetricIsExportedWithEitherPrefix) {
    const auto dashboard = load_dashboard("lifeguard.json");
    for (const auto* prefix : {"lifeguard", "hikaricp"}) {
        const auto used = expect_only_exported_names(dashboard, prefix);
        // The panels the dashboard exists for are there.
        for (const auto* suffix :
             {"_connections", "_connections_pending", "_connections_active", "_connections_idle",
              "_connections_acquire_seconds_bucket", "_connections_timeout_total", "_connections_deadlocks_total",
              "_connections_nested_acquisitions_total", "_connections_leaks_total"})
            EXPECT_TRUE(used.count(prefix + std::string(suffix))) << prefix << suffix << " is not on the dashboard";
    }
}

TEST(LifeguardDashboard, PrefixIsAVariableNeverHardCoded) {
    const auto dashboard = load_dashboard("lifeguard.json");
    const auto& prefix = variable_named(dashboard, "prefix");
    EXPECT_EQ(prefix.at("type"), "textbox");
    EXPECT_EQ(grafana::query_of(prefix), "lifeguard");
    for (const auto& q : queries_with_prefix(dashboard, "P"))
        EXPECT_TRUE(metric_names(q, {"lifeguard_"}).empty()) << "hard-coded prefix in `" << q << "`";
}

TEST(LifeguardDashboard, JobInstanceAndPoolVariablesChainOnTheConnectionsGauge) {
    const auto dashboard = load_dashboard("lifeguard.json");
    EXPECT_EQ(variable_names(dashboard),
              (std::vector<std::string>{"datasource", "prefix", "job", "instance", "pool"}));
    EXPECT_EQ(grafana::query_of(variable_named(dashboard, "job")), "label_values(${prefix}_connections, job)");
    EXPECT_EQ(grafana::query_of(variable_named(dashboard, "instance")),
              R"(label_values(${prefix}_connections{job=~"$job"}, instance))");
    EXPECT_EQ(grafana::query_of(variable_named(dashboard, "pool")),
              R"(label_values(${prefix}_connections{job=~"$job", instance=~"$instance"}, pool))");
    for (const auto* name : {"job", "instance", "pool"}) EXPECT_TRUE(variable_named(dashboard, name).at("multi"));
    expect_every_panel_filters_by(dashboard, {"job", "instance", "pool"});
}

TEST(LifeguardDashboard, AcquireP95UsesHistogramQuantileOverBuckets) {
    std::vector<std::string> queries;
    for (const auto& [title, expr] : grafana::panel_queries(load_dashboard("lifeguard.json"))) queries.push_back(expr);
    const std::regex p95(R"(histogram_quantile\(0\.95,\s*sum by \((pool, le|le, pool)\) )"
                         R"(\(rate\(\$\{prefix\}_connections_acquire_seconds_bucket\{)");
    EXPECT_TRUE(std::any_of(queries.begin(), queries.end(),
                            [&](const auto& q) { return std::regex_search(q, p95); }));
}

TEST(HikaricpDashboard, EveryQueriedMetricIsAHikaricpNameTheAdapterExports) {
    const auto dashboard = load_dashboard("hikaricp.json");
    const auto used = expect_only_exported_names(dashboard, "hikaricp");
    // The panels a HikariCP user knows.
    for (const auto* name :
         {"hikaricp_connections", "hikaricp_connections_active", "hikaricp_connections_idle",
          "hikaricp_connections_pending", "hikaricp_connections_max", "hikaricp_connections_min",
          "hikaricp_connections_timeout_total", "hikaricp_connections_acquire_seconds_max",
          "hikaricp_connections_acquire_seconds_count", "hikaricp_connections_usage_seconds_sum",
          "hikaricp_connections_creation_seconds_max"})
        EXPECT_TRUE(used.count(name)) << name << " is not on the dashboard";
}

TEST(HikaricpDashboard, ApplicationInstanceAndPoolVariablesReadHikaricpConnections) {
    const auto dashboard = load_dashboard("hikaricp.json");
    EXPECT_EQ(variable_names(dashboard), (std::vector<std::string>{"datasource", "application", "instance", "pool"}));
    EXPECT_EQ(grafana::query_of(variable_named(dashboard, "application")),
              "label_values(hikaricp_connections, application)");
    EXPECT_EQ(grafana::query_of(variable_named(dashboard, "pool")),
              R"(label_values(hikaricp_connections{application=~"$application", instance=~"$instance"}, pool))");
    expect_every_panel_filters_by(dashboard, {"application", "instance", "pool"});
}

TEST(SpringBootRecipe, ReplacementsReadOnlyHikaricpConnections) {
    const auto rows = lifeguard::testing::read_spring_boot_recipe(LIFEGUARD_DASHBOARDS_DIR "/README.md");
    ASSERT_GE(rows.size(), 8u);
    std::size_t replaced = 0;
    for (const auto& row : rows) {
        const auto q = grafana::parse_label_values(row.replacement);
        EXPECT_TRUE(std::regex_match(q.selector, std::regex(R"(hikaricp_connections(\{.*\})?)"))) << row.replacement;
        EXPECT_TRUE(metric_names(row.replacement, {"jvm_"}).empty()) << row.replacement;
        if (row.original != row.replacement) ++replaced;
    }
    EXPECT_GE(replaced, 5u);
}

// The checks above must be able to fail: a misspelt metric and a JVM series are seen.
TEST(DashboardChecks, NameExtractionSeesMetricsAndIgnoresLabelValues) {
    EXPECT_EQ(metric_names(R"(rate(lifeguard_connections_timeout_totl{pool=~"lifeguard_x"}[5m]))", {"lifeguard_"}),
              std::set<std::string>{"lifeguard_connections_timeout_totl"});
    EXPECT_FALSE(exported_names("lifeguard").count("lifeguard_connections_timeout_totl"));
    EXPECT_EQ(metric_names("label_values(jvm_classes_loaded_classes, instance)", {"jvm_"}),
              std::set<std::string>{"jvm_classes_loaded_classes"});
}

TEST(GrafanaInterpolation, SubstitutesEverySpellingAndTheBuiltIns) {
    const std::vector<grafana::variable> v{{"prefix", {"hikaricp"}, "hikaricp"},
                                           {"pool", {"a", "b"}, "(a|b)"},
                                           {"poolside", {"x"}, "x"}};
    EXPECT_EQ(grafana::interpolate(R"(rate(${prefix}_connections{pool=~"$pool"}[$__rate_interval]))", v),
              R"x(rate(hikaricp_connections{pool=~"(a|b)"}[10s]))x");
    EXPECT_EQ(grafana::interpolate("[[prefix]] ${pool:regex} $poolside $__range $nosuch", v), "hikaricp (a|b) x 1m $nosuch");
}

TEST(GrafanaInterpolation, MultiValuesAreRegexEscapedAndAllUsesAllValue) {
    EXPECT_EQ(grafana::regex_escape("127.0.0.1:9464"), R"(127\\.0\\.0\\.1:9464)");
    const std::vector<std::string> values{"a.b", "c"};
    EXPECT_EQ(grafana::selection(json{{"includeAll", true}, {"allValue", ".+"}}, values), ".+");
    EXPECT_EQ(grafana::selection(json{{"includeAll", true}}, values), R"((a\\.b|c))");
    EXPECT_EQ(grafana::selection(json{{"multi", true}}, values), R"(a\\.b)");
    EXPECT_EQ(grafana::selection(json::object(), values), "a.b");
    EXPECT_EQ(grafana::selection(json{{"includeAll", true}, {"allValue", ".*"}}, {}), ".*");
    EXPECT_EQ(grafana::selection(json::object(), {}), "");
}

TEST(GrafanaInterpolation, LabelValuesQueriesParseAndOthersAreRefused) {
    const auto two = grafana::parse_label_values(R"(label_values(m{a="1", b=~"$x"}, pool))");
    EXPECT_EQ(two.selector, R"(m{a="1", b=~"$x"})");
    EXPECT_EQ(two.label, "pool");
    const auto one = grafana::parse_label_values("label_values(application)");
    EXPECT_EQ(one.selector, "");
    EXPECT_EQ(one.label, "application");
    EXPECT_THROW(grafana::parse_label_values("query_result(up)"), std::invalid_argument);
}

TEST(GrafanaInterpolation, VariablesResolveInOrderEachSeeingThoseBefore) {
    const json dashboard = {{"templating",
                             {{"list",
                               {{{"name", "prefix"}, {"type", "textbox"}, {"query", "lifeguard"}},
                                {{"name", "job"}, {"type", "query"}, {"query", "label_values(${prefix}_connections, job)"}},
                                {{"name", "pool"},
                                 {"type", "query"},
                                 {"includeAll", true},
                                 {"query", {{"query", R"(label_values(${prefix}_connections{job="$job"}, pool))"}}}}}}}}};
    std::vector<std::string> asked;
    const auto fetch = [&](const grafana::label_values_query& q) {
        asked.push_back(q.selector + " / " + q.label);
        return q.label == "job" ? std::vector<std::string>{"svc", "other"} : std::vector<std::string>{"orders", "ids"};
    };
    const auto resolved = grafana::resolve(dashboard, fetch, grafana::pick::defaults, {{"prefix", "hikaricp"}});
    EXPECT_EQ(asked, (std::vector<std::string>{"hikaricp_connections / job", R"(hikaricp_connections{job="svc"} / pool)"}));
    ASSERT_EQ(resolved.size(), 3u);
    EXPECT_EQ(resolved[2].selected, "(orders|ids)");
    EXPECT_EQ(grafana::resolve(dashboard, fetch, grafana::pick::first)[2].selected, "orders");
}

}  // namespace
