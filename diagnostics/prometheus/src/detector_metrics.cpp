// The detector's Tn, Cm and safe size per pool, read from its snapshot at scrape time.
#include "lifeguard/detector_metrics.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace lifeguard {

detector_metrics::detector_metrics(std::shared_ptr<const diagnostics::deadlock_detector> detector,
                                   prometheus_options options)
    : detector_(std::move(detector)), options_(std::move(options)) {
    if (!detector_) throw std::invalid_argument("detector_metrics: detector is null");
    validate(options_);
}

std::vector<::prometheus::MetricFamily> detector_metrics::Collect() const {
    using ::prometheus::MetricType;
    const std::string base = options_.prefix + "_connections";
    std::vector<::prometheus::MetricFamily> families = {
        {base + "_observed_tasks", "Tn: most tasks the deadlock detector saw holding or waiting at once",
         MetricType::Gauge, {}},
        {base + "_observed_per_task", "Cm: most connections of the pool one task held or asked for",
         MetricType::Gauge, {}},
        {base + "_safe_size", "Tn x (Cm - 1) + 1: the size that rules out a same-pool deadlock",
         MetricType::Gauge, {}},
    };
    for (const auto& pool : detector_->snapshot().pools) {
        if (pool.observed_tasks == 0) continue;  // never sampled: no figure to show
        const double values[] = {static_cast<double>(pool.observed_tasks),
                                 static_cast<double>(pool.observed_connections_per_task),
                                 static_cast<double>(pool.safe_size)};
        for (std::size_t i = 0; i < families.size(); ++i) {
            auto& m = families[i].metric.emplace_back();
            m.label.push_back({"pool", pool.name});
            for (const auto& [k, v] : options_.constant_labels) m.label.push_back({k, v});
            m.gauge.value = values[i];
        }
    }
    return families;
}

}  // namespace lifeguard
