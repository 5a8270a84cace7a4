// prometheus_metrics: per-pool lock-free histograms filled by observer hooks, and a Collect()
// that turns them and each pool's stats() snapshot into Prometheus families at scrape time.
#include <prometheus/check_names.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string_view>
#include <utility>

#include "lifeguard/prometheus.hpp"

namespace lifeguard {

namespace {

using std::chrono::nanoseconds;

// The largest value of roughly the last `window`: three slots, the current one takes records,
// and each window/3 (checked at scrape time, on the pool's clock: no clock read on the hot path)
// the oldest is cleared and becomes current. Records carry no time, so a poll rotates at most
// twice: whatever was recorded since the previous scrape is always shown at least once, even
// after a long gap. A record racing with a rotation lands in a slot that survives two more.
class window_max {
public:
    void record(std::int64_t value) noexcept {
        auto& slot = slots_[current_.load(std::memory_order_relaxed)];
        auto seen = slot.load(std::memory_order_relaxed);
        while (value > seen && !slot.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
        }
    }

    // Callers serialise poll() (Collect holds the state mutex).
    std::int64_t poll(nanoseconds now, nanoseconds window) noexcept {
        const auto step = window / slot_count;
        if (!started_) {
            started_ = true;
            rotated_at_ = now;
        }
        for (std::size_t i = 0; i + 1 < slot_count && now - rotated_at_ >= step; ++i) {
            const auto next = (current_.load(std::memory_order_relaxed) + 1) % slot_count;
            slots_[next].store(0, std::memory_order_relaxed);
            current_.store(next, std::memory_order_relaxed);
            rotated_at_ += step;
        }
        if (now - rotated_at_ >= step) rotated_at_ = now;  // a long gap: resync
        std::int64_t max = 0;
        for (const auto& s : slots_) max = std::max(max, s.load(std::memory_order_relaxed));
        return max;
    }

private:
    static constexpr std::size_t slot_count = 3;
    std::array<std::atomic<std::int64_t>, slot_count> slots_{};
    std::atomic<std::size_t> current_{0};
    bool started_ = false;
    nanoseconds rotated_at_{0};
};

// Buckets as relaxed atomic counters (non-cumulative; made cumulative at scrape time, which also
// yields the count), a sum in integer nanoseconds and a window max. observe() is a bucket search
// over a short array, one fetch_add, one more for a non-zero value, and a load for the max.
class atomic_histogram {
public:
    explicit atomic_histogram(std::vector<double> bounds_seconds)
        : bounds_seconds_(std::move(bounds_seconds)),
          bounds_ns_(bounds_seconds_.size()),
          counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_seconds_.size() + 1)) {
        for (std::size_t i = 0; i < bounds_seconds_.size(); ++i)
            bounds_ns_[i] = static_cast<std::int64_t>(std::llround(bounds_seconds_[i] * 1e9));
    }

    void observe(nanoseconds d) noexcept {
        const auto ns = std::max<std::int64_t>(d.count(), 0);
        std::size_t i = 0;
        const auto n = bounds_ns_.size();
        while (i < n && ns > bounds_ns_[i]) ++i;
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        if (ns != 0) {
            sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
            max_.record(ns);
        }
    }

    void fill(::prometheus::ClientMetric::Histogram& out) const {
        std::uint64_t cumulative = 0;
        out.bucket.clear();
        out.bucket.reserve(bounds_seconds_.size() + 1);
        for (std::size_t i = 0; i <= bounds_seconds_.size(); ++i) {
            cumulative += counts_[i].load(std::memory_order_relaxed);
            const double le =
                i < bounds_seconds_.size() ? bounds_seconds_[i] : std::numeric_limits<double>::infinity();
            out.bucket.push_back({cumulative, le});
        }
        out.sample_count = cumulative;
        out.sample_sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    }

    // Observations and their sum in nanoseconds (for the legacy summaries).
    std::pair<std::uint64_t, std::uint64_t> totals() const noexcept {
        std::uint64_t count = 0;
        for (std::size_t i = 0; i <= bounds_seconds_.size(); ++i)
            count += counts_[i].load(std::memory_order_relaxed);
        return {count, sum_ns_.load(std::memory_order_relaxed)};
    }

    double poll_max_seconds(nanoseconds now, nanoseconds window) noexcept {
        return static_cast<double>(max_.poll(now, window)) / 1e9;
    }

private:
    std::vector<double> bounds_seconds_;
    std::vector<std::int64_t> bounds_ns_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
    std::atomic<std::uint64_t> sum_ns_{0};
    window_max max_;
};

// Appends bounds so that the histogram reaches past `limit` (acquire_timeout). A limit of
// forever adds none: +Inf already holds every wait.
std::vector<double> reaching_past(std::vector<double> bounds, std::chrono::milliseconds limit) {
    if (limit == forever) return bounds;
    const double limit_s = std::chrono::duration<double>(limit).count();
    if (bounds.empty() || bounds.back() <= limit_s) {
        if (bounds.empty() || bounds.back() < limit_s) bounds.push_back(limit_s);
        bounds.push_back(2 * limit_s);
    }
    return bounds;
}

void check_buckets(const std::vector<double>& bounds, std::string_view field) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        const bool ok = std::isfinite(bounds[i]) && bounds[i] >= 0 && (i == 0 || bounds[i] > bounds[i - 1]);
        if (!ok)
            throw std::invalid_argument("prometheus_options." + std::string(field) + "[" + std::to_string(i) +
                                        "] = " + std::to_string(bounds[i]) +
                                        ": bounds must be finite, >= 0 and strictly increasing");
    }
}

}  // namespace

// One exported pool. `view` is valid from on_attach until on_detach, both of which take the
// state mutex, as does Collect(): a pool cannot finish being destroyed during a scrape.
struct pool_entry {
    pool_entry(pool_view& v, const prometheus_options& o)
        : view(&v),
          name(v.name()),
          acquire(reaching_past(o.acquire_buckets, v.options().acquire_timeout)),
          usage(o.usage_buckets),
          creation(reaching_past(o.creation_buckets, v.options().acquire_timeout)) {}

    pool_view* view;
    std::string name;
    atomic_histogram acquire;
    atomic_histogram usage;
    atomic_histogram creation;
};

struct prometheus_metrics::shared_state {
    explicit shared_state(prometheus_options o) : options(std::move(o)) {}

    const prometheus_options options;
    mutable std::mutex mutex;
    std::vector<std::shared_ptr<pool_entry>> entries;  // attach order
};

namespace {

using state_ptr = std::shared_ptr<prometheus_metrics::shared_state>;

// Attached to one pool. The hot-path hooks read the entry through one acquire load, so a hook
// that some pool fires before on_attach (or after on_detach) is simply not recorded.
class metrics_observer final : public pool_observer {
public:
    explicit metrics_observer(state_ptr state) : state_(std::move(state)) {}

    void on_attach(pool_view& pool) override {
        std::lock_guard lock(state_->mutex);
        if (owned_) return;  // already serving a pool: one observer, one pool
        owned_ = std::make_shared<pool_entry>(pool, state_->options);
        state_->entries.push_back(owned_);
        entry_.store(owned_.get(), std::memory_order_release);
    }

    void on_detach(pool_view& pool) override {
        std::lock_guard lock(state_->mutex);
        if (!owned_ || owned_->view != &pool) return;
        entry_.store(nullptr, std::memory_order_relaxed);
        auto& entries = state_->entries;
        entries.erase(std::remove(entries.begin(), entries.end(), owned_), entries.end());
        owned_->view = nullptr;
    }

    void on_acquired(pool_view&, const lease_info&, nanoseconds waited) override {
        if (auto* e = entry_.load(std::memory_order_acquire)) e->acquire.observe(waited);
    }

    // Like HikariCP's recordBorrowTimeoutStats: a wait that ended without a connection (timed
    // out, refused by max_pending, failed by the deadlock detector, pool closed) is timed too,
    // so the acquire timer shows overload. `waited` is measured by the pool's diagnose().
    void on_acquire_failed(pool_view&, pool_diagnostics& failure) override {
        if (auto* e = entry_.load(std::memory_order_acquire)) e->acquire.observe(failure.waited);
    }

    void on_release(pool_view&, const lease_info&, nanoseconds held) override {
        if (auto* e = entry_.load(std::memory_order_acquire)) e->usage.observe(held);
    }

    void on_connection_created(pool_view&, nanoseconds took) override {
        if (auto* e = entry_.load(std::memory_order_acquire)) e->creation.observe(took);
    }

private:
    state_ptr state_;
    std::shared_ptr<pool_entry> owned_;  // guarded by state_->mutex; keeps entry_ alive
    std::atomic<pool_entry*> entry_{nullptr};
};

// Builds the families in a fixed order; each add_* appends one pool's sample(s).
class family_builder {
public:
    explicit family_builder(const prometheus_options& o) : base_(o.prefix + "_connections") {
        for (const auto& [k, v] : o.constant_labels) constant_.push_back({k, v});
    }

    ::prometheus::MetricFamily& family(std::string_view suffix, std::string_view help,
                                       ::prometheus::MetricType type) {
        const auto name = base_ + std::string(suffix);
        for (auto& f : families_)
            if (f.name == name) return f;
        families_.push_back({name, std::string(help), type, {}});
        return families_.back();
    }

    void gauge(std::string_view suffix, std::string_view help, const std::string& pool, double v) {
        auto& m = sample(family(suffix, help, ::prometheus::MetricType::Gauge), pool);
        m.gauge.value = v;
    }

    void counter(std::string_view suffix, std::string_view help, const std::string& pool, double v,
                 const ::prometheus::ClientMetric::Label* extra = nullptr) {
        auto& m = sample(family(suffix, help, ::prometheus::MetricType::Counter), pool, extra);
        m.counter.value = v;
    }

    void histogram(std::string_view suffix, std::string_view help, const std::string& pool,
                   const atomic_histogram& h) {
        auto& m = sample(family(suffix, help, ::prometheus::MetricType::Histogram), pool);
        h.fill(m.histogram);
    }

    // Summary without quantiles: only _count and _sum (HikariCP's legacy timers, in their units).
    void summary(std::string_view suffix, std::string_view help, const std::string& pool, std::uint64_t count,
                 double sum) {
        auto& m = sample(family(suffix, help, ::prometheus::MetricType::Summary), pool);
        m.summary.sample_count = count;
        m.summary.sample_sum = sum;
    }

    // Names are base + suffix; the base is "<prefix>_connections" unless switched.
    void use_base(std::string base) { base_ = std::move(base); }

    std::vector<::prometheus::MetricFamily> take() { return std::move(families_); }

private:
    ::prometheus::ClientMetric& sample(::prometheus::MetricFamily& f, const std::string& pool,
                                       const ::prometheus::ClientMetric::Label* extra = nullptr) {
        auto& m = f.metric.emplace_back();
        m.label.reserve(constant_.size() + 2);
        m.label.push_back({"pool", pool});
        m.label.insert(m.label.end(), constant_.begin(), constant_.end());
        if (extra) m.label.push_back(*extra);
        return m;
    }

    std::string base_;
    std::vector<::prometheus::ClientMetric::Label> constant_;
    std::vector<::prometheus::MetricFamily> families_;
};

}  // namespace

void validate(const prometheus_options& o) {
    const auto base = o.prefix + "_connections";
    if (o.prefix.empty() || !::prometheus::CheckMetricName(base) ||
        o.prefix.find("__") != std::string::npos || o.prefix.back() == '_')
        throw std::invalid_argument("prometheus_options.prefix = '" + o.prefix +
                                    "': must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) without '__' "
                                    "and not ending in '_'");
    for (const auto& [name, value] : o.constant_labels) {
        if (!::prometheus::CheckLabelName(name) || name == "pool" || name == "reason" || name == "le")
            throw std::invalid_argument("prometheus_options.constant_labels: '" + name +
                                        "' is not allowed: label names match [a-zA-Z_][a-zA-Z0-9_]*, do "
                                        "not start with '__' and are not 'pool', 'reason' or 'le'");
    }
    check_buckets(o.acquire_buckets, "acquire_buckets");
    check_buckets(o.usage_buckets, "usage_buckets");
    check_buckets(o.creation_buckets, "creation_buckets");
    if (o.max_window < 3ms)
        throw std::invalid_argument("prometheus_options.max_window = " +
                                    std::to_string(o.max_window.count()) + " ms: must be >= 3 ms");
}

prometheus_metrics::prometheus_metrics(prometheus_options options) {
    validate(options);
    state_ = std::make_shared<shared_state>(std::move(options));
}

prometheus_metrics::~prometheus_metrics() = default;

std::shared_ptr<pool_observer> prometheus_metrics::make_observer() {
    return std::make_shared<metrics_observer>(state_);
}

bool prometheus_metrics::exports_pool_named(const std::string& name) const {
    std::lock_guard lock(state_->mutex);
    return std::any_of(state_->entries.begin(), state_->entries.end(),
                       [&](const auto& e) { return e->name == name; });
}

std::size_t prometheus_metrics::pool_count() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries.size();
}

const prometheus_options& prometheus_metrics::options() const noexcept {
    return state_->options;
}

std::vector<::prometheus::MetricFamily> prometheus_metrics::Collect() const {
    using ::prometheus::MetricType;
    family_builder b(state_->options);
    const auto window = std::chrono::duration_cast<nanoseconds>(state_->options.max_window);

    std::lock_guard lock(state_->mutex);
    std::vector<std::string_view> seen;
    for (const auto& e : state_->entries) {
        if (std::find(seen.begin(), seen.end(), e->name) != seen.end()) continue;  // duplicate name
        seen.push_back(e->name);
        const auto& pool = e->name;
        const pool_stats s = e->view->stats();
        const auto now = e->view->now();
        const auto d = [](auto v) { return static_cast<double>(v); };

        b.gauge("", "Open connections: idle, active and being validated or closed", pool, d(s.total));
        b.gauge("_active", "Connections leased to callers", pool, d(s.active));
        b.gauge("_idle", "Connections ready to lend", pool, d(s.idle));
        b.gauge("_pending", "Callers waiting for a connection", pool, d(s.pending));
        b.gauge("_max", "Maximum pool size (max_size)", pool, d(s.max));
        b.gauge("_min", "Minimum idle connections (min_idle)", pool, d(s.min));
        b.counter("_timeout_total", "Acquires that timed out", pool, d(s.timeouts));
        b.histogram("_acquire_seconds",
                    "Time acquires waited, with or without getting a connection (0 when one was ready)", pool,
                    e->acquire);
        b.gauge("_acquire_seconds_max", "Longest acquire wait in the recent window, failed ones included", pool,
                e->acquire.poll_max_seconds(now, window));
        b.histogram("_usage_seconds", "Time connections were held by callers", pool, e->usage);
        b.gauge("_usage_seconds_max", "Longest lease in the recent window", pool,
                e->usage.poll_max_seconds(now, window));
        b.histogram("_creation_seconds", "Time taken to open a connection", pool, e->creation);
        b.gauge("_creation_seconds_max", "Longest connection opening in the recent window", pool,
                e->creation.poll_max_seconds(now, window));
        b.counter("_deadlocks_total", "Deadlocks reported by the deadlock detector", pool, d(s.deadlocks));
        b.counter("_nested_acquisitions_total", "Acquisitions made while holding a lease of the same pool",
                  pool, d(s.nested_acquisitions));
        b.counter("_leaks_total", "Leases held longer than leak_detection_threshold", pool, d(s.leaks));
        for (std::size_t r = 0; r < close_reason_count; ++r) {
            const ::prometheus::ClientMetric::Label reason{
                "reason", std::string(to_string(static_cast<close_reason>(r)))};
            b.counter("_closed_total", "Connections closed, by reason", pool, d(s.closed[r]), &reason);
        }
        b.counter("_connect_failures_total", "Failed attempts to open a connection", pool,
                  d(s.connect_failures));
        b.counter("_rejected_total", "Acquires refused because max_pending callers were waiting", pool,
                  d(s.rejected));
        b.gauge("_claim",
                "Connections per task that admission keeps reachable (max_nesting, declared or learned by heal); 0 = "
                "admission off",
                pool, d(s.claim));
        b.gauge("_emergency", "Emergency connections lent beyond max_size now (deadlock_policy heal)", pool,
                d(s.emergency));
        b.counter("_emergency_total", "Emergency connections lent beyond max_size to untie a deadlock (heal)", pool,
                  d(s.emergency_lent));
        b.counter("_emergency_failed_total",
                  "Deadlocks heal could not lend a connection for, so one member was failed instead", pool,
                  d(s.emergency_failed));

        if (state_->options.legacy_hikaricp_names) {
            // HikariCP's simpleclient names (HikariCPCollector, PrometheusMetricsTracker), units
            // and all; `<prefix>_connections` is common to both sets and already exported.
            b.use_base(state_->options.prefix + "_");
            b.gauge("active_connections", "Active connections", pool, d(s.active));
            b.gauge("idle_connections", "Idle connections", pool, d(s.idle));
            b.gauge("pending_threads", "Pending threads", pool, d(s.pending));
            b.gauge("max_connections", "Max connections", pool, d(s.max));
            b.gauge("min_connections", "Min connections", pool, d(s.min));
            b.counter("connection_timeout_total", "Connection timeout total count", pool, d(s.timeouts));
            const auto [acquired, acquired_ns] = e->acquire.totals();
            b.summary("connection_acquired_nanos", "Connection acquired time (ns)", pool, acquired,
                      d(acquired_ns));
            const auto [used, used_ns] = e->usage.totals();
            b.summary("connection_usage_millis", "Connection usage (ms)", pool, used, d(used_ns) / 1e6);
            const auto [created, created_ns] = e->creation.totals();
            b.summary("connection_creation_millis", "Connection creation (ms)", pool, created,
                      d(created_ns) / 1e6);
            b.use_base(state_->options.prefix + "_connections");
        }
    }
    return b.take();
}

}  // namespace lifeguard
