// What the worker must do and when (detail/housekeeper.hpp), as pure decisions over a slot
// table of plain int "connections": no pool, no driver, no threads; times in nanoseconds.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "lifeguard/detail/housekeeper.hpp"

namespace lifeguard::detail {
namespace {

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t s = 1'000 * ms;

using keeper = housekeeper<int>;
using table = slot_table<int>;

upkeep_settings every(std::int64_t housekeeping) {
    upkeep_settings u;
    u.housekeeping = housekeeping;
    u.max_size = 10;
    return u;
}

/// Idle connections expire after 10 s above `min_idle`.
upkeep_settings idle_timeout_10s(std::size_t min_idle, std::size_t max_size = 10) {
    upkeep_settings u = every(30 * s);
    u.idle_timeout = 10 * s;
    u.min_idle = min_idle;
    u.max_size = max_size;
    return u;
}

void make_idle(table::slot_type& slot, std::int64_t last_used, std::int64_t expires_at = never) {
    slot.state.store(slot_idle);
    slot.last_used.store(last_used);
    slot.last_checked.store(last_used);
    slot.expires_at = expires_at;
}

void make_leased(table::slot_type& slot, owner_id owner, std::int64_t at) {
    slot.state.store(slot_leased);
    slot.owner.store(owner);
    slot.acquired_at.store(at);
    slot.lease_seq.store(slot.lease_seq.load() + 1);
}

using retired = std::vector<std::pair<std::uint32_t, close_reason>>;

retired retirements(keeper& k, table& t, std::int64_t now) {
    retired out;
    k.take_idle_retirements(t, now, [&](table::slot_type& slot, close_reason why) { out.emplace_back(slot.index, why); });
    return out;
}

TEST(Housekeeper, APassIsDueEveryIntervalAndAtOnceWhenTheClockWentBack) {
    keeper k(every(30 * s), 1);
    k.start(100 * s);
    EXPECT_FALSE(k.pass_due(130 * s - 1));
    EXPECT_TRUE(k.pass_due(130 * s));
    EXPECT_FALSE(k.pass_due(100 * s - leap_tolerance_ns)) << "scheduling noise";
    EXPECT_TRUE(k.pass_due(100 * s - leap_tolerance_ns - 1));
}

TEST(Housekeeper, APassNamesForwardLeapsBeyondOneAndAHalfIntervalsAndBackwardOnes) {
    keeper k(every(30 * s), 1);
    k.start(0);
    EXPECT_EQ(k.run_pass(45 * s + leap_tolerance_ns).by, 0) << "late, not a leap";
    const clock_leap forward = k.run_pass(45 * s + leap_tolerance_ns + 100 * s);
    EXPECT_EQ(forward.by, 100 * s - 30 * s);
    EXPECT_FALSE(forward.backward);
    const clock_leap back = k.run_pass(5 * s);
    EXPECT_TRUE(back.backward);
    EXPECT_LT(back.by, 0);
}

TEST(Housekeeper, IdleConnectionsRetireAtTheirLifetimeAndPastIdleTimeoutAboveMinIdle) {
    keeper k(idle_timeout_10s(1), 1);
    table t(4);
    make_idle(t[0], 0, /*expires_at=*/50 * s);
    make_idle(t[1], 0);
    make_idle(t[2], 0);
    make_leased(t[3], 7, 0);
    EXPECT_EQ(retirements(k, t, 9 * s), retired{}) << "nothing is due yet";
    EXPECT_EQ(retirements(k, t, 10 * s), (retired{{0, close_reason::idle}, {1, close_reason::idle}}))
        << "one stays idle (min_idle 1); the lease is untouched";
    EXPECT_EQ(t[2].state.load(), slot_idle);
    EXPECT_EQ(t[3].state.load(), slot_leased);
}

TEST(Housekeeper, TheLifetimeRetiresEvenTheLastIdleConnection) {
    keeper k(idle_timeout_10s(5), 1);
    table t(2);
    make_idle(t[0], 0, /*expires_at=*/20 * s);
    make_idle(t[1], 0);
    EXPECT_EQ(retirements(k, t, 20 * s), (retired{{0, close_reason::lifetime}}));
}

TEST(Housekeeper, WithMinIdleAtMaxSizeIdleTimeoutRetiresNothing) {
    keeper k(idle_timeout_10s(2, 2), 1);
    table t(2);
    make_idle(t[0], 0);
    make_idle(t[1], 0);
    EXPECT_EQ(retirements(k, t, 100 * s), retired{});
}

TEST(Housekeeper, AKeepaliveIsDueAtExactlyItsIntervalAndTakesTheConnection) {
    upkeep_settings u = every(30 * s);
    u.keepalive = 5 * s;
    keeper k(u, 1);
    table t(2);
    make_idle(t[0], 2 * s);
    t[0].last_checked.store(3 * s);  // checked since it was used: that counts
    make_idle(t[1], 4 * s);
    EXPECT_EQ(k.take_keepalive_due(t, 8 * s - 1), nullptr);
    EXPECT_EQ(k.take_keepalive_due(t, 8 * s), &t[0]);
    EXPECT_EQ(t[0].state.load(), slot_held_by_pool);
    EXPECT_EQ(k.take_keepalive_due(t, 8 * s), nullptr) << "t[1] is due at 9 s";
    EXPECT_EQ(keeper(every(30 * s), 1).take_keepalive_due(t, 1000 * s), nullptr) << "keepalive off";
}

TEST(Housekeeper, ALeakIsFoundAtItsThresholdOncePerLease) {
    upkeep_settings u = every(30 * s);
    u.leak = 2 * s;
    keeper k(u, 1);
    table t(2);
    make_leased(t[0], 7, 10 * s);
    make_leased(t[1], 0, 0);  // being handed over: nobody holds it yet
    EXPECT_EQ(k.find_leak(t, 12 * s - 1).slot, nullptr);
    const auto found = k.find_leak(t, 12 * s);
    EXPECT_EQ(found.slot, &t[0]);
    EXPECT_EQ(found.age, 2 * s);
    EXPECT_EQ(k.find_leak(t, 20 * s).slot, nullptr) << "reported once";
    make_leased(t[0], 8, 20 * s);  // the next lease of the slot
    EXPECT_EQ(k.find_leak(t, 22 * s).slot, &t[0]);
}

TEST(Housekeeper, ConnectionsAreWantedForMinIdleAndForWaitersWhileThereIsRoom) {
    upkeep_settings u = every(30 * s);
    u.min_idle = 2;
    u.max_size = 4;
    const keeper k(u, 1);
    EXPECT_TRUE(k.wants_connection({.empty = 4}, 0)) << "below min_idle";
    EXPECT_TRUE(k.wants_connection({.empty = 3, .creating = 1}, 0));
    EXPECT_FALSE(k.wants_connection({.empty = 2, .creating = 1, .idle = 1}, 0));
    EXPECT_TRUE(k.wants_connection({.empty = 2, .idle = 2}, 3)) << "more waiters than idle";
    EXPECT_FALSE(k.wants_connection({.idle = 1, .leased = 3}, 5)) << "no room";
    EXPECT_FALSE(k.wants_connection({.creating = 1, .leased = 3}, 5)) << "the last one is being opened";
}

TEST(Housekeeper, ConnectBackoffDoublesFromTenMillisecondsToFiveSecondsAndResets) {
    keeper k(every(30 * s), 1);
    EXPECT_TRUE(k.may_connect(0));
    std::int64_t at = 100 * s, wait = 10 * ms;
    for (int i = 0; i < 20; ++i) {
        k.connect_failed(at);
        EXPECT_FALSE(k.may_connect(at + wait - 1)) << "attempt " << i;
        EXPECT_TRUE(k.may_connect(at + wait)) << "attempt " << i;
        wait = std::min(wait * 2, backoff_max_ns);
    }
    EXPECT_EQ(wait, 5 * s);
    k.connect_succeeded();
    EXPECT_TRUE(k.may_connect(0));
    k.connect_failed(at);
    EXPECT_TRUE(k.may_connect(at + 10 * ms)) << "the backoff starts over after a success";
}

TEST(Housekeeper, LifetimesEndWithinTheLastTwoAndAHalfPercentAndSpreadOut) {
    upkeep_settings u = every(30 * s);
    u.max_lifetime = 1800 * s;
    keeper k(u, 42);
    std::set<std::int64_t> ends;
    for (int i = 0; i < 200; ++i) {
        const std::int64_t end = k.lifetime_end(0);
        EXPECT_LE(end, 1800 * s);
        EXPECT_GE(end, 1800 * s - 1800 * s / 40);
        ends.insert(end / s);
    }
    EXPECT_GE(ends.size(), 30u) << "200 connections opened together retire over many seconds";
    EXPECT_EQ(keeper(every(30 * s), 1).lifetime_end(5), never) << "max_lifetime 0: forever";
}

TEST(Housekeeper, TheWorkerWakesForTheEarliestIdleLifetimeAndUnreportedLease) {
    upkeep_settings u = every(30 * s);
    u.leak = 10 * s;
    keeper k(u, 1);
    k.start(100 * s);
    table t(3);
    make_idle(t[0], 100 * s, /*expires_at=*/125 * s);
    make_leased(t[1], 7, 101 * s);
    EXPECT_EQ(k.next_wake(t, 103 * s, false), 111 * s) << "the lease's threshold";
    t[1].leak_reported_seq.store(t[1].lease_seq.load());
    EXPECT_EQ(k.next_wake(t, 103 * s, false), 113 * s) << "reported: the horizon for new leases";
    k.connect_failed(103 * s);
    EXPECT_EQ(k.next_wake(t, 103 * s, true), 103 * s + backoff_min_ns) << "a wanted connection's retry";
    EXPECT_EQ(k.next_wake(t, 103 * s, false), 113 * s) << "nothing wanted: no retry";
}

}  // namespace
}  // namespace lifeguard::detail
