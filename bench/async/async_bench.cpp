// Asynchronous acquire benchmarks (issue 8, "Speed"), over a driver whose connections are ints so
// that only the pool and the Asio front-end are measured:
//   round_trip/sync                  acquire() + release on one thread (the reference)
//   round_trip/async_callback        async_acquire with a callback bound to an io_context, the
//                                    completion run by run_one(), the lease dropped in the handler
//   round_trip/async_coroutine       one coroutine awaiting async_acquire in a loop
//   .../reset_inline                 the same over a driver whose reset_is_local says true (a
//                                    clean return): the returner resets it, as a blocking one
//   .../reset_on_worker              the same over a driver without the hook: every return's
//                                    reset is left to the pool's worker (a lock and a wake-up)
//   coroutines/tasks:<k>             k coroutines on one io_context thread share a pool of 10;
//                                    each acquires, holds the lease across one suspension (a
//                                    post, standing in for a query) and returns it, over the
//                                    driver with the hook; items/s is acquisitions per second
// All run on one thread with a pool of 10 (the worker thread idles). bench/async/run.sh runs them
// with repetitions and prints the medians.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>

#include "lifeguard/asio.hpp"
#include "support/trivial_driver.hpp"

namespace lifeguard_bench {
namespace {

namespace asio = boost::asio;

/// trivial_driver with driver.hpp's optional hook: every return is clean, its reset needs no
/// round trip, so an async lease is reset by its returner.
class local_reset_driver : public trivial_driver {
public:
    bool reset_is_local(const int& /*connection*/) const noexcept { return true; }
};

constexpr std::size_t pool_size = 10;

/// A full pool: measuring starts once the worker has opened every connection (bounded wait).
template <class Driver = trivial_driver>
class filled_pool {
public:
    filled_pool() : pool(Driver{}, {.name = "bench", .max_size = pool_size, .min_idle = pool_size}) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (pool.stats().idle != pool_size) {
            if (std::chrono::steady_clock::now() > give_up)
                throw std::runtime_error("pool did not fill within 10 s");
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }
    lifeguard::pool<Driver> pool;
};

void sync_round_trip(benchmark::State& state) {
    filled_pool<> p;
    for (auto _ : state) {
        auto lease = p.pool.acquire();
        benchmark::DoNotOptimize(*lease);
    }
    state.SetItemsProcessed(state.iterations());
}

template <class Driver>
void async_callback_round_trip(benchmark::State& state) {
    using lease_type = typename lifeguard::pool<Driver>::lease_type;
    filled_pool<Driver> p;
    asio::io_context io;
    auto work = asio::make_work_guard(io);  // run_one() never finds the context out of work
    const lifeguard::owner_id me = lifeguard::new_owner_id();
    std::int64_t served = 0, completed = 0;
    for (auto _ : state) {
        lifeguard::async_acquire(
            p.pool, me, asio::bind_executor(io, [&](boost::system::error_code ec, lease_type l) {
                served += !ec && l;
                ++completed;
            }));
        // Usually ready at once; when every connection still waits for the worker's reset, the
        // completion comes once one is done: wait for it, so each iteration is one round trip.
        for (const std::int64_t before = completed; completed == before;) io.run_one();
    }
    if (served != state.iterations()) state.SkipWithError("an acquisition failed");
    state.SetItemsProcessed(state.iterations());
}

template <class Driver>
void async_coroutine_round_trip(benchmark::State& state) {
    filled_pool<Driver> p;
    asio::io_context io;
    bool failed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            const lifeguard::owner_id me = lifeguard::new_owner_id();
            for (auto _ : state) {
                auto lease = co_await lifeguard::async_acquire(p.pool, me, asio::use_awaitable);
                benchmark::DoNotOptimize(*lease);
            }
        },
        [&](std::exception_ptr e) { failed = static_cast<bool>(e); });
    io.run();
    if (failed) state.SkipWithError("the coroutine failed");
    state.SetItemsProcessed(state.iterations());
}

void coroutines_throughput(benchmark::State& state) {
    const int tasks = static_cast<int>(state.range(0));
    const int rounds = std::max(1, 20'000 / tasks);  // about 20,000 acquisitions per iteration
    filled_pool<local_reset_driver> p;  // like the bundled drivers: a clean return is reset inline
    std::int64_t served = 0;
    for (auto _ : state) {
        asio::io_context io;
        for (int t = 0; t < tasks; ++t) {
            asio::co_spawn(
                io,
                [&p, &served, rounds]() -> asio::awaitable<void> {
                    const lifeguard::owner_id me = lifeguard::new_owner_id();
                    auto ex = co_await asio::this_coro::executor;
                    for (int i = 0; i < rounds; ++i) {
                        auto lease = co_await lifeguard::async_acquire(p.pool, me, asio::use_awaitable);
                        co_await asio::post(ex, asio::use_awaitable);  // "the query": one suspension
                        ++served;
                    }
                },
                asio::detached);
        }
        io.run();
    }
    if (served != state.iterations() * tasks * rounds) state.SkipWithError("acquisitions were lost");
    state.SetItemsProcessed(served);
    state.counters["tasks"] = tasks;
}

BENCHMARK(sync_round_trip)->Name("round_trip/sync");
BENCHMARK_TEMPLATE(async_callback_round_trip, local_reset_driver)->Name("round_trip/async_callback/reset_inline");
BENCHMARK_TEMPLATE(async_callback_round_trip, trivial_driver)->Name("round_trip/async_callback/reset_on_worker");
BENCHMARK_TEMPLATE(async_coroutine_round_trip, local_reset_driver)->Name("round_trip/async_coroutine/reset_inline");
BENCHMARK_TEMPLATE(async_coroutine_round_trip, trivial_driver)->Name("round_trip/async_coroutine/reset_on_worker");
BENCHMARK(coroutines_throughput)
    ->Name("coroutines")
    ->ArgName("tasks")
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lifeguard_bench

BENCHMARK_MAIN();
