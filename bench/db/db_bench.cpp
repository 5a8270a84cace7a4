// `SELECT 1` against the throwaway PostgreSQL (unix socket, LIFEGUARD_PG_CONNINFO) three ways:
//   Dedicated   one connection per thread, no pool (the ceiling)
//   Lifeguard   lifeguard::pool<postgres_driver>, max_size 10: acquire, query, release
//   Soci        soci::connection_pool of 10 sessions: soci::session(pool), query, release
// at 1–32 threads. Lifeguard and Dedicated run the same exec() helper, so the difference
// between them is the pool. Repetitions of all variants are interleaved at random (so drift
// hits all alike; 5 by default) and reported as mean/median/stddev; compare the medians.
//
//     scripts/db/with-servers.sh build/bench/db/lifeguard_db_bench
#include <benchmark/benchmark.h>
#include <soci/connection-pool.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lifeguard/pool.hpp"
#include "lifeguard/postgres.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::size_t pool_size = 10;

const std::string& conninfo() {
    static const std::string value = [] {
        const char* v = std::getenv("LIFEGUARD_PG_CONNINFO");
        return std::string(v ? v : "");
    }();
    return value;
}

lifeguard::pool<lifeguard::postgres_driver>& lifeguard_pool() {
    static lifeguard::pool<lifeguard::postgres_driver> pool(
        lifeguard::postgres_driver({.conninfo = conninfo()}), {.name = "bench", .max_size = pool_size});
    return pool;
}

soci::connection_pool& soci_pool() {
    static std::unique_ptr<soci::connection_pool> pool = [] {
        auto p = std::make_unique<soci::connection_pool>(pool_size);
        for (std::size_t i = 0; i < pool_size; ++i) p->at(i).open(soci::postgresql, conninfo());
        return p;
    }();
    return *pool;
}

bool have_server(benchmark::State& state) {
    if (conninfo().empty()) {
        state.SkipWithError("LIFEGUARD_PG_CONNINFO is not set: run under scripts/db/with-servers.sh");
        return false;
    }
    return true;
}

void Dedicated(benchmark::State& state) {
    if (!have_server(state)) return;
    lifeguard::postgres_driver driver({.conninfo = conninfo()});
    auto connection = driver.connect(std::chrono::steady_clock::now() + 30s);
    for (auto _ : state) {
        auto r = lifeguard::exec(connection, "SELECT 1");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}

void Lifeguard(benchmark::State& state) {
    if (!have_server(state)) return;
    auto& pool = lifeguard_pool();
    if (state.thread_index() == 0) {
        // Warm: every connection open before timing starts.
        std::vector<lifeguard::pool<lifeguard::postgres_driver>::lease_type> all;
        for (std::size_t i = 0; i < pool_size; ++i) all.push_back(pool.acquire());
    }
    for (auto _ : state) {
        auto lease = pool.acquire();
        auto r = lifeguard::exec(lease, "SELECT 1");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}

void Soci(benchmark::State& state) {
    if (!have_server(state)) return;
    auto& pool = soci_pool();
    for (auto _ : state) {
        soci::session sql(pool);
        int one = 0;
        sql << "SELECT 1", soci::into(one);
        benchmark::DoNotOptimize(one);
    }
    state.SetItemsProcessed(state.iterations());
}

// Registered thread count by thread count, so the report reads as a table.
const int registered = [] {
    for (int threads : {1, 2, 4, 8, 16, 32}) {
        for (auto [name, fn] : {std::pair{"Dedicated", &Dedicated}, std::pair{"Lifeguard", &Lifeguard},
                                std::pair{"Soci", &Soci}}) {
            benchmark::RegisterBenchmark(name, fn)->Threads(threads)->UseRealTime()->MinTime(0.5);
        }
    }
    return 0;
}();

}  // namespace

int main(int argc, char** argv) {
    // Defaults, overridable on the command line (later flags win): 5 interleaved repetitions of
    // every variant, aggregates only.
    std::string defaults[] = {"--benchmark_enable_random_interleaving=true", "--benchmark_repetitions=5",
                              "--benchmark_report_aggregates_only=true"};
    std::vector<char*> args;
    args.reserve(static_cast<std::size_t>(argc) + std::size(defaults));
    args.push_back(argv[0]);
    for (auto& d : defaults) args.push_back(d.data());
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    int count = static_cast<int>(args.size());
    benchmark::Initialize(&count, args.data());
    if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
