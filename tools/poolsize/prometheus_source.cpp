// --prometheus: three instant queries through Prometheus' HTTP API (cpp-httplib's client).
#include "prometheus_source.hpp"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <tuple>
#include <utility>

#include "usage_error.hpp"

namespace lifeguard::poolsize {
namespace {

using json = nlohmann::json;

struct split_url {
    std::string scheme_host_port;
    std::string path;  // without a trailing '/'
};

split_url split(const std::string& url) {
    static const std::regex form(R"(^(https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?)(/[^?#]*)?$)");
    std::smatch m;
    if (!std::regex_match(url, m, form))
        throw usage_error("--prometheus " + url + ": expected http://HOST[:PORT][/PATH] (or https://)");
    std::string path = m[4].str();
    while (!path.empty() && path.back() == '/') path.pop_back();
    return {m[1].str(), path};
}

// The series of one instant query, keyed by (instance, pool).
std::map<std::pair<std::string, std::string>, double> instant(const prometheus_query& q, const std::string& promql) {
    const auto where = split(q.url);
    httplib::Client client(where.scheme_host_port);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    auto res = client.Get(where.path + "/api/v1/query", httplib::Params{{"query", promql}}, httplib::Headers{});
    if (!res)
        throw usage_error("--prometheus " + q.url + ": cannot reach Prometheus: " + httplib::to_string(res.error()));
    const json body = json::parse(res->body, nullptr, false);
    if (res->status != 200 || body.is_discarded() || body.value("status", "") != "success") {
        std::string why = body.is_object() ? body.value("error", "") : "";
        if (why.empty()) why = res->body.substr(0, std::min<std::size_t>(res->body.size(), 120));
        throw usage_error("--prometheus " + q.url + ": query " + promql + " failed (HTTP " +
                          std::to_string(res->status) + "): " + why);
    }
    std::map<std::pair<std::string, std::string>, double> out;
    for (const auto& s : body["data"]["result"]) {
        const auto& labels = s["metric"];
        const std::string value = s["value"][1].get<std::string>();
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        out[{labels.value("instance", ""), labels.value("pool", "")}] =
            (end && *end == '\0') ? v : std::nan("");
    }
    return out;
}

std::size_t whole(double v, std::size_t minimum, const std::string& metric, const std::pair<std::string, std::string>& key) {
    if (!std::isfinite(v) || v < static_cast<double>(minimum) || v > 1e9 || std::floor(v) != v)
        throw usage_error("--prometheus: " + metric + "{instance=\"" + key.first + "\", pool=\"" + key.second +
                          "\"} is " + std::to_string(v) + ", not a whole number >= " + std::to_string(minimum));
    return static_cast<std::size_t>(v);
}

}  // namespace

void validate(const prometheus_query& q) {
    (void)split(q.url);
    static const std::regex name(R"([A-Za-z_:][A-Za-z0-9_:.\-]*)");
    if (q.job && !std::regex_match(*q.job, name))
        throw usage_error("--job " + *q.job + ": a scrape job name of letters, digits and _ : . - only");
    static const std::regex prefix(R"([A-Za-z_][A-Za-z0-9_]*)");
    if (!std::regex_match(q.prefix, prefix))
        throw usage_error("--metric-prefix " + q.prefix + ": a metric name prefix of letters, digits and _ only");
    static const std::regex duration(R"(([0-9]+(ms|s|m|h|d|w|y))+)");
    if (!std::regex_match(q.window, duration) || std::regex_match(q.window, std::regex(R"((0+(ms|s|m|h|d|w|y))+)")))
        throw usage_error("--window " + q.window + ": a Prometheus duration above 0 such as 30m, 1h or 1h30m");
}

std::vector<observed_pool> read_prometheus(const prometheus_query& q) {
    validate(q);
    const std::string selector = q.job ? "{job=\"" + *q.job + "\"}" : "";
    const auto query = [&](const std::string& suffix) {
        const std::string metric = q.prefix + "_connections_" + suffix;
        return std::make_pair(metric, instant(q, "max by (instance, pool) (max_over_time(" + metric + selector + "[" +
                                                     q.window + "]))"));
    };
    const auto [tasks_metric, tasks] = query("observed_tasks");
    const auto [per_task_metric, per_task] = query("observed_per_task");
    const auto [max_metric, max_size] = query("max");
    if (tasks.empty())
        throw usage_error("--prometheus " + q.url + ": no " + tasks_metric + " series" +
                          (q.job ? " of job " + *q.job : std::string()) + " in the last " + q.window +
                          ": is lifeguard::detector_metrics exported, the service scraped and --metric-prefix right?");
    std::vector<observed_pool> out;
    for (const auto& [key, tn] : tasks) {
        observed_pool p{key.first, key.second, whole(tn, 0, tasks_metric, key), 1, std::nullopt};
        const auto cm = per_task.find(key);
        if (cm == per_task.end())
            throw usage_error("--prometheus: " + tasks_metric + " has instance " + key.first + " pool " + key.second +
                              " but " + per_task_metric + " does not");
        p.per_task = whole(cm->second, 1, per_task_metric, key);
        if (const auto m = max_size.find(key); m != max_size.end()) p.max_size = whole(m->second, 1, max_metric, key);
        if (p.tasks > 0) out.push_back(std::move(p));
    }
    if (out.empty())
        throw usage_error("--prometheus " + q.url + ": every " + tasks_metric + " series is 0 in the last " + q.window +
                          ": the detector has not seen the pools used yet (is its policy ignore?)");
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.pool, a.instance) < std::tie(b.pool, b.instance);
    });
    return out;
}

}  // namespace lifeguard::poolsize
