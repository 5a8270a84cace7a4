// heal and admission on real pools (fake connections, a worker thread) watched by the
// detector: the AUTO-ID shape on an undersized pool — 20 logins, pool 10, each holding a
// transaction's connection and asking for an id generator's — finishes with nobody failed, and
// a declared claim keeps the knot from forming at all. Every acquire_timeout is 30 s: a run
// that needed it shows up as failures. Nothing sleeps (see heal_support.hpp).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "detector/heal_support.hpp"
#include "lifeguard/diagnostics/deadlock_error.hpp"

namespace lifeguard::testing {
namespace {

using diagnostics::report_kind;

pool_options heal_options(std::size_t size, std::size_t max_nesting = 0, std::size_t max_overflow = 1) {
    return {.name = "app", .max_size = size, .on_deadlock = deadlock_policy::heal, .max_nesting = max_nesting,
            .max_overflow = max_overflow};
}

void expect_all_back(threaded_pool& pool) {
    const pool_stats st = pool.stats();
    EXPECT_EQ(st.active, 0u) << "every lease came back";
    EXPECT_EQ(st.pending, 0u);
    EXPECT_EQ(st.timeouts, 0u);
}

TEST(Heal, TheAutoIdKnotOnAnUndersizedPoolIsUntiedAndAllTwentyLoginsSucceed) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, heal_options(10));
    login_outcome out;
    run_logins(*w.pool, same_logins(20, {.depth = 2}), 10, out);
    EXPECT_EQ(out.succeeded.load(), 20);
    EXPECT_EQ(out.failed.load(), 0);
    const pool_stats st = w.pool->stats();
    EXPECT_GE(st.emergency_lent, 1u) << "the knot formed and was healed";
    EXPECT_EQ(st.emergency_failed, 0u);
    EXPECT_LE(w.peak->peak(), 11u) << "never more than max_size + max_overflow open";
    EXPECT_EQ(st.claim, 2u) << "heal learned the claim";
    EXPECT_EQ(f.detector->stats().failed_tasks, 0u);
    EXPECT_GE(f.detector->stats().healed_tasks, 1u);
    expect_all_back(*w.pool);
    const auto knots = f.reports.of(report_kind::deadlock);
    ASSERT_FALSE(knots.empty());
    EXPECT_NE(knots[0].action.find("healed (policy heal): lent "), std::string::npos) << knots[0].action;
    EXPECT_NE(knots[0].action.find("nobody was failed"), std::string::npos);
    EXPECT_NE(knots[0].lent_to, 0u);
    ASSERT_EQ(knots[0].pools.size(), 1u);
    // Tn is what the detector saw at that moment: the ten holders and the logins queued by then.
    EXPECT_GE(knots[0].pools[0].safe_size, 11u) << knots[0].to_string();
    EXPECT_LE(knots[0].pools[0].safe_size, 21u);
}

TEST(Heal, ADeclaredClaimKeepsTheKnotFromFormingAndNeedsNoEmergencyConnection) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, heal_options(10, /*max_nesting=*/2));
    login_outcome out;
    // Admission lets 9 transactions in at once on a pool of 10: the 10th would lock it.
    run_logins(*w.pool, same_logins(20, {.depth = 2}), 9, out);
    EXPECT_EQ(out.succeeded.load(), 20);
    EXPECT_EQ(out.failed.load(), 0);
    EXPECT_EQ(out.most_transactions.load(), 9u);
    EXPECT_EQ(f.detector->stats().deadlocks, 0u);
    EXPECT_EQ(w.pool->stats().emergency_lent, 0u);
    EXPECT_LE(w.peak->peak(), 10u);
    expect_all_back(*w.pool);
}

TEST(Heal, InnerCallsInTheirOwnOwnerScopeAreOneTaskWithTheirTransaction) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, heal_options(10, /*max_nesting=*/2));
    login_outcome out;
    run_logins(*w.pool, same_logins(20, {.depth = 2, .scoped_inner = true}), 9, out);
    EXPECT_EQ(out.succeeded.load(), 20);
    EXPECT_EQ(f.detector->stats().deadlocks, 0u);
    EXPECT_EQ(w.pool->stats().emergency_lent, 0u);
    expect_all_back(*w.pool);
}

// The knot forms at depth 2 (ten transactions, each asking for a second connection); the
// member lent an emergency connection then asks for a third, while the other nine still wait
// for their second: only a second emergency connection lets anyone finish. So a claim of Cm
// learned from knots needs max_overflow >= Cm - 1 for nobody to fail.
TEST(Heal, DepthThreeIsLearnedAsItIsSeenAndEveryLoginSucceedsWithTwoEmergencyConnections) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, heal_options(10, 0, /*max_overflow=*/2));
    login_outcome out;
    run_logins(*w.pool, same_logins(20, {.depth = 3}), 10, out);
    EXPECT_EQ(out.succeeded.load(), 20);
    EXPECT_EQ(out.failed.load(), 0);
    EXPECT_EQ(w.pool->stats().claim, 3u);
    EXPECT_GE(w.pool->stats().emergency_lent, 2u);
    EXPECT_LE(w.peak->peak(), 12u);
    expect_all_back(*w.pool);
}

TEST(Heal, MixedDepthsAndAClaimLearnedMidRun) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, heal_options(8, 0, /*max_overflow=*/3));
    login_outcome flat;
    run_logins(*w.pool, same_logins(16, {.depth = 1}), 8, flat);
    EXPECT_EQ(w.pool->stats().claim, 0u) << "nothing nested yet: nothing learned, no admission";
    std::mt19937 rng(17);
    std::vector<login_task> mixed;
    for (int i = 0; i < 24; ++i) mixed.push_back({.depth = 1 + rng() % 4, .scoped_inner = rng() % 2 == 0});
    login_outcome out;
    run_logins(*w.pool, mixed, 8, out);
    EXPECT_EQ(flat.succeeded.load() + out.succeeded.load(), 40);
    EXPECT_EQ(out.failed.load(), 0);
    EXPECT_LE(w.peak->peak(), 11u);
    expect_all_back(*w.pool);
}

TEST(Heal, AKnotAcrossPoolsIsFailedAsUnderFailFast) {
    detector_fixture f;
    auto a = threaded_watched_pool(f, {.name = "a", .max_size = 1, .on_deadlock = deadlock_policy::heal});
    auto b = threaded_watched_pool(f, {.name = "b", .max_size = 1, .on_deadlock = deadlock_policy::heal});
    std::latch both(2);
    std::atomic<int> completed{0}, failed{0};
    std::string action;
    std::mutex action_mutex;
    auto task = [&](threaded_pool& first, threaded_pool& second) {
        owner_scope scope;
        try {
            auto one = first.acquire();
            both.arrive_and_wait();
            auto two = second.acquire();
            ++completed;
        } catch (const diagnostics::deadlock_error& e) {
            std::lock_guard lock(action_mutex);
            action = e.report().action;
            ++failed;
        }
    };
    std::thread ab(task, std::ref(*a.pool), std::ref(*b.pool)), ba(task, std::ref(*b.pool), std::ref(*a.pool));
    ab.join();
    ba.join();
    EXPECT_EQ(completed.load(), 1);
    EXPECT_EQ(failed.load(), 1);
    EXPECT_NE(action.find("policy heal: a knot across pools is failed as under fail_fast"), std::string::npos) << action;
    EXPECT_EQ(a.pool->stats().emergency_lent + b.pool->stats().emergency_lent, 0u);
}

}  // namespace
}  // namespace lifeguard::testing
