// The worker's wake-up decision as a pure function (detail/worker_wake.hpp): no pool, no
// threads, times in nanoseconds.
#include <gtest/gtest.h>

#include "lifeguard/detail/worker_wake.hpp"

namespace lifeguard::detail {
namespace {

constexpr std::int64_t s = 1'000'000'000;
constexpr wake_intervals leaks_every_2s{.housekeeping = 30 * s, .keepalive = 0, .leak = 2 * s};

// The defect: the worker slept to the next housekeeping pass (30 s), so a lease taken just
// after it went to sleep was reported up to 30 s late. Nothing that begins after `now` is due
// before now + threshold, so that is as long as it may sleep.
TEST(WorkerWake, SleepsNoLongerThanTheLeakThresholdWhileLeakDetectionIsOn) {
    const worker_wake wake(100 * s, 100 * s, leaks_every_2s);
    EXPECT_EQ(wake.at(), 102 * s);
}

TEST(WorkerWake, SleepsToTheNextHousekeepingPassWithNothingElseOn) {
    const worker_wake wake(100 * s, 95 * s, {.housekeeping = 30 * s});
    EXPECT_EQ(wake.at(), 125 * s);
}

TEST(WorkerWake, AnUnreportedLeaseIsDueAtItsExactThreshold) {
    worker_wake wake(100 * s, 100 * s, leaks_every_2s);
    wake.unreported_lease(99 * s + s / 2);
    EXPECT_EQ(wake.at(), 101 * s + s / 2);
}

TEST(WorkerWake, KeepaliveIsBothAHorizonAndAPerConnectionDeadline) {
    const wake_intervals every{.housekeeping = 30 * s, .keepalive = 10 * s};
    EXPECT_EQ(worker_wake(100 * s, 100 * s, every).at(), 110 * s) << "a connection returned after now";
    worker_wake wake(100 * s, 100 * s, every);
    wake.idle(/*expires_at=*/1000 * s, /*last_active=*/93 * s);
    EXPECT_EQ(wake.at(), 103 * s);
}

TEST(WorkerWake, EarliestOfLifetimeAndConnectRetryWins) {
    worker_wake wake(100 * s, 100 * s, {.housekeeping = 30 * s});
    wake.idle(/*expires_at=*/120 * s, /*last_active=*/100 * s);
    EXPECT_EQ(wake.at(), 120 * s);
    wake.connect_retry(105 * s);
    EXPECT_EQ(wake.at(), 105 * s);
}

// Forever saturates to ns_max: off, never an overflow past the end of time.
TEST(WorkerWake, ForeverIntervalsNeverOverflow) {
    const wake_intervals forever_every{.housekeeping = 3600 * s, .keepalive = ns_max, .leak = ns_max};
    worker_wake wake(ns_max - s, 0, forever_every);
    wake.unreported_lease(ns_max - s);
    wake.idle(ns_max, ns_max - s);
    EXPECT_EQ(wake.at(), 3600 * s);
}

}  // namespace
}  // namespace lifeguard::detail
