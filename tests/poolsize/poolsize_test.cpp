// Tests of the real `poolsize` binary: golden text and JSON outputs, exit codes (0 ok, 2 bad
// usage, 3 check failed), messages for bad numbers, missing inputs and broken snapshots, and
// that a password in --pg never reaches the output.
//
// Golden files are in tests/poolsize/golden/. After an intended output change, regenerate them
// with LIFEGUARD_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "run_process.hpp"
#include "temp_file.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using lifeguard::testing::process_result;
using lifeguard::testing::run_process;
using lifeguard::testing::temp_file;

const std::string data_dir = POOLSIZE_TEST_DATA_DIR;
const std::string golden_dir = POOLSIZE_GOLDEN_DIR;

// Runs poolsize in the test data folder, so snapshot paths in outputs are short and stable.
process_result poolsize(const std::vector<std::string>& args) {
    return run_process(POOLSIZE_BIN, args, data_dir);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void expect_golden(const std::string& name, const std::string& actual) {
    const std::string path = golden_dir + "/" + name;
    if (const char* update = std::getenv("LIFEGUARD_UPDATE_GOLDEN"); update && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
    }
    ASSERT_TRUE(fs::exists(path)) << "missing golden file " << path;
    EXPECT_EQ(actual, read_text(path)) << "golden file: " << path;
}

// The JSON output must be exactly one object (nlohmann rejects trailing text) equal to the golden.
json expect_golden_json(const std::string& name, const std::string& actual) {
    json parsed;
    EXPECT_NO_THROW(parsed = json::parse(actual)) << actual;
    EXPECT_TRUE(parsed.is_object());
    const std::string path = golden_dir + "/" + name;
    if (const char* update = std::getenv("LIFEGUARD_UPDATE_GOLDEN"); update && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
    }
    EXPECT_EQ(parsed, json::parse(read_text(path))) << "golden file: " << path;
    return parsed;
}

const std::vector<std::string> seed_args = {"--tasks",    "50", "--connections-per-task", "2", "--cores", "1",
                                            "--spindles", "1"};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// ---- recommendations ----------------------------------------------------------------------

TEST(PoolsizeText, SeedCaseRecommendsFiftyOneAndThree) {
    const auto r = poolsize(seed_args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    expect_golden("seed.txt", r.out);
}

TEST(PoolsizeJson, SeedCaseHasTheDocumentedFields) {
    const auto r = poolsize(seed_args + std::vector<std::string>{"--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = expect_golden_json("seed.json", r.out);
    EXPECT_EQ(j.at("deadlock_free_minimum"), 51);
    EXPECT_EQ(j.at("throughput_size"), 3);
    EXPECT_EQ(j.at("max_size"), 51);
    EXPECT_EQ(j.at("min_idle"), 3);
    EXPECT_TRUE(j.at("fits_server").is_null());  // no server given: not checked, not "true"
    ASSERT_TRUE(j.at("reasons").is_array());
    for (const auto& reason : j.at("reasons")) EXPECT_TRUE(reason.is_string());
    EXPECT_EQ(j.at("inputs").at("tasks"), 50);
}

TEST(PoolsizeJson, MatchesHikariWikiExamples) {
    auto r = poolsize({"--tasks", "3", "--connections-per-task", "4", "--cores", "1", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out).at("deadlock_free_minimum"), 10);
    EXPECT_EQ(json::parse(r.out).at("max_size"), 10);
    r = poolsize({"--tasks", "8", "--connections-per-task", "3", "--cores", "1", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out).at("deadlock_free_minimum"), 17);
}

TEST(PoolsizeJson, ThroughputWinsWithoutNesting) {
    const auto r = poolsize({"--tasks", "200", "--cores", "4", "--spindles", "1", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j.at("deadlock_free_minimum"), 1);  // --connections-per-task defaults to 1
    EXPECT_EQ(j.at("max_size"), 9);
    EXPECT_EQ(j.at("min_idle"), 9);
}

TEST(PoolsizeJson, SpindlesDefaultToZero) {
    const auto r = poolsize({"--tasks", "2", "--cores", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out).at("throughput_size"), 6);
}

TEST(PoolsizeText, FleetThatDoesNotFitSaysSoWithThePerInstanceBudget) {
    const auto r =
        poolsize(seed_args + std::vector<std::string>{"--instances", "4", "--server-max-connections", "100",
                                                      "--reserved", "3"});
    ASSERT_EQ(r.exit_code, 0) << r.err;  // a recommendation, not a check: still success
    expect_golden("fleet_does_not_fit.txt", r.out);
}

TEST(PoolsizeJson, FleetThatDoesNotFit) {
    const auto r =
        poolsize(seed_args + std::vector<std::string>{"--instances", "4", "--server-max-connections", "100",
                                                      "--reserved", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = expect_golden_json("fleet_does_not_fit.json", r.out);
    EXPECT_EQ(j.at("fits_server"), false);
    EXPECT_EQ(j.at("fleet_connections"), 204);
    EXPECT_EQ(j.at("available_connections"), 97);
    EXPECT_EQ(j.at("per_instance_budget"), 24);
}

TEST(PoolsizeJson, FleetThatFits) {
    const auto r =
        poolsize(seed_args + std::vector<std::string>{"--instances", "1", "--server-max-connections", "100",
                                                      "--reserved", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j.at("fits_server"), true);
    EXPECT_EQ(j.at("per_instance_budget"), 97);
}

TEST(PoolsizeJson, FleetFitsExactlyAtTheBudget) {
    // 97 available / 2 instances = 48 each: max_size 48 fits (96 <= 97), 49 does not.
    auto r = poolsize({"--tasks", "47", "--connections-per-task", "2", "--cores", "1", "--instances", "2",
                       "--server-max-connections", "100", "--reserved", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out).at("max_size"), 48);
    EXPECT_EQ(json::parse(r.out).at("fits_server"), true);
    r = poolsize({"--tasks", "48", "--connections-per-task", "2", "--cores", "1", "--instances", "2",
                  "--server-max-connections", "100", "--reserved", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out).at("max_size"), 49);
    EXPECT_EQ(json::parse(r.out).at("fits_server"), false);
}

TEST(PoolsizeJson, FleetThatFitsOnlyBelowThroughputSuggestsTheBudget) {
    // Deadlock-free minimum 11, throughput 16, budget 57 / 4 = 14: 14 fits and is still safe.
    const auto r = poolsize({"--tasks", "10", "--connections-per-task", "2", "--cores", "8", "--instances",
                             "4", "--server-max-connections", "60", "--reserved", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j.at("max_size"), 16);
    EXPECT_EQ(j.at("fits_server"), false);
    EXPECT_EQ(j.at("per_instance_budget"), 14);
    EXPECT_NE(j.at("reasons").dump().find("max_size 14 would fit and stay deadlock-free (>= 11)"),
              std::string::npos)
        << j.at("reasons").dump();
}

TEST(PoolsizeHelp, ListsEveryOptionAndExitsZero) {
    const auto r = poolsize({"--help"});
    EXPECT_EQ(r.exit_code, 0);
    for (const char* option :
         {"--tasks", "--connections-per-task", "--cores", "--spindles", "--instances",
          "--server-max-connections", "--reserved", "--snapshot", "--pool", "--check", "--json", "--pg"}) {
        EXPECT_NE(r.out.find(option), std::string::npos) << option;
    }
}

TEST(PoolsizeVersion, PrintsTheProjectVersionAndExitsZero) {
    const auto r = poolsize({"--version"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "poolsize " LIFEGUARD_PROJECT_VERSION "\n");
    EXPECT_EQ(r.err, "");
    EXPECT_NE(poolsize({"--help"}).out.find("--version"), std::string::npos);
}

// ---- check mode ---------------------------------------------------------------------------

TEST(PoolsizeCheck, PassesAtTheDeadlockFreeMinimum) {
    const auto r = poolsize(seed_args + std::vector<std::string>{"--check", "51"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_NE(r.out.find("passes"), std::string::npos) << r.out;
}

TEST(PoolsizeCheck, FailsOneBelowTheDeadlockFreeMinimum) {
    const auto r = poolsize(seed_args + std::vector<std::string>{"--check", "50"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.err, "poolsize: check failed: size 50 is below the deadlock-free minimum 51\n");
    expect_golden("check_fails.txt", r.out);
}

TEST(PoolsizeCheck, JsonCarriesTheVerdict) {
    auto r = poolsize(seed_args + std::vector<std::string>{"--check", "10", "--json"});
    EXPECT_EQ(r.exit_code, 3);
    json j = json::parse(r.out);
    EXPECT_EQ(j.at("check").at("passed"), false);
    EXPECT_EQ(j.at("check").at("size"), 10);
    EXPECT_EQ(j.at("check").at("failures").size(), 1u);
    r = poolsize(seed_args + std::vector<std::string>{"--check", "60", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    j = json::parse(r.out);
    EXPECT_EQ(j.at("check").at("passed"), true);
    EXPECT_TRUE(j.at("check").at("failures").empty());
}

TEST(PoolsizeCheck, FailsWhenTheFleetDoesNotFitTheServer) {
    // Deadlock-free (Cm = 1 needs 1), but 10 instances x 20 = 200 > 97.
    const auto r = poolsize({"--tasks", "10", "--cores", "2", "--instances", "10", "--server-max-connections",
                             "100", "--reserved", "3", "--check", "20"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(
        r.err,
        "poolsize: check failed: fleet 10 x 20 = 200 does not fit the 97 connections the server has for "
        "pools\n");
}

TEST(PoolsizeCheck, FitsExactlyAtThePerInstanceBudget) {
    const std::vector<std::string> fleet = {
        "--tasks", "10",         "--cores", "2", "--instances", "10", "--server-max-connections",
        "100",     "--reserved", "0"};
    EXPECT_EQ(poolsize(fleet + std::vector<std::string>{"--check", "10"}).exit_code, 0);
    EXPECT_EQ(poolsize(fleet + std::vector<std::string>{"--check", "11"}).exit_code, 3);
}

TEST(PoolsizeCheck, HugeSizeAgainstTheServerFailsWithoutWrapping) {
    // 2 x 18446744073709551615 overflows; the check must say "does not fit", not wrap to a fit.
    const auto r = poolsize({"--tasks", "1", "--cores", "1", "--instances", "2", "--server-max-connections",
                             "100", "--check", "18446744073709551615"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("(overflow) does not fit"), std::string::npos) << r.err;
}

// ---- bad usage: exit 2, nothing on stdout, stderr names the argument and why ---------------

struct bad_usage_case {
    std::vector<std::string> args;
    std::string message;  ///< must appear on stderr

    friend void PrintTo(const bad_usage_case& c, std::ostream* os) {
        *os << "poolsize";
        for (const auto& a : c.args) *os << " '" << a << "'";
    }
};

class PoolsizeBadUsage : public ::testing::TestWithParam<bad_usage_case> {};

TEST_P(PoolsizeBadUsage, ExitsTwoNamingTheProblem) {
    const auto r = poolsize(GetParam().args);
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("poolsize: ", 0), 0u) << r.err;
}

const std::string huge = "99999999999999999999";
const std::string size_max_text = "18446744073709551615";

INSTANTIATE_TEST_SUITE_P(
    Numbers, PoolsizeBadUsage,
    ::testing::Values(bad_usage_case{{"--tasks", "-5", "--cores", "1"}, "--tasks -5: must not be negative"},
                      bad_usage_case{{"--tasks=-5", "--cores", "1"}, "--tasks -5: must not be negative"},
                      bad_usage_case{{"--tasks", "abc", "--cores", "1"}, "--tasks abc: not a whole number"},
                      bad_usage_case{{"--tasks", "1.5", "--cores", "1"}, "--tasks 1.5: not a whole number"},
                      bad_usage_case{{"--tasks", "+5", "--cores", "1"}, "--tasks +5: not a whole number"},
                      bad_usage_case{{"--tasks", " 5", "--cores", "1"}, "--tasks  5: not a whole number"},
                      bad_usage_case{{"--tasks", "", "--cores", "1"}, "--tasks: empty value"},
                      bad_usage_case{{"--tasks", huge, "--cores", "1"},
                                     "--tasks " + huge + ": too large (at most " + size_max_text},
                      bad_usage_case{{"--tasks", "0", "--cores", "1"}, "--tasks 0: must be at least 1"},
                      bad_usage_case{{"--tasks", "5", "--connections-per-task", "0", "--cores", "1"},
                                     "--connections-per-task 0: must be at least 1"},
                      bad_usage_case{{"--tasks", "5", "--connections-per-task", "-2", "--cores", "1"},
                                     "--connections-per-task -2: must not be negative"},
                      bad_usage_case{{"--tasks", "5", "--cores", "0"}, "--cores 0: must be at least 1"},
                      bad_usage_case{{"--tasks", "5", "--cores", "two"}, "--cores two: not a whole number"},
                      bad_usage_case{{"--tasks", "5", "--cores", "1", "--spindles", "-1"},
                                     "--spindles -1: must not be negative"},
                      bad_usage_case{{"--tasks", "5", "--cores", "1", "--instances", "0"},
                                     "--instances 0: must be at least 1"},
                      bad_usage_case{{"--tasks", "5", "--cores", "1", "--server-max-connections", "0"},
                                     "--server-max-connections 0: must be at least 1"},
                      bad_usage_case{{"--tasks", "5", "--cores", "1", "--check", "0"},
                                     "--check 0: must be at least 1"},
                      bad_usage_case{{"--tasks", "5", "--cores", "1", "--check", "-1"},
                                     "--check -1: must not be negative"}));

INSTANTIATE_TEST_SUITE_P(
    Overflow, PoolsizeBadUsage,
    ::testing::Values(
        bad_usage_case{{"--tasks", size_max_text, "--connections-per-task", "3", "--cores", "1"},
                       "--tasks " + size_max_text +
                           " with --connections-per-task 3: the deadlock-free minimum "
                           "Tn x (Cm - 1) + 1 is too large (overflow)"},
        bad_usage_case{{"--tasks", size_max_text, "--connections-per-task", "2", "--cores", "1"},
                       "is too large (overflow)"},
        bad_usage_case{
            {"--tasks", "1", "--cores", "9223372036854775808"},
            "--cores 9223372036854775808 with --spindles 0: the throughput size cores x 2 + spindles is "
            "too large (overflow)"},
        bad_usage_case{{"--tasks", "1", "--cores", "1", "--instances", size_max_text},
                       "--instances " + size_max_text +
                           " x max_size 2: the fleet's connection count is too large "
                           "(overflow)"}));

INSTANTIATE_TEST_SUITE_P(
    Combinations, PoolsizeBadUsage,
    ::testing::Values(
        bad_usage_case{{"--cores", "1"}, "missing required input: --tasks N"},
        bad_usage_case{{"--tasks", "5"}, "missing required input: --cores N"},
        bad_usage_case{{},
                       "missing required input: --tasks N (tasks that may hold connections at once), "
                       "--snapshot FILE or --prometheus URL; --cores N"},
        bad_usage_case{{"--tasks", "5", "--cores", "1", "--reserved", "3"},
                       "--reserved requires --server-max-connections"},
        bad_usage_case{
            {"--tasks", "5", "--cores", "1", "--server-max-connections", "100", "--reserved", "100"},
            "--reserved 100: must be fewer than --server-max-connections 100"},
        bad_usage_case{{"--tasks", "5", "--cores", "1", "--pool", "app"}, "--pool requires --snapshot"},
        bad_usage_case{{"--tasks", "5", "--cores", "1", "--snapshot", "snapshot_one.json"}, "excludes"},
        bad_usage_case{{"--tasks", "5", "--cores", "1", "--pg", "host=x", "--server-max-connections", "9"},
                       "excludes"},
        bad_usage_case{{"--tasks", "5", "--tasks", "6", "--cores", "1"}, "--tasks"},
        bad_usage_case{{"--tasks", "5", "--cores", "1", "--frobnicate"}, "--frobnicate"},
        bad_usage_case{{"--tasks", "5", "--cores", "1", "stray"}, "stray"},
        bad_usage_case{{"--tasks"}, "--tasks"}));

INSTANTIATE_TEST_SUITE_P(
    Snapshots, PoolsizeBadUsage,
    ::testing::Values(
        bad_usage_case{{"--snapshot", "no_such_snapshot.json", "--cores", "1"},
                       "--snapshot no_such_snapshot.json: cannot read: No such file or directory"},
        bad_usage_case{{"--snapshot", ".", "--cores", "1"}, "--snapshot .: cannot read: it is a directory"},
        bad_usage_case{{"--snapshot", "snapshot_two_pools.json", "--pool", "nope", "--cores", "1"},
                       "--pool nope: no such pool in snapshot_two_pools.json (pools: app, audit)"},
        bad_usage_case{{"--snapshot", "snapshot_two_pools.json", "--cores", "1", "--check", "30"},
                       "--check 30: needs --pool NAME, snapshot_two_pools.json has 2 pools (app, audit)"},
        bad_usage_case{{"--snapshot", "snapshot_with_unused_pool.json", "--pool", "reports", "--cores", "1"},
                       "pool \"reports\": nothing observed (observed_tasks 0)"}));

// ---- malformed snapshots ------------------------------------------------------------------

struct malformed_case {
    std::string name;
    std::string content;
    std::string message;

    friend void PrintTo(const malformed_case& c, std::ostream* os) { *os << c.name; }
};

class PoolsizeMalformedSnapshot : public ::testing::TestWithParam<malformed_case> {};

TEST_P(PoolsizeMalformedSnapshot, ExitsTwoNamingTheFileAndTheProblem) {
    const temp_file file(GetParam().content);
    const auto r = run_process(POOLSIZE_BIN, {"--snapshot", file.path(), "--cores", "1"});
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("--snapshot " + file.path() + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
}

const std::string pool_ok = R"({"name": "app", "observed_tasks": 2, "observed_connections_per_task": 2})";

std::string with_pools(const std::string& pools) {
    return R"({"lifeguard_snapshot": 1, "pools": [)" + pools + "]}";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PoolsizeMalformedSnapshot,
    ::testing::Values(
        malformed_case{"Empty", "", "not valid JSON"},
        malformed_case{"Truncated", R"({"lifeguard_snapshot": 1, "pools": [)", "not valid JSON"},
        malformed_case{"NotAnObject", "[1, 2]", "expected a JSON object"},
        malformed_case{"NoVersion", R"({"pools": []})", "no \"lifeguard_snapshot\" field"},
        malformed_case{"FutureVersion", R"({"lifeguard_snapshot": 2, "pools": []})",
                       "\"lifeguard_snapshot\": 2 is not supported (this poolsize reads version 1)"},
        malformed_case{"VersionAsString", R"({"lifeguard_snapshot": "1", "pools": []})", "is not supported"},
        malformed_case{"NoPools", R"({"lifeguard_snapshot": 1})", "the snapshot has no \"pools\""},
        malformed_case{"PoolsNotArray", R"({"lifeguard_snapshot": 1, "pools": {}})",
                       "\"pools\" must be an array"},
        malformed_case{"PoolsEmpty", with_pools(""), "\"pools\" is empty"},
        malformed_case{"PoolNotObject", with_pools("3"), "pools[0] must be an object"},
        malformed_case{"PoolWithoutName",
                       with_pools(R"({"observed_tasks": 1, "observed_connections_per_task": 1})"),
                       "pools[0] has no \"name\""},
        malformed_case{"PoolNameNotString",
                       with_pools(R"({"name": 7, "observed_tasks": 1, "observed_connections_per_task": 1})"),
                       "pools[0].name must be a string, got 7"},
        malformed_case{"NoObservedTasks",
                       with_pools(R"({"name": "app", "observed_connections_per_task": 1})"),
                       "pools[0] (\"app\") has no \"observed_tasks\""},
        malformed_case{"NoObservedConnections", with_pools(R"({"name": "app", "observed_tasks": 1})"),
                       "pools[0] (\"app\") has no \"observed_connections_per_task\""},
        malformed_case{
            "NegativeTasks",
            with_pools(R"({"name": "app", "observed_tasks": -3, "observed_connections_per_task": 1})"),
            "pools[0] (\"app\").observed_tasks must be a whole number >= 0, got -3"},
        malformed_case{
            "FractionalConnections",
            with_pools(R"({"name": "app", "observed_tasks": 3, "observed_connections_per_task": 1.5})"),
            "observed_connections_per_task must be a whole number >= 0, got 1.5"},
        malformed_case{
            "TasksAsString",
            with_pools(R"({"name": "app", "observed_tasks": "3", "observed_connections_per_task": 1})"),
            "observed_tasks must be a whole number >= 0, got \"3\""},
        malformed_case{
            "HugeTasks", with_pools(R"({"name": "app", "observed_tasks": 99999999999999999999,
                                      "observed_connections_per_task": 1})"),
            "pools[0] (\"app\").observed_tasks is too large: 1e+20 (at most 18446744073709551615)"},
        malformed_case{"TwoToTheSixtyFourTasks",
                       with_pools(R"({"name": "app", "observed_tasks": 18446744073709551616,
                                      "observed_connections_per_task": 1})"),
                       "observed_tasks is too large: 1.8446744073709552e+19 (at most 18446744073709551615)"},
        malformed_case{"WholeFloatMaxSize",
                       with_pools(R"({"name": "app", "max_size": 4.0, "observed_tasks": 1,
                                      "observed_connections_per_task": 1})"),
                       "pools[0] (\"app\").max_size must be a whole number >= 0, got 4.0"},
        malformed_case{"NegativeMaxSize", with_pools(R"({"name": "app", "max_size": -1, "observed_tasks": 1,
                                      "observed_connections_per_task": 1})"),
                       "pools[0] (\"app\").max_size must be a whole number >= 0, got -1"},
        malformed_case{"NestedDepthAsString",
                       with_pools(R"({"name": "app", "observed_tasks": 1, "observed_connections_per_task": 1,
                                      "nested": [{"outer_site": "a", "inner_site": "b", "depth": "2"}]})"),
                       "pools[0] (\"app\").nested[0].depth must be a whole number >= 0, got \"2\""},
        malformed_case{
            "LongWrongStringIsCutShort",
            with_pools(R"({"name": "app", "observed_tasks": ")" + std::string(5000, 'x') +
                       R"(", "observed_connections_per_task": 1})"),
            "observed_tasks must be a whole number >= 0, got \"" + std::string(59, 'x') + "... (5002 chars)"},
        malformed_case{"DuplicateKeyInAPool",
                       with_pools(R"({"name": "app", "observed_tasks": 2, "observed_connections_per_task": 2,
                                      "name": "audit"})"),
                       "duplicate key \"name\" in pools[0]: each key may appear once in an object"},
        malformed_case{"DuplicateKeyInALaterPool", with_pools(pool_ok + "," + R"({"name": "audit",
                                      "observed_tasks": 1, "observed_tasks": 9,
                                      "observed_connections_per_task": 1})"),
                       "duplicate key \"observed_tasks\" in pools[1]"},
        malformed_case{"DuplicateKeyNested",
                       with_pools(R"({"name": "app", "observed_tasks": 1, "observed_connections_per_task": 1,
                                      "nested": [{"outer_site": "a", "inner_site": "b", "depth": 2},
                                                 {"outer_site": "a", "depth": 2, "depth": 3}]})"),
                       "duplicate key \"depth\" in pools[0].nested[1]"},
        malformed_case{"DuplicateKeyAtTheTop",
                       R"({"lifeguard_snapshot": 1, "pools": [)" + pool_ok + R"(], "lifeguard_snapshot": 2})",
                       "duplicate key \"lifeguard_snapshot\" in the top-level object"},
        malformed_case{"DuplicateKeyInAnIgnoredField",
                       R"({"lifeguard_snapshot": 1, "pools": [)" + pool_ok +
                           R"(], "order_edges": [[{"from": "a", "from": "b"}]]})",
                       "duplicate key \"from\" in order_edges[0][0]"},
        malformed_case{
            "Contradiction",
            with_pools(R"({"name": "app", "observed_tasks": 0, "observed_connections_per_task": 2})"),
            "contradict each other"},
        malformed_case{"ZeroMaxSize", with_pools(R"({"name": "app", "max_size": 0, "observed_tasks": 1,
                                      "observed_connections_per_task": 1})"),
                       "pools[0] (\"app\").max_size must be at least 1"},
        malformed_case{"NestedNotArray",
                       with_pools(R"({"name": "app", "observed_tasks": 1, "observed_connections_per_task": 1,
                                      "nested": 5})"),
                       ".nested must be an array"},
        malformed_case{"NestedWithoutDepth",
                       with_pools(R"({"name": "app", "observed_tasks": 1, "observed_connections_per_task": 1,
                                      "nested": [{"outer_site": "a", "inner_site": "b"}]})"),
                       "pools[0] (\"app\").nested[0] has no \"depth\""},
        malformed_case{"DuplicateNames", with_pools(pool_ok + "," + pool_ok),
                       "pool name \"app\" appears twice"},
        malformed_case{
            "NothingObserved",
            with_pools(R"({"name": "app", "observed_tasks": 0, "observed_connections_per_task": 0})"),
            "pool \"app\": nothing observed"},
        malformed_case{
            "OverflowingObservation", with_pools(R"({"name": "app", "observed_tasks": 18446744073709551615,
                                      "observed_connections_per_task": 2})"),
            "pool \"app\" (observed_tasks 18446744073709551615, observed_connections_per_task 2): the "
            "deadlock-free minimum Tn x (Cm - 1) + 1 is too large (overflow)"}),
    [](const ::testing::TestParamInfo<malformed_case>& param_info) { return param_info.param.name; });

// ---- snapshots ----------------------------------------------------------------------------

TEST(PoolsizeSnapshot, SeveralPoolsGetOneRecommendationEach) {
    const auto r = poolsize({"--snapshot", "snapshot_two_pools.json", "--cores", "4", "--spindles", "1",
                             "--instances", "2", "--server-max-connections", "100", "--reserved", "3"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_golden("snapshot_two_pools.txt", r.out);
}

TEST(PoolsizeSnapshot, SeveralPoolsJsonHasAPoolsArrayAndTheFleetTotal) {
    const auto r =
        poolsize({"--snapshot", "snapshot_two_pools.json", "--cores", "4", "--spindles", "1", "--instances",
                  "2", "--server-max-connections", "100", "--reserved", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = expect_golden_json("snapshot_two_pools.json", r.out);
    ASSERT_EQ(j.at("pools").size(), 2u);
    EXPECT_EQ(j.at("pools")[0].at("pool"), "app");
    EXPECT_EQ(j.at("pools")[0].at("deadlock_free_minimum"), 21);  // 20 x (2 - 1) + 1
    EXPECT_EQ(j.at("pools")[0].at("configured_is_deadlock_free"), false);
    EXPECT_EQ(j.at("pools")[1].at("deadlock_free_minimum"), 1);
    EXPECT_EQ(j.at("pools")[1].at("max_size"), 9);
    EXPECT_EQ(j.at("total_max_size"), 30);
    EXPECT_EQ(j.at("fleet_connections"), 60);  // every instance opens both pools
    EXPECT_EQ(j.at("fits_server"), true);
}

TEST(PoolsizeSnapshot, PoolOptionPicksOnePoolAndUsesTheFlatFormat) {
    const auto r =
        poolsize({"--snapshot", "snapshot_two_pools.json", "--pool", "app", "--cores", "2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j.at("pool"), "app");
    EXPECT_EQ(j.at("deadlock_free_minimum"), 21);
    EXPECT_EQ(j.at("max_size"), 21);
    EXPECT_EQ(j.at("min_idle"), 4);
    EXPECT_EQ(j.at("configured_max_size"), 10);
    const std::string reasons = j.at("reasons").dump();
    EXPECT_NE(reasons.find("login.cpp:42 login() -> idgen.cpp:17 next_id()"), std::string::npos) << reasons;
    EXPECT_NE(reasons.find("other pools (audit)"), std::string::npos) << reasons;
}

TEST(PoolsizeSnapshot, OnePoolSnapshotMatchesGolden) {
    const auto r = poolsize({"--snapshot", "snapshot_one.json", "--cores", "2", "--check", "21"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_golden("snapshot_one_check_passes.txt", r.out);
}

TEST(PoolsizeSnapshot, CheckAgainstTheObservedMinimumFails) {
    const auto r = poolsize({"--snapshot", "snapshot_one.json", "--cores", "2", "--check", "10"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.err, "poolsize: check failed: size 10 is below the deadlock-free minimum 21\n");
}

TEST(PoolsizeSnapshot, UnusedPoolIsSkippedWithANote) {
    const auto r = poolsize({"--snapshot", "snapshot_with_unused_pool.json", "--cores", "1", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    ASSERT_EQ(j.at("pools").size(), 1u);
    EXPECT_EQ(j.at("pools")[0].at("deadlock_free_minimum"), 17);  // 8 x (3 - 1) + 1
    EXPECT_EQ(j.at("skipped_pools"), json::array({"reports"}));
    EXPECT_NE(j.at("reasons").dump().find("pool \\\"reports\\\" skipped"), std::string::npos) << j.dump();
}

// ---- --pg: never print the password --------------------------------------------------------

class PoolsizePgPassword : public ::testing::TestWithParam<std::string> {};

TEST_P(PoolsizePgPassword, IsMaskedWhenTheConnectionFails) {
    // A socket directory that does not exist: libpq fails at once, no network involved.
    const auto r = poolsize({"--tasks", "5", "--cores", "1", "--pg", GetParam()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("--pg "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("unter"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Conninfo, PoolsizePgPassword,
    ::testing::Values("host=/nonexistent-lifeguard-dir user=app password=hunter2 dbname=app",
                      "host=/nonexistent-lifeguard-dir password = 'hunter2 with spaces' dbname=app",
                      "postgresql://app:hunter2@/app?host=/nonexistent-lifeguard-dir",
                      "postgresql:///app?host=/nonexistent-lifeguard-dir&password=hunter2",
                      "host=/nonexistent-lifeguard-dir password hunter2",            // malformed
                      "host=/nonexistent-lifeguard-dir password='hunter2",           // unterminated quote
                      "host=/nonexistent-lifeguard-dir password=hunter2 bogus=1"));  // unknown keyword

TEST(PoolsizePg, ConnectionFailureNamesWhereItTriedWithThePasswordMasked) {
    const auto r = poolsize({"--tasks", "5", "--cores", "1", "--pg",
                             "host=/nonexistent-lifeguard-dir user=app password=hunter2 dbname=app"});
    EXPECT_EQ(r.exit_code, 2);
#ifdef POOLSIZE_HAS_PG_DRIVER
    EXPECT_NE(
        r.err.find("--pg host=/nonexistent-lifeguard-dir dbname=app user=app password=***: cannot connect"),
        std::string::npos)
        << r.err;
    // No connect_timeout in the conninfo: the default applies, and the message says which.
    EXPECT_NE(r.err.find("(connect_timeout 10 s)"), std::string::npos) << r.err;
#else
    EXPECT_NE(r.err.find("built without the PostgreSQL driver"), std::string::npos) << r.err;
#endif
}

// The driver connects without libpq's blocking PQconnectdb, which is what read connect_timeout:
// poolsize reads it itself, and a value libpq would reject is a usage error naming it.
TEST(PoolsizePg, ConnectTimeoutThatIsNotANumberIsNamed) {
    for (const std::string bad : {"abc", "1.5", "99999999999", "+5"}) {
        const auto r = poolsize({"--tasks", "5", "--cores", "1", "--pg",
                                 "host=/nonexistent-lifeguard-dir connect_timeout='" + bad + "'"});
        EXPECT_EQ(r.exit_code, 2) << bad;
        EXPECT_EQ(r.out, "");
#ifdef POOLSIZE_HAS_PG_DRIVER
        EXPECT_NE(r.err.find("--pg host=/nonexistent-lifeguard-dir: connect_timeout is \"" + bad +
                             "\", not a whole number of seconds"),
                  std::string::npos)
            << r.err;
#else
        EXPECT_NE(r.err.find("built without the PostgreSQL driver"), std::string::npos) << r.err;
#endif
    }
}

}  // namespace
