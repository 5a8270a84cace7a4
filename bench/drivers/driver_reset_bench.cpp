// Reset versus reconnect, per driver, against the throwaway servers:
//   Mysql/ResetInSql      a lease SETs a session and a user variable; reset() undoes both in
//                         SQL (ROLLBACK, SET ... = DEFAULT, the init_sql again) on the same
//                         connection
//   Mysql/Reconnect       the same lease; the connection is closed and a new one opened (what
//                         the driver did before, and still does for what SQL cannot undo)
//   Mysql/CleanReturn     a lease that changed nothing: reset() with no round trip
//   Postgres/...          the same three with DISCARD ALL plus the init_sql as the reset
// Each iteration is one lease's SET plus its return, so the difference between ResetInSql and
// Reconnect is what the return costs. Repetitions are interleaved at random; compare medians.
//
//     scripts/db/with-servers.sh build-bench/bench/drivers/lifeguard_driver_bench
//         --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//         --benchmark_display_aggregates_only=true      (one command line)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include "lifeguard/mysql.hpp"
#include "lifeguard/postgres.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::optional<std::string>(v) : std::nullopt;
}

std::optional<lifeguard::mysql::options> mysql_options() {
    auto url = env("LIFEGUARD_MYSQL_URL");
    auto user = env("LIFEGUARD_MYSQL_USER");
    auto password = env("LIFEGUARD_MYSQL_PASSWORD");
    auto schema = env("LIFEGUARD_MYSQL_SCHEMA");
    if (!url || !user || !password || !schema) return std::nullopt;
    return lifeguard::mysql::options{.url = *url,
                                     .user = *user,
                                     .password = *password,
                                     .schema = *schema,
                                     .init_sql = {"SET SESSION wait_timeout = 1234"}};
}

std::optional<lifeguard::postgres::options> postgres_options() {
    auto conninfo = env("LIFEGUARD_PG_CONNINFO");
    if (!conninfo) return std::nullopt;
    return lifeguard::postgres::options{.conninfo = *conninfo,
                                        .init_sql = {"SET statement_timeout = '1234ms'"}};
}

enum class return_kind { reset_in_place, reconnect, clean };

// One lease's session change and its return, `kind` deciding how the return undoes it.
template <class Driver, class Options>
void lease_and_return(benchmark::State& state, const std::optional<Options>& options,
                      const std::string& change, return_kind kind) {
    if (!options) {
        state.SkipWithError("no server: run under scripts/db/with-servers.sh");
        return;
    }
    const Driver driver(*options);
    auto c = driver.connect(steady::now() + 10s);
    for (auto _ : state) {
        if (kind != return_kind::clean) lifeguard::exec(c, change);
        if (kind == return_kind::reconnect) {
            driver.close(c);
            c = driver.connect(steady::now() + 10s);
        } else if (!driver.reset(c)) {
            state.SkipWithError("reset() refused the connection");
            return;
        }
    }
}

void BM_Mysql(benchmark::State& state, return_kind kind) {
    static const auto options = mysql_options();
    lease_and_return<lifeguard::mysql::driver>(state, options, "SET SESSION wait_timeout = 99, @tenant = 'x'",
                                               kind);
}

void BM_Postgres(benchmark::State& state, return_kind kind) {
    static const auto options = postgres_options();
    lease_and_return<lifeguard::postgres::driver>(state, options, "SET statement_timeout = 0", kind);
}

BENCHMARK_CAPTURE(BM_Mysql, ResetInSql, return_kind::reset_in_place)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Mysql, Reconnect, return_kind::reconnect)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Mysql, CleanReturn, return_kind::clean)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Postgres, ResetInPlace, return_kind::reset_in_place)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Postgres, Reconnect, return_kind::reconnect)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Postgres, CleanReturn, return_kind::clean)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
