// A lifeguard pool over the Connector/C++ driver against real MariaDB: returns mid-transaction,
// session state, who resets an async lease, a server with few connection slots, wrong
// credentials.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>
#include <mysql_connection.h>  // the test uses the native Connector/C++ API, like users do

#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "async_reset_checks.hpp"
#include "db_support.hpp"
#include "lifeguard/mysql.hpp"
#include "lifeguard/pool.hpp"
#include "pool_checks.hpp"
#include "startup_checks.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::exec;
using lifeguard::mysql_driver;
using lifeguard::mysql_error;
using lifeguard::mysql_options;
using my_pool = lifeguard::pool<mysql_driver>;
using steady = std::chrono::steady_clock;

std::uint64_t connection_id(my_pool::lease_type& lease) {
    return lease->connection_id();
}

class MysqlPool : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(options_.url, "LIFEGUARD_MYSQL_URL");
        LIFEGUARD_LOAD_ENV(options_.user, "LIFEGUARD_MYSQL_USER");
        LIFEGUARD_LOAD_ENV(options_.password, "LIFEGUARD_MYSQL_PASSWORD");
        LIFEGUARD_LOAD_ENV(options_.schema, "LIFEGUARD_MYSQL_SCHEMA");
        mysql_driver d(options_);
        auto admin = d.connect(steady::now() + 10s);
        exec(admin, "CREATE TABLE IF NOT EXISTS pool_rows (id INT, tag VARCHAR(64)) ENGINE=InnoDB");
    }
    mysql_options options_;
};

TEST_F(MysqlPool, LendsWorkingConnectionsAndTakesThemBack) {
    my_pool pool(mysql_driver(options_), {.name = "my-basic", .max_size = 3, .acquire_timeout = 10s});
    lifeguard::test::expect_lends_and_takes_back(pool, connection_id, "mysql ");
}

TEST_F(MysqlPool, RowWrittenInAnAbandonedTransactionIsInvisible) {
    my_pool pool(mysql_driver(options_), {.name = "my-abandon", .max_size = 1, .acquire_timeout = 10s});
    std::uint64_t id = 0;
    {
        auto lease = pool.acquire();
        id = lease->connection_id();
        exec(lease, "START TRANSACTION");
        exec(lease, "INSERT INTO pool_rows VALUES (7001, 'abandoned')");
    }
    mysql_driver other_driver(options_);
    auto other = other_driver.connect(steady::now() + 10s);
    EXPECT_EQ(exec(other, "SELECT COUNT(*) FROM pool_rows WHERE id = 7001").value(), "0");
    {
        auto lease = pool.acquire();
        EXPECT_EQ(lease->connection_id(), id) << "max_size 1: the same connection comes back";
        // Through the native API with autocommit off, then returned without a commit.
        lease->native_handle()->setAutoCommit(false);
        exec(lease, "INSERT INTO pool_rows VALUES (7002, 'autocommit off')");
    }
    EXPECT_EQ(exec(other, "SELECT COUNT(*) FROM pool_rows WHERE id IN (7001, 7002)").value(), "0");
    auto lease = pool.acquire();
    EXPECT_EQ(lease->connection_id(), id);
    EXPECT_EQ(exec(lease, "SELECT @@autocommit").value(), "1");
}

TEST_F(MysqlPool, SessionStateDoesNotLeakToTheNextBorrower) {
    my_pool pool(mysql_driver(options_), {.name = "my-session", .max_size = 1, .acquire_timeout = 10s});
    std::string default_mode;
    std::uint64_t id = 0;
    {
        auto lease = pool.acquire();
        id = lease->connection_id();
        default_mode = exec(lease, "SELECT @@session.sql_mode").value();
        exec(lease, "SET SESSION sql_mode = 'ANSI_QUOTES'");
        exec(lease, "SET @leak = 'yes'");
    }
    {
        auto lease = pool.acquire();
        EXPECT_EQ(exec(lease, "SELECT @@session.sql_mode").value(), default_mode);
        EXPECT_EQ(exec(lease, "SELECT @leak").rows.at(0).at(0), std::nullopt);
        EXPECT_EQ(lease->connection_id(), id) << "session and user variables are undone in SQL, no reconnect";
        exec(lease, "CREATE TEMPORARY TABLE leaked_temp (i INT)");
    }
    auto lease = pool.acquire();
    EXPECT_THROW(exec(lease, "SELECT * FROM leaked_temp"), lifeguard::mysql_error)
        << "the temporary table leaked";
    EXPECT_NE(lease->connection_id(), id);
    EXPECT_EQ(pool.stats().closed_for(lifeguard::close_reason::broken), 1u)
        << "a session SQL cannot undo (a temporary table) is closed, not reused";
}

TEST_F(MysqlPool, AnAsyncLeaseIsResetByItsReturnerWhenCleanAndByTheWorkerWhenDirty) {
    my_pool pool(mysql_driver(options_), {.name = "my-async-reset", .max_size = 1, .acquire_timeout = 10s});
    lifeguard::test::expect_async_reset_by_returner_when_clean_and_by_worker_when_dirty(
        pool, [](auto& lease) { EXPECT_EQ(exec(lease, "SELECT 1").value(), "1"); },
        [](auto& lease) {
            exec(lease, "START TRANSACTION");      // a ROLLBACK on return
            exec(lease, "SET @lifeguard_async = 5");  // and the user variable set back to NULL
        },
        [](auto& lease) {
            const auto r = exec(lease, "SELECT @@in_transaction, @lifeguard_async IS NULL");
            EXPECT_EQ(r.value(0, 0), "0");
            EXPECT_EQ(r.value(0, 1), "1");
        });
}

TEST_F(MysqlPool, ABrokenLeaseIsNotLentAgain) {
    my_pool pool(mysql_driver(options_), {.name = "my-broken", .max_size = 1, .acquire_timeout = 10s});
    mysql_driver admin_driver(options_);
    auto admin = admin_driver.connect(steady::now() + 10s);
    std::uint64_t id = 0;
    {
        auto lease = pool.acquire();
        id = lease->connection_id();
        exec(admin, "KILL " + std::to_string(id));
        EXPECT_THROW(exec(lease, "SELECT 1"), mysql_error);
        EXPECT_TRUE(lease.invalidated());
    }
    auto lease = pool.acquire();
    EXPECT_NE(lease->connection_id(), id);
    EXPECT_EQ(exec(lease, "SELECT 1").value(), "1");
}

TEST_F(MysqlPool, NeverOpensMoreThanMaxSize) {
    my_pool pool(mysql_driver(options_),
                 {.name = "my-limit", .max_size = 3, .min_idle = 0, .acquire_timeout = 10s});
    std::mutex mutex;
    std::set<std::uint64_t> seen;
    const int failures = lifeguard::test::failures_under_load(pool, 8, 40, [&](my_pool::lease_type& lease) {
        exec(lease, "DO SLEEP(0.001)");
        std::lock_guard lock(mutex);
        seen.insert(lease->connection_id());
    });
    EXPECT_EQ(failures, 0);
    EXPECT_LE(seen.size(), 3u);
    EXPECT_LE(pool.stats().created, 3u);
}

TEST(MysqlPoolLimits, ServerOutOfSlotsIsAClearError) {
    // MariaDB's smallest max_connections is 10.
    lifeguard::test::private_server server("mariadb", "MARIADB_MAX_CONNECTIONS=10");
    if (!server.start()) LIFEGUARD_DB_UNAVAILABLE(server.error());
    mysql_options o{.url = server.var("LIFEGUARD_MYSQL_URL"),
                    .user = server.var("LIFEGUARD_MYSQL_USER"),
                    .password = server.var("LIFEGUARD_MYSQL_PASSWORD"),
                    .schema = server.var("LIFEGUARD_MYSQL_SCHEMA")};
    my_pool pool(mysql_driver(o),
                 {.name = "my-slots", .max_size = 16, .acquire_timeout = 1s, .validation_timeout = 500ms});
    lifeguard::test::expect_out_of_slots(pool, 10, "Too many connections", server.var("LIFEGUARD_MYSQL_PORT"),
                                         o.password);
}

TEST_F(MysqlPool, WrongPasswordNeverShowsThePassword) {
    auto wrong = options_;
    wrong.password = options_.password + "-wrong";
    my_pool pool(mysql_driver(wrong),
                 {.name = "my-wrong", .max_size = 2, .acquire_timeout = 1s, .validation_timeout = 500ms});
    lifeguard::test::expect_wrong_password_refused(pool, options_.password, "Access denied", "mysql ");
}

TEST_F(MysqlPool, WrongPasswordFailsInTheConstructorWithTheServersError) {
    auto wrong = options_;
    wrong.password = options_.password + "-wrong";
    lifeguard::test::expect_startup_refused(
        [&](lifeguard::pool_options o) { my_pool pool(mysql_driver(wrong), std::move(o)); }, "my-start",
        options_.password, "Access denied");
}

TEST_F(MysqlPool, HealthOfAPoolThatCannotLogInIsDownWithoutThePassword) {
    auto wrong = options_;
    wrong.password = options_.password + "-wrong";
    lifeguard::basic_pool<mysql_driver> pool(mysql_driver(wrong), {.name = "my-health", .max_size = 1},
                                             std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool.run_worker_once();
    const lifeguard::pool_health h = pool.health();
    EXPECT_EQ(h.verdict, lifeguard::health_verdict::down) << h.reason;
    EXPECT_NE(h.last_error.find("Access denied"), std::string::npos) << h.last_error;
    lifeguard::test::expect_no_secret(lifeguard::to_json(h), options_.password, "to_json(health())");
}

TEST_F(MysqlPool, InitializationFailTimeoutOpensTheFirstConnectionBeforeReturning) {
    my_pool pool(mysql_driver(options_), {.name = "my-first", .max_size = 2, .min_idle = 0, .initialization_fail_timeout = 5s});
    EXPECT_EQ(pool.stats().total, 1u);
    EXPECT_TRUE(pool.try_acquire()) << "the first connection is idle and lent without waiting";
}

}  // namespace
