// The deadlock detector's sizing figures as Prometheus gauges, so that Prometheus (which
// aggregates a fleet) can feed `poolsize --prometheus`: per pool the observed concurrency Tn,
// the nesting depth Cm and the safe size Tn x (Cm - 1) + 1 the detector computes.
//
//     auto detector = std::make_shared<lifeguard::diagnostics::deadlock_detector>();
//     exposer.RegisterCollectable(std::make_shared<lifeguard::detector_metrics>(detector, options));
//
// Families (prefix p as in prometheus_options; the same `pool` and constant labels as
// prometheus_metrics, so the series join with p_connections_max):
//   p_connections_observed_tasks              gauge  Tn: most tasks seen holding or waiting at once
//   p_connections_observed_per_task           gauge  Cm: most connections one task held or asked for
//   p_connections_safe_size                   gauge  Tn x (Cm - 1) + 1; 0 while Tn is unknown
// A pool the detector has never sampled has no samples. Values are read from
// deadlock_detector::snapshot() at scrape time (it takes the detector's data mutex briefly).
// CMake target: lifeguard::prometheus_detector (built when lifeguard::diagnostics is).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <vector>

#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/prometheus.hpp"

namespace lifeguard {

class detector_metrics final : public ::prometheus::Collectable {
public:
    /// Throws std::invalid_argument when `detector` is null or the options are invalid
    /// (validate(); only prefix and constant_labels are used).
    explicit detector_metrics(std::shared_ptr<const diagnostics::deadlock_detector> detector,
                              prometheus_options options = {});

    std::vector<::prometheus::MetricFamily> Collect() const override;

private:
    std::shared_ptr<const diagnostics::deadlock_detector> detector_;
    prometheus_options options_;
};

}  // namespace lifeguard
