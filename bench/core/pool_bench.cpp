// The core pool benchmark (issue 3, "Speed"): lifeguard::pool against a textbook
// mutex + condition-variable pool and SOCI's connection_pool, with a trivial connection, so
// that only borrow + return is measured; and against the best-case design (reference_pool.hpp,
// issue 15), the floor a fixed-size pool cannot go below by much.
//
// Every benchmark is named pool/<variant>/size:<max size>/hold_ns:<hold>/timed:<0|1>/real_time/
// threads:<n>. Each thread loops: borrow, busy-wait `hold` on the steady clock while holding
// the connection (never sleep: a sleeping holder measures the scheduler, not the pool), give
// back. It reports, besides Google Benchmark's per-thread time:
//   ops_per_s    borrow+return pairs completed by all threads together, divided by the time
//                from the first thread's first iteration (all threads have just been released
//                by Google Benchmark's start barrier) to the last thread's last iteration;
//   wait_p99_ns, wait_p999_ns, wait_max_ns   (timed:1 only) how long acquire took, from the
//                call to holding the connection, over every acquire of the run
//                (wait_histogram.hpp). With more threads than cores the tail includes time a
//                thread spent preempted inside acquire, or a holder spent preempted inside its
//                hold: the maximum is mostly the scheduler's, p99.9 is the steadier tail.
// timed:1 reads the steady clock twice per borrow (~25 ns each here), which would swamp an
// uncontended borrow; timed:0 (one thread only) reads no clock per borrow, so its ns/op is the
// clean uncontended borrow+return cost. Shapes: sizes 10 and 2, holds 0 and 1 µs, timed:1 at 1 to
// 32 threads and timed:0 at 1 thread; plus size 1, no hold, timed:1 at 8 threads (one
// connection shared by all: the waiting path).
//
// bench/core/run.sh runs all of it with repetitions and random interleaving and prints the
// tables for the README.

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lifeguard_variant.hpp"
#include "variants.hpp"
#include "wait_histogram.hpp"

namespace lifeguard_bench {
namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

void spin_until(clock_type::time_point until) noexcept {
    while (clock_type::now() < until) {
    }
}

// Per-thread data, on its own cache lines so threads recording waits do not share lines.
struct alignas(64) thread_slot {
    wait_histogram waits;
};

// Everything one run of one benchmark shares between its threads. Made by setup() before
// Google Benchmark starts the threads and destroyed by teardown() after they have finished.
template <class Variant>
struct shared_run {
    explicit shared_run(int threads) : slots(static_cast<std::size_t>(threads)) {}

    void note_start(std::int64_t ns) noexcept {
        std::int64_t seen = first_start_ns.load(std::memory_order_relaxed);
        while (ns < seen && !first_start_ns.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
        }
    }
    void note_end(std::int64_t ns) noexcept {
        std::int64_t seen = last_end_ns.load(std::memory_order_relaxed);
        while (ns > seen && !last_end_ns.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
        }
    }

    std::optional<Variant> pool;
    std::string error;  // set when the pool could not be made ready: every thread skips
    std::vector<thread_slot> slots;
    std::atomic<std::int64_t> first_start_ns{std::numeric_limits<std::int64_t>::max()};
    std::atomic<std::int64_t> last_end_ns{std::numeric_limits<std::int64_t>::min()};
};

template <class Variant>
std::unique_ptr<shared_run<Variant>> current_run;

template <class Variant>
void setup(const benchmark::State& state) {
    auto run = std::make_unique<shared_run<Variant>>(state.threads());
    try {
        run->pool.emplace(static_cast<std::size_t>(state.range(0)));
        run->error = run->pool->ready();
    } catch (const std::exception& e) {
        run->error = std::string("making the pool failed: ") + e.what();
    }
    current_run<Variant> = std::move(run);
}

template <class Variant>
void teardown(const benchmark::State& /*state*/) {
    current_run<Variant>.reset();
}

// Thread 0, after Google Benchmark's end barrier (so every thread has finished and published).
template <class Variant>
void report(benchmark::State& state, shared_run<Variant>& run, bool timed) {
    const std::int64_t elapsed_ns = run.last_end_ns.load() - run.first_start_ns.load();
    if (elapsed_ns > 0) {
        const double pairs = static_cast<double>(state.max_iterations) * state.threads();
        state.counters["ops_per_s"] = pairs * 1e9 / static_cast<double>(elapsed_ns);
    }
    if (timed) {
        wait_histogram all;
        for (const thread_slot& slot : run.slots) all.merge(slot.waits);
        state.counters["wait_p99_ns"] = static_cast<double>(all.percentile(0.99));
        state.counters["wait_p999_ns"] = static_cast<double>(all.percentile(0.999));
        state.counters["wait_max_ns"] = static_cast<double>(all.max());
    }
}

template <class Variant>
void pool_benchmark(benchmark::State& state) {
    shared_run<Variant>& run = *current_run<Variant>;
    if (!run.error.empty()) {
        state.SkipWithError(run.error.c_str());
        for (auto _ : state) {
        }
        return;
    }
    Variant& pool = *run.pool;
    wait_histogram& waits = run.slots[static_cast<std::size_t>(state.thread_index())].waits;
    const std::chrono::nanoseconds hold(state.range(1));
    const bool timed = state.range(2) != 0;

    // Start and end are noted inside the loop (first and last iteration) rather than around
    // it, because Google Benchmark's start and end barriers sit in the loop's begin and end.
    const benchmark::IterationCount iterations = state.max_iterations;
    benchmark::IterationCount done = 0;
    if (timed) {
        for (auto _ : state) {
            if (done == 0) run.note_start(now_ns());
            const auto asked = clock_type::now();
            pool.with_lease([&](auto& connection) {
                const auto got = clock_type::now();
                waits.record(static_cast<std::uint64_t>((got - asked).count()));
                benchmark::DoNotOptimize(&connection);
                if (hold.count() != 0) spin_until(got + hold);
            });
            if (++done == iterations) run.note_end(now_ns());
        }
    } else {
        for (auto _ : state) {
            if (done == 0) run.note_start(now_ns());
            pool.with_lease([&](auto& connection) {
                benchmark::DoNotOptimize(&connection);
                if (hold.count() != 0) spin_until(clock_type::now() + hold);
            });
            if (++done == iterations) run.note_end(now_ns());
        }
    }
    if (state.thread_index() == 0) report(state, run, timed);
}

template <class Variant>
void register_variant() {
    const std::string name = "pool/" + std::string(Variant::name);
    const std::vector<std::int64_t> sizes{10, 2};
    const std::vector<std::int64_t> holds_ns{0, 1000};

    auto* timed = benchmark::RegisterBenchmark(name.c_str(), pool_benchmark<Variant>);
    timed->ArgNames({"size", "hold_ns", "timed"})->ArgsProduct({sizes, holds_ns, {1}});
    for (int threads : {1, 2, 4, 8, 16, 32}) timed->Threads(threads);
    timed->UseRealTime()->Setup(setup<Variant>)->Teardown(teardown<Variant>);

    auto* clean = benchmark::RegisterBenchmark(name.c_str(), pool_benchmark<Variant>);
    clean->ArgNames({"size", "hold_ns", "timed"})->ArgsProduct({sizes, holds_ns, {0}});
    clean->Threads(1)->UseRealTime()->Setup(setup<Variant>)->Teardown(teardown<Variant>);

    // One connection shared by 8 threads with no hold (issue 15): every borrow but the holder's
    // finds the pool empty, so this is the cost of the waiting path itself.
    auto* shared = benchmark::RegisterBenchmark(name.c_str(), pool_benchmark<Variant>);
    shared->ArgNames({"size", "hold_ns", "timed"})->Args({1, 0, 1});
    shared->Threads(8)->UseRealTime()->Setup(setup<Variant>)->Teardown(teardown<Variant>);
}

}  // namespace
}  // namespace lifeguard_bench

int main(int argc, char** argv) {
    using namespace lifeguard_bench;
    register_variant<lifeguard_variant>();
    register_variant<textbook_variant>();
    register_variant<reference_variant>();
    benchmark::AddCustomContext("reference_fences", reference_detail::asymmetric_fences_available()
                                                        ? "asymmetric (release store + membarrier when parking)"
                                                        : "symmetric (seq_cst fences: membarrier unavailable)");
#if LIFEGUARD_BENCH_WITH_SOCI
    register_variant<soci_variant>();
#else
    benchmark::AddCustomContext("soci", "absent (libsoci-dev not found at configure time)");
#endif
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
