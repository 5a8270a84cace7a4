// The names the README writes: lifeguard::postgres::driver / ::exec and lifeguard::mysql::driver
// are the drivers' entities (the older lifeguard::postgres_driver etc. keep working), and a
// PostgreSQL driver is made from a conninfo string alone. No database: making a driver only
// parses its options.
#include <gtest/gtest.h>

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "lifeguard/mysql.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/postgres.hpp"

namespace {

namespace pg = lifeguard::postgres;
namespace my = lifeguard::mysql;

static_assert(std::same_as<pg::driver, lifeguard::postgres_driver>);
static_assert(std::same_as<pg::options, lifeguard::postgres_options>);
static_assert(std::same_as<pg::connection, lifeguard::postgres_connection>);
static_assert(std::same_as<pg::error, lifeguard::postgres_error>);
static_assert(std::same_as<pg::result, lifeguard::postgres_result>);
static_assert(std::same_as<pg::row, lifeguard::postgres_row>);
static_assert(std::same_as<my::driver, lifeguard::mysql_driver>);
static_assert(std::same_as<my::options, lifeguard::mysql_options>);
static_assert(std::same_as<my::connection, lifeguard::mysql_connection>);
static_assert(std::same_as<my::error, lifeguard::mysql_error>);
static_assert(std::same_as<my::result, lifeguard::mysql_result>);
static_assert(std::same_as<my::row, lifeguard::mysql_row>);
static_assert(lifeguard::driver<pg::driver> && lifeguard::driver<my::driver>);

// A conninfo of any string type makes a driver, explicitly (never a silent conversion);
// a literal nullptr does not compile.
static_assert(std::is_constructible_v<pg::driver, const char*>);
static_assert(std::is_constructible_v<pg::driver, std::string>);
static_assert(std::is_constructible_v<pg::driver, std::string_view>);
static_assert(!std::is_convertible_v<const char*, pg::driver>);
static_assert(!std::is_constructible_v<pg::driver, std::nullptr_t>);
static_assert(!std::is_constructible_v<pg::driver, int>);

// exec through the namespace is the same overload set as lifeguard::exec (lease and connection).
using pg_lease = lifeguard::pool<pg::driver>::lease_type;
static_assert(std::same_as<decltype(pg::exec(std::declval<pg_lease&>(), "SELECT 1")), pg::result>);
static_assert(std::same_as<decltype(pg::exec(std::declval<pg::connection&>(), "SELECT 1")), pg::result>);
using my_lease = lifeguard::pool<my::driver>::lease_type;
static_assert(std::same_as<decltype(my::exec(std::declval<my_lease&>(), "SELECT 1")), my::result>);

TEST(PublicNames, PostgresDriverFromAConninfoLiteral) {
    const pg::driver d{"host=/nowhere port=5999 dbname=shop user=app password=hunter2"};
    EXPECT_EQ(d.options().conninfo, "host=/nowhere port=5999 dbname=shop user=app password=hunter2");
    EXPECT_EQ(d.describe().find("hunter2"), std::string::npos) << d.describe();
    EXPECT_NE(d.describe().find("shop"), std::string::npos) << d.describe();
}

TEST(PublicNames, PostgresDriverFromStringsAndOptionsAgree) {
    const std::string conninfo = "host=/nowhere dbname=shop";
    const pg::driver from_string{conninfo};
    const pg::driver from_view{std::string_view{conninfo}};
    const pg::driver from_options{{.conninfo = conninfo}};
    const pg::driver from_braced_string{{conninfo}};  // the older spelling still compiles
    EXPECT_EQ(from_string.describe(), from_options.describe());
    EXPECT_EQ(from_view.describe(), from_options.describe());
    EXPECT_EQ(from_braced_string.describe(), from_options.describe());
    EXPECT_EQ(from_string.options().reset_query, pg::options{}.reset_query);  // other options default
}

TEST(PublicNames, PostgresDriverFromANullPointerSaysSo) {
    const char* conninfo = nullptr;
    try {
        const pg::driver d{conninfo};
        FAIL() << "a null conninfo made a driver: " << d.describe();
    } catch (const pg::error& e) {
        EXPECT_STREQ(e.what(), "postgres: invalid conninfo: a null pointer");
        EXPECT_FALSE(e.broken());
    }
}

TEST(PublicNames, PostgresDriverFromABadConninfoStringNamesIt) {
    try {
        const pg::driver d{"dbname"};
        FAIL() << "an unparsable conninfo made a driver: " << d.describe();
    } catch (const pg::error& e) {
        EXPECT_NE(std::string_view(e.what()).find("postgres: invalid conninfo"), std::string_view::npos)
            << e.what();
    }
}

TEST(PublicNames, MysqlDriverThroughTheNamespace) {
    const my::driver d{{.url = "tcp://127.0.0.1:3306", .user = "app", .password = "hunter2", .schema = "shop"}};
    EXPECT_EQ(d.url(), "tcp://127.0.0.1:3306");
    EXPECT_EQ(d.describe().find("hunter2"), std::string::npos) << d.describe();
}

}  // namespace
