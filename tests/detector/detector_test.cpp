// The detector driven through scripted pools on one thread: every state is exact, so these
// tests pin down what is reported, when, and what each policy does.
#include <gtest/gtest.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "detector/scripted_pool.hpp"
#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "lifeguard/diagnostics/detector.hpp"

namespace lifeguard::diagnostics {
namespace {

using testing::scripted_pool;

std::source_location outer_site() { return std::source_location::current(); }
std::source_location inner_site() { return std::source_location::current(); }

/// A detector without a watchdog thread, logging into a string, remembering every report.
struct harness {
    std::ostringstream log;
    std::vector<report> reports;
    std::shared_ptr<deadlock_detector> detector;

    explicit harness(detector_options o = {}) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
        o.logger = std::make_shared<spdlog::logger>("test", sink);
        o.logger->set_level(spdlog::level::trace);
        o.watchdog_interval = 0ms;
        o.on_report = [this](const report& r) { reports.push_back(r); };
        detector = std::make_shared<deadlock_detector>(std::move(o));
    }

    std::vector<report> of(report_kind k) const {
        std::vector<report> out;
        for (const auto& r : reports)
            if (r.kind == k) out.push_back(r);
        return out;
    }
};

// ------------------------------------------------------------------------------ nesting

TEST(DetectorNesting, ReportedOncePerPairWithDepthTasksAndSafeSize) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::report, h.detector);
    const auto a = pool.take(1, outer_site());
    const auto b = pool.take(1, inner_site());
    auto nested = h.of(report_kind::nested_acquisition);
    ASSERT_EQ(nested.size(), 1u);
    ASSERT_EQ(nested[0].nested.size(), 1u);
    const auto& n = nested[0].nested[0];
    EXPECT_EQ(n.pool, "app");
    EXPECT_EQ(n.outer_site.line(), outer_site().line());
    EXPECT_EQ(n.inner_site.line(), inner_site().line());
    EXPECT_EQ(n.depth, 2u);
    EXPECT_EQ(n.tasks, 1u);
    EXPECT_EQ(n.safe_size, 2u);
    EXPECT_EQ(n.max_size, 2u);
    EXPECT_EQ(pool.nested_counted(), 1u);
    pool.give_back(b);
    pool.give_back(a);

    // The same pair again: counted, not reported again.
    const auto c = pool.take(1, outer_site());
    const auto d = pool.take(1, inner_site());
    EXPECT_EQ(h.of(report_kind::nested_acquisition).size(), 1u);
    EXPECT_EQ(pool.nested_counted(), 2u);
    EXPECT_EQ(h.detector->stats().nested_pairs, 1u);
    const auto snap = h.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    ASSERT_EQ(snap.pools[0].nested.size(), 1u);
    EXPECT_EQ(snap.pools[0].nested[0].count, 2u);
    pool.give_back(d);
    pool.give_back(c);
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
}

TEST(DetectorNesting, AWaiterServedWhileThePoolIsReadCountsItsNewLeaseOnlyOnce) {
    // Task 1 holds one connection and waits for a second (depth 2, the AUTO-ID shape). While
    // the detector reads the pool for that wait, task 2 returns its connection and task 1 is
    // handed it. Waiters read before holders then showed task 1 waiting *and* holding two: a
    // false Cm of 3 and a safe size of 2 x 2 + 1 (seen in the load-test lab, where poolsize
    // then recommended 41 instead of 21).
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::report, h.detector);
    const auto a = pool.take(1, outer_site());
    const auto b = pool.take(2, outer_site());
    pool.during_holders_reads([b](scripted_pool& p) {
        if (!p.waiting(1)) return false;  // not yet: reads before task 1 queued
        p.pass_silently(b, 1);
        return true;
    });
    pool.wait(1, inner_site());
    const auto snap = h.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    EXPECT_LE(snap.pools[0].observed_connections_per_task, 2u) << "task 1 never held more than 2 nor waited for a 3rd";
    EXPECT_LE(snap.pools[0].safe_size, safe_pool_size(2, 2));
    pool.give_back(b);
    pool.give_back(a);
}

TEST(DetectorNesting, DeeperNestingRaisesCm) {
    harness h;
    scripted_pool pool("app", 5, deadlock_policy::report, h.detector);
    const auto a = pool.take(1, outer_site());
    const auto b = pool.take(1, inner_site());
    const auto c = pool.take(1, inner_site());  // depth 3
    const auto snap = h.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    EXPECT_EQ(snap.pools[0].observed_connections_per_task, 3u);
    EXPECT_EQ(snap.pools[0].safe_size, safe_pool_size(snap.pools[0].observed_tasks, 3));
    for (auto l : {c, b, a}) pool.give_back(l);
}

TEST(DetectorNesting, ARepeatedPairIsCountedExactlyAndDeeperNestingStillRaisesCm) {
    // Repeats of the pair a thread nested last take the shortcut (no table probe, counts
    // batched): every one still counts, and nesting deeper than before is still seen.
    harness h;
    scripted_pool pool("app", 8, deadlock_policy::report, h.detector);
    const auto a = pool.take(1, outer_site());
    for (int i = 0; i < 45; ++i) pool.give_back(pool.take(1, inner_site()));
    EXPECT_EQ(pool.nested_counted(), 45u);
    auto snap = h.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    ASSERT_EQ(snap.pools[0].nested.size(), 1u);
    EXPECT_EQ(snap.pools[0].nested[0].count, 45u);
    EXPECT_EQ(snap.pools[0].nested[0].depth, 2u);
    EXPECT_EQ(h.of(report_kind::nested_acquisition).size(), 1u);

    const auto b = pool.take(1, inner_site());
    const auto c = pool.take(1, inner_site());  // depth 3: past what the shortcut knows
    snap = h.detector->snapshot();
    EXPECT_EQ(snap.pools[0].observed_connections_per_task, 3u);
    EXPECT_EQ(snap.pools[0].nested[0].depth, 3u);
    EXPECT_EQ(snap.pools[0].nested[0].count, 47u);
    EXPECT_EQ(pool.nested_counted(), 47u);
    for (auto l : {c, b, a}) pool.give_back(l);
}

TEST(DetectorNesting, PairsOfTwoDetectorsOnOneThreadAreCountedApart) {
    harness one, two;
    scripted_pool p1("one", 4, deadlock_policy::report, one.detector);
    scripted_pool p2("two", 4, deadlock_policy::report, two.detector);
    const auto a = p1.take(1, outer_site());
    const auto b = p2.take(1, outer_site());
    for (int i = 0; i < 20; ++i) {  // alternating: each switch hands the other's batch in
        p1.give_back(p1.take(1, inner_site()));
        p2.give_back(p2.take(1, inner_site()));
        p2.give_back(p2.take(1, inner_site()));
    }
    EXPECT_EQ(one.detector->snapshot().pools[0].nested[0].count, 20u);
    EXPECT_EQ(two.detector->snapshot().pools[0].nested[0].count, 40u);
    p1.give_back(a);
    p2.give_back(b);
}

TEST(DetectorNesting, ADetectorMayDieWhileAThreadHoldsCountsForIt) {
    auto gone = std::make_unique<harness>();
    {
        scripted_pool pool("short", 4, deadlock_policy::report, gone->detector);
        const auto a = pool.take(1, outer_site());
        for (int i = 0; i < 5; ++i) pool.give_back(pool.take(1, inner_site()));  // a batch pending
        pool.give_back(a);
    }
    gone.reset();
    harness h;  // this thread's next pair hands the dead detector's batch in: it must be skipped
    scripted_pool pool("next", 4, deadlock_policy::report, h.detector);
    const auto a = pool.take(1, outer_site());
    for (int i = 0; i < 3; ++i) pool.give_back(pool.take(1, inner_site()));
    EXPECT_EQ(h.detector->snapshot().pools[0].nested[0].count, 3u);
    pool.give_back(a);
}

TEST(DetectorNesting, EscalatesWhenObservedConcurrencyMakesThePoolTooSmall) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::report, h.detector);
    pool.give_back(pool.take(1, outer_site()));
    const auto a = pool.take(1, outer_site());
    const auto b = pool.take(1, inner_site());  // Tn 1, Cm 2: needs 2, has 2: potential only
    auto nested = h.of(report_kind::nested_acquisition);
    ASSERT_EQ(nested.size(), 1u);
    EXPECT_EQ(nested[0].nested[0].safe_size, 2u);
    pool.give_back(b);
    pool.give_back(a);

    // Two tasks now: 1 holds, 2 holds, 1 asks again and waits. Tn 2 makes the pair unsafe.
    const auto x = pool.take(1, outer_site());
    const auto y = pool.take(2, outer_site());
    ASSERT_TRUE(pool.wait(1, inner_site()));
    nested = h.of(report_kind::nested_acquisition);
    ASSERT_EQ(nested.size(), 2u);
    EXPECT_EQ(nested[1].nested[0].tasks, 2u);
    EXPECT_EQ(nested[1].nested[0].safe_size, 3u);
    EXPECT_NE(h.log.str().find("[warning]"), std::string::npos);
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());  // 2 runs
    pool.give_back(y);
    const auto z = pool.serve(1);
    for (auto l : {z, x}) pool.give_back(l);
}

TEST(DetectorNesting, OwnerHoldingNothingCausesNoReportsOrCounts) {
    harness h;
    scripted_pool pool("app", 4, deadlock_policy::report, h.detector);
    for (int i = 0; i < 100; ++i) pool.give_back(pool.take(7));
    EXPECT_TRUE(h.reports.empty());
    EXPECT_EQ(pool.nested_counted(), 0u);
    EXPECT_EQ(h.detector->stats().nested_pairs, 0u);
}

TEST(DetectorNesting, DifferentOwnersOnOnePoolAreNotNesting) {
    harness h;
    scripted_pool pool("app", 4, deadlock_policy::report, h.detector);
    const auto a = pool.take(1);
    const auto b = pool.take(2);  // e.g. two owner_scopes taking turns on one thread
    EXPECT_TRUE(h.reports.empty());
    EXPECT_EQ(pool.nested_counted(), 0u);
    pool.give_back(a);
    pool.give_back(b);
}

TEST(DetectorNesting, ReleaseByAnyoneKeepsTheBookkeepingRight) {
    harness h;
    scripted_pool pool("app", 4, deadlock_policy::report, h.detector);
    // Owner 1 takes two leases, gives them back in the other order, then takes one again:
    // had either release been lost, this would look like nesting.
    const auto a = pool.take(1);
    pool.give_back(a);
    const auto b = pool.take(1);
    const auto c = pool.take(2);
    pool.give_back(b);
    pool.give_back(c);
    pool.give_back(pool.take(1));
    EXPECT_EQ(pool.nested_counted(), 0u);
    EXPECT_TRUE(h.reports.empty());
}

// ------------------------------------------------------------------------------ knots

TEST(DetectorKnot, AutoIdShapeIsReportedWhenTheLastSinkBlocks) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::report, h.detector);
    const auto a = pool.take(17, outer_site());
    const auto b = pool.take(18, outer_site());
    ASSERT_TRUE(pool.wait(17, inner_site()));
    EXPECT_TRUE(h.of(report_kind::deadlock).empty()) << "18 still runs";
    ASSERT_TRUE(pool.wait(18, inner_site()));
    const auto knots = h.of(report_kind::deadlock);
    ASSERT_EQ(knots.size(), 1u);
    const report& r = knots[0];
    ASSERT_EQ(r.members.size(), 2u);
    EXPECT_TRUE(r.behind.empty());
    for (const auto& m : r.members) {
        EXPECT_TRUE(m.owner == 17 || m.owner == 18);
        ASSERT_EQ(m.holds.size(), 1u);
        EXPECT_EQ(m.holds[0].pool, "app");
        EXPECT_EQ(m.holds[0].site.line(), outer_site().line());
        EXPECT_EQ(m.waits_for, "app");
        EXPECT_EQ(m.wait_site.line(), inner_site().line());
    }
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_EQ(r.pools[0].connections_per_task, 2u);
    EXPECT_EQ(r.pools[0].observed_tasks, 2u);
    EXPECT_EQ(r.pools[0].safe_size, 3u);
    EXPECT_EQ(pool.deadlocks_counted(), 1u);
    EXPECT_EQ(h.detector->stats().deadlocks, 1u);
    const std::string text = r.to_string();
    EXPECT_NE(text.find("deadlock: 2 tasks hold all 2 connections of pool \"app\""), std::string::npos) << text;
    EXPECT_NE(text.find("Tn x (Cm - 1) + 1 = 3"), std::string::npos) << text;
    EXPECT_NE(text.find(describe_site(inner_site())), std::string::npos) << text;
    EXPECT_NE(h.log.str().find("[error]"), std::string::npos);
    EXPECT_TRUE(pool.failures().empty()) << "policy report fails nobody";

    // Both time out eventually: the pool's verdict becomes deadlocked, with the story.
    const auto d17 = pool.time_out(17);
    EXPECT_EQ(d17.what, verdict::deadlocked);
    EXPECT_NE(d17.detail.find("deadlock:"), std::string::npos);
    const auto d18 = pool.time_out(18);
    EXPECT_EQ(d18.what, verdict::deadlocked);
    pool.give_back(a);
    pool.give_back(b);
}

TEST(DetectorKnot, FailFastFailsTheMemberThatClosedTheKnot) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::fail_fast, h.detector);
    const auto a = pool.take(1, outer_site());
    const auto b = pool.take(2, outer_site());
    ASSERT_TRUE(pool.wait(1, inner_site()));
    EXPECT_FALSE(pool.wait(2, inner_site())) << "the caller that closed the knot is failed at once";
    ASSERT_EQ(pool.failures().size(), 1u);
    const auto& f = pool.failures()[0];
    EXPECT_EQ(f.owner, 2u);
    EXPECT_EQ(f.ec, make_error_code(errc::deadlock));
    ASSERT_TRUE(f.exception);
    try {
        std::rethrow_exception(f.exception);
    } catch (const deadlock_error& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::deadlock));
        EXPECT_EQ(e.diagnostics().what, verdict::deadlocked);
        EXPECT_EQ(e.diagnostics().owner, 2u);
        EXPECT_EQ(e.report().victim, 2u);
        EXPECT_EQ(e.report().members.size(), 2u);
        EXPECT_NE(e.report().action.find("failed task 2"), std::string::npos);
    } catch (...) {
        ADD_FAILURE() << "not a deadlock_error";
    }
    const auto d = pool.finish_failed(2);
    EXPECT_EQ(d.what, verdict::deadlocked);
    EXPECT_NE(d.detail.find("deadlock:"), std::string::npos);
    // Task 2 unwinds: its lease goes back and task 1 is served. Nothing else is reported.
    pool.give_back(b);
    const auto c = pool.serve(1);
    EXPECT_EQ(h.of(report_kind::deadlock).size(), 1u);
    pool.give_back(c);
    pool.give_back(a);
}

TEST(DetectorKnot, TasksBehindAKnotAreCountedAndExplainedButNotReportedAgain) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::report, h.detector);
    const auto a = pool.take(1);
    const auto b = pool.take(2);
    ASSERT_TRUE(pool.wait(3));  // behind before the knot forms
    ASSERT_TRUE(pool.wait(1));
    ASSERT_TRUE(pool.wait(2));
    ASSERT_EQ(h.of(report_kind::deadlock).size(), 1u);
    EXPECT_EQ(h.of(report_kind::deadlock)[0].behind.size(), 1u);
    ASSERT_TRUE(pool.wait(4));  // behind after it formed: same knot, not reported again
    EXPECT_EQ(h.of(report_kind::deadlock).size(), 1u);
    EXPECT_EQ(pool.time_out(4).what, verdict::deadlocked);
    EXPECT_EQ(pool.time_out(3).what, verdict::deadlocked);
    pool.time_out(1);
    pool.time_out(2);
    pool.give_back(a);
    pool.give_back(b);
}

TEST(DetectorKnot, AKnotThatReformsAfterUntyingIsReportedAgain) {
    harness h;
    scripted_pool pool("app", 1, deadlock_policy::report, h.detector);
    for (int round = 1; round <= 2; ++round) {
        const auto a = pool.take(5);
        ASSERT_TRUE(pool.wait(5));  // a self-deadlock on a pool of one
        EXPECT_EQ(h.of(report_kind::deadlock).size(), static_cast<std::size_t>(round));
        pool.time_out(5);
        pool.give_back(a);
    }
}

TEST(DetectorKnot, ACycleWithARunningHolderIsNotReported) {
    // The OR-model guard: P has 2, Q has 1. T1 holds P and waits Q; T3 holds Q and waits P;
    // T2 holds P and runs, so it can release P: no deadlock. Then T2 blocks on Q: a knot.
    harness h;
    scripted_pool p("P", 2, deadlock_policy::report, h.detector);
    scripted_pool q("Q", 1, deadlock_policy::report, h.detector);
    const auto p1 = p.take(1);
    const auto p2 = p.take(2);
    const auto q3 = q.take(3);
    ASSERT_TRUE(q.wait(1));
    ASSERT_TRUE(p.wait(3));
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    h.detector->check_now();  // the watchdog agrees
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    ASSERT_TRUE(q.wait(2));
    const auto knots = h.of(report_kind::deadlock);
    ASSERT_EQ(knots.size(), 1u);
    EXPECT_EQ(knots[0].members.size(), 3u);
    EXPECT_EQ(knots[0].pools.size(), 2u);
    q.time_out(1);
    q.time_out(2);
    p.time_out(3);
    p.give_back(p1);
    p.give_back(p2);
    q.give_back(q3);
}

TEST(DetectorKnot, RoomIsNoKnot) {
    harness h;
    scripted_pool pool("app", 3, deadlock_policy::fail_fast, h.detector);
    const auto a = pool.take(1);
    const auto b = pool.take(2);
    pool.set_room(true);  // e.g. a connection being opened
    ASSERT_TRUE(pool.wait(1));
    ASSERT_TRUE(pool.wait(2));
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    EXPECT_TRUE(pool.failures().empty());
    pool.set_room(false);
    const auto c = pool.serve(1);
    const auto d = pool.serve(2);
    for (auto l : {a, b, c, d}) pool.give_back(l);
}

TEST(DetectorKnot, CrossPoolAbbaIsAKnotWithAnOrderHint) {
    harness h;
    scripted_pool a("A", 1, deadlock_policy::report, h.detector);
    scripted_pool b("B", 1, deadlock_policy::report, h.detector);
    const auto la = a.take(1);
    const auto lb = b.take(2);
    ASSERT_TRUE(b.wait(1));
    ASSERT_TRUE(a.wait(2));
    const auto knots = h.of(report_kind::deadlock);
    ASSERT_EQ(knots.size(), 1u);
    EXPECT_EQ(knots[0].members.size(), 2u);
    EXPECT_NE(knots[0].hint.find("one order"), std::string::npos) << knots[0].hint;
    // Both orders were seen before anything blocked: an order inversion was reported too.
    EXPECT_EQ(h.of(report_kind::order_inversion).size(), 1u);
    b.time_out(1);
    a.time_out(2);
    a.give_back(la);
    b.give_back(lb);
}

TEST(DetectorKnot, HandOffToATaskWaitingElsewhereIsCheckedAtOnce) {
    // Task 9 acts on two threads: one waits on Q, one on P. Task 4 holds Q and waits on P.
    // Task 3 holds P and runs, so nothing is stuck until P is handed to task 9.
    harness h;
    scripted_pool p("P", 1, deadlock_policy::report, h.detector);
    scripted_pool q("Q", 1, deadlock_policy::report, h.detector);
    const auto p3 = p.take(3);
    const auto q4 = q.take(4);
    ASSERT_TRUE(q.wait(9));
    ASSERT_TRUE(p.wait(9));
    ASSERT_TRUE(p.wait(4));
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    p.give_back(p3);
    const auto p9 = p.serve(9);  // the hand-off closes the knot: 9 holds P, waits Q
    const auto knots = h.of(report_kind::deadlock);
    ASSERT_EQ(knots.size(), 1u);
    std::vector<owner_id> members;
    for (const auto& m : knots[0].members) members.push_back(m.owner);
    std::ranges::sort(members);
    EXPECT_EQ(members, (std::vector<owner_id>{4, 9}));
    q.time_out(9);
    p.time_out(4);
    p.give_back(p9);
    q.give_back(q4);
}

TEST(DetectorKnot, StaleHintsAreDisprovedByThePools) {
    // The ledger says task 2 waits on Q, but Q says it does not (its unblock has not been
    // seen yet): the fast check finds no sink, the pools' own state does.
    harness h;
    scripted_pool p("P", 1, deadlock_policy::fail_fast, h.detector);
    scripted_pool q("Q", 1, deadlock_policy::fail_fast, h.detector);
    const auto p2 = p.take(2);
    const auto q1 = q.take(1);
    h.detector->on_block(q, {2, {}, inner_site(), q.now()});  // a wait only the detector saw
    ASSERT_TRUE(p.wait(1));
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    EXPECT_TRUE(p.failures().empty());
    EXPECT_EQ(h.detector->stats().confirmations, 1u);
    EXPECT_EQ(h.detector->stats().unconfirmed, 1u);
    h.detector->on_unblock(q, {2, {}, inner_site(), q.now()});
    p.give_back(p2);
    const auto p1 = p.serve(1);
    p.give_back(p1);
    q.give_back(q1);
}

TEST(DetectorKnot, WatchdogFindsKnotsTheHooksDidNotSee) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::report, h.detector);
    const auto a = pool.take(1);
    const auto b = pool.take(2);
    // Both wait, but the detector missed the blocks (as if attached after they queued).
    pool.wait_unseen(1);
    pool.wait_unseen(2);
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    h.detector->check_now();
    const auto knots = h.of(report_kind::deadlock);
    ASSERT_EQ(knots.size(), 1u);
    EXPECT_EQ(knots[0].members.size(), 2u);
    h.detector->check_now();  // still there: not reported twice
    EXPECT_EQ(h.of(report_kind::deadlock).size(), 1u);
    EXPECT_EQ(pool.time_out(1).what, verdict::deadlocked);
    pool.time_out(2);
    pool.give_back(a);
    pool.give_back(b);
    h.detector->check_now();  // gone: forgotten, so that it would be reported if it came back
    EXPECT_EQ(h.of(report_kind::deadlock).size(), 1u);
}

TEST(DetectorPolicy, IgnoreDetectsNothing) {
    harness h;
    scripted_pool pool("app", 1, deadlock_policy::ignore, h.detector);
    const auto a = pool.take(1);
    ASSERT_TRUE(pool.wait(1));
    EXPECT_TRUE(h.reports.empty());
    EXPECT_EQ(pool.nested_counted(), 0u);
    h.detector->check_now();
    EXPECT_TRUE(h.reports.empty());
    pool.time_out(1);
    pool.give_back(a);
}

TEST(DetectorPolicyDeathTest, AbortEndsTheProcessWithTheReport) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            detector_options o;
            o.watchdog_interval = 0ms;
            auto detector = std::make_shared<deadlock_detector>(o);
            scripted_pool pool("doomed", 1, deadlock_policy::abort, detector);
            [[maybe_unused]] const auto a = pool.take(1);
            pool.wait(1);
        },
        "deadlock: 1 task holds all 1 connections of pool \"doomed\"");
}

// ------------------------------------------------------------------------------ order

TEST(DetectorOrder, InversionIsReportedOnceBeforeAnythingBlocks) {
    harness h;
    scripted_pool a("app", 2, deadlock_policy::report, h.detector);
    scripted_pool b("audit", 2, deadlock_policy::report, h.detector);
    auto la = a.take(1, outer_site());
    auto lb = b.take(1, inner_site());
    b.give_back(lb);
    a.give_back(la);
    EXPECT_TRUE(h.of(report_kind::order_inversion).empty());
    lb = b.take(1, outer_site());
    la = a.take(1, inner_site());
    const auto inv = h.of(report_kind::order_inversion);
    ASSERT_EQ(inv.size(), 1u);
    ASSERT_EQ(inv[0].cycle.size(), 2u);
    EXPECT_EQ(inv[0].cycle.back().from, "audit");
    EXPECT_EQ(inv[0].cycle.back().to, "app");
    EXPECT_EQ(inv[0].cycle.front().from, "app");
    EXPECT_EQ(inv[0].cycle.front().to, "audit");
    EXPECT_NE(inv[0].to_string().find("a cycle in the pool-order graph"), std::string::npos);
    a.give_back(la);
    b.give_back(lb);
    // Again: nothing new.
    lb = b.take(1, outer_site());
    la = a.take(1, inner_site());
    EXPECT_EQ(h.of(report_kind::order_inversion).size(), 1u);
    EXPECT_EQ(h.detector->stats().order_inversions, 1u);
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    a.give_back(la);
    b.give_back(lb);
    const auto snap = h.detector->snapshot();
    EXPECT_EQ(snap.order_edges.size(), 2u);
}

TEST(DetectorOrder, ThreePoolCycleIsFound) {
    harness h;
    scripted_pool a("a", 2, deadlock_policy::report, h.detector);
    scripted_pool b("b", 2, deadlock_policy::report, h.detector);
    scripted_pool c("c", 2, deadlock_policy::report, h.detector);
    auto pair = [](scripted_pool& x, scripted_pool& y) {
        const auto lx = x.take(1);
        const auto ly = y.take(1);
        y.give_back(ly);
        x.give_back(lx);
    };
    pair(a, b);
    pair(b, c);
    EXPECT_TRUE(h.of(report_kind::order_inversion).empty());
    pair(c, a);
    const auto inv = h.of(report_kind::order_inversion);
    ASSERT_EQ(inv.size(), 1u);
    EXPECT_EQ(inv[0].cycle.size(), 3u);
}

// ------------------------------------------------------------------------------ outages

TEST(DetectorOutage, WaitersOnAFailingPoolAreAnOutageNotADeadlock) {
    harness h;
    scripted_pool pool("app", 2, deadlock_policy::fail_fast, h.detector);
    ASSERT_TRUE(pool.wait(1));  // has room: nothing open yet
    pool.connect_failed("connection refused (fake)");
    auto outages = h.of(report_kind::outage);
    ASSERT_EQ(outages.size(), 1u);
    EXPECT_EQ(outages[0].pools[0].last_connect_error, "connection refused (fake)");
    EXPECT_EQ(outages[0].behind.size(), 1u);
    EXPECT_NE(outages[0].to_string().find("this is not a deadlock"), std::string::npos);
    pool.connect_failed("connection refused (fake)");
    EXPECT_EQ(h.of(report_kind::outage).size(), 1u) << "once per episode";
    EXPECT_TRUE(h.of(report_kind::deadlock).empty());
    EXPECT_TRUE(pool.failures().empty());
    pool.connection_created();  // the database is back
    pool.connect_failed("connection refused (fake)");
    EXPECT_EQ(h.of(report_kind::outage).size(), 2u);
    EXPECT_NE(pool.time_out(1).what, verdict::deadlocked);
}

// ------------------------------------------------------------------------------ output

TEST(DetectorOutput, RateLimitSuppressesLogsButNotCallbacks) {
    detector_options o;
    o.max_logged_per_minute = 1;
    harness h(o);
    scripted_pool a("a", 1, deadlock_policy::report, h.detector);
    scripted_pool b("b", 1, deadlock_policy::report, h.detector);
    const auto la = a.take(1);
    const auto lb = b.take(2);
    ASSERT_TRUE(a.wait(1));
    ASSERT_TRUE(b.wait(2));
    EXPECT_EQ(h.of(report_kind::deadlock).size(), 2u);
    ASSERT_GE(h.reports.size(), 2u);  // two knots (and the nested acquisitions that made them)
    EXPECT_EQ(h.detector->stats().suppressed, h.reports.size() - 1);
    const std::string log = h.log.str();
    EXPECT_EQ(log.find("lifeguard "), log.rfind("lifeguard ")) << "logged once:\n" << log;
    EXPECT_EQ(h.detector->recent_reports().size(), h.reports.size());
    a.time_out(1);
    b.time_out(2);
    a.give_back(la);
    b.give_back(lb);
}

TEST(DetectorOutput, DefaultLoggerIsNotRegisteredWithSpdlog) {
    detector_options o;
    o.watchdog_interval = 0ms;
    auto d = std::make_shared<deadlock_detector>(o);
    EXPECT_EQ(spdlog::get("lifeguard.detector"), nullptr);
}

TEST(DetectorOutput, DescribeSiteIsShort) {
    const auto s = std::source_location::current();
    const std::string d = describe_site(s);
    EXPECT_EQ(d, "detector_test.cpp:" + std::to_string(s.line()) + " DetectorOutput_DescribeSiteIsShort_Test::TestBody()");
    EXPECT_EQ(describe_site(std::source_location{}), "unknown site");
}

TEST(DetectorOutput, SafePoolSizeIsHikariFormula) {
    EXPECT_EQ(safe_pool_size(20, 2), 21u);
    EXPECT_EQ(safe_pool_size(3, 4), 10u);
    EXPECT_EQ(safe_pool_size(5, 1), 1u);
    EXPECT_EQ(safe_pool_size(0, 2), 0u);
    EXPECT_EQ(safe_pool_size(~std::uint64_t{0}, 3), ~std::uint64_t{0});
}

// ------------------------------------------------------------------------------ snapshot

TEST(DetectorSnapshot, ParsesTheDocumentedFormat) {
    const char* doc = R"json({"lifeguard_snapshot": 1,
 "pools": [{"name": "app", "max_size": 10, "observed_tasks": 20,
            "observed_connections_per_task": 2, "safe_size": 21,
            "nested": [{"outer_site": "login.cpp:42 login()", "inner_site": "idgen.cpp:17 next_id()",
                        "depth": 2, "tasks": 20, "count": 40}]}],
 "order_edges": [{"from": "app", "to": "audit", "site": "audit.cpp:9 write()"}]})json";
    const snapshot s = snapshot_from_json(doc);
    snapshot expected;
    expected.pools.push_back({"app", 10, 20, 2, 21, {{"login.cpp:42 login()", "idgen.cpp:17 next_id()", 2, 20, 40}}});
    expected.order_edges.push_back({"app", "audit", "audit.cpp:9 write()"});
    EXPECT_EQ(s, expected);
    EXPECT_EQ(snapshot_from_json(to_json(s)), s);
    EXPECT_EQ(snapshot_from_json(to_json(s, -1)), s);
    EXPECT_THROW(snapshot_from_json("{\"lifeguard_snapshot\": 2, \"pools\": []}"), std::invalid_argument);
    EXPECT_THROW(snapshot_from_json("{\"pools\": []}"), std::invalid_argument);
    EXPECT_THROW(snapshot_from_json("not json"), std::invalid_argument);
}

TEST(DetectorSnapshot, RecordsWhatWasObserved) {
    harness h;
    scripted_pool app("app", 2, deadlock_policy::report, h.detector);
    scripted_pool audit("audit", 2, deadlock_policy::report, h.detector);
    const auto a = app.take(1, outer_site());
    const auto b = app.take(2, outer_site());
    const auto c = audit.take(1, inner_site());  // edge app -> audit
    audit.give_back(c);
    ASSERT_TRUE(app.wait(1, inner_site()));  // nested, Tn 2
    app.give_back(b);
    const auto d = app.serve(1);
    const snapshot s = h.detector->snapshot();
    ASSERT_EQ(s.pools.size(), 2u);
    const auto& p = s.pools[0].name == "app" ? s.pools[0] : s.pools[1];
    EXPECT_EQ(p.max_size, 2u);
    EXPECT_EQ(p.observed_tasks, 2u);
    EXPECT_EQ(p.observed_connections_per_task, 2u);
    EXPECT_EQ(p.safe_size, 3u);
    ASSERT_EQ(p.nested.size(), 1u);
    EXPECT_EQ(p.nested[0].outer_site, describe_site(outer_site()));
    EXPECT_EQ(p.nested[0].inner_site, describe_site(inner_site()));
    EXPECT_EQ(p.nested[0].depth, 2u);
    EXPECT_EQ(p.nested[0].tasks, 2u);
    EXPECT_EQ(p.nested[0].count, 1u);
    ASSERT_EQ(s.order_edges.size(), 1u);
    EXPECT_EQ(s.order_edges[0], (snapshot::order_edge{"app", "audit", describe_site(inner_site())}));
    app.give_back(d);
    app.give_back(a);

    const auto path = std::filesystem::temp_directory_path() / ("lifeguard-snapshot-" + std::to_string(::getpid()) + ".json");
    write_snapshot(s, path);
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_EQ(snapshot_from_json(text.str()), s);
    std::filesystem::remove(path);
}

TEST(DetectorSnapshot, SurvivesThePoolsDetaching) {
    harness h;
    {
        scripted_pool app("app", 3, deadlock_policy::report, h.detector);
        const auto a = app.take(1);
        const auto b = app.take(1);
        app.give_back(b);
        app.give_back(a);
    }
    const auto s = h.detector->snapshot();
    ASSERT_EQ(s.pools.size(), 1u);
    EXPECT_EQ(s.pools[0].observed_connections_per_task, 2u);
}

}  // namespace
}  // namespace lifeguard::diagnostics
