// What the deadlock detector costs a borrow + return (Google Benchmark, one process, one
// thread; compare medians of repetitions):
//
//   borrow_return/<observer>          a task holding nothing borrows and returns
//   borrow_return_new_task/<observer> the same, but every borrow is a new task (an owner_scope
//                                     per request, as a server would do)
//   nested/<observer>                 the task holds a lease of the same pool (a known nesting
//                                     pair: the nested path without graph work)
//   other_pool/<observer>             the task holds a lease of another pool (a known order edge)
//   blocking/<observer>               the borrow has to wait: the only connection is held by
//                                     another task, which returns it from inside on_block, so the
//                                     wait costs no context switch and only the blocking path is
//                                     measured (queueing, on_block and the knot check, unblock)
//
// <observer> is one of
//   none      no observer: the pool pays one predictable branch per event
//   null      an observer whose hooks do nothing: the pool's own price for having observers
//   ignore    the detector attached to a pool whose policy is ignore ("detector off")
//   detector  the detector, policy report
// The detector's own cost is detector - null (and detector - none for the whole price).
//
// Run:  lifeguard_bench_detector --benchmark_repetitions=15 --benchmark_report_aggregates_only=true
//       --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"

namespace {

using namespace std::chrono_literals;

/// Connections are numbers; opening, checking, resetting and closing one costs nothing.
class trivial_driver {
public:
    using connection_type = int;
    int connect(std::chrono::steady_clock::time_point) { return next_++; }
    bool is_valid(int&, std::chrono::milliseconds) noexcept { return true; }
    bool reset(int&) noexcept { return true; }
    void close(int&) noexcept {}

private:
    int next_ = 0;
};

using bench_pool = lifeguard::basic_pool<trivial_driver>;
using lifeguard::deadlock_policy;

enum class watcher { none, null, ignore, detector };

std::shared_ptr<lifeguard::diagnostics::deadlock_detector> make_detector() {
    lifeguard::diagnostics::detector_options o;
    o.watchdog_interval = 0ms;
    o.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    return std::make_shared<lifeguard::diagnostics::deadlock_detector>(std::move(o));
}

/// A filled pool (the worker is run by hand, so no thread of the pool's own competes).
std::unique_ptr<bench_pool> make_pool(watcher w, std::size_t size, std::string name = "bench",
                                      std::shared_ptr<lifeguard::pool_observer> shared = nullptr) {
    auto pool = std::make_unique<bench_pool>(
        trivial_driver{},
        lifeguard::pool_options{.name = std::move(name),
                                .max_size = size,
                                .on_deadlock = w == watcher::ignore ? deadlock_policy::ignore : deadlock_policy::report},
        std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool->run_worker_once();
    switch (w) {
    case watcher::none: break;
    case watcher::null: pool->add_observer(shared ? shared : std::make_shared<lifeguard::pool_observer>()); break;
    case watcher::ignore:
    case watcher::detector: pool->add_observer(shared ? shared : make_detector()); break;
    }
    return pool;
}

std::shared_ptr<lifeguard::pool_observer> shared_watcher(watcher w) {
    if (w == watcher::null) return std::make_shared<lifeguard::pool_observer>();
    if (w == watcher::ignore || w == watcher::detector) return make_detector();
    return nullptr;
}

template <watcher W>
void borrow_return(benchmark::State& state) {
    auto pool = make_pool(W, 4);
    for (auto _ : state) {
        auto lease = pool->acquire();
        benchmark::DoNotOptimize(*lease);
    }
}

template <watcher W>
void borrow_return_new_task(benchmark::State& state) {
    auto pool = make_pool(W, 4);
    for (auto _ : state) {
        lifeguard::owner_scope request;
        auto lease = pool->acquire();
        benchmark::DoNotOptimize(*lease);
    }
}

template <watcher W>
void nested(benchmark::State& state) {
    auto pool = make_pool(W, 4);
    auto outer = pool->acquire();
    for (auto _ : state) {
        auto inner = pool->acquire();
        benchmark::DoNotOptimize(*inner);
    }
}

template <watcher W>
void other_pool(benchmark::State& state) {
    auto shared = shared_watcher(W);
    auto first = make_pool(W, 4, "first", shared);
    auto second = make_pool(W, 4, "second", shared);
    auto held = first->acquire();
    for (auto _ : state) {
        auto lease = second->acquire();
        benchmark::DoNotOptimize(*lease);
    }
}

/// Returns the other task's lease from inside on_block: the waiter finds it at once.
class return_on_block final : public lifeguard::pool_observer {
public:
    std::optional<bench_pool::lease_type> lease;
    void on_block(lifeguard::pool_view&, const lifeguard::wait_info&) override { lease.reset(); }
};

template <watcher W>
void blocking(benchmark::State& state) {
    auto pool = make_pool(W, 1);
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

#define LIFEGUARD_DETECTOR_BENCH(fn)                                          \
    BENCHMARK_TEMPLATE(fn, watcher::none)->Name(#fn "/none");                 \
    BENCHMARK_TEMPLATE(fn, watcher::null)->Name(#fn "/null");                 \
    BENCHMARK_TEMPLATE(fn, watcher::ignore)->Name(#fn "/ignore");             \
    BENCHMARK_TEMPLATE(fn, watcher::detector)->Name(#fn "/detector")

LIFEGUARD_DETECTOR_BENCH(borrow_return);
LIFEGUARD_DETECTOR_BENCH(borrow_return_new_task);
LIFEGUARD_DETECTOR_BENCH(nested);
LIFEGUARD_DETECTOR_BENCH(other_pool);
LIFEGUARD_DETECTOR_BENCH(blocking);

}  // namespace

BENCHMARK_MAIN();
