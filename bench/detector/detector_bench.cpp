// What the deadlock detector costs a borrow + return (Google Benchmark, one process, one
// thread), and the table of its deltas against a pool with no observer (issue 4, "Speed").
//
//   borrow_return/<mode>          a task holding nothing borrows and returns (the common path)
//   nested/<mode>                 the task holds a lease of the same pool: a known nesting pair,
//                                 the nested path without graph work
//   blocking/<mode>               the borrow has to wait: the only connection is held by another
//                                 task, which returns it from inside on_block, so the wait costs
//                                 no context switch and only the blocking path is measured
//                                 (queueing, on_block and the knot check, unblock)
//   borrow_return_new_task/<mode> as borrow_return, but every borrow is a new task (an
//                                 owner_scope per request, as a server would do)
//   other_pool/<mode>             the task holds a lease of another pool (a known order edge)
//   nested_count/{fetch_add,thread_counter}
//                                 one count of a nested acquisition, as the pool kept it before
//                                 (a locked add) and keeps it now (detail/thread_counter.hpp)
//
// <mode> is one of
//   off   no observer attached at all: the pool pays one predictable branch per event
//         (blocking/off has only the observer that returns the lease, as every blocking/* has)
//   null  an observer whose hooks do nothing: the pool's own price for having an observer
//   on    the detector, policy report
//
// After the runs the binary prints, per benchmark, the median CPU and real time of each mode and
// `on - off` (the targets: borrow_return +10 ns, nested +25 ns). Compare modes only within one
// run (random interleaving, >= 3 repetitions): other work on the machine shifts whole runs.
//
// Run:  lifeguard_bench_detector --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       (or bench/detector/run.sh)
#include <benchmark/benchmark.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lifeguard/detail/thread_counter.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"
#include "support/trivial_driver.hpp"

namespace {

using lifeguard_bench::trivial_driver;

using namespace std::chrono_literals;

using bench_pool = lifeguard::basic_pool<trivial_driver>;

enum class mode { off, null, on };

std::shared_ptr<lifeguard::diagnostics::deadlock_detector> make_detector() {
    lifeguard::diagnostics::detector_options o;
    o.watchdog_interval = 0ms;
    o.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    return std::make_shared<lifeguard::diagnostics::deadlock_detector>(std::move(o));
}

std::shared_ptr<lifeguard::pool_observer> make_observer(mode m) {
    switch (m) {
        case mode::off:
            return nullptr;
        case mode::null:
            return std::make_shared<lifeguard::pool_observer>();
        case mode::on:
            return make_detector();
    }
    return nullptr;
}

/// A filled pool (the worker is run by hand, so no thread of the pool's own competes).
std::unique_ptr<bench_pool> make_pool(std::shared_ptr<lifeguard::pool_observer> observer, std::size_t size,
                                      std::string name = "bench") {
    auto pool = std::make_unique<bench_pool>(
        trivial_driver{},
        lifeguard::pool_options{
            .name = std::move(name), .max_size = size, .on_deadlock = lifeguard::deadlock_policy::report},
        std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool->run_worker_once();
    if (observer) pool->add_observer(std::move(observer));
    return pool;
}

template <mode M>
void borrow_return(benchmark::State& state) {
    auto pool = make_pool(make_observer(M), 4);
    for (auto _ : state) {
        auto lease = pool->acquire();
        benchmark::DoNotOptimize(*lease);
    }
}

template <mode M>
void nested(benchmark::State& state) {
    auto pool = make_pool(make_observer(M), 4);
    auto outer = pool->acquire();
    for (auto _ : state) {
        auto inner = pool->acquire();
        benchmark::DoNotOptimize(*inner);
    }
    if (M == mode::on && pool->stats().nested_acquisitions < static_cast<std::uint64_t>(state.iterations()))
        state.SkipWithError("the detector did not see the nested acquisitions");
}

/// Returns the other task's lease from inside on_block: the waiter finds it at once.
class return_on_block final : public lifeguard::pool_observer {
public:
    std::optional<bench_pool::lease_type> lease;
    void on_block(lifeguard::pool_view&, const lifeguard::wait_info&) override { lease.reset(); }
};

template <mode M>
void blocking(benchmark::State& state) {
    auto pool = make_pool(make_observer(M), 1);
    auto releaser = std::make_shared<return_on_block>();
    pool->add_observer(releaser);  // after the detector: its check runs first
    const lifeguard::owner_id other = lifeguard::new_owner_id();
    for (auto _ : state) {
        {
            lifeguard::owner_scope holder(other);
            releaser->lease.emplace(pool->acquire());
        }
        auto lease = pool->acquire();  // waits until on_block returns the other task's lease
        benchmark::DoNotOptimize(*lease);
    }
    if (pool->stats().acquire_wait.count == 0) state.SkipWithError("the borrow never waited");
}

template <mode M>
void borrow_return_new_task(benchmark::State& state) {
    auto pool = make_pool(make_observer(M), 4);
    for (auto _ : state) {
        lifeguard::owner_scope request;
        auto lease = pool->acquire();
        benchmark::DoNotOptimize(*lease);
    }
}

template <mode M>
void other_pool(benchmark::State& state) {
    auto shared = make_observer(M);
    auto first = make_pool(shared, 4, "first");
    auto second = make_pool(shared, 4, "second");
    auto held = first->acquire();
    for (auto _ : state) {
        auto lease = second->acquire();
        benchmark::DoNotOptimize(*lease);
    }
}

/// The pool's count of nested acquisitions, which the detector bumps on every nested borrow:
/// a relaxed fetch_add (a locked instruction) against thread_counter's per-thread cell.
void nested_count_fetch_add(benchmark::State& state) {
    std::atomic<std::uint64_t> count{0};
    for (auto _ : state) count.fetch_add(1, std::memory_order_relaxed);
    benchmark::DoNotOptimize(count.load());
}

void nested_count_thread_counter(benchmark::State& state) {
    lifeguard::detail::thread_counter count;
    for (auto _ : state) count.add();
    if (count.read() != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost a count");
}

BENCHMARK(nested_count_fetch_add)->Name("nested_count/fetch_add");
BENCHMARK(nested_count_thread_counter)->Name("nested_count/thread_counter");

#define LIFEGUARD_DETECTOR_BENCH(fn)                       \
    BENCHMARK_TEMPLATE(fn, mode::off)->Name(#fn "/off");   \
    BENCHMARK_TEMPLATE(fn, mode::null)->Name(#fn "/null"); \
    BENCHMARK_TEMPLATE(fn, mode::on)->Name(#fn "/on")

LIFEGUARD_DETECTOR_BENCH(borrow_return);
LIFEGUARD_DETECTOR_BENCH(nested);
LIFEGUARD_DETECTOR_BENCH(blocking);
LIFEGUARD_DETECTOR_BENCH(borrow_return_new_task);
LIFEGUARD_DETECTOR_BENCH(other_pool);

/// The console output, plus a closing table of medians and of each mode's delta against off.
class delta_reporter final : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.error_occurred) continue;
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
            const std::string name = r.run_name.str();
            const auto slash = name.rfind('/');
            if (slash == std::string::npos) continue;
            auto& cell = table_[name.substr(0, slash)][name.substr(slash + 1)];
            if (r.run_type == Run::RT_Aggregate) {
                cell = {r.GetAdjustedCPUTime(), r.GetAdjustedRealTime(), true};
            } else if (!cell.median) {
                cell.cpu.push_back(r.GetAdjustedCPUTime());  // single runs: median of them below
                cell.real.push_back(r.GetAdjustedRealTime());
            }
        }
    }

    void Finalize() override {
        ConsoleReporter::Finalize();
        auto& out = GetOutputStream();
        out << "\nMedians (ns; CPU time, real time in brackets) and deltas against off:\n";
        char line[256];
        std::snprintf(line, sizeof line, "%-24s %18s %18s %18s %14s %14s\n", "benchmark", "off", "null", "on",
                      "on - off", "null - off");
        out << line;
        for (const auto& [bench, modes] : table_) {
            if (!modes.contains("off")) continue;  // not a detector mode comparison (nested_count)
            const auto get = [&](const char* m) -> std::optional<std::pair<double, double>> {
                const auto it = modes.find(m);
                if (it == modes.end()) return std::nullopt;
                return it->second.value();
            };
            const auto cell = [&](const char* m) {
                const auto v = get(m);
                char buf[64];
                if (v)
                    std::snprintf(buf, sizeof buf, "%.1f [%.1f]", v->first, v->second);
                else
                    std::snprintf(buf, sizeof buf, "-");
                return std::string(buf);
            };
            const auto delta = [&](const char* m) {
                const auto v = get(m);
                const auto off = get("off");
                char buf[64];
                if (v && off)
                    std::snprintf(buf, sizeof buf, "%+.1f [%+.1f]", v->first - off->first,
                                  v->second - off->second);
                else
                    std::snprintf(buf, sizeof buf, "-");
                return std::string(buf);
            };
            std::snprintf(line, sizeof line, "%-24s %18s %18s %18s %14s %14s\n", bench.c_str(),
                          cell("off").c_str(), cell("null").c_str(), cell("on").c_str(), delta("on").c_str(),
                          delta("null").c_str());
            out << line;
        }
        out << "Targets (issue 4): borrow_return on - off <= +10 ns, nested on - off <= +25 ns.\n";
    }

private:
    struct cell_data {
        std::vector<double> cpu, real;
        bool median = false;
        cell_data() = default;
        cell_data(double c, double r, bool m) : cpu{c}, real{r}, median(m) {}
        std::pair<double, double> value() const {
            const auto mid = [](std::vector<double> v) {
                std::ranges::sort(v);
                const std::size_t n = v.size();
                return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
            };
            return {mid(cpu), mid(real)};
        }
    };
    std::map<std::string, std::map<std::string, cell_data>> table_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    delta_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
