// The Connector/C++ driver's per-connection setup and session reset against real MariaDB:
// init_sql and the typed session options hold on every lease of a connection, also after a
// lease that changed them; session variables, user variables and USE are undone in SQL on
// the same connection (no reconnect); autocommit = 0 set by a lease never commits its work on
// return; a failing setup step fails the connect and closes the connection; validation_query.
#include <gtest/gtest.h>
#include <mysql_connection.h>  // the native API, as users reach it

#include <chrono>
#include <optional>
#include <string>

#include "db_support.hpp"
#include "lifeguard/mysql.hpp"
#include "lifeguard/pool.hpp"

namespace {

using namespace std::chrono_literals;
namespace my = lifeguard::mysql;
using steady = std::chrono::steady_clock;

template <class Connection>
std::string answer(Connection& c, const std::string& sql) {
    const auto r = my::exec(c, sql);
    return r.rows.at(0).at(0).value_or("NULL");
}

class MysqlSession : public ::testing::Test {
protected:
    void SetUp() override {
        LIFEGUARD_LOAD_ENV(base_.url, "LIFEGUARD_MYSQL_URL");
        LIFEGUARD_LOAD_ENV(base_.user, "LIFEGUARD_MYSQL_USER");
        LIFEGUARD_LOAD_ENV(base_.password, "LIFEGUARD_MYSQL_PASSWORD");
        LIFEGUARD_LOAD_ENV(base_.schema, "LIFEGUARD_MYSQL_SCHEMA");
        admin_driver_.emplace(base_);
        admin_.emplace(admin_driver_->connect(steady::now() + 10s));
        my::exec(*admin_, "CREATE TABLE IF NOT EXISTS session_rows (id INT, tag VARCHAR(64)) ENGINE=InnoDB");
    }

    my::options base_;
    std::optional<my::driver> admin_driver_;
    std::optional<my::connection> admin_;
};

TEST_F(MysqlSession, InitSqlHoldsOnEveryLeaseOfTheSameConnection) {
    auto o = base_;
    o.init_sql = {"SET SESSION wait_timeout = 1234", "SET @tenant = 'acme'"};
    lifeguard::pool<my::driver> pool(my::driver(o),
                                     {.name = "my-init-sql", .max_size = 1, .acquire_timeout = 10s});
    std::uint64_t id = 0;
    for (int lease_number = 1; lease_number <= 100; ++lease_number) {
        auto lease = pool.acquire();
        if (lease_number == 1) id = lease->connection_id();
        ASSERT_EQ(lease->connection_id(), id) << "lease " << lease_number << ": reset in SQL, no reconnect";
        ASSERT_EQ(answer(lease, "SELECT @@session.wait_timeout"), "1234") << "lease " << lease_number;
        ASSERT_EQ(answer(lease, "SELECT @tenant"), "acme") << "lease " << lease_number;
        ASSERT_EQ(answer(lease, "SELECT @scratch"), "NULL")
            << "lease " << lease_number << ": a user variable leaked";
        // Dirty state on some leases (2, 9, 16, ...): a user SET of the same variables, and more.
        if (lease_number % 7 == 2) {
            my::exec(lease, "SET SESSION wait_timeout = 99, @tenant = 'other'");
            my::exec(lease, "SELECT @scratch := 42");
            my::exec(lease, "SET @@session.sql_mode = 'ANSI'");
            ASSERT_EQ(answer(lease, "SELECT @@session.wait_timeout"), "99");
        }
    }
}

TEST_F(MysqlSession, TypedOptionsAreAppliedAndRestoredAfterADirtyLease) {
    auto o = base_;
    o.read_only = true;
    o.transaction_isolation = my::isolation::serializable;
    my::driver d(o);
    auto c = d.connect(steady::now() + 10s);
    const auto id = c.connection_id();
    auto expect_setup = [&](const char* when) {
        EXPECT_EQ(answer(c, "SELECT @@session.tx_read_only"), "1") << when;
        EXPECT_EQ(answer(c, "SELECT @@session.tx_isolation"), "SERIALIZABLE") << when;
    };
    expect_setup("after connect");
    try {
        my::exec(c, "INSERT INTO session_rows VALUES (1, 'read only?')");
        ADD_FAILURE() << "a read_only session wrote a row";
    } catch (const my::error& e) {
        EXPECT_EQ(e.code(), 1792) << e.what();  // cannot execute in a READ ONLY transaction
    }
    my::exec(c, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE");
    EXPECT_FALSE(c.session_needs_reconnect());
    ASSERT_TRUE(d.reset(c));
    EXPECT_EQ(c.connection_id(), id);
    expect_setup("after a lease changed both");
    EXPECT_FALSE(c.session_dirty()) << "the setup itself must not leave the session dirty";
}

TEST_F(MysqlSession, AutoCommitOffKeepsOnlyCommittedWork) {
    my::exec(*admin_, "DELETE FROM session_rows WHERE id BETWEEN 8001 AND 8003");
    auto o = base_;
    o.auto_commit = false;
    my::driver d(o);
    auto c = d.connect(steady::now() + 10s);
    EXPECT_EQ(answer(c, "SELECT @@session.autocommit"), "0");
    my::exec(c, "INSERT INTO session_rows VALUES (8001, 'never committed')");
    ASSERT_TRUE(d.reset(c));  // rolls it back
    my::exec(c, "INSERT INTO session_rows VALUES (8002, 'committed')");
    my::exec(c, "COMMIT");
    c.native_handle()->setAutoCommit(true);  // a lease may switch it on; the return restores it
    my::exec(c, "INSERT INTO session_rows VALUES (8003, 'autocommitted')");
    ASSERT_TRUE(d.reset(c));
    EXPECT_EQ(answer(c, "SELECT @@session.autocommit"), "0");
    EXPECT_EQ(answer(*admin_,
                     "SELECT GROUP_CONCAT(id ORDER BY id) FROM session_rows WHERE id BETWEEN 8001 AND 8003"),
              "8002,8003");
    my::exec(*admin_, "DELETE FROM session_rows WHERE id BETWEEN 8001 AND 8003");
}

TEST_F(MysqlSession, ALeaseThatTurnedAutocommitOffNeverCommitsOnReturn) {
    // SET autocommit = 1 commits what is open, so the reset must roll back before it restores.
    my::exec(*admin_, "DELETE FROM session_rows WHERE id = 8100");
    my::driver d(base_);
    auto c = d.connect(steady::now() + 10s);
    const auto id = c.connection_id();
    my::exec(c, "SET autocommit = 0");
    my::exec(c, "INSERT INTO session_rows VALUES (8100, 'open when returned')");
    ASSERT_TRUE(d.reset(c));
    EXPECT_EQ(c.connection_id(), id);
    EXPECT_EQ(answer(c, "SELECT @@session.autocommit"), "1");
    EXPECT_TRUE(c.native_handle()->getAutoCommit());
    EXPECT_EQ(answer(*admin_, "SELECT COUNT(*) FROM session_rows WHERE id = 8100"), "0");
}

TEST_F(MysqlSession, SessionAndUserVariablesAndUseAreUndoneOnTheSameConnection) {
    my::driver d(base_);
    auto c = d.connect(steady::now() + 10s);
    const auto id = c.connection_id();
    const std::string global_mode = answer(c, "SELECT @@global.sql_mode");
    for (const char* sql :
         {"SET @@session.sql_mode = 'ANSI'", "SET @x = 1", "SELECT @y := 2", "SELECT 3 INTO @w",
          "SET SESSION wait_timeout = 5, @z = 'a,b'", "USE information_schema"}) {
        my::exec(c, sql);
        EXPECT_TRUE(c.session_dirty()) << sql;
        EXPECT_FALSE(c.session_needs_reconnect()) << sql;
    }
    ASSERT_TRUE(d.reset(c));
    EXPECT_EQ(c.connection_id(), id) << "undone in SQL, not by a reconnect";
    EXPECT_EQ(answer(c, "SELECT @@session.sql_mode"), global_mode);
    EXPECT_EQ(answer(c, "SELECT CONCAT_WS(',', @x, @y, @w, @z)"), "");
    EXPECT_EQ(answer(c, "SELECT @@session.wait_timeout"), answer(c, "SELECT @@global.wait_timeout"));
    EXPECT_EQ(answer(c, "SELECT DATABASE()"), base_.schema);
}

TEST_F(MysqlSession, UseWithoutAConfiguredSchemaIsNotLentAgain) {
    auto o = base_;
    o.schema.clear();
    my::driver d(o);
    auto c = d.connect(steady::now() + 10s);
    my::exec(c, "USE " + base_.schema);
    EXPECT_FALSE(d.reset(c)) << "there is no database to go back to: the connection must be closed";
}

TEST_F(MysqlSession, AFailingInitStatementFailsTheConnectAndClosesTheConnection) {
    const std::string lock = "lifeguard-failing-init";
    auto o = base_;
    o.init_sql = {"SELECT GET_LOCK('" + lock + "', 0)", "SELECT * FROM no_such_table_for_init"};
    my::driver d(o);
    try {
        d.connect(steady::now() + 10s);
        FAIL() << "a failing init_sql statement let the connect succeed";
    } catch (const my::error& e) {
        const std::string text = e.what();
        EXPECT_NE(text.find("init_sql[1]"), std::string::npos) << text;
        EXPECT_NE(text.find("no_such_table_for_init"), std::string::npos) << text;
        EXPECT_EQ(e.code(), 1146) << text;
        lifeguard::test::expect_no_secret(text, base_.password, "the setup error");
    }
    // The named lock goes with its session: once it is free, the connection is closed (the
    // server needs a moment to end a session; ask until then, bounded by the test's timeout).
    std::string holder;
    for (int attempt = 0;
         attempt < 1000 && (holder = answer(*admin_, "SELECT IS_USED_LOCK('" + lock + "')")) != "NULL";
         ++attempt) {
    }
    EXPECT_EQ(holder, "NULL") << "the connection of a failed setup must be closed";
}

TEST_F(MysqlSession, TheSetupEndsByTheConnectDeadline) {
    // Without a bound the sleep would end after 30 s and the connect succeed.
    auto o = base_;
    o.init_sql = {"SELECT SLEEP(30)"};
    try {
        my::driver(o).connect(steady::now() + 1500ms);
        FAIL() << "a setup outliving the connect deadline let the connect succeed";
    } catch (const my::error& e) {
        EXPECT_TRUE(e.broken()) << e.what();
        EXPECT_NE(std::string(e.what()).find("before the deadline"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("mysql 127.0.0.1:", 0), 0u) << "names the server: " << e.what();
    }
}

TEST_F(MysqlSession, ASetupErrorNeverShowsThePassword) {
    auto o = base_;
    o.init_sql = {"SELECT * FROM `" + base_.password + "`"};
    try {
        my::driver(o).connect(steady::now() + 10s);
        FAIL() << "a failing init statement let the connect succeed";
    } catch (const my::error& e) {
        EXPECT_NE(std::string(e.what()).find("init_sql[0]"), std::string::npos) << e.what();
        lifeguard::test::expect_no_secret(e.what(), base_.password, "the setup error");
    }
}

TEST_F(MysqlSession, ValidationQueryDecidesValidity) {
    auto o = base_;
    o.validation_query = "SELECT 1";
    my::driver good(o);
    auto c = good.connect(steady::now() + 10s);
    EXPECT_TRUE(good.is_valid(c, 1s));
    EXPECT_FALSE(c.broken());

    o.validation_query = "SELECT * FROM no_such_validation_table";
    my::driver failing(o);
    auto f = failing.connect(steady::now() + 10s);
    EXPECT_FALSE(failing.is_valid(f, 1s));
    EXPECT_TRUE(f.broken()) << "a failed validation query makes the connection count as broken";
    EXPECT_FALSE(failing.reset(f));

    o.validation_query = "SELECT SLEEP(30)";
    my::driver slow(o);
    auto s = slow.connect(steady::now() + 10s);
    EXPECT_FALSE(slow.is_valid(s, 300ms)) << "a validation query past its timeout fails";
    EXPECT_TRUE(s.broken());
}

TEST_F(MysqlSession, PoolReplacesAConnectionWhoseValidationQueryFails) {
    my::exec(*admin_, "CREATE TABLE IF NOT EXISTS validation_gate (id BIGINT UNSIGNED) ENGINE=InnoDB");
    my::exec(*admin_, "DELETE FROM validation_gate");
    // Fails ("Subquery returns more than 1 row") on the connection recorded twice in the gate.
    auto o = base_;
    o.validation_query = "SELECT (SELECT id FROM validation_gate WHERE id = CONNECTION_ID())";
    lifeguard::pool<my::driver> pool(
        my::driver(o),
        {.name = "my-validation-query", .max_size = 1, .acquire_timeout = 10s, .alive_bypass_window = 0ms});
    std::uint64_t first = 0;
    {
        auto lease = pool.acquire();
        first = lease->connection_id();
    }
    my::exec(*admin_, "INSERT INTO validation_gate VALUES (?), (?)",
             {std::to_string(first), std::to_string(first)});
    auto lease = pool.acquire();
    EXPECT_NE(lease->connection_id(), first);
    EXPECT_EQ(pool.stats().closed_for(lifeguard::close_reason::broken), 1u);
}

TEST_F(MysqlSession, RequiredTlsRefusesAServerWithoutIt) {
    // The throwaway server speaks no TLS: libmariadb would silently fall back to plain text.
    auto o = base_;
    o.ssl_mode = my::ssl_mode::required;
    try {
        my::driver(o).connect(steady::now() + 10s);
        FAIL() << "ssl_mode = required connected without TLS";
    } catch (const my::error& e) {
        EXPECT_NE(std::string(e.what()).find("did not encrypt the connection"), std::string::npos)
            << e.what();
        EXPECT_TRUE(e.broken());
    }
}

TEST_F(MysqlSession, CharsetIsTheConnectionsCharacterSet) {
    auto o = base_;
    o.charset = "latin1";
    my::driver d(o);
    auto c = d.connect(steady::now() + 10s);
    EXPECT_EQ(answer(c, "SELECT @@character_set_client"), "latin1");
    EXPECT_EQ(answer(c, "SELECT @@character_set_connection"), "latin1");
    o.charset = "no_such_charset";
    try {
        my::driver(o).connect(steady::now() + 10s);
        FAIL() << "an unknown charset connected";
    } catch (const my::error& e) {
        EXPECT_EQ(e.code(), 2019) << e.what();  // Can't initialize character set
    }
}

TEST_F(MysqlSession, CompressionAndPacketSizeReachTheSession) {
    auto o = base_;
    o.compress = true;
    o.max_allowed_packet = 4096;
    my::driver d(o);
    auto c = d.connect(steady::now() + 10s);
    EXPECT_EQ(answer(c,
                     "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = "
                     "'Compression'"),
              "ON");
    // A result row past the client's 4 KiB limit fails on the client (2020: packet too large).
    try {
        my::exec(c, "SELECT REPEAT('x', 10000)");
        FAIL() << "max_allowed_packet = 4096 took a 10 kB row";
    } catch (const my::error& e) {
        EXPECT_TRUE(e.code() == 2020 || e.code() == 2013 || e.code() == 1153) << e.code() << " " << e.what();
    }
}

}  // namespace
