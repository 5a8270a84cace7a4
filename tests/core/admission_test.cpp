// Nesting-aware admission (detail/admission.hpp) as pure decisions, checked against a
// brute-force banker's check written here: try every order in which the tasks could finish.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <random>
#include <vector>

#include "lifeguard/detail/admission.hpp"

namespace lifeguard::detail {
namespace {

/// Safe when some order of the tasks lets each get up to `claim` from what is spare, finish,
/// and give back what it holds. Every permutation is tried (the tests keep the tasks few).
bool brute_force_safe(std::size_t claim, std::size_t spare, std::vector<std::size_t> holds) {
    std::vector<std::size_t> order(holds.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    do {
        std::size_t available = spare;
        bool all_finish = true;
        for (std::size_t t : order) {
            const std::size_t need = holds[t] >= claim ? 0 : claim - holds[t];
            if (need > available) {
                all_finish = false;
                break;
            }
            available += holds[t];
        }
        if (all_finish) return true;
    } while (std::next_permutation(order.begin(), order.end()));
    return false;
}

bool grant_safe(std::size_t claim, std::size_t spare, std::size_t requester, std::vector<std::size_t> others) {
    return safe_after_grant(claim, spare, requester, others);
}

TEST(Admission, AwayFromExhaustionOneComparisonDecides) {
    EXPECT_TRUE(obviously_safe(0, 0, 0)) << "no claim declared or learned: no admission";
    EXPECT_TRUE(obviously_safe(1, 0, 0)) << "nobody nests: nobody waits while holding";
    EXPECT_TRUE(obviously_safe(2, 1, 0)) << "one spare covers any holder's last connection";
    EXPECT_FALSE(obviously_safe(2, 0, 0)) << "the last connection to a first request: look closer";
    EXPECT_TRUE(obviously_safe(2, 0, 1)) << "the grant completes the requester's claim";
    EXPECT_TRUE(obviously_safe(3, 2, 0));
    EXPECT_FALSE(obviously_safe(3, 1, 1));
    EXPECT_TRUE(obviously_safe(3, 0, 2));
}

TEST(Admission, TheAutoIdShapeKeepsOneConnectionForTheNestedRequests) {
    // Pool 10, claim 2: nine transactions hold one each, one connection is left.
    const std::vector<std::size_t> nine(9, 1);
    EXPECT_FALSE(grant_safe(2, 0, 0, nine)) << "a tenth transaction would lock the pool";
    EXPECT_TRUE(grant_safe(2, 0, 1, std::vector<std::size_t>(8, 1))) << "a transaction's id generator may have it";
    std::vector<std::size_t> one_done = nine;
    one_done[0] = 2;  // one task holds both of its connections: it finishes, and gives back 2
    EXPECT_TRUE(grant_safe(2, 0, 0, std::vector<std::size_t>{2, 1, 1, 1, 1, 1, 1}));
}

TEST(Admission, DeeperClaimsLookAtWhoCanFinishFirst) {
    // Claim 3. A holds 2 and B holds 1; one connection is spare before the grant.
    EXPECT_FALSE(grant_safe(3, 0, 1, {2})) << "B's second leaves nothing for A's third nor B's third";
    EXPECT_TRUE(grant_safe(3, 0, 2, {1})) << "A's third: A finishes and gives back 3";
    EXPECT_TRUE(grant_safe(3, 1, 0, {2})) << "a first request leaves 1: A finishes, then both";
}

TEST(Admission, MatchesTheBruteForceBankersCheckOnRandomStates) {
    std::mt19937_64 rng(20261202);
    std::size_t safe = 0, unsafe = 0;
    for (int round = 0; round < 20000; ++round) {
        const std::size_t claim = 2 + rng() % 4;              // 2..5
        const std::size_t tasks = rng() % 7;                  // other holders, 0..6
        std::vector<std::size_t> others;
        for (std::size_t t = 0; t < tasks; ++t) others.push_back(1 + rng() % (claim + 1));  // past the claim too
        const std::size_t requester = rng() % claim;
        const std::size_t spare = rng() % 4;
        std::vector<std::size_t> after = others;
        after.push_back(requester + 1);
        const bool expected = brute_force_safe(claim, spare, after) || requester + 1 >= claim;
        ASSERT_EQ(grant_safe(claim, spare, requester, others), expected)
            << "claim " << claim << ", spare " << spare << ", requester holds " << requester << ", others "
            << ::testing::PrintToString(others);
        (expected ? safe : unsafe) += 1;
    }
    EXPECT_GT(safe, 1000u);
    EXPECT_GT(unsafe, 1000u) << "the random states must exercise both answers";
}

TEST(Admission, AnUnsafeStateStillLetsTasksThatHoldConnectionsGoOn) {
    // Claim 3 learned after nine tasks took one connection each of a pool of 10: unsafe already.
    const std::vector<std::size_t> eight(8, 1);
    EXPECT_FALSE(safe_after_grant(3, 0, 1, eight));
    EXPECT_TRUE(admits(3, 0, 1, eight, true)) << "refusing every holder would leave them waiting beside an idle connection";
    EXPECT_FALSE(admits(3, 0, 1, eight, false)) << "a declared claim never let the state become unsafe";
    EXPECT_FALSE(admits(3, 0, 0, std::vector<std::size_t>(9, 1), true)) << "a first request never makes it worse";
    // Safe before, unsafe after: the banker's answer stands.
    EXPECT_FALSE(admits(3, 0, 1, std::vector<std::size_t>{2}, true)) << "claim 3: A holds 2, B holds 1, one spare: A first";
}

}  // namespace
}  // namespace lifeguard::detail
