// Who is served next (detail/hand_off.hpp) as pure decisions: waiter nodes on the stack, no
// pool, no threads, no clock; times in nanoseconds.
#include <gtest/gtest.h>

#include <vector>

#include "lifeguard/detail/hand_off.hpp"

namespace lifeguard::detail {
namespace {

struct async_node final : waiter {
    async_node() { async = true; }
};

waiter& since(waiter& w, std::int64_t at, std::int64_t deadline) {
    w.since = at;
    w.deadline = deadline;
    return w;
}

TEST(HandOff, TheFirstToJoinIsTheHeadAndTheQueueIsFifo) {
    hand_off h;
    sync_waiter a, b, c;
    EXPECT_TRUE(h.join(a));
    EXPECT_FALSE(h.join(b));
    EXPECT_FALSE(h.join(c));
    EXPECT_EQ(h.head(), &a);
    h.leave(a);
    EXPECT_EQ(h.head(), &b);
    h.leave(b);
    EXPECT_EQ(h.head(), &c);
}

TEST(HandOff, TheHeadMayAlwaysClaimOthersOnlyWhenAReturnWokeThemAndNobodyIsOwed) {
    hand_off h;
    sync_waiter head, second;
    h.join(head);
    h.join(second);
    EXPECT_TRUE(h.may_claim(head, false));
    EXPECT_FALSE(h.may_claim(second, false));
    EXPECT_TRUE(h.may_claim(second, true));
    h.owe_head();
    EXPECT_TRUE(h.may_claim(head, false));
    EXPECT_FALSE(h.may_claim(second, true)) << "the owed head's connection is not for others";
}

TEST(HandOff, TheHeadSleepsUntilItWouldStarveThenIsOwed) {
    hand_off h;
    sync_waiter head, second;
    h.join(since(head, 1'000, 1'000 + 30'000'000));
    h.join(since(second, 2'000, 2'000 + 30'000'000));
    const wait_plan early = h.plan_wait(head, 5'000);
    EXPECT_FALSE(early.owe_now);
    EXPECT_EQ(early.wake_at, 1'000 + fair_after_ns);
    EXPECT_TRUE(h.plan_wait(head, 1'000 + fair_after_ns).owe_now);
    EXPECT_EQ(h.plan_wait(second, 5'000'000).wake_at, second.deadline) << "only the head starves";
    EXPECT_FALSE(h.plan_wait(second, 5'000'000).owe_now);
    h.owe_head();
    EXPECT_FALSE(h.plan_wait(head, 5'000'000).owe_now) << "owed once, not again";
    EXPECT_EQ(h.plan_wait(head, 5'000'000).wake_at, head.deadline);
}

TEST(HandOff, ADeadlineBeforeStarvationIsWhenTheHeadWakes) {
    hand_off h;
    sync_waiter head;
    h.join(since(head, 1'000, 1'000 + fair_after_ns / 2));
    EXPECT_EQ(h.plan_wait(head, 2'000).wake_at, head.deadline);
}

TEST(HandOff, PassedOverOwesASyncHeadOnce) {
    hand_off h;
    EXPECT_FALSE(h.passed_over()) << "nobody waits";
    async_node a;
    h.join(a);
    EXPECT_FALSE(h.passed_over()) << "async heads are served on every return";
    h.leave(a);
    sync_waiter s;
    h.join(s);
    EXPECT_TRUE(h.passed_over());
    h.owe_head();
    EXPECT_FALSE(h.passed_over());
}

TEST(HandOff, AReturnIsHandedToAnOwedHeadEvenWithoutSleepers) {
    hand_off h;
    sync_waiter head;
    h.join(head);
    h.owe_head();
    const serve_decision d = h.after_return(/*sleepers_armed=*/false);
    EXPECT_EQ(d.step, serve_step::hand_to_head);
    EXPECT_EQ(d.who, &head);
}

TEST(HandOff, WithoutSleepersAReturnDoesNothing) {
    hand_off h;
    EXPECT_EQ(h.after_return(true).step, serve_step::nothing) << "empty queue";
    sync_waiter head;
    h.join(head);
    EXPECT_EQ(h.after_return(false).step, serve_step::nothing);
    EXPECT_FALSE(head.woken_by_return);
}

TEST(HandOff, AnAsyncHeadIsServedDirectly) {
    hand_off h;
    async_node a;
    sync_waiter s;
    h.join(a);
    h.join(s);
    const serve_decision d = h.after_return(true);
    EXPECT_EQ(d.step, serve_step::let_async_head_act);
    EXPECT_EQ(d.who, &a);
}

TEST(HandOff, ReturnsWakeSleepingThreadsOneEachInArrivalOrder) {
    hand_off h;
    sync_waiter a, b, c;
    h.join(a);
    h.join(b);
    h.join(c);
    serve_decision d = h.after_return(true);
    EXPECT_EQ(d.step, serve_step::wake_thread);
    EXPECT_EQ(d.who, &a);
    EXPECT_TRUE(a.woken_by_return);
    d = h.after_return(true);
    EXPECT_EQ(d.who, &b) << "the next return wakes the next thread";
    EXPECT_EQ(h.after_return(true).who, &c);
    EXPECT_EQ(h.after_return(true).step, serve_step::nothing) << "every thread was woken already";
    EXPECT_TRUE(h.take_wake(a));  // a ran and went back to sleep
    EXPECT_EQ(h.after_return(true).who, &a);
}

// unserved() lets a return skip the pool's mutex when it is 0 (pool_core's
// return_needs_nobody()), so it must count exactly the waiters a return would act for.
TEST(HandOff, UnservedCountsAsyncWaitersAndThreadsNoReturnHasWoken) {
    hand_off h;
    sync_waiter a, c;
    async_node b;
    h.join(a);
    h.join(b);
    h.join(c);
    EXPECT_EQ(h.unserved(), 3u);
    h.after_return(true);  // wakes a
    EXPECT_EQ(h.unserved(), 2u);
    h.after_return(true);  // hands b the connection: b stays unserved until the engine dequeues it
    EXPECT_EQ(h.unserved(), 2u);
    h.leave(b);
    EXPECT_EQ(h.unserved(), 1u);
    h.after_return(true);  // wakes c
    EXPECT_EQ(h.unserved(), 0u) << "both threads were woken: a return has nothing to do";
    EXPECT_EQ(h.after_return(true).step, serve_step::nothing);
    EXPECT_FALSE(h.take_wake(b)) << "not woken: nothing taken";
    EXPECT_TRUE(h.take_wake(c));  // c ran, found nothing, sleeps again
    EXPECT_EQ(h.unserved(), 1u);
    EXPECT_FALSE(h.take_wake(c)) << "a wake is taken once";
    h.leave(a);  // woken: leaving does not change the count
    EXPECT_EQ(h.unserved(), 1u);
    h.leave(c);
    EXPECT_EQ(h.unserved(), 0u);
    h.leave(c);  // not queued any more: nothing changes
    EXPECT_EQ(h.unserved(), 0u);
    h.rejoin_first(c);
    EXPECT_EQ(h.unserved(), 1u);
}

/// A queue of thread a, async waiter b and thread c, joined in that order.
struct thread_async_thread {
    hand_off h;
    sync_waiter a, c;
    async_node b;
    thread_async_thread() {
        h.join(a);
        h.join(b);
        h.join(c);
    }
};

TEST(HandOff, AnAsyncWaiterBehindAWokenThreadIsHandedTheNextReturn) {
    thread_async_thread q;
    auto& [h, a, c, b] = q;
    EXPECT_EQ(h.after_return(true).who, &a);
    const serve_decision d = h.after_return(true);
    EXPECT_EQ(d.step, serve_step::hand_to_async) << "the async waiter is next, not the thread behind it";
    EXPECT_EQ(d.who, &b);
    EXPECT_FALSE(c.woken_by_return);
    h.leave(b);  // the engine handed it the connection
    const serve_decision next = h.after_return(true);
    EXPECT_EQ(next.step, serve_step::wake_thread);
    EXPECT_EQ(next.who, &c);
}

TEST(HandOff, AnAsyncWaiterNotHandedAConnectionIsStillNextForTheFollowingReturn) {
    thread_async_thread q;
    auto& [h, a, c, b] = q;
    h.after_return(true);  // wakes a
    EXPECT_EQ(h.after_return(true).who, &b);
    // A running caller took that connection first: b is still queued, and still next.
    const serve_decision again = h.after_return(true);
    EXPECT_EQ(again.step, serve_step::hand_to_async);
    EXPECT_EQ(again.who, &b);
    EXPECT_FALSE(c.woken_by_return);
}

TEST(HandOff, AnOwedHeadStillGetsTheReturnBeforeAnAsyncWaiterBehindIt) {
    hand_off h;
    sync_waiter a;
    async_node b;
    h.join(a);
    h.join(b);
    h.after_return(true);  // wakes a
    h.owe_head();
    const serve_decision d = h.after_return(true);
    EXPECT_EQ(d.step, serve_step::hand_to_head);
    EXPECT_EQ(d.who, &a);
}

TEST(HandOff, LeavingSaysWhetherTheOwedHeadLeftAndWhetherTheQueueEmptied) {
    hand_off h;
    sync_waiter a, b;
    h.join(a);
    h.join(b);
    h.owe_head();
    departure d = h.leave(b);
    EXPECT_FALSE(d.was_head);
    EXPECT_FALSE(d.was_owed);
    EXPECT_FALSE(d.now_empty);
    EXPECT_TRUE(h.head_owed()) << "a waiter behind the head left: the head is still owed";
    d = h.leave(a);
    EXPECT_TRUE(d.was_head);
    EXPECT_TRUE(d.was_owed);
    EXPECT_TRUE(d.now_empty);
    EXPECT_FALSE(h.head_owed());
    EXPECT_FALSE(h.leave(a).was_head) << "leaving twice is harmless";
}

TEST(HandOff, AWaiterPutBackKeepsItsPlaceAtTheFront) {
    hand_off h;
    sync_waiter a, b;
    h.join(a);
    h.join(b);
    h.leave(a);
    h.rejoin_first(a);
    EXPECT_EQ(h.head(), &a);
    EXPECT_EQ(h.size(), 2u);
}

TEST(HandOff, UnderAdmissionWaitersThatHoldMoreGoFirstAndEqualsStayFifo) {
    hand_off h;
    sync_waiter first_a, first_b, nested_a, nested_b, deeper;
    nested_a.holds = nested_b.holds = 1;
    deeper.holds = 2;
    h.join(first_a);
    h.join(first_b);
    EXPECT_TRUE(h.join(nested_a)) << "a task that holds a connection goes before first requests";
    EXPECT_FALSE(h.join(nested_b));
    EXPECT_TRUE(h.join(deeper));
    std::vector<waiter*> order;
    h.for_each([&](waiter& w) { order.push_back(&w); });
    EXPECT_EQ(order, (std::vector<waiter*>{&deeper, &nested_a, &nested_b, &first_a, &first_b}));
}

TEST(HandOff, ANestedRequestThatGoesBeforeTheOwedHeadEndsTheDebt) {
    hand_off h;
    sync_waiter first, nested;
    nested.holds = 1;
    h.join(first);
    h.owe_head();
    EXPECT_TRUE(h.join(nested));
    EXPECT_FALSE(h.head_owed()) << "the owed connection would go to a request admission refuses";
    EXPECT_TRUE(h.may_claim(nested, false));
}

TEST(HandOff, RankingAgainPutsWaitersThatHoldMoreFirstAndEndsTheDebtOfADisplacedHead) {
    hand_off h;
    sync_waiter first_a, nested, first_b;
    h.join(first_a);
    h.join(nested);  // joined before the pool had a claim: holds was not counted
    h.join(first_b);
    h.owe_head();
    nested.holds = 1;
    EXPECT_TRUE(h.rank_by_holds());
    EXPECT_EQ(h.head(), &nested);
    EXPECT_FALSE(h.head_owed());
    std::vector<waiter*> order;
    h.for_each([&](waiter& w) { order.push_back(&w); });
    EXPECT_EQ(order, (std::vector<waiter*>{&nested, &first_a, &first_b}));
    EXPECT_FALSE(h.rank_by_holds()) << "ranked already: the head stays";
    EXPECT_EQ(h.size(), 3u);
}

}  // namespace
}  // namespace lifeguard::detail
