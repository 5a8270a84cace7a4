// The knot search as a pure function: hand-made states for the shapes the detector exists
// for, then an oracle test that compares the block-time check (find_knot) and the watchdog's
// full reduction (find_deadlocked) with a naive Holt reduction kept here, on random states.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "lifeguard/diagnostics/wait_graph.hpp"

namespace lifeguard::diagnostics {
namespace {

constexpr pool_key P = 1, Q = 2;

bool deadlocked_from(const wait_state& s, owner_id o) {
    wait_state_graph g(s);
    return find_knot(g, o).has_value();
}

TEST(WaitGraph, AutoIdShapeIsAKnot) {
    // Pool of 2; each login holds one connection and waits for a second one.
    wait_state s{{{P, false, {1, 2}}}, {{1, P}, {2, P}}};
    wait_state_graph g(s);
    auto k = find_knot(g, 2);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->owners, (std::vector<owner_id>{1, 2}));
    EXPECT_EQ(k->pools, (std::vector<pool_key>{P}));
    EXPECT_EQ(find_deadlocked(s), *k);
}

TEST(WaitGraph, OneWaiterWithARunningHolderIsNoKnot) {
    wait_state s{{{P, false, {1, 2}}}, {{1, P}}};
    EXPECT_FALSE(deadlocked_from(s, 1));
    EXPECT_TRUE(find_deadlocked(s).owners.empty());
}

TEST(WaitGraph, ACycleWithARunningHolderIsNoKnot) {
    // The OR-model guard: T1 holds P, waits Q; T3 holds Q, waits P; T2 holds P and runs.
    wait_state s{{{P, false, {1, 2}}, {Q, false, {3}}}, {{1, Q}, {3, P}}};
    EXPECT_FALSE(deadlocked_from(s, 1));
    EXPECT_FALSE(deadlocked_from(s, 3));
    EXPECT_TRUE(find_deadlocked(s).owners.empty());
    // Once T2 blocks on Q too, nobody can release anything.
    s.waits.push_back({2, Q});
    wait_state_graph g(s);
    auto k = find_knot(g, 2);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->owners, (std::vector<owner_id>{1, 2, 3}));
    EXPECT_EQ(k->pools, (std::vector<pool_key>{P, Q}));
}

TEST(WaitGraph, RoomIsASink) {
    wait_state s{{{P, true, {1, 2}}}, {{1, P}, {2, P}}};
    EXPECT_FALSE(deadlocked_from(s, 1));
    EXPECT_TRUE(find_deadlocked(s).owners.empty());
}

TEST(WaitGraph, UnknownPoolIsASink) {
    // T1 waits on P (held by T2) and T2 waits on a pool nobody told us about.
    wait_state s{{{P, false, {2}}}, {{1, P}, {2, 99}}};
    EXPECT_FALSE(deadlocked_from(s, 1));
}

TEST(WaitGraph, SelfDeadlockOnAPoolOfOne) {
    wait_state s{{{P, false, {1}}}, {{1, P}}};
    EXPECT_TRUE(deadlocked_from(s, 1));
}

TEST(WaitGraph, AnOwnerWaitingOnTwoPoolsGoesOnWhenEitherCan) {
    // Owner 1 waits on P (knotted) and on Q (held by a running owner 5).
    wait_state s{{{P, false, {1, 2}}, {Q, false, {5}}}, {{1, P}, {2, P}, {1, Q}}};
    EXPECT_FALSE(deadlocked_from(s, 1));
    EXPECT_FALSE(deadlocked_from(s, 2));  // 2 waits on P, which 1 can release
    s.waits.push_back({5, P});            // now 5 waits too
    EXPECT_TRUE(deadlocked_from(s, 2));
}

TEST(WaitGraph, RolesSeparateMembersFromTasksBehind) {
    // Pool of 2 held by 1 and 2, both waiting for a second one; 3 and 4 wait for a first one.
    wait_state s{{{P, false, {1, 2}}}, {{1, P}, {2, P}, {3, P}, {4, P}}};
    wait_state_graph g(s);
    // From a task behind, the search reaches the knot but not the other tasks behind it.
    auto k = find_knot(g, 4);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->owners, (std::vector<owner_id>{1, 2, 4}));
    auto roles = roles_of(g, *k);
    EXPECT_EQ(roles.members, (std::vector<owner_id>{1, 2}));
    EXPECT_EQ(roles.behind, (std::vector<owner_id>{4}));
    // The full reduction sees everyone.
    const auto all = find_deadlocked(s);
    EXPECT_EQ(all.owners, (std::vector<owner_id>{1, 2, 3, 4}));
    roles = roles_of(g, all);
    EXPECT_EQ(roles.behind, (std::vector<owner_id>{3, 4}));
}

TEST(WaitGraph, SplitKnotsSeparatesIndependentKnots) {
    wait_state s{{{P, false, {1}}, {Q, false, {2}}}, {{1, P}, {2, Q}}};
    const auto all = find_deadlocked(s);
    EXPECT_EQ(all.owners, (std::vector<owner_id>{1, 2}));
    const auto parts = split_knots(s, all);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], (knot{{1}, {P}}));
    EXPECT_EQ(parts[1], (knot{{2}, {Q}}));
}

// ---------------------------------------------------------------------------------- oracle

/// Holt's reduction, written the naive way: repeatedly let any owner that runs, or waits on a
/// pool with a free unit, finish and give back everything it holds. Whoever still waits at the
/// end is deadlocked. Quadratic and obviously right.
std::set<owner_id> brute_force_deadlocked(const wait_state& s) {
    std::map<pool_key, bool> room;
    std::map<owner_id, std::set<pool_key>> waits, holds;
    std::set<owner_id> owners;
    for (const auto& p : s.pools) {
        room[p.pool] = p.room;
        for (owner_id h : p.holders) {
            holds[h].insert(p.pool);
            owners.insert(h);
        }
    }
    for (const auto& w : s.waits) {
        waits[w.owner].insert(w.pool);
        owners.insert(w.owner);
        if (!room.contains(w.pool)) room[w.pool] = true;  // unknown pool: might have room
    }
    std::set<owner_id> finished;
    for (bool changed = true; changed;) {
        changed = false;
        for (owner_id o : owners) {
            if (finished.contains(o)) continue;
            bool can_go = waits[o].empty();
            for (pool_key p : waits[o]) can_go = can_go || room[p];
            if (!can_go) continue;
            finished.insert(o);
            for (pool_key p : holds[o]) room[p] = true;
            changed = true;
        }
    }
    std::set<owner_id> dead;
    for (owner_id o : owners)
        if (!finished.contains(o) && !waits[o].empty()) dead.insert(o);
    return dead;
}

wait_state random_state(std::mt19937_64& rng) {
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
    const int n_owners = pick(1, 6);
    const int n_pools = pick(1, 3);
    wait_state s;
    for (int p = 1; p <= n_pools; ++p) s.pools.push_back({static_cast<pool_key>(p), chance(0.2), {}});
    for (int o = 1; o <= n_owners; ++o) {
        for (auto& pool : s.pools) {
            const int units = chance(0.45) ? pick(1, 2) : 0;
            for (int u = 0; u < units; ++u) pool.holders.push_back(static_cast<owner_id>(o));
        }
        const int r = pick(0, 99);
        const int n_waits = r < 25 ? 0 : r < 92 ? 1 : 2;  // two waits: two threads, one task
        for (int w = 0; w < n_waits; ++w) {
            const pool_key p = chance(0.03) ? pool_key{77} : static_cast<pool_key>(pick(1, n_pools));
            s.waits.push_back({static_cast<owner_id>(o), p});
        }
    }
    for (auto& pool : s.pools) std::ranges::shuffle(pool.holders, rng);
    std::ranges::shuffle(s.waits, rng);
    return s;
}

std::string describe(const wait_state& s) {
    std::ostringstream out;
    for (const auto& p : s.pools) {
        out << "pool " << p.pool << (p.room ? " room" : " full") << " held by";
        for (owner_id h : p.holders) out << ' ' << h;
        out << "; ";
    }
    for (const auto& w : s.waits) out << w.owner << " waits " << w.pool << "; ";
    return out.str();
}

TEST(WaitGraphOracle, BlockTimeCheckAndReductionAgreeWithBruteForce) {
    std::mt19937_64 rng(20240611);
    constexpr int states = 20'000;
    int mismatches = 0, knots_seen = 0, waiting_owners = 0;
    for (int i = 0; i < states; ++i) {
        const wait_state s = random_state(rng);
        const std::set<owner_id> expected = brute_force_deadlocked(s);
        knots_seen += !expected.empty();

        // The watchdog's reduction.
        const knot all = find_deadlocked(s);
        const std::set<owner_id> reduced(all.owners.begin(), all.owners.end());
        if (reduced != expected) {
            ++mismatches;
            ADD_FAILURE() << "reduction differs on: " << describe(s);
        }

        // The block-time check, from every owner.
        wait_state_graph g(s);
        std::set<owner_id> everyone;
        for (const auto& p : s.pools) everyone.insert(p.holders.begin(), p.holders.end());
        for (const auto& w : s.waits) everyone.insert(w.owner);
        for (owner_id o : everyone) {
            const auto k = find_knot(g, o);
            waiting_owners += !g.waits(o).empty();
            if (k.has_value() != expected.contains(o)) {
                ++mismatches;
                ADD_FAILURE() << "find_knot from " << o << " differs on: " << describe(s);
                continue;
            }
            if (!k) continue;
            // Everything a knot names is deadlocked, and its pools are the ones they wait on.
            for (owner_id m : k->owners)
                if (!expected.contains(m)) {
                    ++mismatches;
                    ADD_FAILURE() << "knot from " << o << " names live owner " << m << " on: " << describe(s);
                }
            for (pool_key p : k->pools)
                if (!std::ranges::binary_search(all.pools, p)) {
                    ++mismatches;
                    ADD_FAILURE() << "knot from " << o << " names pool " << p << " on: " << describe(s);
                }
            const auto roles = roles_of(g, *k);
            EXPECT_EQ(roles.members.size() + roles.behind.size(), k->owners.size());
        }

        // The pieces of the reduction cover it exactly once.
        std::multiset<owner_id> covered;
        for (const auto& part : split_knots(s, all)) covered.insert(part.owners.begin(), part.owners.end());
        if (covered != std::multiset<owner_id>(all.owners.begin(), all.owners.end())) {
            ++mismatches;
            ADD_FAILURE() << "split_knots does not partition the deadlocked owners on: " << describe(s);
        }
        if (mismatches > 20) break;  // enough to debug; keeps a broken build's log readable
    }
    EXPECT_EQ(mismatches, 0);
    // The generator must exercise both outcomes, or the agreement says little.
    EXPECT_GT(knots_seen, states / 10);
    EXPECT_LT(knots_seen, states * 9 / 10);
    EXPECT_GT(waiting_owners, states);
}

}  // namespace
}  // namespace lifeguard::diagnostics
