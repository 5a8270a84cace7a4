// What the worker must do and when (detail/housekeeper.hpp), as pure decisions over a slot
// table of plain int "connections": no pool, no driver, no threads; times in nanoseconds.
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(Housekeeper, ConnectionsAreWantedForWaitersBeforeRefill) {
    upkeep_settings u = every(30 * s);
    u.min_idle = 2;
    u.max_size = 4;
    const keeper k(u, 1);
    EXPECT_EQ(k.connection_need({.empty = 4}, 0), connect_need::refill) << "below min_idle, nobody waits";
    EXPECT_EQ(k.connection_need({.empty = 4}, 1), connect_need::waiters) << "below min_idle and waited for";
    EXPECT_EQ(k.connection_need({.empty = 2, .idle = 2}, 2), connect_need::none) << "as many idle as waiters";
    EXPECT_EQ(k.connection_need({.empty = 2, .idle = 2}, 3), connect_need::waiters);
    EXPECT_EQ(k.connection_need({.idle = 1, .leased = 3}, 5), connect_need::none) << "no room";
}

TEST(Housekeeper, ConnectBackoffDoublesFromTenMillisecondsToFiveSecondsAndResets) {
    keeper k(every(30 * s), 1);
    EXPECT_TRUE(k.may_connect(0, connect_need::refill));
    EXPECT_FALSE(k.may_connect(0, connect_need::none)) << "nothing wanted, nothing opened";
    std::int64_t at = 100 * s, wait = 10 * ms;
    for (int i = 0; i < 20; ++i) {
        k.connect_failed(at);
        EXPECT_FALSE(k.may_connect(at + wait - 1, connect_need::refill)) << "attempt " << i;
        EXPECT_TRUE(k.may_connect(at + wait, connect_need::refill)) << "attempt " << i;
        wait = std::min(wait * 2, backoff_max_ns);
    }
    EXPECT_EQ(wait, 5 * s);
    k.connect_succeeded();
    EXPECT_TRUE(k.may_connect(0, connect_need::refill));
    k.connect_failed(at);
    EXPECT_TRUE(k.may_connect(at + 10 * ms, connect_need::refill)) << "the backoff starts over after a success";
}

TEST(Housekeeper, WhileCallersWaitTheBackoffIsCappedAtAQuarterSecond) {
    keeper k(every(30 * s), 1);
    std::int64_t at = 100 * s;
    for (int i = 0; i < 20; ++i) k.connect_failed(at);  // the full backoff is 5 s by now
    EXPECT_FALSE(k.may_connect(at + backoff_while_waited_ns - 1, connect_need::waiters));
    EXPECT_TRUE(k.may_connect(at + backoff_while_waited_ns, connect_need::waiters));
    EXPECT_FALSE(k.may_connect(at + backoff_while_waited_ns, connect_need::refill)) << "nobody waits: 5 s";
    EXPECT_TRUE(k.may_connect(at + 5 * s, connect_need::refill));
    k.connect_failed(at);
    EXPECT_TRUE(k.may_connect(at + 3 * s, connect_need::waiters)) << "a caller arriving late gets an attempt at once";
    table t(1);
    k.start(at);
    EXPECT_EQ(k.next_wake(t, at, connect_need::waiters), at + backoff_while_waited_ns) << "the worker wakes for it";
    EXPECT_EQ(k.next_wake(t, at, connect_need::refill), at + 5 * s);
}

/// What a down server sees from one pool's worker: the worker connects whenever the backoff
/// lets it (each attempt takes 1 ms and fails until `up`) and sleeps until next_wake() between.
struct outage_run {
    std::vector<std::int64_t> attempts;  ///< when each attempt started
    std::int64_t served_at = -1;         ///< when the first attempt at or after `up` started
};

outage_run simulate_outage(connect_need need, std::int64_t up, std::int64_t until) {
    keeper k(every(3600 * s), 1);  // no housekeeping pass within the run
    k.start(0);
    table t(1);
    outage_run run;
    for (std::int64_t now = 0; now < until;) {
        if (!k.may_connect(now, need)) {
            const std::int64_t wake = k.next_wake(t, now, need);
            if (wake <= now) {
                ADD_FAILURE() << "the worker would spin at " << now;
                return run;
            }
            now = wake;
            continue;
        }
        run.attempts.push_back(now);
        if (now >= up) {
            run.served_at = now;
            return run;
        }
        now += 1 * ms;
        k.connect_failed(now);
    }
    return run;
}

/// Attempts that started in [from, to), per second.
double attempts_per_second(const outage_run& run, std::int64_t from, std::int64_t to) {
    const auto n = std::count_if(run.attempts.begin(), run.attempts.end(),
                                 [&](std::int64_t a) { return a >= from && a < to; });
    return static_cast<double>(n) / (static_cast<double>(to - from) / s);
}

TEST(Housekeeper, ADownServerSeesAFewAttemptsASecondWhileCallersWaitAndOneInFiveOtherwise) {
    const outage_run waited = simulate_outage(connect_need::waiters, never, 60 * s);
    const outage_run unwaited = simulate_outage(connect_need::refill, never, 60 * s);
    // After the first second (10, 20, ... ms: the doubling's start), the steady state.
    EXPECT_LE(attempts_per_second(waited, 1 * s, 60 * s), 4.0);
    EXPECT_GE(attempts_per_second(waited, 1 * s, 60 * s), 3.9) << "waiters keep a quarter-second pace";
    EXPECT_LE(attempts_per_second(unwaited, 10 * s, 60 * s), 0.2) << "nobody waits: one per 5 s";
    EXPECT_LE(waited.attempts.size(), 4u * 60 + 10) << "the whole minute, the doubling's start included";
}

TEST(Housekeeper, WhileCallersWaitARecoveredServerIsTriedWithinAQuarterSecond) {
    for (std::int64_t up = 1 * s; up < 40 * s; up += 77 * ms) {
        const outage_run run = simulate_outage(connect_need::waiters, up, 60 * s);
        ASSERT_GE(run.served_at, up);
        EXPECT_LE(run.served_at - up, backoff_while_waited_ns) << "server up at " << up / ms << " ms";
    }
    // Without waiters nothing hurries: a refill may wait the full 5 s.
    std::int64_t slowest = 0;
    for (std::int64_t up = 10 * s; up < 40 * s; up += 77 * ms)
        slowest = std::max(slowest, simulate_outage(connect_need::refill, up, 60 * s).served_at - up);
    EXPECT_GT(slowest, 4 * s);
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
    EXPECT_EQ(k.next_wake(t, 103 * s, connect_need::none), 111 * s) << "the lease's threshold";
    t[1].leak_reported_seq.store(t[1].lease_seq.load());
    EXPECT_EQ(k.next_wake(t, 103 * s, connect_need::none), 113 * s) << "reported: the horizon for new leases";
    k.connect_failed(103 * s);
    EXPECT_EQ(k.next_wake(t, 103 * s, connect_need::refill), 103 * s + backoff_min_ns) << "a wanted connection's retry";
    EXPECT_EQ(k.next_wake(t, 103 * s, connect_need::none), 113 * s) << "nothing wanted: no retry";
}

}  // namespace
}  // namespace lifeguard::detail
