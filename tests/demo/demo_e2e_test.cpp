// End-to-end test of the AUTO-ID demo (examples/autoid_demo): runs the real binary against the
// servers of scripts/db/with-servers.sh and checks what each phase ended with, read from its
// --json-summary (outcomes, never timings), plus what its output must and must not say.
//
// Each test runs the demo in its own process with its own table prefix and snapshot directory,
// so ctest may run them in parallel against the same servers.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db_support.hpp"
#include "run_program.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int logins = 20;
constexpr int pool_size = 10;

struct demo_run {
    autoid::program_output process;
    json summary;

    /// The facts of `phase` on database `key` ("mariadb", "postgres"); null when absent.
    json phase(const std::string& key, int phase) const {
        for (const auto& db : summary.value("databases", json::array()))
            if (db.value("key", "") == key)
                for (const auto& p : db.value("phases", json::array()))
                    if (p.value("phase", 0) == phase) return p;
        return nullptr;
    }
    std::string output() const { return process.out + process.err; }
};

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size()))
        ++n;
    return n;
}

class AutoIdDemo : public ::testing::Test {
protected:
    void TearDown() override {
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }

    /// Runs the demo with `args` (plus a private table prefix, snapshot dir and JSON summary).
    demo_run run(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
        if (dir_.empty()) {
            char pattern[] = "/tmp/lifeguard-demo-e2e.XXXXXX";
            const char* d = ::mkdtemp(pattern);
            EXPECT_NE(d, nullptr);
            dir_ = d ? d : "/tmp";
        }
        const std::string summary = dir_ + "/summary.json";
        std::filesystem::remove(summary);
        args.insert(args.end(), {"--json-summary", summary, "--snapshot-dir", dir_, "--table-prefix",
                                 "e2e" + std::to_string(::getpid()) + "_", "--poolsize", LIFEGUARD_POOLSIZE,
                                 "--cores", "2", "--spindles", "1"});
        demo_run r;
        r.process = autoid::run_program(LIFEGUARD_AUTOID_DEMO, args, env, 150s);
        std::ifstream in(summary);
        if (in) r.summary = json::parse(in, nullptr, false);
        return r;
    }

    /// Fails or skips (per LIFEGUARD_REQUIRE_DB) unless the MariaDB variables are set.
    bool have_mysql() {
        std::string v;
        for (const char* name : {"LIFEGUARD_MYSQL_URL", "LIFEGUARD_MYSQL_USER", "LIFEGUARD_MYSQL_PASSWORD",
                                 "LIFEGUARD_MYSQL_SCHEMA"}) {
            if (!lifeguard::test::env(name)) {
                missing_ = std::string(name) + " is not set";
                return false;
            }
        }
        return true;
    }
    bool have_postgres() {
        if (!lifeguard::test::env("LIFEGUARD_PG_CONNINFO")) {
            missing_ = "LIFEGUARD_PG_CONNINFO is not set";
            return false;
        }
        return true;
    }

    std::string dir_;
    std::string missing_;
};

#define NEED(condition)                     \
    if (!(condition)) {                     \
        LIFEGUARD_DB_UNAVAILABLE(missing_); \
        return;                             \
    }

/// Phase 3's checks, the same on both databases.
void expect_knot_reported_and_broken(const json& p) {
    ASSERT_FALSE(p.is_null()) << "phase 3 missing";
    const json& d = p.at("deadlock");
    ASSERT_GE(d.value("reports", 0), 1) << "the detector reported no deadlock";
    const json& first = d.at("first_report");
    // The knot: the logins holding all connections, each waiting for a second one; the tasks
    // waiting behind it are the logins that never got a first connection.
    EXPECT_EQ(first.value("members", 0), pool_size);
    EXPECT_EQ(first.value("behind", 0), logins - pool_size);
    EXPECT_EQ(first.value("tasks_named", 0), logins);
    EXPECT_EQ(first.value("pool_max_size", 0), pool_size);
    EXPECT_EQ(first.value("connections_per_task", 0), 2);  // Cm
    EXPECT_EQ(first.value("observed_tasks", 0), logins);   // Tn
    EXPECT_EQ(first.value("safe_size", 0), logins + 1);    // Tn x (Cm - 1) + 1
    EXPECT_EQ(first.value("victim", "").rfind("login ", 0), 0u) << first.dump();
    // fail_fast: the failed logins get deadlock_error, the others complete; nobody times out.
    const int failed = p.value("failed", -1);
    const int succeeded = p.value("succeeded", -1);
    EXPECT_GE(failed, 1);
    EXPECT_GE(succeeded, 1);
    EXPECT_EQ(failed + succeeded, logins);
    EXPECT_EQ(p.at("errors"), (json{{"deadlock", failed}}));
    EXPECT_EQ(p.at("verdicts"), (json{{"deadlocked", failed}}));
    EXPECT_EQ(p.at("failed_at"), (json{{"connection #2", failed}}));
    EXPECT_EQ(d.value("failed_tasks", 0), failed);
    // Rolled back: only the logins that completed left a row.
    EXPECT_EQ(p.value("rows_inserted", -1), succeeded);
    EXPECT_EQ(p.at("surprises"), json::array());
}

/// Phase 4's checks, the same on both databases.
void expect_sized_pool_serves_everyone(const json& p) {
    ASSERT_FALSE(p.is_null()) << "phase 4 missing";
    const json& s = p.at("sizing");
    EXPECT_EQ(s.value("poolsize_exit", -1), 0);
    EXPECT_EQ(s.value("poolsize_json_exit", -1), 0);
    EXPECT_EQ(s.value("observed_tasks", 0), logins);
    EXPECT_EQ(s.value("connections_per_task", 0), 2);
    EXPECT_EQ(s.value("max_size", 0), logins + 1);
    EXPECT_EQ(s.value("min_idle", 0), 2 * 2 + 1);  // --cores 2 --spindles 1
    EXPECT_EQ(s.value("library_max_size", 0), s.value("max_size", -1));
    EXPECT_EQ(s.value("library_min_idle", 0), s.value("min_idle", -1));
    EXPECT_EQ(p.at("pool").value("max_size", 0), logins + 1);
    EXPECT_EQ(p.at("pool").value("min_idle", 0), 5);
    EXPECT_EQ(p.value("succeeded", -1), logins);
    EXPECT_EQ(p.value("failed", -1), 0);
    EXPECT_EQ(p.at("errors"), json::object());
    EXPECT_EQ(p.value("rows_inserted", -1), logins);
    EXPECT_EQ(p.at("detector").value("deadlocks", -1), 0);
    EXPECT_EQ(p.at("surprises"), json::array());
}

/// Phase 5's checks, the same on both databases: phase 3's pool under heal serves everyone.
void expect_healed_pool_serves_everyone(const json& p) {
    ASSERT_FALSE(p.is_null()) << "phase 5 missing";
    EXPECT_EQ(p.at("pool").value("max_size", 0), pool_size);
    EXPECT_EQ(p.at("pool").value("policy", ""), "heal");
    EXPECT_EQ(p.at("pool").value("max_nesting", -1), 0);  // learned, not declared
    EXPECT_EQ(p.at("pool").value("max_overflow", -1), 1);
    // The knot is reported once, with phase 3's numbers, and untied by lending, not failing.
    const json& d = p.at("deadlock");
    EXPECT_EQ(d.value("reports", 0), 1) << d.dump();
    EXPECT_GE(d.value("healed_tasks", 0), 1);
    EXPECT_EQ(d.value("failed_tasks", -1), 0);
    const json& first = d.at("first_report");
    EXPECT_EQ(first.value("members", 0), pool_size);
    EXPECT_EQ(first.value("connections_per_task", 0), 2);
    EXPECT_EQ(first.value("safe_size", 0), logins + 1);
    EXPECT_EQ(first.value("lent_to", "").rfind("login ", 0), 0u) << first.dump();
    EXPECT_NE(first.value("action", "").find("healed (policy heal)"), std::string::npos) << first.dump();
    // Everyone served, within max_size + max_overflow, the claim learned.
    const json& after = p.at("pool_after");
    EXPECT_EQ(after.value("claim", 0), 2);
    EXPECT_GE(after.value("emergency_lent", 0), 1);
    EXPECT_EQ(after.value("emergency_failed", -1), 0);
    EXPECT_LE(after.value("peak_open", 99), pool_size + 1);
    EXPECT_EQ(p.value("succeeded", -1), logins);
    EXPECT_EQ(p.value("failed", -1), 0);
    EXPECT_EQ(p.at("errors"), json::object());
    EXPECT_EQ(p.value("rows_inserted", -1), logins);
    EXPECT_EQ(p.at("surprises"), json::array());
}

TEST_F(AutoIdDemo, MariaDbWithoutDiagnosisWaitsOutTheTimeoutAndNothingCompletes) {
    NEED(have_mysql());
    const auto r = run({"--db", "mariadb", "--phases", "2"});
    ASSERT_EQ(r.process.exit_code, 0) << r.output();
    const json p = r.phase("mariadb", 2);
    ASSERT_FALSE(p.is_null()) << r.output();
    EXPECT_EQ(p.at("pool").value("policy", ""), "ignore");
    EXPECT_FALSE(p.at("pool").value("detector", true));
    // The dashboard of a deadlocked pool: all connections active, none idle, every login waiting.
    EXPECT_EQ(p.at("peak").value("active", 0), pool_size);
    EXPECT_EQ(p.at("peak").value("idle", -1), 0);
    EXPECT_EQ(p.at("peak").value("pending", 0), logins);
    // Nothing completes until the first timeout; the logins that never got a connection all time
    // out; every failure is a timeout, explained as "exhausted", never "deadlocked" (no detector).
    EXPECT_EQ(p.value("succeeded_before_first_failure", -1), 0);
    EXPECT_EQ(p.value("failed_waiting_for_first_connection", 0), logins - pool_size);
    const int failed = p.value("failed", 0);
    EXPECT_GE(failed, logins - pool_size);
    EXPECT_EQ(p.at("errors"), (json{{"timeout", failed}}));
    EXPECT_EQ(p.at("verdicts"), (json{{"exhausted", failed}}));
    EXPECT_EQ(p.value("rows_inserted", -1), p.value("succeeded", -2));
    // What a HikariCP user would read.
    EXPECT_NE(r.process.out.find("Connection is not available, request timed out after"), std::string::npos);
    EXPECT_EQ(r.process.out.find("lifeguard deadlock:"), std::string::npos);
}

TEST_F(AutoIdDemo, MariaDbDetectorNamesTheKnotAndFailFastBreaksIt) {
    NEED(have_mysql());
    const auto r = run({"--db", "mariadb", "--phases", "3"});
    ASSERT_EQ(r.process.exit_code, 0) << r.output();
    expect_knot_reported_and_broken(r.phase("mariadb", 3));
    // The report is printed once, in full, naming the requests and both call sites.
    EXPECT_EQ(count_of(r.process.out, "lifeguard deadlock:"), 1u) << r.process.out;
    EXPECT_NE(r.process.out.find("\"login "), std::string::npos);
    EXPECT_NE(r.process.out.find("next_id()"), std::string::npos);
    EXPECT_NE(r.process.out.find("login()"), std::string::npos);
    // The snapshot poolsize reads.
    const json p = r.phase("mariadb", 3);
    std::ifstream in(p.value("snapshot", ""));
    ASSERT_TRUE(in) << "no snapshot written";
    const json snap = json::parse(in);
    ASSERT_EQ(snap.at("pools").size(), 1u);
    EXPECT_EQ(snap["pools"][0].value("observed_tasks", 0), logins);
    EXPECT_EQ(snap["pools"][0].value("observed_connections_per_task", 0), 2);
    EXPECT_EQ(snap["pools"][0].value("safe_size", 0), logins + 1);
}

TEST_F(AutoIdDemo, MariaDbPoolSizedByPoolsizeServesEveryLogin) {
    NEED(have_mysql());
    const auto r = run({"--db", "mariadb", "--phases", "3,4"});
    ASSERT_EQ(r.process.exit_code, 0) << r.output();
    expect_sized_pool_serves_everyone(r.phase("mariadb", 4));
    EXPECT_NE(r.process.out.find("recommended for pool app: max_size 21, min_idle 5"), std::string::npos)
        << r.process.out;
}

TEST_F(AutoIdDemo, MariaDbUndersizedPoolHealsItsKnotAndServesEveryLogin) {
    NEED(have_mysql());
    const auto r = run({"--db", "mariadb", "--phases", "5"});
    ASSERT_EQ(r.process.exit_code, 0) << r.output();
    expect_healed_pool_serves_everyone(r.phase("mariadb", 5));
    // Run alone, phase 5 prints the report in full, with what heal did.
    EXPECT_EQ(count_of(r.process.out, "lifeguard deadlock:"), 1u) << r.process.out;
    EXPECT_NE(r.process.out.find("The emergency connection was used"), std::string::npos) << r.process.out;
}

TEST_F(AutoIdDemo, PostgresRequiresNewNestingIsDetectedSizedAwayAndHealed) {
    NEED(have_postgres());
    const auto r = run({"--db", "postgres", "--pg-phases", "3,4,5"});
    ASSERT_EQ(r.process.exit_code, 0) << r.output();
    expect_knot_reported_and_broken(r.phase("postgres", 3));
    expect_sized_pool_serves_everyone(r.phase("postgres", 4));
    expect_healed_pool_serves_everyone(r.phase("postgres", 5));
    EXPECT_GT(r.phase("postgres", 5).value("throughput_vs_sized", 0.0), 0.0);
}

TEST_F(AutoIdDemo, WholeRunFollowsTheStoryAndNeverPrintsAPassword) {
    NEED(have_mysql() && have_postgres());
    const std::string mysql_password = *lifeguard::test::env("LIFEGUARD_MYSQL_PASSWORD");
    std::map<std::string, std::string> env;
    // Prefer a PostgreSQL login with a password too, so both secrets are watched.
    std::string pg_password;
    if (auto conninfo = lifeguard::test::env("LIFEGUARD_PG_PASSWORD_CONNINFO")) {
        env["LIFEGUARD_PG_CONNINFO"] = *conninfo;
        pg_password = lifeguard::test::env("LIFEGUARD_PG_PASSWORD").value_or("");
    }
    const auto r = run({}, env);
    ASSERT_EQ(r.process.exit_code, 0) << r.output();
    EXPECT_TRUE(r.summary.value("ok", false)) << r.summary.dump(2);
    for (int phase : {2, 3, 4, 5})
        EXPECT_FALSE(r.phase("mariadb", phase).is_null()) << "mariadb phase " << phase;
    for (int phase : {3, 4, 5}) EXPECT_FALSE(r.phase("postgres", phase).is_null()) << "postgres phase " << phase;
    // The one wall of text, the deadlock report, is shown once in full even with two databases.
    EXPECT_EQ(count_of(r.process.out, "lifeguard deadlock:"), 1u);
    lifeguard::test::expect_no_secret(r.process.out, mysql_password, "the demo's stdout");
    lifeguard::test::expect_no_secret(r.process.err, mysql_password, "the demo's stderr");
    lifeguard::test::expect_no_secret(r.summary.dump(), mysql_password, "the JSON summary");
    if (!pg_password.empty()) {
        lifeguard::test::expect_no_secret(r.process.out, pg_password, "the demo's stdout");
        lifeguard::test::expect_no_secret(r.summary.dump(), pg_password, "the JSON summary");
    }
}

TEST_F(AutoIdDemo, MissingServerVariablesStopTheDemoWithAnExplanation) {
    const auto r = run({"--db", "mariadb", "--phases", "3"}, {{"LIFEGUARD_MYSQL_URL", ""}});
    EXPECT_EQ(r.process.exit_code, 2) << r.output();
    EXPECT_NE(r.process.err.find("LIFEGUARD_MYSQL_URL is not set"), std::string::npos) << r.process.err;
    EXPECT_TRUE(r.process.out.empty()) << r.process.out;
}

}  // namespace
