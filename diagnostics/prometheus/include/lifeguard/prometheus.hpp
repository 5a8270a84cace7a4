// Prometheus metrics for lifeguard pools, named like HikariCP's Micrometer metrics.
//
// `prometheus_metrics` is a `prometheus::Collectable`: register it with your own Exposer (or
// Registry-driven push code) and give each pool one of its observers, the way every observer
// (detector, logging) is attached. lifeguard never owns an HTTP exposer; the CMake target
// lifeguard::prometheus links prometheus-cpp's pull library, so prometheus::Exposer links.
//
//     prometheus::Exposer exposer{"0.0.0.0:9464"};
//     auto metrics = std::make_shared<lifeguard::prometheus_metrics>(
//         lifeguard::prometheus_options{.prefix = "hikaricp", .constant_labels = {{"application", "shop"}}});
//     exposer.RegisterCollectable(metrics);          // the caller keeps `metrics` alive
//     orders_pool.add_observer(metrics->make_observer());   // any number of pools, one collectable
//
// README.md "Metrics and logs" has the whole program and the CMake lines.
//
// Families (with prefix p; the default p is "lifeguard", "hikaricp" gives the names the
// Micrometer-based Grafana dashboards 6083, 20729 and 19004/6756 query in their HikariCP panels;
// their variables read JVM series and need the recipe in dashboards/README.md; add
// legacy_hikaricp_names for dashboard 17313). Every sample carries
// `pool="<pool name>"` and the constant labels.
//
//   p_connections                        gauge      open connections (idle + active + in between)
//   p_connections_active                 gauge      leased to callers
//   p_connections_idle                   gauge      ready to lend
//   p_connections_pending                gauge      callers waiting (sync and async together)
//   p_connections_max / p_connections_min gauge     max_size / min_idle
//   p_connections_timeout_total          counter    acquires that ran out of time
//   p_connections_acquire_seconds        histogram  wait of every acquire, served or failed (timed
//                                                   out, refused, failed by the deadlock detector,
//                                                   pool closed), 0 when a connection was ready;
//                                                   see docs/metrics.md for HikariCP's rule
//   p_connections_usage_seconds          histogram  how long leases were held
//   p_connections_creation_seconds       histogram  how long opening a connection took
//   p_connections_{acquire,usage,creation}_seconds_max
//                                        gauge      largest value of about the last max_window,
//                                                   and always of everything since the previous
//                                                   scrape (Micrometer's decaying TimeWindowMax)
//   lifeguard's own, no HikariCP equivalent:
//   p_connections_deadlocks_total        counter    deadlocks reported by the detector
//   p_connections_nested_acquisitions_total counter acquisitions nested in a held lease
//   p_connections_leaks_total            counter    leases held past leak_detection_threshold
//   p_connections_closed_total{reason}   counter    closed connections by close_reason
//   p_connections_connect_failures_total counter    failed attempts to open a connection
//   p_connections_rejected_total         counter    acquires refused by max_pending
//   p_connections_claim                  gauge      the admission claim Cm (max_nesting, declared or
//                                                   learned by heal); 0 = admission off
//   p_connections_emergency              gauge      emergency connections lent beyond max_size now
//   p_connections_emergency_total        counter    emergency connections lent to untie a knot (heal)
//   p_connections_emergency_failed_total counter    knots heal could not lend for (a member failed)
//   with legacy_hikaricp_names, also HikariCP's older simpleclient names (see that option).
//
// Everything lives under `p_connections` so that one name prefix selects all of a pool's series.
// Gauges and counters are read from the pool's lock-free `stats()` at scrape time, so they cost
// nothing on the hot path. The three histograms are filled by the observer hooks with relaxed
// atomic increments on per-pool buckets (no lock, no lookup, no allocation): about one or two
// uncontended atomic adds per event.
//
// Resolution: acquire waits are timed with the precise clock (only callers that waited; the
// others count as 0; a failed acquire records pool_diagnostics::waited); usage comes from the pool's coarse clock (a few ms on Linux), so usage
// buckets below ~5 ms mostly separate "0" from the rest; creation is precise.
//
// A pool stops exporting when it is destroyed (the observer's on_detach).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "lifeguard/observer.hpp"

namespace lifeguard {

using namespace std::chrono_literals;

/// How `prometheus_metrics` names and shapes its families.
struct prometheus_options {
    /// First word of every family name. Default "lifeguard"; "hikaricp" reproduces HikariCP's
    /// Micrometer names. Must make `<prefix>_connections` a valid metric name without "__".
    std::string prefix = "lifeguard";

    /// Labels added to every sample, e.g. {{"application", "shop"}}. Names must be valid
    /// Prometheus label names, not start with "__", and not be "pool", "reason" or "le".
    std::map<std::string, std::string> constant_labels{};

    /// Upper bounds (seconds, strictly increasing, >= 0) of the acquire-wait histogram. A pool
    /// whose acquire_timeout is not below the last bound gets extra bounds at acquire_timeout
    /// and twice it, so the buckets always reach past the timeout.
    std::vector<double> acquire_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5,    1,     2.5,    5,     10,   15,    30,   45,  60};

    /// Upper bounds (seconds) of the lease-usage histogram.
    std::vector<double> usage_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,    1,     2.5,    5,     10,   30,    60,   300};

    /// Upper bounds (seconds) of the connection-creation histogram; extended past
    /// acquire_timeout (the connect deadline) like acquire_buckets.
    std::vector<double> creation_buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,      2.5,   5,    10,    30,   45,  60};

    /// The `_seconds_max` gauges show the largest value of about the last max_window (rotated in
    /// thirds at scrape time, on each pool's own clock) and never miss a value recorded since the
    /// previous scrape. Default 2 min, Micrometer's default; >= 3 ms.
    std::chrono::milliseconds max_window = 2min;

    /// Also export the names of HikariCP's older simpleclient tracker (HikariCPCollector and
    /// PrometheusMetricsTracker), which dashboards such as Grafana 17313 and many alert rules
    /// query: `<prefix>_active_connections`, `_idle_connections`, `_pending_threads`,
    /// `_max_connections`, `_min_connections`, `_connection_timeout_total`, and the summaries
    /// (count and sum only, in their legacy units) `_connection_acquired_nanos`,
    /// `_connection_usage_millis`, `_connection_creation_millis`. Default false.
    bool legacy_hikaricp_names = false;
};

/// Checks `options`; throws std::invalid_argument naming the bad field, its value and the rule.
void validate(const prometheus_options& options);

/// Collects lifeguard pool metrics for Prometheus. See the file comment for the families.
///
/// Thread-safety: all members are safe to call concurrently (Collect() runs on the exposer's
/// threads while pools record on theirs).
/// Object lifetimes: pools and this object may be destroyed in any order; observers keep the
/// shared state alive and a destroyed pool simply leaves the collection.
class prometheus_metrics final : public ::prometheus::Collectable {
public:
    /// Throws std::invalid_argument when the options are invalid (see validate()).
    explicit prometheus_metrics(prometheus_options options = {});
    ~prometheus_metrics() override;

    prometheus_metrics(const prometheus_metrics&) = delete;
    prometheus_metrics& operator=(const prometheus_metrics&) = delete;

    /// Starts exporting `pool`'s metrics (adds an observer to it). Its name is the `pool` label.
    /// Throws std::invalid_argument if a live pool of the same name is already exported here
    /// (two would produce identical series).
    template <class Pool>
    void attach(Pool& pool) {
        if (exports_pool_named(pool.name()))
            throw std::invalid_argument("prometheus_metrics: a pool named '" + pool.name() +
                                        "' is already exported; pool names must be unique");
        pool.add_observer(make_observer());
    }

    /// A fresh observer for exactly one pool: `pool.add_observer(metrics->make_observer())`
    /// (attach() does the same after checking the name). An observer attached to a second pool
    /// ignores it. If two attached pools share a name, only the first is exported.
    std::shared_ptr<pool_observer> make_observer();

    /// True while a pool of this name is attached and not yet destroyed.
    bool exports_pool_named(const std::string& name) const;

    /// Number of pools currently exported.
    std::size_t pool_count() const;

    const prometheus_options& options() const noexcept;

    /// Builds every family from the pools' stats() and the histograms. Never blocks on pool I/O;
    /// takes this object's mutex (which a pool's destruction also takes briefly).
    std::vector<::prometheus::MetricFamily> Collect() const override;

    struct shared_state;  // detail: shared with the observers

private:
    std::shared_ptr<shared_state> state_;
};

}  // namespace lifeguard
