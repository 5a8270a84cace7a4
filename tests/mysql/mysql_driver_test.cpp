// The Connector/C++ driver used directly (no pool) against the throwaway MariaDB started by
// scripts/db/with-servers.sh: connect, validate, reset, error classification, passwords.
#include <gtest/gtest.h>
#include <mysql_connection.h>  // the test uses the native Connector/C++ API, like users do

#include <chrono>
#include <optional>
#include <string>

#include "db_support.hpp"
#include "lifeguard/driver.hpp"
#include "lifeguard/mysql.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::exec;
using lifeguard::mysql_connection;
using lifeguard::mysql_driver;
using lifeguard::mysql_error;
using lifeguard::mysql_options;
using steady = std::chrono::steady_clock;

static_assert(lifeguard::driver<mysql_driver>);

class MysqlDriver : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(options_.url, "LIFEGUARD_MYSQL_URL");
        LIFEGUARD_LOAD_ENV(options_.user, "LIFEGUARD_MYSQL_USER");
        LIFEGUARD_LOAD_ENV(options_.password, "LIFEGUARD_MYSQL_PASSWORD");
        LIFEGUARD_LOAD_ENV(options_.schema, "LIFEGUARD_MYSQL_SCHEMA");
        driver_.emplace(options_);
        auto admin = connect();
        exec(admin, "CREATE TABLE IF NOT EXISTS driver_rows (id INT, tag VARCHAR(64)) ENGINE=InnoDB");
    }

    mysql_connection connect() { return driver_->connect(steady::now() + 10s); }

    mysql_options options_;
    std::optional<mysql_driver> driver_;
};

TEST_F(MysqlDriver, ConnectsAndRunsQueriesWithParameters) {
    auto c = connect();
    ASSERT_TRUE(c);
    EXPECT_EQ(exec(c, "SELECT 1").value(), "1");
    auto r = exec(c, "SELECT CAST(? AS SIGNED) + CAST(? AS SIGNED) AS total, NULL AS nothing", {"40", "2"});
    ASSERT_EQ(r.columns.size(), 2u);
    EXPECT_EQ(r.columns[0], "total");
    EXPECT_EQ(r.value(0, 0), "42");
    EXPECT_FALSE(r.rows[0][1].has_value());
    EXPECT_GT(c.connection_id(), 0u);
    EXPECT_EQ(exec(c, "SELECT CONNECTION_ID()").value(), std::to_string(c.connection_id()));
}

TEST_F(MysqlDriver, ConnectsOverTheUnixSocket) {
    LIFEGUARD_NEED_ENV(socket_url, "LIFEGUARD_MYSQL_SOCKET_URL");
    auto o = options_;
    o.url = socket_url;
    mysql_driver d(o);
    auto c = d.connect(steady::now() + 10s);
    EXPECT_EQ(exec(c, "SELECT 2").value(), "2");
    EXPECT_TRUE(d.is_valid(c, 1s));
}

// Connector/C++ reads tcp://host:port/schema itself; the driver's url check lets it through.
TEST_F(MysqlDriver, SchemaInTheUrlIsTheSessionsDatabase) {
    ASSERT_FALSE(options_.schema.empty());
    auto o = options_;
    o.url = options_.url + "/" + options_.schema;
    o.schema.clear();
    mysql_driver d(o);
    EXPECT_NE(d.describe().find("/" + options_.schema + " user="), std::string::npos) << d.describe();
    auto c = d.connect(steady::now() + 10s);
    EXPECT_EQ(exec(c, "SELECT DATABASE()").value(), options_.schema);
}

TEST_F(MysqlDriver, ValidConnectionAnswers) {
    auto c = connect();
    EXPECT_TRUE(driver_->is_valid(c, 1s));
    EXPECT_TRUE(driver_->is_valid(c, 1s));
    EXPECT_EQ(exec(c, "SELECT 7").value(), "7");
}

TEST_F(MysqlDriver, ConnectsWithNoDeadline) {
    // acquire_timeout = forever gives the driver no deadline: it connects with no connect
    // timeout rather than a wrapped-around one.
    auto c = driver_->connect(steady::time_point::max());
    EXPECT_TRUE(driver_->is_valid(c, 1s));
}

TEST_F(MysqlDriver, PlainStatementsKeepTheSessionClean) {
    auto c = connect();
    exec(c, "SELECT 1");
    exec(c, "DELETE FROM driver_rows WHERE tag = 'plain'");
    EXPECT_EQ(exec(c, "INSERT INTO driver_rows VALUES (1, 'plain')").affected, 1u);
    exec(c, "SELECT @@session.sql_mode");
    EXPECT_EQ(exec(c, "DELETE FROM driver_rows WHERE tag = ?", {"plain"}).affected, 1u);
    EXPECT_FALSE(c.session_dirty());
    EXPECT_TRUE(driver_->reset(c));
}

TEST_F(MysqlDriver, SessionChangesSqlCannotUndoAreNotLentAgain) {
    for (const char* sql :
         {"CREATE TEMPORARY TABLE t_tmp (i INT)", "SELECT GET_LOCK('lifeguard', 0)", "SET NAMES latin1",
          "SET character_set_results = latin1", "PREPARE s1 FROM 'SELECT 1'",
          "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "LOCK TABLES driver_rows READ"}) {
        auto c = connect();
        exec(c, sql);
        EXPECT_TRUE(c.session_needs_reconnect()) << sql;
        EXPECT_FALSE(driver_->reset(c)) << sql << ": a changed session must be closed, not reused";
    }
    auto c = connect();
    c.mark_dirty();
    EXPECT_FALSE(driver_->reset(c)) << "mark_dirty(): the caller says only a reconnect undoes it";
}

TEST_F(MysqlDriver, ResetRollsBackAnOpenTransaction) {
    auto c = connect();
    exec(c, "START TRANSACTION");
    exec(c, "INSERT INTO driver_rows VALUES (9001, 'uncommitted')");
    ASSERT_TRUE(driver_->reset(c));
    auto other = connect();
    EXPECT_EQ(exec(other, "SELECT COUNT(*) FROM driver_rows WHERE id = 9001").value(), "0");
    EXPECT_EQ(exec(c, "SELECT COUNT(*) FROM driver_rows WHERE id = 9001").value(), "0");
}

TEST_F(MysqlDriver, ResetRollsBackAndRestoresAutocommit) {
    auto c = connect();
    c.native_handle()->setAutoCommit(false);
    exec(c, "INSERT INTO driver_rows VALUES (9002, 'autocommit off')");
    ASSERT_TRUE(driver_->reset(c));
    EXPECT_TRUE(c.native_handle()->getAutoCommit());
    auto other = connect();
    EXPECT_EQ(exec(other, "SELECT COUNT(*) FROM driver_rows WHERE id = 9002").value(), "0");
}

TEST_F(MysqlDriver, StatementErrorCarriesCodeAndIsNotBroken) {
    auto c = connect();
    try {
        exec(c, "SELECT * FROM no_such_table");
        FAIL() << "expected mysql_error";
    } catch (const mysql_error& e) {
        EXPECT_EQ(e.code(), 1146);
        EXPECT_EQ(e.sqlstate(), "42S02");
        EXPECT_FALSE(e.broken());
    }
    EXPECT_FALSE(c.broken());
    EXPECT_TRUE(driver_->reset(c));
    EXPECT_EQ(exec(c, "SELECT 4").value(), "4");
}

TEST_F(MysqlDriver, KilledConnectionIsBrokenAndRefused) {
    auto victim = connect();
    auto killer = connect();
    exec(killer, "KILL " + std::to_string(victim.connection_id()));
    try {
        exec(victim, "SELECT 1");
        FAIL() << "a killed connection answered";
    } catch (const mysql_error& e) {
        EXPECT_TRUE(e.broken()) << e.code() << " " << e.what();
    }
    EXPECT_TRUE(victim.broken());
    EXPECT_FALSE(driver_->is_valid(victim, 1s));
    EXPECT_FALSE(driver_->reset(victim));
    driver_->close(victim);
    EXPECT_FALSE(victim);
}

TEST_F(MysqlDriver, ValidationNoticesAKilledIdleConnection) {
    auto victim = connect();
    auto killer = connect();
    exec(killer, "KILL " + std::to_string(victim.connection_id()));
    EXPECT_FALSE(driver_->is_valid(victim, 1s));
}

TEST_F(MysqlDriver, QueryTimeoutLeavesTheConnectionBroken) {
    auto c = connect();
    c.set_query_timeout(300ms);
    const auto start = steady::now();
    try {
        exec(c, "SELECT SLEEP(20)");
        FAIL() << "the query did not time out";
    } catch (const mysql_error& e) {
        EXPECT_TRUE(e.broken()) << e.what();
    }
    EXPECT_LT(steady::now() - start, 10s) << "the watchdog must cut the wait short";
    EXPECT_FALSE(driver_->reset(c));
}

TEST(MysqlConnect, FailsWithinItsDeadlineWhenTheServerNeverAnswers) {
    lifeguard::test::silent_listener silent;
    mysql_driver d({.url = "tcp://127.0.0.1:" + std::to_string(silent.port()),
                    .user = "u",
                    .password = "p",
                    .schema = ""});
    const auto start = steady::now();
    try {
        d.connect(start + 1500ms);
        FAIL() << "connected to a server that never answers";
    } catch (const mysql_error& e) {
        EXPECT_TRUE(e.broken());
        EXPECT_NE(std::string(e.what()).find("mysql 127.0.0.1:" + std::to_string(silent.port())),
                  std::string::npos)
            << e.what();
    }
    EXPECT_LT(steady::now() - start, 6s);
}

TEST(MysqlConnect, ConnectionRefusedIsAClearErrorNamingTheServer) {
    mysql_driver d({.url = "tcp://127.0.0.1:1", .user = "u", .password = "p", .schema = "s"});
    EXPECT_EQ(d.describe(), "mysql 127.0.0.1:1/s user=u");
    try {
        d.connect(steady::now() + 5s);
        FAIL() << "connected to port 1";
    } catch (const mysql_error& e) {
        EXPECT_NE(std::string(e.what()).find("mysql 127.0.0.1:1/s user=u"), std::string::npos) << e.what();
        EXPECT_TRUE(e.broken());
        EXPECT_TRUE(e.code() == 2002 || e.code() == 2003) << e.code() << " " << e.what();
    }
}

TEST_F(MysqlDriver, WrongPasswordNamesTheServerNeverThePassword) {
    auto o = options_;
    o.password = options_.password + "-wrong";
    mysql_driver d(o);
    lifeguard::test::expect_no_secret(d.describe(), options_.password, "describe()");
    try {
        d.connect(steady::now() + 10s);
        FAIL() << "a wrong password was accepted";
    } catch (const mysql_error& e) {
        const std::string text = e.what();
        EXPECT_EQ(e.code(), 1045) << text;
        EXPECT_NE(text.find("mysql 127.0.0.1:"), std::string::npos) << text;
        lifeguard::test::expect_no_secret(text, options_.password, "the connect error");
    }
}

TEST_F(MysqlDriver, DescribeNeverShowsThePassword) {
    const auto text = driver_->describe();
    EXPECT_NE(text.find("user=" + options_.user), std::string::npos) << text;
    lifeguard::test::expect_no_secret(text, options_.password, "describe()");
}

TEST(MysqlErrors, ClassifiesBrokenConnections) {
    using lifeguard::mysql_error_is_broken;
    for (int code : {2002, 2003, 2006, 2013, 2055, 1927, 1053})
        EXPECT_TRUE(mysql_error_is_broken(code, "HY000")) << code;
    EXPECT_TRUE(mysql_error_is_broken(0, "08S01"));
    for (int code : {1146, 1062, 1213, 1205, 1317, 0})
        EXPECT_FALSE(mysql_error_is_broken(code, "42000")) << code;
}

}  // namespace
