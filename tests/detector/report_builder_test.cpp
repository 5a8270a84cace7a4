// The report builder alone: every kind of report built from fixed records and readings, and
// its whole text compared with the exact expected story (call sites are default-constructed,
// so they print as "unknown site" and the texts do not depend on line numbers).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "report_builder.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<pool_record> record(std::uint64_t id, const std::string& name, std::uint64_t max_size,
                                    std::uint64_t tasks, std::uint64_t depth) {
    auto rec = std::make_unique<pool_record>();
    rec->id = id;
    rec->name = name;
    rec->max_size = max_size;
    rec->acquire_timeout = 30000ms;
    rec->usage.observe({tasks, depth});
    return rec;
}

pool_stats full(std::size_t max, std::size_t pending) {
    pool_stats st;
    st.max = max;
    st.total = max;
    st.active = max;
    st.pending = pending;
    return st;
}

pool_reading reading_of(pool_record& rec, const pool_stats& st, std::vector<pool_reading::holder> holders,
                        std::vector<pool_reading::waiter> waiters) {
    pool_reading p;
    p.record = &rec;
    p.stats = st;
    p.now = 10s;
    p.holders = std::move(holders);
    p.waiters = std::move(waiters);
    return p;
}

TEST(ReportBuilder, AutoIdKnotTellsTheWholeStory) {
    // Pool "app" of 2: tasks 17 and 18 each hold one connection and wait for a second.
    auto app = record(1, "app", 2, 2, 2);
    pools_reading r;
    r.pools.push_back(reading_of(*app, full(2, 2), {{17, {}, 3ms}, {18, {}, 2ms}},
                                 {{17, "login 17", {}, 9s, 0, {}}, {18, "", {}, 9'500ms, 0, {}}}));
    const knot k{{17, 18}, {1}};
    const knot_roles roles{{17, 18}, {}};
    report rep = knot_report(k, roles, r, true, {});
    rep.action = policy_action(deadlock_policy::report, rep);
    EXPECT_EQ(rep.to_string(),
              "lifeguard deadlock: 2 tasks hold all 2 connections of pool \"app\" and each waits for one more; nobody can "
              "release one\n"
              "  pool \"app\": max_size 2, 2 open, 2 in use, 0 idle, 0 being opened, 2 waiting; acquire_timeout 30.0 s; "
              "cannot grow\n"
              "  login 17 (task 17) waits 1000 ms for \"app\" at unknown site\n"
              "      holds \"app\" for 3 ms, acquired at unknown site\n"
              "  task 18 waits 500 ms for \"app\" at unknown site\n"
              "      holds \"app\" for 2 ms, acquired at unknown site\n"
              "  no other task waits behind them\n"
              "  sizing: \"app\" saw Tn = 2 tasks holding or waiting at once, each holding up to Cm = 2 connections: it "
              "needs Tn x (Cm - 1) + 1 = 3, it has 2\n"
              "  hint: \"app\" needs at least Tn x (Cm - 1) + 1 = 2 x 1 + 1 = 3 connections (max_size is 2); or give the "
              "nested work its own pool, or do not acquire a second connection while holding one (e.g. an id generator "
              "that needs its own transaction); one more connection in any of these pools would untie this knot, but "
              "only a safe size or a code change keeps it from forming again\n"
              "  action: reported (policy report): the tasks keep waiting until their acquire_timeout (30000 ms)");
}

TEST(ReportBuilder, KnotAcrossPoolsAndItsInversionAdviseTheSameOrder) {
    // "B" was made first (id 1): both hints must say B before A, whichever edge came first.
    auto b = record(1, "B", 1, 2, 1);
    auto a = record(2, "A", 1, 2, 1);
    pools_reading r;
    r.pools.push_back(reading_of(*a, full(1, 1), {{5, {}, 1ms}}, {{6, "", {}, 9s, 0, {}}}));
    r.pools.push_back(reading_of(*b, full(1, 1), {{6, {}, 1ms}}, {{5, "", {}, 9s, 0, {}}}));
    const knot k{{5, 6}, {1, 2}};
    const report knot_rep = knot_report(k, {{5, 6}, {}}, r, false, {});
    EXPECT_EQ(knot_rep.hint,
              "acquire pools in one order everywhere (e.g. always \"B\" before \"A\"), or return one connection before "
              "acquiring from another pool; one more connection in any of these pools would untie this knot, but only a "
              "safe size or a code change keeps it from forming again");
    for (const bool a_first : {true, false}) {
        const edge_record ab{2, 1, "A", "B", {}, {}}, ba{1, 2, "B", "A", {}, {}};
        const std::vector<edge_record> cycle = a_first ? std::vector{ab, ba} : std::vector{ba, ab};
        const report inversion = order_inversion_report(cycle, {});
        EXPECT_EQ(inversion.hint,
                  "acquire pools in one order everywhere (e.g. always \"B\" before \"A\"), or return one connection "
                  "before acquiring from another pool; two tasks taking these paths at once can deadlock")
            << (a_first ? "A -> B first" : "B -> A first");
    }
}

TEST(ReportBuilder, OrderInversionText) {
    const std::vector<edge_record> cycle{{1, 2, "orders", "audit", {}, {}}, {2, 1, "audit", "orders", {}, {}}};
    const report rep = order_inversion_report(cycle, {});
    EXPECT_EQ(rep.to_string(),
              "lifeguard pool order inversion: acquiring \"orders\" at unknown site while holding \"audit\"; a cycle in "
              "the pool-order graph has been observed: \"orders\" -> \"audit\" -> \"orders\"\n"
              "  \"audit\" acquired at unknown site while holding \"orders\" acquired at unknown site\n"
              "  \"orders\" acquired at unknown site while holding \"audit\" acquired at unknown site\n"
              "  hint: acquire pools in one order everywhere (e.g. always \"orders\" before \"audit\"), or return one "
              "connection before acquiring from another pool; two tasks taking these paths at once can deadlock\n"
              "  action: reported once for this cycle");
}

nested_report pair(std::uint64_t tasks, std::uint64_t max_size) {
    nested_report n;
    n.pool = "app";
    n.depth = 2;
    n.tasks = tasks;
    n.count = 1;
    n.max_size = max_size;
    n.safe_size = safe_pool_size(tasks, 2);
    return n;
}

TEST(ReportBuilder, NestedPairSafeSoFar) {
    auto app = record(1, "app", 10, 3, 2);
    const nested_report n = pair(3, 10);
    EXPECT_FALSE(is_unsafe(n));
    EXPECT_EQ(nested_acquisition_report(pool_summary(*app, full(10, 0), false), n).to_string(),
              "lifeguard nested acquisition on pool \"app\": unknown site acquires while its task holds a connection of "
              "the same pool acquired at unknown site (Cm = 2, Tn = 3, safe size 4, max_size 10)\n"
              "  pool \"app\": max_size 10, 10 open, 10 in use, 0 idle, 0 being opened, 0 waiting; acquire_timeout "
              "30.0 s; cannot grow\n"
              "  sizing: \"app\" saw Tn = 3 tasks holding or waiting at once, each holding up to Cm = 2 connections: it "
              "needs Tn x (Cm - 1) + 1 = 4, it has 10\n"
              "  hint: safe for the 3 tasks seen at once so far: with max_size 10 it can deadlock once more than 9 tasks "
              "do this at once\n"
              "  action: reported once for this pair of call sites");
}

TEST(ReportBuilder, NestedPairTooSmall) {
    auto app = record(1, "app", 2, 5, 2);
    const nested_report n = pair(5, 2);
    EXPECT_TRUE(is_unsafe(n));
    EXPECT_EQ(nested_acquisition_report(pool_summary(*app, full(2, 3), false), n).hint,
              "\"app\" has max_size 2 but 5 tasks doing this at once need Tn x (Cm - 1) + 1 = 6: make the pool at least "
              "that big, give the nested work its own pool, or do not acquire while holding");
}

TEST(ReportBuilder, OutageText) {
    auto db = record(3, "db", 4, 0, 1);
    pool_report summary = pool_summary(*db, full(4, 1), false);
    summary.last_connect_error = "connection refused";
    task_report waiting;
    waiting.owner = 7;
    waiting.waits_for = "db";
    EXPECT_EQ(outage_report(summary, {waiting}).to_string(),
              "lifeguard outage: pool \"db\" cannot open connections and 1 task waits; this is not a deadlock\n"
              "  pool \"db\": max_size 4, 4 open, 4 in use, 0 idle, 0 being opened, 1 waiting; acquire_timeout 30.0 s; "
              "cannot grow; last connection error: connection refused\n"
              "  1 task waits (first: task 7 at unknown site)\n"
              "  hint: the database does not accept connections (see the error); waiters fail after acquire_timeout "
              "unless it comes back. Check the server, the network and the credentials; more connections will not help\n"
              "  action: reported once until a connection opens again");
}

TEST(ReportBuilder, VictimActionNamesTheCallAndTheTaskItActsFor) {
    const report unlabelled;
    EXPECT_EQ(victim_action(unlabelled, 18, 18, "app", {}),
              "failed task 18 (waiting for \"app\" at unknown site) with deadlock_error (policy fail_fast); the leases "
              "it holds go back as it unwinds");
    EXPECT_EQ(victim_action(unlabelled, 21, 20, "app", {}),
              "failed task 21 (waiting for \"app\" at unknown site, inside task 20) with deadlock_error (policy "
              "fail_fast); the leases it holds go back as it unwinds");
}

TEST(ReportBuilder, ActionsNameTasksByTheirOwnerScopeLabel) {
    report rep;
    rep.members.push_back({.owner = 20, .label = "login 3"});
    rep.behind.push_back({.owner = 21, .label = "id generator"});
    EXPECT_EQ(victim_action(rep, 21, 20, "app", {}),
              "failed id generator (task 21) (waiting for \"app\" at unknown site, inside login 3 (task 20)) with "
              "deadlock_error (policy fail_fast); the leases it holds go back as it unwinds");
    pool_options o;
    o.max_size = 10;
    EXPECT_EQ(healing_action(rep, 20, 20, "app", {}, o, 2).rfind(
                  "healed (policy heal): lent login 3 (task 20) (waiting for \"app\" at unknown site) an emergency "
                  "connection beyond max_size 10 (max_overflow 1), closed when it comes back; nobody was failed.",
                  0),
              0u);
}

TEST(ReportBuilder, TaskWaitsForAKnotPoolFirst) {
    auto a = record(1, "A", 1, 1, 1);
    auto b = record(2, "B", 1, 1, 1);
    pools_reading r;
    r.pools.push_back(reading_of(*a, full(1, 1), {}, {{4, "", {}, 8s, 0, {}}}));
    r.pools.push_back(reading_of(*b, full(1, 1), {{4, {}, 1ms}}, {{4, "", {}, 9s, 0, {}}}));
    const task_report t = task_in(4, r, {2});
    EXPECT_EQ(t.waits_for, "B");
    EXPECT_EQ(t.waiting, 1s);
    ASSERT_EQ(t.holds.size(), 1u);
    EXPECT_EQ(t.holds[0].pool, "B");
}

}  // namespace
}  // namespace lifeguard::diagnostics::detail
