// poolsize --pg against a real PostgreSQL: the limits it reads must be the server's (checked
// with psql), the fleet arithmetic must use them, and the password must not be printed.
// The server comes from LIFEGUARD_PG_CONNINFO; without it the test is skipped, or fails when
// LIFEGUARD_REQUIRE_DB=1 (CI). The silent-server test needs no server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "db_support.hpp"
#include "run_process.hpp"

namespace {

using json = nlohmann::json;
using lifeguard::testing::run_process;

// One setting, read independently of poolsize.
std::size_t psql_setting(const std::string& conninfo, const std::string& name) {
    const auto r = run_process("psql", {"-X", "-A", "-t", "-d", conninfo, "-c", "SHOW " + name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return static_cast<std::size_t>(std::stoull(r.out));
}

TEST(PoolsizePgServer, ReadsTheServersLimits) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_CONNINFO");
    const auto r = run_process(POOLSIZE_BIN, {"--tasks", "5", "--connections-per-task", "2", "--cores", "2",
                                              "--pg", conninfo, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    const std::size_t max_connections = psql_setting(conninfo, "max_connections");
    const std::size_t superuser_reserved = psql_setting(conninfo, "superuser_reserved_connections");
    EXPECT_EQ(j.at("inputs").at("server_max_connections"), max_connections);
    // PostgreSQL 16 adds reserved_connections; this suite runs on 15, where only superuser's exist.
    EXPECT_GE(j.at("inputs").at("reserved").get<std::size_t>(), superuser_reserved);
    EXPECT_EQ(j.at("available_connections").get<std::size_t>(),
              max_connections - j.at("inputs").at("reserved").get<std::size_t>());
    EXPECT_EQ(j.at("fits_server"), true);  // one instance x 6 fits any usable server
    EXPECT_FALSE(j.at("inputs").at("server_version").get<std::string>().empty());
}

TEST(PoolsizePgServer, FleetBeyondTheServerDoesNotFitAndCheckFails) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_CONNINFO");
    // A million instances cannot fit: PostgreSQL caps max_connections at 262143.
    const auto r = run_process(POOLSIZE_BIN, {"--tasks", "5", "--cores", "2", "--instances", "1000000",
                                              "--pg", conninfo, "--check", "4"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.out.find("does NOT fit"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("does not fit"), std::string::npos) << r.err;
}

TEST(PoolsizePgServer, NeverPrintsThePassword) {
    LIFEGUARD_NEED_ENV(conninfo, "LIFEGUARD_PG_CONNINFO");
    // Add a password (ignored by trust authentication, checked by scram): it must not appear.
    const std::string with_password = conninfo + " password=hunter2-poolsize";
    const auto r = run_process(POOLSIZE_BIN, {"--tasks", "5", "--cores", "2", "--pg", with_password});
    EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 2) << r.exit_code;
    if (r.exit_code == 0) {
        EXPECT_NE(r.out.find("password=***"), std::string::npos) << r.out;
    }
}

// A server that accepts the TCP connection and never answers: the conninfo's connect_timeout
// ends the wait (libpq's minimum of 2 s applies to 1), and the error says which limit it was.
TEST(PoolsizePgServer, ConnectTimeoutFromTheConninfoEndsTheWaitForASilentServer) {
    lifeguard::test::silent_listener silent;
    const auto r = run_process(POOLSIZE_BIN, {"--tasks", "5", "--cores", "2", "--pg",
                                              "host=127.0.0.1 port=" + std::to_string(silent.port()) +
                                                  " dbname=x user=y connect_timeout=1"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
#ifdef POOLSIZE_HAS_PG_DRIVER
    EXPECT_NE(
        r.err.find("--pg host=127.0.0.1 port=" + std::to_string(silent.port()) +
                   " dbname=x user=y: cannot connect: no answer before the deadline (connect_timeout 2 s)"),
        std::string::npos)
        << r.err;
#else
    EXPECT_NE(r.err.find("built without the PostgreSQL driver"), std::string::npos) << r.err;
#endif
}

}  // namespace
