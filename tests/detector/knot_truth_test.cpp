// Knots the detector must see and knots it must not invent, on real pools with threads:
//   - a caller that returned its connection is no holder while the next borrower validates it
//     (the race behind the false "1 task holds all 2 connections" reports under contention);
//   - one task acting on two threads is blocked only when both are;
//   - an owner_scope nested in another (an id generator inside a request) blocks the enclosing
//     request too: the AUTO-ID knot on one thread, counted as one task at depth 2.
// Synchronisation is by the fake driver's held validations, gates and the pools' on_block hook.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <system_error>
#include <thread>

#include "detector/detector_fixture.hpp"
#include "lifeguard/diagnostics/deadlock_error.hpp"

namespace lifeguard::diagnostics {
namespace {

using testing::detector_fixture;
using testing::fake_driver;
using testing::gate;

pool_options one_connection(deadlock_policy policy) {
    return {.name = "app", .max_size = 1, .acquire_timeout = 30s, .alive_bypass_window = 0ms, .on_deadlock = policy};
}

TEST(KnotTruth, ACallerThatReturnedIsNoHolderWhileTheNextBorrowerValidates) {
    detector_fixture f;
    fake_driver driver;
    auto pool = f.pool(one_connection(deadlock_policy::fail_fast), true, driver);
    gate returned, ask_again;
    owner_id task = 0;
    std::optional<std::error_code> got;
    std::thread caller([&] {
        owner_scope s("task");
        task = s.id();
        pool->acquire().release();  // the slot must remember nothing of this lease once it is back
        returned.open();
        ask_again.wait();
        std::error_code ec;
        auto lease = pool->acquire(ec);  // waits for 'next' to finish: no knot
        got = ec;
    });
    returned.wait();
    driver.with([](auto& s) { s.hold_validations = true; });
    std::thread next([&] {
        owner_scope s("next");
        auto lease = pool->acquire();  // claims the connection, then validates it (held)
    });
    driver.wait_for([](auto& s) { return s.validations_waiting == 1; });
    EXPECT_TRUE(pool->view().holders().empty()) << "the connection is being validated for 'next': nobody holds it yet";
    ask_again.open();
    f.blocks->wait_for_owner(task, "app");
    driver.with([](auto& s) { s.hold_validations = false; });
    next.join();
    caller.join();
    EXPECT_EQ(got, std::error_code{}) << "fail_fast threw into a task that holds nothing";
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty());
    EXPECT_EQ(pool->stats().deadlocks, 0u);
}

TEST(KnotTruth, ATaskOnTwoThreadsIsNotBlockedWhileOneOfThemRuns) {
    detector_fixture f;
    auto pool = f.pool(one_connection(deadlock_policy::fail_fast));
    const owner_id task = new_owner_id();
    gate holding, release;
    std::thread x([&] {
        owner_scope s(task, "task");
        auto lease = pool->acquire();
        holding.open();
        release.wait();  // runs (holding the connection) until the test lets it return
    });
    holding.wait();
    std::optional<std::error_code> got;
    std::thread y([&] {
        owner_scope s(task, "task");
        std::error_code ec;
        auto lease = pool->acquire(ec);
        got = ec;
    });
    f.blocks->wait_for_owner(task, "app");
    EXPECT_TRUE(f.reports.of(report_kind::deadlock).empty()) << "thread x of the task still runs";
    release.open();
    x.join();
    y.join();
    EXPECT_EQ(got, std::error_code{});
    EXPECT_EQ(pool->stats().deadlocks, 0u);
}

TEST(KnotTruth, ATaskWhoseThreadsAllWaitOnWhatItHoldsIsAKnot) {
    // The same task, but now its holding thread asks for a second connection too.
    detector_fixture f;
    auto pool = f.pool(one_connection(deadlock_policy::report));
    const owner_id task = new_owner_id();
    gate holding;
    std::atomic<int> failed{0};
    std::thread x([&] {
        owner_scope s(task, "task");
        auto lease = pool->acquire();
        holding.open();
        f.blocks->wait_for_owner(task, "app");  // y waits: now x asks too
        std::error_code ec;
        auto more = pool->acquire(ec);
        failed += ec == errc::pool_closed;
    });
    holding.wait();
    std::thread y([&] {
        owner_scope s(task, "task");
        std::error_code ec;
        auto lease = pool->acquire(ec);
        failed += ec == errc::pool_closed;
    });
    const report r = f.reports.wait_for(report_kind::deadlock);
    pool->close();
    x.join();
    y.join();
    ASSERT_EQ(r.members.size(), 1u);
    EXPECT_EQ(r.members[0].owner, task);
    EXPECT_EQ(failed.load(), 2);
}

// The shape: pool of 1, a request holds its transaction's connection and an id
// generator in its own owner_scope asks for a second one on the same thread.
struct autoid_on_one_thread {
    owner_id request = 0, idgen = 0;
    std::error_code inner;
    bool threw_deadlock = false;

    void run(basic_pool<fake_driver>& pool) {
        owner_scope r("request");
        request = r.id();
        auto tx = pool.acquire();
        owner_scope g("id generator");
        idgen = g.id();
        try {
            auto id = pool.acquire(inner);
        } catch (const deadlock_error&) {
            threw_deadlock = true;
        }
    }
};

TEST(KnotTruth, AnIdGeneratorInANestedScopeBlocksItsRequest) {
    detector_fixture f;
    auto pool = f.pool(one_connection(deadlock_policy::report));
    autoid_on_one_thread call;
    std::thread t([&] { call.run(*pool); });
    const report r = f.reports.wait_for(report_kind::deadlock);
    pool->close();
    t.join();
    EXPECT_EQ(call.inner, errc::pool_closed) << "the report came while the id generator still waited";
    ASSERT_EQ(r.members.size(), 1u);
    EXPECT_EQ(r.members[0].owner, call.request);
    ASSERT_EQ(r.members[0].holds.size(), 1u);
    EXPECT_EQ(r.members[0].waits_for, "app");

    const auto nested = f.reports.of(report_kind::nested_acquisition);
    ASSERT_EQ(nested.size(), 1u) << "holding the transaction while the id generator acquires is nesting";
    ASSERT_EQ(nested[0].nested.size(), 1u);
    EXPECT_EQ(nested[0].nested[0].depth, 2u);

    const auto snap = f.detector->snapshot();
    ASSERT_EQ(snap.pools.size(), 1u);
    EXPECT_EQ(snap.pools[0].observed_tasks, 1u) << "one request, counted once";
    EXPECT_EQ(snap.pools[0].observed_connections_per_task, 2u);
    EXPECT_EQ(snap.pools[0].safe_size, 2u);
}

TEST(KnotTruth, FailFastUntiesTheNestedScopeKnotByFailingTheInnerCall) {
    detector_fixture f;
    auto pool = f.pool(one_connection(deadlock_policy::fail_fast));
    autoid_on_one_thread call;
    std::thread t([&] { call.run(*pool); });
    t.join();  // no timeout and no close: the detector must untie it
    EXPECT_TRUE(call.threw_deadlock || call.inner == errc::deadlock);
    EXPECT_EQ(pool->stats().active, 0u) << "the transaction's connection came back as the request unwound";
    EXPECT_EQ(f.detector->stats().failed_tasks, 1u);
}

TEST(KnotTruth, ScopesOfOneOwnerNestedOnOneThreadAreOneThread) {
    const owner_id id = new_owner_id();
    owner_scope outer(id);
    {
        owner_scope inner(id);
        EXPECT_EQ(owner_threads(id), 1u);
        std::thread([&] {
            owner_scope elsewhere(id);
            EXPECT_EQ(owner_threads(id), 2u);
        }).join();
    }
    EXPECT_EQ(owner_threads(id), 1u);
}

}  // namespace
}  // namespace lifeguard::diagnostics
