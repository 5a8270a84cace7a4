// The libpq driver used directly (no pool) against the throwaway PostgreSQL started by
// scripts/db/with-servers.sh: connect, validate, reset, error classification, passwords.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "db_support.hpp"
#include "lifeguard/driver.hpp"
#include "lifeguard/postgres.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::exec;
using lifeguard::postgres_connection;
using lifeguard::postgres_driver;
using lifeguard::postgres_error;
using steady = std::chrono::steady_clock;

static_assert(lifeguard::driver<postgres_driver>);

class PostgresDriver : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(conninfo_, "LIFEGUARD_PG_CONNINFO");
        driver_.emplace(lifeguard::postgres_options{.conninfo = conninfo_});
        // CREATE TABLE IF NOT EXISTS races with itself across test processes: serialise it.
        exec_admin(
            "BEGIN; SELECT pg_advisory_xact_lock(4711); "
            "CREATE TABLE IF NOT EXISTS driver_rows (id int, tag text); COMMIT");
    }

    postgres_connection connect() { return driver_->connect(steady::now() + 10s); }

    void exec_admin(const std::string& sql) {
        auto admin = connect();
        exec(admin, sql);
    }

    std::string conninfo_;
    std::optional<postgres_driver> driver_;
};

TEST_F(PostgresDriver, ConnectsAndRunsQueriesWithParameters) {
    auto c = connect();
    ASSERT_TRUE(c);
    EXPECT_EQ(exec(c, "SELECT 1").value(), "1");
    auto r = exec(c, "SELECT $1::int + $2::int AS sum, NULL::text AS nothing", {"40", "2"});
    ASSERT_EQ(r.columns.size(), 2u);
    EXPECT_EQ(r.columns[0], "sum");
    EXPECT_EQ(r.value(0, 0), "42");
    EXPECT_FALSE(r.rows[0][1].has_value());
    EXPECT_GT(c.backend_pid(), 0);
}

TEST_F(PostgresDriver, ValidConnectionAnswersEmptyQuery) {
    auto c = connect();
    EXPECT_TRUE(driver_->is_valid(c, 1s));
    EXPECT_TRUE(driver_->is_valid(c, 1s)) << "validation must leave the connection usable";
    EXPECT_EQ(exec(c, "SELECT 7").value(), "7");
}

TEST_F(PostgresDriver, PlainQueriesDoNotDirtyTheSession) {
    auto c = connect();
    exec(c, "SELECT 1");
    exec(c, "BEGIN");
    exec(c, "INSERT INTO driver_rows VALUES (1, 'x')");
    exec(c, "SET LOCAL statement_timeout = '5s'");
    exec(c, "ROLLBACK");
    exec(c, "  /* comment */ (SELECT 2)");
    EXPECT_FALSE(c.session_dirty());
}

TEST_F(PostgresDriver, SessionChangesMarkTheSessionDirty) {
    for (const char* sql :
         {"SET application_name = 'x'", "select set_config('application_name', 'y', false)",
          "SELECT pg_advisory_lock(42)", "LISTEN lifeguard_channel", "CREATE TEMP TABLE t_dirty (i int)",
          "SELECT 1; SET search_path = public", "PREPARE p1 AS SELECT 1"}) {
        auto c = connect();
        exec(c, sql);
        EXPECT_TRUE(c.session_dirty()) << sql;
    }
    auto c = connect();
    (void)c.native_handle();
    EXPECT_TRUE(c.session_dirty()) << "raw handle access may change anything";
}

TEST_F(PostgresDriver, ResetDiscardsSessionStateWhenDirty) {
    auto c = connect();
    exec(c, "SET application_name = 'leaky'");
    exec(c, "CREATE TEMP TABLE t_reset (i int)");
    exec(c, "SELECT pg_advisory_lock(4242)");
    ASSERT_TRUE(driver_->reset(c));
    EXPECT_FALSE(c.session_dirty());
    EXPECT_EQ(exec(c, "SHOW application_name").value(), "");
    EXPECT_EQ(exec(c, "SELECT count(*) FROM pg_tables WHERE tablename = 't_reset'").value(), "0");
    EXPECT_EQ(exec(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
                  .value(),
              "0");
}

TEST_F(PostgresDriver, ResetRollsBackAnOpenTransaction) {
    auto c = connect();
    exec(c, "BEGIN");
    exec(c, "INSERT INTO driver_rows VALUES ($1, 'uncommitted')", {"9001"});
    ASSERT_TRUE(driver_->reset(c));
    auto other = connect();
    EXPECT_EQ(exec(other, "SELECT count(*) FROM driver_rows WHERE id = 9001").value(), "0");
    EXPECT_EQ(exec(c, "SELECT count(*) FROM driver_rows WHERE id = 9001").value(), "0");
}

TEST_F(PostgresDriver, ResetRecoversAFailedTransaction) {
    auto c = connect();
    exec(c, "BEGIN");
    EXPECT_THROW(exec(c, "SELECT * FROM no_such_table"), postgres_error);
    ASSERT_TRUE(driver_->reset(c));
    EXPECT_EQ(exec(c, "SELECT 3").value(), "3");
}

TEST_F(PostgresDriver, StatementErrorCarriesSqlstateAndIsNotBroken) {
    auto c = connect();
    try {
        exec(c, "SELECT * FROM no_such_table");
        FAIL() << "expected postgres_error";
    } catch (const postgres_error& e) {
        EXPECT_EQ(e.sqlstate(), "42P01");
        EXPECT_FALSE(e.broken());
        EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.broken());
    EXPECT_TRUE(driver_->reset(c));
    EXPECT_EQ(exec(c, "SELECT 4").value(), "4");
}

TEST_F(PostgresDriver, TerminatedBackendIsBrokenAndRefusedByReset) {
    auto victim = connect();
    auto killer = connect();
    const auto pid = std::to_string(victim.backend_pid());
    EXPECT_EQ(exec(killer, "SELECT pg_terminate_backend($1::int)", {pid}).value(), "t");
    // The server has closed the socket; the victim notices at its next I/O.
    try {
        exec(victim, "SELECT 1");
        FAIL() << "a terminated backend answered";
    } catch (const postgres_error& e) {
        EXPECT_TRUE(e.broken()) << e.what() << " sqlstate=" << e.sqlstate();
    }
    EXPECT_TRUE(victim.broken());
    EXPECT_FALSE(driver_->is_valid(victim, 1s));
    EXPECT_FALSE(driver_->reset(victim));
    driver_->close(victim);
    EXPECT_FALSE(victim);
}

TEST_F(PostgresDriver, ValidationNoticesATerminatedIdleBackend) {
    auto victim = connect();
    auto killer = connect();
    exec(killer, "SELECT pg_terminate_backend($1::int)", {std::to_string(victim.backend_pid())});
    EXPECT_FALSE(driver_->is_valid(victim, 1s));
}

TEST_F(PostgresDriver, QueryTimeoutLeavesTheConnectionBroken) {
    auto c = connect();
    c.set_query_timeout(300ms);
    try {
        exec(c, "SELECT pg_sleep(30)");
        FAIL() << "the query did not time out";
    } catch (const postgres_error& e) {
        EXPECT_TRUE(e.broken());
        EXPECT_EQ(e.sqlstate(), "");
    }
    EXPECT_FALSE(driver_->reset(c)) << "a statement may still be running: never reuse";
}

TEST(PostgresConnect, FailsWithinItsDeadlineWhenTheServerNeverAnswers) {
    lifeguard::test::silent_listener silent;
    postgres_driver d(
        {.conninfo = "host=127.0.0.1 port=" + std::to_string(silent.port()) + " dbname=x user=y"});
    const auto start = steady::now();
    try {
        d.connect(start + 400ms);
        FAIL() << "connected to a server that never answers";
    } catch (const postgres_error& e) {
        EXPECT_TRUE(e.broken());
        EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(silent.port())), std::string::npos)
            << e.what();
    }
    // Generous bound: the deadline is 400 ms; libpq alone would wait forever.
    EXPECT_LT(steady::now() - start, 5s);
}

TEST(PostgresConnect, ConnectionRefusedIsAClearErrorNamingTheServer) {
    postgres_driver d({.conninfo = "host=127.0.0.1 port=1 dbname=x user=y connect_timeout=2"});
    try {
        d.connect(steady::now() + 5s);
        FAIL() << "connected to port 1";
    } catch (const postgres_error& e) {
        EXPECT_NE(std::string(e.what()).find("postgres 127.0.0.1:1/x user=y"), std::string::npos) << e.what();
        EXPECT_TRUE(e.broken());
    }
}

// conninfo_settings(): what the conninfo says, in either form, no libpq defaults, and the
// password only as "***" (an empty one stays empty). Needs no server.
TEST(PostgresConninfo, SettingsAreTheConninfosOwnWithThePasswordMasked) {
    using settings = std::vector<std::pair<std::string, std::string>>;
    const postgres_driver keywords(
        "port=5433 host=/run/x dbname=app user=u password=hunter2 connect_timeout=3");
    EXPECT_EQ(keywords.conninfo_settings(), (settings{{"user", "u"},
                                                      {"password", "***"},
                                                      {"connect_timeout", "3"},
                                                      {"dbname", "app"},
                                                      {"host", "/run/x"},
                                                      {"port", "5433"}}));
    const postgres_driver uri("postgresql://u:hunter2@/app?host=/run/x");
    EXPECT_EQ(uri.conninfo_settings(),
              (settings{{"user", "u"}, {"password", "***"}, {"dbname", "app"}, {"host", "/run/x"}}));
    const postgres_driver empty_password("dbname=app password=''");
    EXPECT_EQ(empty_password.conninfo_settings(), (settings{{"password", ""}, {"dbname", "app"}}));
    EXPECT_TRUE(postgres_driver("").conninfo_settings().empty());
}

class PostgresPassword : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(conninfo_, "LIFEGUARD_PG_PASSWORD_CONNINFO");
        LIFEGUARD_LOAD_ENV(password_, "LIFEGUARD_PG_PASSWORD");
    }
    std::string conninfo_;
    std::string password_;
};

TEST_F(PostgresPassword, ConnectsWithThePasswordButNeverShowsIt) {
    postgres_driver d({.conninfo = conninfo_});
    const auto text = d.describe();
    EXPECT_NE(text.find("postgres 127.0.0.1:"), std::string::npos) << text;
    EXPECT_NE(text.find("user=lifeguard"), std::string::npos) << text;
    lifeguard::test::expect_no_secret(text, password_, "describe()");
    auto c = d.connect(steady::now() + 10s);
    EXPECT_EQ(exec(c, "SELECT current_user").value(), "lifeguard");
}

TEST_F(PostgresPassword, WrongPasswordNamesTheServerNeverThePassword) {
    // A wrong password that contains the real one: neither may appear anywhere.
    const std::string wrong = password_ + "-wrong";
    std::string conninfo = conninfo_;
    conninfo.replace(conninfo.find(password_), password_.size(), wrong);
    postgres_driver d({.conninfo = conninfo});
    lifeguard::test::expect_no_secret(d.describe(), password_, "describe()");
    try {
        d.connect(steady::now() + 10s);
        FAIL() << "a wrong password was accepted";
    } catch (const postgres_error& e) {
        const std::string text = e.what();
        EXPECT_NE(text.find("postgres 127.0.0.1:"), std::string::npos) << text;
        EXPECT_NE(text.find("password authentication failed"), std::string::npos) << text;
        lifeguard::test::expect_no_secret(text, password_, "the connect error");
    }
}

TEST_F(PostgresPassword, InvalidConninfoErrorIsScrubbed) {
    // libpq quotes the offending part of a bad conninfo; the password must not survive.
    const std::string bad = conninfo_ + " bogus_option=" + password_;
    try {
        postgres_driver d({.conninfo = "password=" + password_ + " " + bad});
        FAIL() << "a bad conninfo was accepted";
    } catch (const postgres_error& e) {
        lifeguard::test::expect_no_secret(e.what(), password_, "the conninfo error");
    }
}

TEST_F(PostgresPassword, AFailedSetupStepNeverShowsThePassword) {
    // The server quotes the bad value back, and the driver quotes the statement: neither may
    // carry the password out.
    postgres_driver d({.conninfo = conninfo_, .init_sql = {"SELECT '" + password_ + "'::int"}});
    try {
        d.connect(steady::now() + 10s);
        FAIL() << "a failing init statement let the connect succeed";
    } catch (const postgres_error& e) {
        EXPECT_NE(std::string(e.what()).find("init_sql[0]"), std::string::npos) << e.what();
        lifeguard::test::expect_no_secret(e.what(), password_, "the setup error");
    }
}

TEST(PostgresSqlstate, ClassifiesBrokenConnections) {
    using lifeguard::postgres_sqlstate_is_broken;
    for (const char* s : {"08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03", "57P04"})
        EXPECT_TRUE(postgres_sqlstate_is_broken(s)) << s;
    for (const char* s : {"", "42P01", "23505", "57014", "40001", "0800", "57P05"})
        EXPECT_FALSE(postgres_sqlstate_is_broken(s)) << s;
}

TEST(PostgresPgBouncer, ResetWorksInTransactionPooling) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PGBOUNCER_CONNINFO");
    postgres_driver d({.conninfo = conninfo});
    auto c = d.connect(steady::now() + 10s);
    exec(c, "SET application_name = 'through-bouncer'");
    ASSERT_TRUE(c.session_dirty());
    EXPECT_TRUE(d.reset(c)) << "DISCARD ALL must be accepted by PgBouncer";
    exec(c, "BEGIN");
    exec(c, "SELECT 1");
    EXPECT_TRUE(d.reset(c));
    EXPECT_TRUE(d.is_valid(c, 1s));
    EXPECT_EQ(exec(c, "SELECT 5").value(), "5");
}

}  // namespace
