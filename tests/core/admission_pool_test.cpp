// Nesting-aware admission and emergency connections in the engine, on the fake driver and the
// manual clock: a declared claim (max_nesting) keeps the connections that tasks holding one
// need to finish, nested requests go first, and heal_waiter() lends a knot member a connection
// beyond max_size. Tasks are owner_scopes; blocking callers run on their own threads and the
// pool's block hook says when they wait. Nothing sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <system_error>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;
using heal_outcome = pool_view::heal_outcome;
using lease_type = manual_pool::lease_type;

/// The lease a caller on another thread got (empty when it failed), or, when it has no outcome
/// within a generous real-time bound (against a hang, not a timing assertion), a test failure.
lease_type outcome_of(std::future<lease_type>& caller, manual_pool& pool) {
    if (caller.wait_for(60s) != std::future_status::ready) {
        pool.close();
        ADD_FAILURE() << "the caller was still waiting";
    }
    return caller.get();
}

/// A lease for task `owner`, taken on this thread (the owner_scope ends, the lease stays).
lease_type acquire_as(manual_pool& pool, owner_id owner) {
    owner_scope task(owner);
    return pool.acquire();
}

std::optional<lease_type> try_acquire_as(manual_pool& pool, owner_id owner) {
    owner_scope task(owner);
    return pool.try_acquire();
}

/// A blocking acquire for task `owner` on another thread; failures give an empty lease.
std::future<lease_type> acquire_on_thread(manual_pool& pool, owner_id owner, std::error_code& ec) {
    return std::async(std::launch::async, [&pool, owner, &ec] {
        owner_scope task(owner);
        return pool.acquire(ec);
    });
}

TEST(AdmissionPool, ADeclaredClaimKeepsTheLastConnectionForATaskThatHoldsOne) {
    manual_fixture f;
    auto pool = f.make_filled({.name = "orders", .max_size = 3, .max_nesting = 2});
    const owner_id t1 = new_owner_id(), t2 = new_owner_id(), t3 = new_owner_id();
    auto tx1 = acquire_as(*pool, t1);
    auto tx2 = acquire_as(*pool, t2);
    EXPECT_EQ(pool->stats().claim, 2u);
    EXPECT_FALSE(try_acquire_as(*pool, t3)) << "a third transaction would leave t1 and t2 no way to finish";
    auto id1 = try_acquire_as(*pool, t1);
    ASSERT_TRUE(id1) << "t1's nested request completes its claim: it may have the last connection";
    id1->release();
    tx1.release();
    auto tx3 = try_acquire_as(*pool, t3);
    EXPECT_TRUE(tx3) << "with two idle, a first request leaves one for t2's nested request";
    EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST(AdmissionPool, WithoutAClaimEveryConnectionGoesToWhoeverAsks) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 3});
    auto tx1 = acquire_as(*pool, new_owner_id());
    auto tx2 = acquire_as(*pool, new_owner_id());
    EXPECT_TRUE(try_acquire_as(*pool, new_owner_id())) << "max_nesting 0 and no heal: no admission";
    EXPECT_EQ(pool->stats().claim, 0u);
}

TEST(AdmissionPool, ANestedRequestIsServedBeforeAnEarlierFirstRequest) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .max_nesting = 2});
    const owner_id a = new_owner_id(), b = new_owner_id();
    auto tx_a = acquire_as(*pool, a);
    std::error_code b_failed;
    auto b_first = acquire_on_thread(*pool, b, b_failed);
    ASSERT_TRUE(f.events->wait_blocked_for(1, 60s)) << "b's first request took the connection a needs to finish";
    EXPECT_EQ(pool->stats().idle, 1u) << "b waits beside an idle connection: admission, not exhaustion";
    EXPECT_EQ(pool->stats().pending, 1u);
    auto id_a = acquire_as(*pool, a);  // joins behind b, but holds one: served first
    ASSERT_TRUE(id_a);
    EXPECT_EQ(pool->stats().pending, 1u) << "b still waits";
    id_a.release();
    tx_a.release();
    auto tx_b = outcome_of(b_first, *pool);
    EXPECT_TRUE(tx_b) << b_failed.message();
    EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST(AdmissionPool, AnIdGeneratorScopeNestedInATransactionsScopeCountsAsOneTask) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .max_nesting = 2});
    owner_scope request("login 1");
    auto tx = pool->acquire();
    owner_scope idgen("id generator");  // a new owner, but its thread still holds tx
    auto id = pool->try_acquire();
    EXPECT_TRUE(id) << "the enclosing request holds one: this request completes the claim";
}

/// A task on a manual pool holding its one connection and waiting, on another thread, for a
/// second (a knot of one): what the detector hands heal_waiter().
struct stuck_task {
    manual_fixture f;
    std::unique_ptr<manual_pool> pool;
    const owner_id task = new_owner_id();
    lease_type tx;
    std::error_code failed;
    std::future<lease_type> nested;

    explicit stuck_task(pool_options o)
        : pool(f.make_filled(std::move(o))), tx(acquire_as(*pool, task)), nested(acquire_on_thread(*pool, task, failed)) {}
    bool waits() { return f.events->wait_blocked_for(1, 60s); }
    heal_outcome heal() { return pool->view().heal_waiter(task, make_error_code(errc::deadlock), nullptr); }
    lease_type outcome() { return outcome_of(nested, *pool); }
    int open() { return f.driver.with([](auto& s) { return s.open; }); }
};

TEST(AdmissionPool, HealLendsAnEmergencyConnectionBeyondMaxSizeAndClosesItWhenItComesBack) {
    stuck_task t({.name = "ids", .max_size = 1, .on_deadlock = deadlock_policy::heal, .max_overflow = 1});
    ASSERT_TRUE(t.waits());
    EXPECT_EQ(t.heal(), heal_outcome::lending);
    t.pool->run_worker_once();  // the worker opens it
    auto id = t.outcome();
    ASSERT_TRUE(id) << t.failed.message();
    EXPECT_EQ(id.owner(), t.task);
    auto st = t.pool->stats();
    EXPECT_EQ(st.total, 1u) << "the pool's own connections";
    EXPECT_EQ(st.max, 1u);
    EXPECT_EQ(st.emergency, 1u) << "beyond max_size";
    EXPECT_EQ(t.open(), 2);
    EXPECT_EQ(st.emergency_lent, 1u);
    EXPECT_EQ(t.pool->view().holders().size(), 2u) << "the detector must see both leases";
    id.release();
    t.pool->run_worker_once();
    st = t.pool->stats();
    EXPECT_EQ(st.emergency, 0u) << "an emergency connection is closed when it comes back, never lent again";
    EXPECT_EQ(st.total, 1u);
    EXPECT_EQ(st.closed_for(close_reason::emergency), 1u);
    EXPECT_EQ(t.open(), 1);
}

TEST(AdmissionPool, HealFailsTheMemberWhenNoEmergencyConnectionMayBeOpened) {
    stuck_task t({.max_size = 1, .on_deadlock = deadlock_policy::heal, .max_overflow = 0});
    ASSERT_TRUE(t.waits());
    EXPECT_EQ(t.heal(), heal_outcome::failed);
    EXPECT_FALSE(t.outcome());
    EXPECT_EQ(t.failed, errc::deadlock);
    EXPECT_EQ(t.pool->stats().emergency_failed, 1u);
    EXPECT_EQ(t.pool->view().heal_waiter(new_owner_id(), {}, nullptr), heal_outcome::not_waiting);
}

TEST(AdmissionPool, HealFailsTheMemberWhenTheEmergencyConnectionCannotBeOpened) {
    stuck_task t({.max_size = 1, .on_deadlock = deadlock_policy::heal});
    ASSERT_TRUE(t.waits());
    t.f.driver.with([](auto& s) { s.fail_next_connects = 1; });  // the server is at max_connections
    EXPECT_EQ(t.heal(), heal_outcome::lending);
    t.pool->run_worker_once();
    EXPECT_FALSE(t.outcome());
    EXPECT_EQ(t.failed, errc::deadlock);
    const auto st = t.pool->stats();
    EXPECT_EQ(st.emergency_failed, 1u);
    EXPECT_EQ(st.emergency, 0u);
    EXPECT_EQ(st.total, 1u);
    EXPECT_EQ(t.open(), 1);
}

TEST(AdmissionPool, APromisedEmergencyConnectionDoesNotOutliveAClosedPool) {
    stuck_task t({.max_size = 1, .on_deadlock = deadlock_policy::heal});
    ASSERT_TRUE(t.waits());
    EXPECT_EQ(t.heal(), heal_outcome::lending);
    t.pool->close();
    EXPECT_FALSE(t.outcome());
    EXPECT_EQ(t.failed, errc::pool_closed);
    t.pool->run_worker_once();
    EXPECT_EQ(t.pool->stats().emergency, 0u);
    EXPECT_EQ(t.f.driver.with([](auto& s) { return s.connects; }), 1) << "nothing was opened for a closed pool";
}

TEST(AdmissionPool, AClaimLearnedWhileTasksWaitPutsTheNestedRequestBeforeEarlierFirstRequests) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .on_deadlock = deadlock_policy::heal});
    const owner_id a = new_owner_id(), b = new_owner_id(), c = new_owner_id();
    auto tx_a = acquire_as(*pool, a);
    auto tx_c = acquire_as(*pool, c);
    std::error_code b_failed, a_failed;
    auto b_first = acquire_on_thread(*pool, b, b_failed);
    ASSERT_TRUE(f.events->wait_blocked_for(1, 60s));
    auto a_nested = acquire_on_thread(*pool, a, a_failed);  // queued behind b: no claim yet
    ASSERT_TRUE(f.events->wait_blocked_for(2, 60s));
    pool->view().raise_claim(2);  // what the detector does when it sees a nest 2 deep
    tx_c.release();
    auto id_a = outcome_of(a_nested, *pool);
    EXPECT_TRUE(id_a) << "a holds one and asks for its last: it goes first. " << a_failed.message();
    EXPECT_EQ(pool->stats().pending, 1u) << "b waits: a 2nd transaction would leave a none";
    id_a.release();
    tx_a.release();
    EXPECT_TRUE(outcome_of(b_first, *pool)) << b_failed.message();
}

TEST(AdmissionPool, OnlyHealLearnsTheClaim) {
    manual_fixture f;
    auto healing = f.make_filled({.max_size = 4, .on_deadlock = deadlock_policy::heal});
    auto reporting = f.make_filled({.max_size = 4, .on_deadlock = deadlock_policy::report});
    healing->view().raise_claim(3);
    healing->view().raise_claim(2);
    reporting->view().raise_claim(3);
    EXPECT_EQ(healing->stats().claim, 3u) << "raised, never lowered";
    EXPECT_EQ(reporting->stats().claim, 0u);
    healing->view().raise_claim(1000);
    EXPECT_EQ(healing->stats().claim, 4u) << "at most max_size";
}

}  // namespace
}  // namespace lifeguard::testing
