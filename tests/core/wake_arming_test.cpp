// Arming the wake-up of sleeping waiters: the first caller that sleeps makes every return take
// the slow path, behind a heavy fence (a membarrier, an interrupt to every CPU). The flag lingers
// for `sleepers_linger_returns` returns after the queue empties, so that callers who wait one
// after another (8 threads on one connection) do not fence each time; then it is cleared, and
// returns go back to the fast path.
#include <gtest/gtest.h>

#include <optional>

#include "core/queued_caller.hpp"
#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

/// One connection, held by the test; a caller queues for it (arming the wake-up), is served
/// when the test lets go and returns it: the queue is empty again.
struct one_waiter_served {
    manual_fixture f;
    std::unique_ptr<manual_pool> pool = f.make_filled({.max_size = 1, .min_idle = 1});

    one_waiter_served() {
        std::optional<manual_pool::lease_type> held = pool->acquire();
        queued_caller caller(*pool, *f.events);
        EXPECT_EQ(pool->core().wake_armings(), 1u) << "a sleeping caller must arm the wake-up";
        held.reset();
        caller.join();
        EXPECT_TRUE(caller.served());
    }

    /// Borrows and returns the idle connection `n` times on this thread (nobody waits).
    void borrow_and_return(std::uint32_t n) {
        for (std::uint32_t i = 0; i < n; ++i) EXPECT_TRUE(pool->acquire());
    }

    /// Queues one more caller behind a held connection and serves it; the armings it took.
    std::uint64_t armings_for_next_waiter() {
        const std::uint64_t before = pool->core().wake_armings();
        std::optional<manual_pool::lease_type> held = pool->acquire();
        queued_caller caller(*pool, *f.events);
        const std::uint64_t armed = pool->core().wake_armings() - before;
        held.reset();
        caller.join();
        EXPECT_TRUE(caller.served());
        return armed;
    }
};

// The served caller's own return and a few more find the queue empty: still fewer than the
// bound (the caller's return may be joined by the test's, hence the margin of 3).
TEST(WakeArming, ACallerThatWaitsSoonAfterTheQueueEmptiedArmsNoNewFence) {
    one_waiter_served s;
    s.borrow_and_return(detail::sleepers_linger_returns - 3);
    EXPECT_EQ(s.armings_for_next_waiter(), 0u) << "the wake-up was disarmed when the queue emptied";
}

TEST(WakeArming, AfterTheBoundOfReturnsWithNobodyWaitingTheNextWaiterArmsAgain) {
    one_waiter_served s;
    s.borrow_and_return(detail::sleepers_linger_returns);
    EXPECT_EQ(s.armings_for_next_waiter(), 1u)
        << "returns still take the slow path long after the queue emptied";
}

}  // namespace
}  // namespace lifeguard::testing
