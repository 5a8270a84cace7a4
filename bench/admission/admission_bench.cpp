// What nesting-aware admission and the heal policy cost (issue 16, "Speed"), in one process so
// that the variants are compared on the same noisy machine:
//
//   admission/uncontended/claim:<0|2>   one thread, pool 10, borrow + return with no clock read
//       per borrow. claim:0 is today's pool (max_nesting undeclared); claim:2 declares
//       max_nesting = 2, so every borrow also claims a slot and looks for one spare slot.
//
//   admission/autoid/<variant>/work:<cpu|io>   20 tasks (threads) each loop the AUTO-ID shape:
//       lease #1 (the transaction), work, lease #2 from the same pool (the id generator), a
//       little more work, return both. The detector is attached in every variant.
//         heal      pool 10, deadlock_policy::heal: the first knot is lent an emergency
//                   connection and teaches admission Cm = 2, which keeps the knot from forming
//         sized     pool 21 = Tn x (Cm - 1) + 1 (what poolsize recommends), fail_fast
//         fail_fast pool 10, fail_fast: every knot throws deadlock_error into one member
//         declared  pool 10, max_nesting = 2 declared up front (fail_fast): admission from the start
//       work:cpu spins (the holder keeps a core busy, like the demo's password hash: the two
//       cores are the bottleneck, as a database's cores are); work:io sleeps (the holder waits
//       on the server, which has cores to spare: the connection count is the bottleneck).
//     Counters: ok_per_s  tasks that finished both leases, per second of the run (first
//                         thread's first iteration to the last thread's last);
//               failed    tasks that got deadlock_error (or any other acquire failure);
//               emergency emergency connections lent (heal);  knots  deadlocks reported.
//
// Run: bench/admission/run.sh (repetitions, random interleaving, medians).
#include <benchmark/benchmark.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"
#include "support/trivial_driver.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard_bench::trivial_driver;
using bench_pool = lifeguard::pool<trivial_driver>;
using clock_type = std::chrono::steady_clock;

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

// Waits (bounded) until the worker has opened min_idle connections.
std::string fill(bench_pool& pool) {
    const auto give_up = clock_type::now() + 10s;
    while (pool.stats().idle < pool.options().min_idle) {
        if (clock_type::now() > give_up) return "the pool did not fill within 10 s";
        std::this_thread::sleep_for(100us);
    }
    return {};
}

// ---------------------------------------------------------------------------- uncontended

void uncontended(benchmark::State& state) {
    const std::size_t claim = static_cast<std::size_t>(state.range(0));
    bench_pool pool(trivial_driver{},
                    {.name = "bench", .max_size = 10, .min_idle = 10, .max_nesting = claim});
    if (auto error = fill(pool); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    for (auto _ : state) {
        auto lease = pool.acquire();
        benchmark::DoNotOptimize(&*lease);
    }
    if (pool.stats().claim != claim) state.SkipWithError("the pool's claim is not the declared max_nesting");
}

// ---------------------------------------------------------------------------- AUTO-ID load

constexpr int tasks = 20;
constexpr std::size_t undersized = 10;
constexpr std::size_t safe_size = tasks * (2 - 1) + 1;

enum class variant { heal, sized, fail_fast, declared };
enum class work { cpu, io };

struct autoid_run {
    std::shared_ptr<lifeguard::diagnostics::deadlock_detector> detector;
    std::optional<bench_pool> pool;
    std::string error;
    std::atomic<std::uint64_t> ok{0}, failed{0};
    std::atomic<std::int64_t> first_start_ns{std::numeric_limits<std::int64_t>::max()};
    std::atomic<std::int64_t> last_end_ns{std::numeric_limits<std::int64_t>::min()};
};
std::unique_ptr<autoid_run> current;

void autoid_setup(variant v) {
    auto run = std::make_unique<autoid_run>();
    lifeguard::diagnostics::detector_options d;
    d.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    run->detector = std::make_shared<lifeguard::diagnostics::deadlock_detector>(std::move(d));
    const std::size_t size = v == variant::sized ? safe_size : undersized;
    run->pool.emplace(trivial_driver{},
                      lifeguard::pool_options{.name = "app",
                                              .max_size = size,
                                              .min_idle = size,
                                              .on_deadlock = v == variant::heal ? lifeguard::deadlock_policy::heal
                                                                                : lifeguard::deadlock_policy::fail_fast,
                                              .max_nesting = v == variant::declared ? std::size_t{2} : 0});
    run->error = fill(*run->pool);
    run->pool->add_observer(run->detector);
    current = std::move(run);
}

void autoid_teardown(const benchmark::State&) {
    current.reset();
}

void busy(work w, std::chrono::microseconds d) {
    if (w == work::io) {
        std::this_thread::sleep_for(d);
        return;
    }
    const auto until = clock_type::now() + d;
    while (clock_type::now() < until) {
    }
}

void note_min(std::atomic<std::int64_t>& a, std::int64_t v) {
    auto seen = a.load(std::memory_order_relaxed);
    while (v < seen && !a.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
}
void note_max(std::atomic<std::int64_t>& a, std::int64_t v) {
    auto seen = a.load(std::memory_order_relaxed);
    while (v > seen && !a.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
}

void autoid(benchmark::State& state) {
    autoid_run& run = *current;
    if (!run.error.empty()) {
        state.SkipWithError(run.error.c_str());
        for (auto _ : state) {
        }
        return;
    }
    const auto w = static_cast<work>(state.range(0));
    const auto transaction = w == work::cpu ? 40us : 200us;
    const auto id_generator = transaction / 4;
    bench_pool& pool = *run.pool;
    const auto iterations = state.max_iterations;
    benchmark::IterationCount done = 0;
    for (auto _ : state) {
        if (done == 0) note_min(run.first_start_ns, now_ns());
        try {
            auto tx = pool.acquire();
            busy(w, transaction);
            auto id = pool.acquire();
            busy(w, id_generator);
            run.ok.fetch_add(1, std::memory_order_relaxed);
        } catch (const std::exception&) {
            run.failed.fetch_add(1, std::memory_order_relaxed);
        }
        if (++done == iterations) note_max(run.last_end_ns, now_ns());
    }
    if (state.thread_index() != 0) return;
    // Thread 0 runs this after Google Benchmark's end barrier: every thread has finished.
    const auto elapsed = run.last_end_ns.load() - run.first_start_ns.load();
    if (elapsed > 0) state.counters["ok_per_s"] = static_cast<double>(run.ok.load()) * 1e9 / static_cast<double>(elapsed);
    const auto st = pool.stats();
    state.counters["failed"] = static_cast<double>(run.failed.load());
    state.counters["emergency"] = static_cast<double>(st.emergency_lent);
    state.counters["knots"] = static_cast<double>(run.detector->stats().deadlocks);
}

// Setup takes a plain function pointer, so the variant is a template argument (not a benchmark
// argument, which would show up in every name).
template <variant V>
void autoid_setup_for(const benchmark::State&) {
    autoid_setup(V);
}

template <variant V>
void register_autoid(const char* name) {
    benchmark::RegisterBenchmark(name, autoid)
        ->ArgName("work")
        ->Arg(static_cast<std::int64_t>(work::cpu))
        ->Arg(static_cast<std::int64_t>(work::io))
        ->Threads(tasks)
        ->Iterations(300)
        ->UseRealTime()
        ->Setup(autoid_setup_for<V>)
        ->Teardown(autoid_teardown);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::RegisterBenchmark("admission/uncontended", uncontended)->ArgName("claim")->Arg(0)->Arg(2);
    register_autoid<variant::heal>("admission/autoid/heal");
    register_autoid<variant::sized>("admission/autoid/sized");
    register_autoid<variant::fail_fast>("admission/autoid/fail_fast");
    register_autoid<variant::declared>("admission/autoid/declared");
    benchmark::AddCustomContext("work", "cpu = spin 40 us + 10 us; io = sleep 200 us + 50 us");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
