// What the metrics adapter (and the logging observer at info) add to a borrow+return: the same
// pool over a trivial driver with no observer, with an observer that overrides nothing (the
// pool's own hook dispatch), with lifeguard::prometheus_metrics attached, and
// with both prometheus_metrics and logging_observer attached. Issue 7's budget: metrics add at
// most 30 ns per borrow+return. Run with bench/metrics/run.sh (medians of interleaved repetitions).
#include <benchmark/benchmark.h>
#include <spdlog/sinks/null_sink.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "lifeguard/logging.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/prometheus.hpp"
#include "support/trivial_driver.hpp"

namespace {

using lifeguard_bench::trivial_driver;

enum class attached { none, empty_observer, metrics, metrics_and_logging };

// Overrides nothing: what the pool's hook dispatch alone costs once any observer is attached.
class empty_observer final : public lifeguard::pool_observer {};

// One pool per configuration for the whole process, filled before the first measurement.
struct bench_pool {
    explicit bench_pool(attached what)
        : pool(trivial_driver{}, lifeguard::pool_options{.name = "bench", .max_size = 4, .min_idle = 4}) {
        if (what == attached::empty_observer) pool.add_observer(std::make_shared<empty_observer>());
        if (what == attached::metrics || what == attached::metrics_and_logging) metrics->attach(pool);
        if (what == attached::metrics_and_logging) {
            auto logger =
                std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
            logger->set_level(spdlog::level::info);
            pool.add_observer(lifeguard::make_logging_observer({.logger = logger}));
        }
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (pool.stats().idle != 4 && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
    }

    std::shared_ptr<lifeguard::prometheus_metrics> metrics =
        std::make_shared<lifeguard::prometheus_metrics>();
    lifeguard::pool<trivial_driver> pool;
};

bench_pool& pool_for(attached what) {
    static bench_pool none(attached::none);
    static bench_pool empty(attached::empty_observer);
    static bench_pool metrics(attached::metrics);
    static bench_pool both(attached::metrics_and_logging);
    switch (what) {
        case attached::none:
            return none;
        case attached::empty_observer:
            return empty;
        case attached::metrics:
            return metrics;
        case attached::metrics_and_logging:
            return both;
    }
    return none;
}

template <attached What>
void borrow_return(benchmark::State& state) {
    auto& p = pool_for(What);
    if (p.pool.stats().idle != 4) {
        state.SkipWithError("the pool did not fill within 10 s");
        return;
    }
    for (auto _ : state) {
        auto lease = p.pool.acquire();
        benchmark::DoNotOptimize(*lease);
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK_TEMPLATE(borrow_return, attached::none)->Name("borrow_return/none")->Threads(1)->Threads(2);
BENCHMARK_TEMPLATE(borrow_return, attached::empty_observer)
    ->Name("borrow_return/empty_observer")
    ->Threads(1)
    ->Threads(2);
BENCHMARK_TEMPLATE(borrow_return, attached::metrics)->Name("borrow_return/metrics")->Threads(1)->Threads(2);
BENCHMARK_TEMPLATE(borrow_return, attached::metrics_and_logging)
    ->Name("borrow_return/metrics+logging")
    ->Threads(1)
    ->Threads(2);

// A scrape of one pool (Collect() only, no serialisation), for scale.
void collect(benchmark::State& state) {
    auto& p = pool_for(attached::metrics);
    for (auto _ : state) benchmark::DoNotOptimize(p.metrics->Collect());
}
BENCHMARK(collect);

}  // namespace

BENCHMARK_MAIN();
