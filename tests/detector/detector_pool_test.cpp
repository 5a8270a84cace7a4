// The detector on real pools with threads: the shapes of the issue (AUTO-ID, 20 logins on a
// pool of 10, cross-pool ABBA, the OR-model guard, a task on two threads), fail_fast unwinding, outages,
// headroom, and owners that move between threads. Every acquire_timeout is 30 s: a test that
// finishes with errc::deadlock or errc::pool_closed did not need it. Synchronisation is by
// barriers, gates and the pools' own on_block hook; nothing sleeps.
#include <gtest/gtest.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <barrier>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "detector/detector_fixture.hpp"
#include "detector/pool_events.hpp"
#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"
#include "support/manual_clock.hpp"

namespace lifeguard::diagnostics {
namespace {

using testing::block_events;
using testing::detector_fixture;
using testing::fake_driver;
using testing::failure_recorder;
using testing::gate;
using testing::owners_of;
using testing::report_collector;
using test_pool = testing::detector_test_pool;
using fixture = detector_fixture;

// ------------------------------------------------------------------------------ AUTO-ID

struct login_sites {
    unsigned outer = 0, inner = 0;
};

TEST(DetectorOnPool, AutoIdKnotIsNamedLongBeforeTheTimeout) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::report);
    std::barrier both(2);
    std::atomic<unsigned> outer_line{0}, inner_line{0};
    std::error_code results[2];
    owner_id ids[2] = {};
    auto login = [&](int i) {
        owner_scope scope("login " + std::to_string(i));
        ids[i] = scope.id();
        outer_line = std::source_location::current().line(); auto outer = pool->acquire();
        both.arrive_and_wait();
        std::error_code ec;
        inner_line = std::source_location::current().line(); auto inner = pool->acquire(ec);
        results[i] = ec;
    };
    std::thread t0(login, 0), t1(login, 1);
    const report r = f.reports.wait_for(report_kind::deadlock);
    pool->close();  // ends the waits; with policy report they would last 30 s
    t0.join();
    t1.join();

    EXPECT_EQ(results[0], make_error_code(errc::pool_closed));
    EXPECT_EQ(results[1], make_error_code(errc::pool_closed));
    ASSERT_EQ(r.members.size(), 2u);
    EXPECT_EQ(owners_of(r.members), (std::vector<owner_id>{std::min(ids[0], ids[1]), std::max(ids[0], ids[1])}));
    std::set<std::string> labels;
    for (const auto& m : r.members) {
        labels.insert(m.label);
        ASSERT_EQ(m.holds.size(), 1u);
        EXPECT_EQ(m.holds[0].site.line(), outer_line.load());
        EXPECT_EQ(m.waits_for, "app");
        EXPECT_EQ(m.wait_site.line(), inner_line.load());
    }
    EXPECT_EQ(labels, (std::set<std::string>{"login 0", "login 1"}));
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_EQ(r.pools[0].connections_per_task, 2u);
    EXPECT_EQ(r.pools[0].observed_tasks, 2u);
    EXPECT_EQ(r.pools[0].safe_size, 3u);
    EXPECT_EQ(pool->stats().deadlocks, 1u);
    EXPECT_EQ(pool->stats().nested_acquisitions, 2u);
}

TEST(DetectorOnPool, AutoIdFailFastThrowsIntoOneHolderAndTheOtherCompletes) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::fail_fast);
    std::barrier both(2);
    std::atomic<int> completed{0}, failed{0};
    std::optional<report> seen;
    std::mutex seen_mutex;
    auto login = [&](int i) {
        owner_scope scope("login " + std::to_string(i));
        try {
            auto outer = pool->acquire();
            both.arrive_and_wait();
            auto inner = pool->acquire();
            ++completed;
        } catch (const deadlock_error& e) {
            EXPECT_EQ(e.code(), make_error_code(errc::deadlock));
            EXPECT_EQ(e.report().victim, scope.id());
            std::lock_guard lock(seen_mutex);
            seen = e.report();
            ++failed;
        }
    };
    std::thread t0(login, 0), t1(login, 1);
    t0.join();
    t1.join();
    EXPECT_EQ(completed.load(), 1);
    EXPECT_EQ(failed.load(), 1);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->members.size(), 2u);
    EXPECT_EQ(seen->pools[0].safe_size, 3u);
    EXPECT_EQ(f.detector->stats().failed_tasks, 1u);
    EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST(DetectorOnPool, AutoIdFailFastGivesErrcDeadlockToTheErrorCodeOverload) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::fail_fast);
    std::barrier both(2);
    std::error_code results[2];
    auto login = [&](int i) {
        owner_scope scope;
        std::error_code ec;
        auto outer = pool->acquire(ec);
        both.arrive_and_wait();
        auto inner = pool->acquire(ec);
        results[i] = ec;
    };
    std::thread t0(login, 0), t1(login, 1);
    t0.join();
    t1.join();
    const auto deadlock = make_error_code(errc::deadlock);
    EXPECT_TRUE((results[0] == deadlock) != (results[1] == deadlock)) << results[0].message() << " / " << results[1].message();
    EXPECT_FALSE(results[0] && results[0] != deadlock);
    EXPECT_FALSE(results[1] && results[1] != deadlock);
    const auto d = pool->last_failure();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->what, verdict::deadlocked);
    EXPECT_NE(d->detail.find("deadlock:"), std::string::npos) << d->detail;
}

TEST(DetectorOnPool, AnObserverAddedBeforeTheDetectorSeesTheDeadlockVerdict) {
    // One task nests on a pool of 1 (policy report): the knot is found as it blocks, and its
    // timeout is explained by it. The verdict is the pool's, set before any observer hears of
    // the failure: an observer attached before the detector sees it too.
    fixture f;
    auto first = std::make_shared<failure_recorder>();
    auto pool = testing::one_connection_pool(first, f.detector);
    owner_scope scope("request");
    auto outer = pool->acquire();
    std::error_code ec;
    auto inner = pool->acquire(ec);
    EXPECT_EQ(ec, make_error_code(errc::timeout));
    ASSERT_EQ(f.reports.of(report_kind::deadlock).size(), 1u);
    const auto seen = testing::the_knot_failure(*first);
    ASSERT_TRUE(seen) << (first->seen().empty() ? std::string("no failure") : first->seen()[0].to_string());
    const auto last = pool->last_failure();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->what, verdict::deadlocked);
    EXPECT_EQ(last->detail, seen->detail);  // explained once, not twice
}

TEST(DetectorOnPool, PoolOfThreeServesBothWithAPotentialReport) {
    fixture f;
    auto pool = f.pool("app", 3, deadlock_policy::fail_fast);
    std::barrier both(2);
    std::atomic<int> completed{0};
    auto login = [&] {
        owner_scope scope;
        auto outer = pool->acquire();
        both.arrive_and_wait();
        auto inner = pool->acquire();
        ++completed;
    };
    std::thread t0(login), t1(login);
    t0.join();
    t1.join();
    EXPECT_EQ(completed.load(), 2);
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty());
    const auto nested = f.reports.of(report_kind::nested_acquisition);
    ASSERT_EQ(nested.size(), 1u);
    EXPECT_EQ(nested[0].nested[0].depth, 2u);
    EXPECT_EQ(nested[0].nested[0].tasks, 2u);
    EXPECT_EQ(nested[0].nested[0].safe_size, 3u);
    EXPECT_EQ(nested[0].nested[0].max_size, 3u);
}

TEST(DetectorOnPool, TwentyLoginsOnAPoolOfTenNeedTwentyOne) {
    fixture f;
    auto pool = f.pool("app", 10, deadlock_policy::report);
    std::atomic<unsigned> outer_line{0};
    std::vector<std::thread> logins;
    std::vector<std::error_code> results(20);
    for (int i = 0; i < 20; ++i)
        logins.emplace_back([&, i] {
            owner_scope scope("login " + std::to_string(i));
            std::error_code ec;
            outer_line = std::source_location::current().line(); auto outer = pool->acquire(ec);
            if (ec) {
                results[i] = ec;
                return;
            }
            // Hold on until the ten without a connection are queued behind us.
            f.blocks->wait_for(10, [&](const block_events::block& b) { return b.line == outer_line.load(); });
            auto inner = pool->acquire(ec);
            results[i] = ec;
        });
    const report r = f.reports.wait_for(report_kind::deadlock);
    pool->close();
    for (auto& t : logins) t.join();

    for (const auto& ec : results) EXPECT_EQ(ec, make_error_code(errc::pool_closed));
    EXPECT_EQ(r.members.size(), 10u);
    EXPECT_EQ(r.behind.size(), 10u);
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_EQ(r.pools[0].observed_tasks, 20u);
    EXPECT_EQ(r.pools[0].connections_per_task, 2u);
    EXPECT_EQ(r.pools[0].safe_size, 21u);
    EXPECT_NE(r.to_string().find("10 more tasks wait behind them"), std::string::npos) << r.to_string();
    EXPECT_NE(r.to_string().find("= 21"), std::string::npos);

    const auto snap = f.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    EXPECT_EQ(snap.pools[0].observed_tasks, 20u);
    EXPECT_EQ(snap.pools[0].observed_connections_per_task, 2u);
    EXPECT_EQ(snap.pools[0].safe_size, 21u);
    ASSERT_EQ(snap.pools[0].nested.size(), 1u);
    EXPECT_EQ(snap.pools[0].nested[0].count, 10u);
    EXPECT_EQ(snapshot_from_json(to_json(snap)), snap);
}

// ------------------------------------------------------------------------------ across pools

TEST(DetectorOnPool, CrossPoolAbbaIsAKnotAndAnInversion) {
    fixture f;
    auto a = f.pool("A", 1, deadlock_policy::fail_fast);
    auto b = f.pool("B", 1, deadlock_policy::fail_fast);
    std::barrier both(2);
    std::atomic<int> completed{0}, failed{0};
    {
        // B before A first, so the inversion's first edge is B -> A: its advice must still
        // agree with the knot's.
        auto y = b->acquire();
        auto x = a->acquire();
    }
    auto run = [&](test_pool& first, test_pool& second) {
        owner_scope scope;
        try {
            auto x = first.acquire();
            both.arrive_and_wait();
            auto y = second.acquire();
            ++completed;
        } catch (const deadlock_error&) {
            ++failed;
        }
    };
    std::thread t0(run, std::ref(*a), std::ref(*b)), t1(run, std::ref(*b), std::ref(*a));
    t0.join();
    t1.join();
    EXPECT_EQ(completed.load(), 1);
    EXPECT_EQ(failed.load(), 1);
    const auto knots = f.reports.of(report_kind::deadlock);
    ASSERT_EQ(knots.size(), 1u);
    EXPECT_EQ(knots[0].pools.size(), 2u);
    const auto inversions = f.reports.of(report_kind::order_inversion);
    ASSERT_EQ(inversions.size(), 1u);
    const auto advice = [](const std::string& hint) {
        const auto at = hint.find("always ");
        return at == std::string::npos ? std::string() : hint.substr(at, hint.find(')', at) - at);
    };
    EXPECT_EQ(advice(knots[0].hint), "always \"A\" before \"B\"") << knots[0].hint;
    EXPECT_EQ(advice(inversions[0].hint), advice(knots[0].hint)) << inversions[0].hint;
}

TEST(DetectorOnPool, OrModelGuardThenKnot) {
    // P has 2, Q has 1. T1 holds P and waits Q; T3 holds Q and waits P; T2 holds P and runs:
    // nothing to report. Then T2 waits for Q too: now nobody can release anything.
    fixture f;
    auto p = f.pool("P", 2, deadlock_policy::report);
    auto q = f.pool("Q", 1, deadlock_policy::report);
    std::latch holding(3);
    gate go[3];
    owner_id ids[3] = {};
    std::error_code results[3];
    auto task = [&](int i, test_pool& first, test_pool& second) {
        owner_scope scope;
        ids[i] = scope.id();
        auto held = first.acquire();
        holding.count_down();
        go[i].wait();
        std::error_code ec;
        auto more = second.acquire(ec);
        results[i] = ec;
    };
    std::thread t1(task, 0, std::ref(*p), std::ref(*q)), t2(task, 1, std::ref(*p), std::ref(*q)),
        t3(task, 2, std::ref(*q), std::ref(*p));
    holding.wait();
    go[0].open();
    f.blocks->wait_for_owner(ids[0], "Q");
    go[2].open();
    f.blocks->wait_for_owner(ids[2], "P");
    f.detector->check_now();
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty()) << "T2 runs and can release P";
    go[1].open();
    const report r = f.reports.wait_for(report_kind::deadlock);
    p->close();
    q->close();
    for (auto* t : {&t1, &t2, &t3}) t->join();
    EXPECT_EQ(owners_of(r.members).size(), 3u);
    // Closing P fails T3's wait; T3 then returns Q, so T1 or T2 may be served before Q closes.
    int closed = 0;
    for (const auto& ec : results) {
        EXPECT_TRUE(!ec || ec == make_error_code(errc::pool_closed)) << ec.message();
        closed += ec == make_error_code(errc::pool_closed);
    }
    EXPECT_GE(closed, 1);
}

TEST(DetectorOnPool, ATaskOnTwoThreadsJoinsAKnotOnlyWhenBothWait) {
    // Task O acts on two threads. R holds P and runs; A holds Q. O waits on Q (thread 2) and
    // on P (thread 1); A waits on P. When R returns P, the pool hands it to O's thread 1: O holds
    // P and waits on Q, A holds Q and waits on P, but O's thread 1 runs: no knot yet. When that
    // thread asks for Q too, no thread of O can go on: the knot is named.
    fixture f;
    auto p = f.pool("P", 1, deadlock_policy::report);
    auto q = f.pool("Q", 1, deadlock_policy::report);
    const owner_id o = new_owner_id();
    std::latch holding(2);
    gate go_r, go_a, go_o1, go_o2, handed, ask_q;
    owner_id a_id = 0;
    std::error_code a_result, o1_result, o2_result;
    std::thread r([&] {
        auto held = p->acquire();
        holding.count_down();
        go_r.wait();
    });
    std::thread a([&] {
        owner_scope scope("A");
        a_id = scope.id();
        auto held = q->acquire();
        holding.count_down();
        go_a.wait();
        auto more = p->acquire(a_result);
    });
    std::thread o1([&] {
        owner_scope scope(o, "O");
        go_o1.wait();
        auto got = p->acquire();  // served by the hand-off
        handed.open();
        ask_q.wait();
        auto more = q->acquire(o1_result);
    });
    std::thread o2([&] {
        owner_scope scope(o, "O");
        go_o2.wait();
        auto got = q->acquire(o2_result);
    });
    holding.wait();
    go_o2.open();
    f.blocks->wait_for_owner(o, "Q");
    go_o1.open();
    f.blocks->wait_for_owner(o, "P");
    go_a.open();
    f.blocks->wait_for_owner(a_id, "P");
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty()) << "R runs";
    go_r.open();  // R returns P: it goes to O's thread 1, the oldest waiter
    r.join();
    handed.wait();
    f.detector->check_now();  // the watchdog's full check too
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty()) << "O's thread 1 runs";
    ask_q.open();
    const report rep = f.reports.wait_for(report_kind::deadlock);
    EXPECT_EQ(owners_of(rep.members), (std::vector<owner_id>{std::min(o, a_id), std::max(o, a_id)}));
    // Break the knot one pool at a time, so what each waiter gets is certain: closing Q fails
    // both of O's waits; O's thread 1 then returns P, which serves A. (Closing both at once
    // races: A's failed wait would return Q to a pool still open for O.)
    q->close();
    o1.join();
    o2.join();
    a.join();
    p->close();
    EXPECT_EQ(o1_result, errc::pool_closed);
    EXPECT_EQ(o2_result, errc::pool_closed);
    EXPECT_FALSE(a_result) << a_result.message();
}

// ------------------------------------------------------------------------------ no knot

TEST(DetectorOnPool, HeadroomOrAConnectionBeingOpenedIsNoKnot) {
    fixture f;
    fake_driver driver;
    test_pool pool(driver, pool_options{.name = "app", .max_size = 2, .min_idle = 1, .acquire_timeout = 30s,
                                        .on_deadlock = deadlock_policy::fail_fast},
                   std::chrono::steady_clock{}, worker_mode::manual);
    pool.run_worker_once();  // one of two open
    pool.add_observer(f.detector);
    pool.add_observer(f.blocks);
    const owner_id me = new_owner_id();
    std::error_code result;
    std::thread t([&] {
        owner_scope scope(me);
        auto outer = pool.acquire();
        auto inner = pool.acquire(result);  // waits: room to open a second one
    });
    f.blocks->wait_for_owner(me, "app");
    f.detector->check_now();
    driver.with([](auto& s) { s.hold_connects = true; });
    std::thread worker([&] { pool.run_worker_once(); });  // opening, held in connect()
    driver.wait_for([](auto& s) { return s.connects_waiting == 1; });
    f.detector->check_now();
    driver.with([](auto& s) { s.hold_connects = false; });
    worker.join();
    t.join();
    EXPECT_FALSE(result);
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty());
    EXPECT_EQ(f.reports.of(report_kind::nested_acquisition).size(), 1u);
}

TEST(DetectorOnPool, CreationFailingIsAnOutageNotADeadlock) {
    fixture f;
    fake_driver driver;
    testing::manual_clock clock;
    basic_pool<fake_driver, testing::manual_clock> pool(
        driver, pool_options{.name = "app", .max_size = 2, .min_idle = 0, .acquire_timeout = 30s,
                             .on_deadlock = deadlock_policy::fail_fast},
        clock, worker_mode::manual);
    pool.add_observer(f.detector);
    pool.add_observer(f.blocks);
    driver.with([](auto& s) { s.refuse_connects = true; });
    const owner_id me = new_owner_id();
    std::error_code result;
    std::thread t([&] {
        owner_scope scope(me);
        auto lease = pool.acquire(result);
    });
    f.blocks->wait_for_owner(me, "app");
    pool.run_worker_once();  // the connect fails while a caller waits
    const report r = f.reports.wait_for(report_kind::outage);
    EXPECT_EQ(r.pools[0].last_connect_error, "connection refused (fake)");
    clock.advance(31s);
    t.join();
    EXPECT_EQ(result, make_error_code(errc::timeout));
    ASSERT_TRUE(pool.last_failure());
    EXPECT_EQ(pool.last_failure()->what, verdict::database_unreachable);
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty());
}

// ------------------------------------------------------------------------------ owners and threads

TEST(DetectorOnPool, LeaseReleasedOnAnotherThreadKeepsTheBookkeepingRight) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::report);
    owner_scope me("request");
    auto lease = pool->acquire();
    std::thread([l = std::move(lease)]() mutable { l.release(); }).join();
    auto again = pool->acquire();  // would look nested if the release had been lost
    EXPECT_EQ(pool->stats().nested_acquisitions, 0u);
    EXPECT_TRUE(f.reports.of(report_kind::nested_acquisition).empty());
}

TEST(DetectorOnPool, NestingCountsOfThreadsAreExactOnceTheyExit) {
    // Each thread repeats one nesting pair (the counted-in-batches shortcut): once the threads
    // are joined, the pair's count and the pool's counter agree with what they did.
    fixture f;
    auto pool = f.pool("app", 8, deadlock_policy::report);
    constexpr int threads = 4, rounds = 37;
    std::barrier start(threads);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            start.arrive_and_wait();
            auto outer = pool->acquire();
            for (int r = 0; r < rounds; ++r) auto inner = pool->acquire();
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(pool->stats().nested_acquisitions, std::uint64_t{threads * rounds});
    const auto snap = f.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    ASSERT_EQ(snap.pools[0].nested.size(), 1u);
    EXPECT_EQ(snap.pools[0].nested[0].count, std::uint64_t{threads * rounds});
    EXPECT_EQ(f.reports.of(report_kind::nested_acquisition).size(), 1u);
}

TEST(DetectorOnPool, ATaskThatHopsThreadsKeepsItsLeases) {
    fixture f;
    auto pool = f.pool("app", 3, deadlock_policy::report);
    owner_scope me("request");
    auto lease = pool->acquire();
    std::thread([&, id = me.id()] {
        owner_scope resumed(id, "request");  // the same task, resumed on another thread
        auto more = pool->acquire();
    }).join();
    EXPECT_EQ(pool->stats().nested_acquisitions, 1u);
    EXPECT_EQ(f.reports.of(report_kind::nested_acquisition).size(), 1u);
}

TEST(DetectorOnPool, WatchdogThreadFindsAKnotThatFormedBeforeItWatched) {
    fixture f(5ms);
    auto pool = f.pool("app", 2, deadlock_policy::report, /*watch=*/false);
    std::barrier both(2);
    owner_id ids[2] = {};
    auto login = [&](int i) {
        owner_scope scope;
        ids[i] = scope.id();
        auto outer = pool->acquire();
        both.arrive_and_wait();
        std::error_code ec;
        auto inner = pool->acquire(ec);
    };
    std::thread t0(login, 0), t1(login, 1);
    f.blocks->wait_for(2, [](const block_events::block&) { return true; });
    pool->add_observer(f.detector);  // no hook will tell it about the two waits
    const report r = f.reports.wait_for(report_kind::deadlock);
    pool->close();
    t0.join();
    t1.join();
    EXPECT_EQ(owners_of(r.members), (std::vector<owner_id>{std::min(ids[0], ids[1]), std::max(ids[0], ids[1])}));
}

}  // namespace
}  // namespace lifeguard::diagnostics
