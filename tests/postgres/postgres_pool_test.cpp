// A lifeguard pool over the libpq driver against real PostgreSQL: returns mid-transaction,
// session state, who resets an async lease, a server with few connection slots, wrong
// credentials, PgBouncer.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>
#include <libpq-fe.h>  // the test uses the raw handle the way users may

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "async_reset_checks.hpp"
#include "db_support.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/postgres.hpp"
#include "pool_checks.hpp"
#include "startup_checks.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::exec;
using lifeguard::postgres_driver;
using lifeguard::postgres_error;
using pg_pool = lifeguard::pool<postgres_driver>;
using steady = std::chrono::steady_clock;

int backend_pid(pg_pool::lease_type& lease) {
    return lease->backend_pid();
}

// Connections the server has for one application_name (set in the pool's conninfo).
std::string server_count(const std::string& admin_conninfo, const std::string& application) {
    postgres_driver d({.conninfo = admin_conninfo});
    auto c = d.connect(steady::now() + 10s);
    return exec(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", {application})
        .value();
}

class PostgresPool : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(conninfo_, "LIFEGUARD_PG_CONNINFO");
        postgres_driver admin_driver({.conninfo = conninfo_});
        auto admin = admin_driver.connect(steady::now() + 10s);
        // CREATE TABLE IF NOT EXISTS races with itself across test processes: serialise it.
        exec(admin,
             "BEGIN; SELECT pg_advisory_xact_lock(4712); CREATE TABLE IF NOT EXISTS pool_rows (id int, tag "
             "text); "
             "COMMIT");
    }
    std::string conninfo_;
};

TEST_F(PostgresPool, LendsWorkingConnectionsAndTakesThemBack) {
    pg_pool pool(postgres_driver({.conninfo = conninfo_}),
                 {.name = "pg-basic", .max_size = 3, .acquire_timeout = 10s});
    lifeguard::test::expect_lends_and_takes_back(pool, backend_pid, "postgres ");
}

TEST_F(PostgresPool, RowWrittenInAnAbandonedTransactionIsInvisible) {
    pg_pool pool(postgres_driver({.conninfo = conninfo_}),
                 {.name = "pg-abandon", .max_size = 1, .acquire_timeout = 10s});
    int pid = 0;
    {
        auto lease = pool.acquire();
        pid = lease->backend_pid();
        exec(lease, "BEGIN");
        exec(lease, "INSERT INTO pool_rows VALUES (7001, 'abandoned')");
        // Returned mid-transaction: the pool must roll back.
    }
    postgres_driver other_driver({.conninfo = conninfo_});
    auto other = other_driver.connect(steady::now() + 10s);
    EXPECT_EQ(exec(other, "SELECT count(*) FROM pool_rows WHERE id = 7001").value(), "0");
    auto again = pool.acquire();
    EXPECT_EQ(again->backend_pid(), pid) << "max_size 1: the same connection comes back";
    EXPECT_EQ(exec(again, "SELECT count(*) FROM pool_rows WHERE id = 7001").value(), "0");
    exec(again, "INSERT INTO pool_rows VALUES (7001, 'autocommit')");  // not inside a stale transaction
    EXPECT_EQ(exec(other, "SELECT count(*) FROM pool_rows WHERE id = 7001").value(), "1");
    exec(other, "DELETE FROM pool_rows WHERE id = 7001");
}

TEST_F(PostgresPool, SessionStateDoesNotLeakToTheNextBorrower) {
    pg_pool pool(postgres_driver({.conninfo = conninfo_}),
                 {.name = "pg-session", .max_size = 1, .acquire_timeout = 10s});
    int pid = 0;
    {
        auto lease = pool.acquire();
        pid = lease->backend_pid();
        exec(lease, "SET application_name = 'leaked-by-exec'");
        exec(lease, "SET search_path = pg_catalog");
    }
    {
        auto lease = pool.acquire();
        ASSERT_EQ(lease->backend_pid(), pid);
        EXPECT_EQ(exec(lease, "SHOW application_name").value(), "");
        EXPECT_EQ(exec(lease, "SHOW search_path").value(), "\"$user\", public");
        // Through the raw handle: nothing the driver can parse, still reset.
        PGresult* r = PQexec(lease->native_handle(), "SET application_name = 'leaked-by-native'");
        ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    auto lease = pool.acquire();
    ASSERT_EQ(lease->backend_pid(), pid);
    EXPECT_EQ(exec(lease, "SHOW application_name").value(), "");
}

TEST_F(PostgresPool, AnAsyncLeaseIsResetByItsReturnerWhenCleanAndByTheWorkerWhenDirty) {
    pg_pool pool(postgres_driver({.conninfo = conninfo_}),
                 {.name = "pg-async-reset", .max_size = 1, .acquire_timeout = 10s});
    lifeguard::test::expect_async_reset_by_returner_when_clean_and_by_worker_when_dirty(
        pool, [](auto& lease) { EXPECT_EQ(exec(lease, "SELECT 1").value(), "1"); },
        [](auto& lease) {
            exec(lease, "SET application_name = 'dirty-async'");  // DISCARD ALL on return
            exec(lease, "BEGIN");                                  // and a ROLLBACK before it
        },
        [](auto& lease) {
            EXPECT_EQ(exec(lease, "SHOW application_name").value(), "");
            // In a transaction left open, now() would be when it began, not this statement's start.
            EXPECT_EQ(exec(lease, "SELECT now() = statement_timestamp()").value(), "t");
        });
}

TEST_F(PostgresPool, ABrokenLeaseIsNotLentAgain) {
    pg_pool pool(postgres_driver({.conninfo = conninfo_}),
                 {.name = "pg-broken", .max_size = 1, .acquire_timeout = 10s});
    postgres_driver admin_driver({.conninfo = conninfo_});
    auto admin = admin_driver.connect(steady::now() + 10s);
    int pid = 0;
    {
        auto lease = pool.acquire();
        pid = lease->backend_pid();
        exec(admin, "SELECT pg_terminate_backend($1::int)", {std::to_string(pid)});
        EXPECT_THROW(exec(lease, "SELECT 1"), postgres_error);
        EXPECT_TRUE(lease.invalidated());
    }
    auto lease = pool.acquire();
    EXPECT_NE(lease->backend_pid(), pid);
    EXPECT_EQ(exec(lease, "SELECT 1").value(), "1");
    EXPECT_EQ(pool.stats().closed_for(lifeguard::close_reason::broken), 1u);
}

TEST(PostgresPoolLimits, NeverOpensMoreThanMaxSize) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_PASSWORD_CONNINFO");
    LIFEGUARD_NEED_ENV(admin, "LIFEGUARD_PG_CONNINFO");
    {
        pg_pool pool(postgres_driver({.conninfo = conninfo + " application_name=pg-limit"}),
                     {.name = "pg-limit", .max_size = 3, .min_idle = 0, .acquire_timeout = 10s});
        const int failures = lifeguard::test::failures_under_load(
            pool, 8, 40, [](pg_pool::lease_type& lease) { exec(lease, "SELECT pg_sleep(0.001)"); });
        EXPECT_EQ(failures, 0);
        EXPECT_LE(pool.stats().created, 3u);
        EXPECT_EQ(server_count(admin, "pg-limit"), "3");
    }
    // Backends exit a moment after their client said goodbye: wait (bounded) for the server.
    std::string left;
    for (int i = 0; i < 400 && (left = server_count(admin, "pg-limit")) != "0"; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(left, "0") << "closing the pool closes its connections";
}

TEST(PostgresPoolLimits, ServerOutOfSlotsIsAClearError) {
    lifeguard::test::private_server server("pg", "PG_MAX_CONNECTIONS=4");
    if (!server.start()) LIFEGUARD_DB_UNAVAILABLE(server.error());
    pg_pool pool(postgres_driver({.conninfo = server.var("LIFEGUARD_PG_TCP_CONNINFO")}),
                 {.name = "pg-slots", .max_size = 8, .acquire_timeout = 1s, .validation_timeout = 500ms});
    lifeguard::test::expect_out_of_slots(pool, 4, "too many clients", server.var("LIFEGUARD_PG_PORT"));
}

TEST(PostgresPoolPasswords, WrongPasswordNeverShowsThePassword) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_PASSWORD_CONNINFO");
    LIFEGUARD_NEED_ENV(password, "LIFEGUARD_PG_PASSWORD");
    std::string wrong = conninfo;
    wrong.replace(wrong.find(password), password.size(), password + "-wrong");
    pg_pool pool(postgres_driver({.conninfo = wrong}),
                 {.name = "pg-wrong", .max_size = 2, .acquire_timeout = 1s, .validation_timeout = 500ms});
    lifeguard::test::expect_wrong_password_refused(pool, password, "password authentication failed",
                                                   "postgres ");
    lifeguard::test::expect_no_secret(pool.driver().describe(), password, "describe()");
    std::error_code ec;
    auto empty = pool.acquire(ec);
    EXPECT_FALSE(empty);
    ASSERT_TRUE(pool.last_failure());
    lifeguard::test::expect_no_secret(pool.last_failure()->to_string(), password, "last_failure()");
}

TEST(PostgresPoolPasswords, WrongPasswordFailsInTheConstructorWithTheServersError) {
    // initialization_fail_timeout 0: the constructor tries once and throws the server's refusal,
    // instead of a pool whose every acquire times out with "database unreachable".
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_PASSWORD_CONNINFO");
    LIFEGUARD_NEED_ENV(password, "LIFEGUARD_PG_PASSWORD");
    std::string wrong = conninfo;
    wrong.replace(wrong.find(password), password.size(), password + "-wrong");
    lifeguard::test::expect_startup_refused(
        [&](lifeguard::pool_options o) { pg_pool pool(postgres_driver({.conninfo = wrong}), std::move(o)); },
        "pg-start", password, "password authentication failed");
}

TEST(PostgresPoolPasswords, HealthOfAPoolThatCannotLogInIsDownWithoutThePassword) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_PASSWORD_CONNINFO");
    LIFEGUARD_NEED_ENV(password, "LIFEGUARD_PG_PASSWORD");
    std::string wrong = conninfo;
    wrong.replace(wrong.find(password), password.size(), password + "-wrong");
    postgres_driver driver({.conninfo = wrong});
    lifeguard::basic_pool<postgres_driver> pool(std::move(driver), {.name = "pg-health", .max_size = 1},
                                                std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool.run_worker_once();  // one failed attempt
    const lifeguard::pool_health h = pool.health();
    EXPECT_EQ(h.verdict, lifeguard::health_verdict::down) << h.reason;
    EXPECT_NE(h.last_error.find("password authentication failed"), std::string::npos) << h.last_error;
    lifeguard::test::expect_no_secret(lifeguard::to_json(h), password, "to_json(health())");
}

TEST(PostgresPoolStart, InitializationFailTimeoutOpensTheFirstConnectionBeforeReturning) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_CONNINFO");
    pg_pool pool(postgres_driver({.conninfo = conninfo}),
                 {.name = "pg-first", .max_size = 2, .min_idle = 0, .initialization_fail_timeout = 5s});
    EXPECT_EQ(pool.stats().total, 1u);
    auto lease = pool.try_acquire();
    ASSERT_TRUE(lease) << "the first connection is idle and lent without waiting";
    EXPECT_EQ(exec(*lease, "SELECT 1").value(), "1");
}

TEST(PostgresPoolPgBouncer, ResetWorksThroughTransactionPooling) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PGBOUNCER_CONNINFO");
    pg_pool pool(postgres_driver({.conninfo = conninfo}),
                 {.name = "pg-bouncer", .max_size = 4, .acquire_timeout = 10s});
    std::atomic<int> failures{0};
    std::vector<std::jthread> workers;
    for (int t = 0; t < 4; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                try {
                    auto lease = pool.acquire();
                    if (i % 3 == 0) exec(lease, "SET application_name = 'w" + std::to_string(t) + "'");
                    if (i % 5 == 0) {
                        exec(lease, "BEGIN");
                        exec(lease, "SELECT 1");
                        continue;  // returned mid-transaction
                    }
                    if (exec(lease, "SELECT $1::int", {std::to_string(i)}).value() != std::to_string(i))
                        ++failures;
                } catch (const std::exception&) {
                    ++failures;
                }
            }
        });
    workers.clear();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(pool.stats().closed_for(lifeguard::close_reason::broken), 0u) << "reset must not fail";
    EXPECT_EQ(pool.stats().active, 0u);
}

}  // namespace
