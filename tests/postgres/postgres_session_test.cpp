// The libpq driver's per-connection setup against real PostgreSQL: init_sql and the typed
// session options (read_only, transaction_isolation, search_path) hold on every lease of a
// connection, also after a lease that changed them; auto_commit = false; a failing setup step
// fails the connect and closes the connection; validation_query; and every option checked when
// the driver is made (no server needed for those).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "db_support.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/postgres.hpp"

namespace {

using namespace std::chrono_literals;
namespace pg = lifeguard::postgres;
using steady = std::chrono::steady_clock;

// What `sql` (a single SHOW or SELECT of one value) answers on `c`.
template <class Connection>
std::string answer(Connection& c, const std::string& sql) {
    return pg::exec(c, sql).value();
}

class PostgresSession : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(conninfo_, "LIFEGUARD_PG_CONNINFO");
        pg::driver admin_driver(conninfo_);
        auto admin = admin_driver.connect(steady::now() + 10s);
        pg::exec(admin,
                 "BEGIN; SELECT pg_advisory_xact_lock(4713); "
                 "CREATE TABLE IF NOT EXISTS session_rows (id int, tag text); "
                 "CREATE SCHEMA IF NOT EXISTS lifeguard_app; COMMIT");
    }

    // Connections the server has with `application` as their application_name.
    std::string server_count(const std::string& application) {
        pg::driver admin_driver(conninfo_);
        auto admin = admin_driver.connect(steady::now() + 10s);
        return pg::exec(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                        {application})
            .value();
    }

    std::string conninfo_;
};

TEST_F(PostgresSession, InitSqlHoldsOnEveryLeaseOfTheSameConnection) {
    lifeguard::pool<pg::driver> pool(
        pg::driver({.conninfo = conninfo_, .init_sql = {"SET statement_timeout = '1234ms'"}}),
        {.name = "pg-init-sql", .max_size = 1, .acquire_timeout = 10s});
    int pid = 0;
    for (int lease_number = 1; lease_number <= 100; ++lease_number) {
        auto lease = pool.acquire();
        if (lease_number == 1) pid = lease->backend_pid();
        ASSERT_EQ(lease->backend_pid(), pid)
            << "max_size 1: lease " << lease_number << " is the same connection";
        ASSERT_EQ(answer(lease, "SHOW statement_timeout"), "1234ms") << "lease " << lease_number;
        // Leave dirty state behind on some leases (2, 9, 16, ...): a user SET of the same
        // variable and more session state.
        if (lease_number % 7 == 2) {
            pg::exec(lease, "SET statement_timeout = 0");
            pg::exec(lease, "CREATE TEMP TABLE dirty_lease (i int)");
            ASSERT_EQ(answer(lease, "SHOW statement_timeout"), "0");
        }
    }
}

TEST_F(PostgresSession, TypedOptionsAreAppliedAndRestoredAfterADirtyLease) {
    pg::driver d({.conninfo = conninfo_,
                  .read_only = true,
                  .transaction_isolation = pg::isolation::serializable,
                  .search_path = "lifeguard_app, public"});
    auto c = d.connect(steady::now() + 10s);
    auto expect_setup = [&](const char* when) {
        EXPECT_EQ(answer(c, "SHOW default_transaction_read_only"), "on") << when;
        EXPECT_EQ(answer(c, "SHOW transaction_isolation"), "serializable") << when;
        EXPECT_EQ(answer(c, "SHOW search_path"), "lifeguard_app, public") << when;
    };
    expect_setup("after connect");
    try {
        pg::exec(c, "INSERT INTO public.session_rows VALUES (1, 'read only?')");
        ADD_FAILURE() << "a read_only session wrote a row";
    } catch (const pg::error& e) {
        EXPECT_EQ(e.sqlstate(), "25006") << e.what();  // read_only_sql_transaction
    }
    ASSERT_TRUE(d.reset(c));
    pg::exec(c, "SET default_transaction_read_only = off");
    pg::exec(c, "SET default_transaction_isolation = 'read committed'");
    pg::exec(c, "SET search_path = pg_catalog");
    ASSERT_TRUE(c.session_dirty());
    ASSERT_TRUE(d.reset(c));
    EXPECT_FALSE(c.session_dirty()) << "the setup itself must not leave the session dirty";
    expect_setup("after a dirty lease was reset");
}

TEST_F(PostgresSession, AutoCommitOffKeepsOnlyCommittedWork) {
    pg::driver d({.conninfo = conninfo_, .auto_commit = false});
    pg::driver admin_driver(conninfo_);
    auto admin = admin_driver.connect(steady::now() + 10s);
    pg::exec(admin, "DELETE FROM session_rows WHERE id IN (8001, 8002, 8003)");
    auto c = d.connect(steady::now() + 10s);
    EXPECT_FALSE(c.auto_commit());
    pg::exec(c, "INSERT INTO session_rows VALUES (8001, 'never committed')");
    EXPECT_EQ(answer(admin, "SELECT count(*) FROM session_rows WHERE id = 8001"), "0")
        << "auto_commit = false: the insert must wait for a COMMIT";
    ASSERT_TRUE(d.reset(c));  // the return rolls it back
    pg::exec(c, "INSERT INTO session_rows VALUES (8002, 'committed')");
    pg::exec(c, "COMMIT");
    // A lease may switch it on for itself; the return restores the driver's default.
    c.set_auto_commit(true);
    pg::exec(c, "INSERT INTO session_rows VALUES (8003, 'autocommitted')");
    ASSERT_TRUE(d.reset(c));
    EXPECT_FALSE(c.auto_commit());
    EXPECT_EQ(answer(admin,
                     "SELECT string_agg(id::text, ',' ORDER BY id) FROM session_rows WHERE id >= 8001 "
                     "AND id <= 8003"),
              "8002,8003");
    pg::exec(admin, "DELETE FROM session_rows WHERE id IN (8001, 8002, 8003)");
}

TEST_F(PostgresSession, AFailingInitStatementFailsTheConnectAndClosesTheConnection) {
    const std::string application = "lifeguard-failing-init";
    pg::driver d({.conninfo = conninfo_ + " application_name=" + application,
                  .init_sql = {"SET statement_timeout = '5s'", "SELECT * FROM no_such_table_for_init"}});
    try {
        d.connect(steady::now() + 10s);
        FAIL() << "a failing init_sql statement let the connect succeed";
    } catch (const pg::error& e) {
        const std::string text = e.what();
        EXPECT_NE(text.find("init_sql[1]"), std::string::npos) << text;
        EXPECT_NE(text.find("no_such_table_for_init"), std::string::npos) << text;
        EXPECT_EQ(e.sqlstate(), "42P01") << text;
    }
    // The backend is gone (a server needs a moment to remove a closed session: ask until then,
    // bounded by the test's timeout, not by a sleep).
    std::string count;
    for (int attempt = 0; attempt < 1000 && (count = server_count(application)) != "0"; ++attempt) {
    }
    EXPECT_EQ(count, "0") << "the connection of a failed setup must be closed";
}

TEST_F(PostgresSession, AnInitSqlThatLeavesATransactionOpenIsRefused) {
    pg::driver d({.conninfo = conninfo_, .init_sql = {"BEGIN"}});
    try {
        d.connect(steady::now() + 10s);
        FAIL() << "init_sql left a transaction open and the connect succeeded";
    } catch (const pg::error& e) {
        EXPECT_NE(std::string(e.what()).find("left a transaction open"), std::string::npos) << e.what();
    }
}

TEST_F(PostgresSession, ValidationQueryDecidesValidity) {
    pg::driver good({.conninfo = conninfo_, .validation_query = "SELECT 1"});
    auto c = good.connect(steady::now() + 10s);
    EXPECT_TRUE(good.is_valid(c, 1s));
    EXPECT_FALSE(c.broken());

    pg::driver failing({.conninfo = conninfo_, .validation_query = "SELECT * FROM no_such_validation_table"});
    auto f = failing.connect(steady::now() + 10s);
    EXPECT_FALSE(failing.is_valid(f, 1s));
    EXPECT_TRUE(f.broken()) << "a failed validation query makes the connection count as broken";
    EXPECT_FALSE(failing.reset(f));

    pg::driver slow({.conninfo = conninfo_, .validation_query = "SELECT pg_sleep(30)"});
    auto s = slow.connect(steady::now() + 10s);
    EXPECT_FALSE(slow.is_valid(s, 200ms)) << "a validation query past its timeout fails";
    EXPECT_TRUE(s.broken());
}

TEST_F(PostgresSession, PoolReplacesAConnectionWhoseValidationQueryFails) {
    pg::driver admin_driver(conninfo_);
    auto admin = admin_driver.connect(steady::now() + 10s);
    pg::exec(admin, "CREATE TABLE IF NOT EXISTS validation_gate (pid int); DELETE FROM validation_gate");
    // Fails (division by zero) on the backend recorded in validation_gate, passes on any other.
    const std::string query = "SELECT 1 / (pg_backend_pid() <> (SELECT max(pid) FROM validation_gate))::int";
    lifeguard::pool<pg::driver> pool(
        pg::driver({.conninfo = conninfo_, .validation_query = query}),
        {.name = "pg-validation-query", .max_size = 1, .acquire_timeout = 10s, .alive_bypass_window = 0ms});
    int first = 0;
    {
        auto lease = pool.acquire();
        first = lease->backend_pid();
    }
    // The next borrow validates; the query now fails on that connection, so the pool must close
    // it and lend a new one.
    pg::exec(admin, "INSERT INTO validation_gate VALUES ($1::int)", {std::to_string(first)});
    auto lease = pool.acquire();
    EXPECT_NE(lease->backend_pid(), first);
    EXPECT_EQ(pool.stats().closed_for(lifeguard::close_reason::broken), 1u);
}

// ---- options checked when the driver is made: no server ----

// The driver's error for `o`, or "" when it accepts them.
std::string error_for(pg::options o) {
    try {
        pg::driver d(std::move(o));
        return {};
    } catch (const pg::error& e) {
        EXPECT_FALSE(e.broken()) << "a bad option is a usage error, not a broken connection";
        return e.what();
    }
}

void expect_rejected(const pg::options& o, const std::string& field, const std::string& value,
                     const std::string& rule) {
    const std::string text = error_for(o);
    EXPECT_NE(text.find("option " + field + " = " + value + " is invalid"), std::string::npos)
        << "field " << field << ": " << text;
    EXPECT_NE(text.find(rule), std::string::npos) << "field " << field << ": " << text;
}

TEST(PostgresOptions, RejectsBadSqlTextNamingFieldValueAndRule) {
    const pg::options base{.conninfo = "dbname=x"};
    auto with_init = [&](std::vector<std::string> statements) {
        auto o = base;
        o.init_sql = std::move(statements);
        return o;
    };
    expect_rejected(with_init({""}), "init_sql[0]", "\"\"", "must not be empty or blank");
    expect_rejected(with_init({"SELECT 1", " \t\n"}), "init_sql[1]", "\" \\x09\\x0a\"",
                    "must not be empty or blank");
    expect_rejected(with_init({std::string("SELECT 1\0; DROP", 15)}), "init_sql[0]",
                    "\"SELECT 1\\x00; DROP\"", "must not contain a NUL byte");
    expect_rejected(with_init({"SELECT '" + std::string(1 << 20, 'x') + "'"}), "init_sql[0]",
                    "\"SELECT '" + std::string(52, 'x') + "\"... (1048585 bytes)", "must be at most 1 MiB");
    auto o = base;
    o.validation_query = "   ";
    expect_rejected(o, "validation_query", "\"   \"", "must not be empty or blank");
    o = base;
    o.reset_query = "";
    expect_rejected(o, "reset_query", "\"\"", "must not be empty or blank");
    o = base;
    o.search_path = std::string("app\0x", 5);
    expect_rejected(o, "search_path", "\"app\\x00x\"", "must not contain a NUL byte");
}

TEST(PostgresOptions, RejectsBadDurationsAndLevels) {
    const pg::options base{.conninfo = "dbname=x"};
    for (auto t : {0ms, -1ms, std::chrono::milliseconds::min(), std::chrono::milliseconds::max(),
                   std::chrono::milliseconds(3'600'001)}) {
        auto o = base;
        o.reset_timeout = t;
        expect_rejected(o, "reset_timeout", std::to_string(t.count()) + " ms", "must be > 0 and at most 1 h");
    }
    auto o = base;
    o.query_timeout = -1ms;
    expect_rejected(o, "query_timeout", "-1 ms", "must be >= 0");
    o = base;
    o.transaction_isolation = static_cast<pg::isolation>(99);
    expect_rejected(o, "transaction_isolation", "99", "must be one of server_default,");
}

TEST(PostgresOptions, AcceptsTheEdgesOfEachRule) {
    pg::options o{.conninfo = "dbname=x"};
    o.reset_timeout = 1h;
    o.query_timeout = std::chrono::milliseconds::max();                 // = none: must not overflow the clock
    o.init_sql = {"SELECT '" + std::string((1 << 20) - 9, 'x') + "'"};  // exactly 1 MiB
    o.validation_query = "SELECT 1";
    o.transaction_isolation = pg::isolation::read_uncommitted;
    EXPECT_EQ(error_for(o), "");
}

TEST(PostgresOptions, ErrorsNeverShowThePassword) {
    const std::string secret = "s3cret-pw";
    pg::options o{.conninfo = "dbname=x password=" + secret};
    o.init_sql = {std::string("SELECT '") + secret + "'" + std::string(1, '\0')};
    const std::string text = error_for(o);
    EXPECT_NE(text.find("init_sql[0] = \"SELECT '***'\\x00\" is invalid"), std::string::npos) << text;
    lifeguard::test::expect_no_secret(text, secret, "the option error quoting the statement");
}

}  // namespace
