// Randomized programs against what admission and heal promise. Each program is up to 40 tasks
// on one pool of up to 16, nesting up to 4 deep (some inner calls in owner_scopes of their
// own), holding for random lengths, all started at once:
//  - with the claim declared (max_nesting = the deepest nesting): never a knot, never a failed
//    or timed-out acquire, never more than max_size open;
//  - with the claim learned under heal and max_overflow = Cm - 1: never a hang or a failed
//    acquire, never more than max_size + max_overflow open.
// The banker's check itself is compared with a brute force in tests/core/admission_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "detector/heal_support.hpp"

namespace lifeguard::testing {
namespace {

struct program {
    std::size_t pool_size = 0;
    std::size_t deepest = 1;
    std::vector<login_task> tasks;

    std::string describe() const {
        return "pool " + std::to_string(pool_size) + ", " + std::to_string(tasks.size()) + " tasks, deepest " +
               std::to_string(deepest);
    }
};

program random_program(std::mt19937_64& rng) {
    program p;
    const std::size_t tasks = 2 + rng() % 39;  // 2..40
    for (std::size_t i = 0; i < tasks; ++i) {
        login_task t{.depth = 1 + rng() % 4, .scoped_inner = rng() % 3 == 0, .hold_yields = static_cast<int>(rng() % 64)};
        p.deepest = std::max(p.deepest, t.depth);
        p.tasks.push_back(t);
    }
    p.pool_size = p.deepest + rng() % (17 - p.deepest);  // deepest..16: every task can finish alone
    return p;
}

constexpr int programs_per_mode = 12;

TEST(HealOracle, WithTheClaimDeclaredNoKnotFormsAndNobodyFailsOrWaitsOut) {
    std::mt19937_64 rng(0x11fe6a4d);
    for (int round = 0; round < programs_per_mode; ++round) {
        const program p = random_program(rng);
        detector_fixture f;
        auto w = threaded_watched_pool(f, {.name = "app", .max_size = p.pool_size, .on_deadlock = deadlock_policy::report,
                                           .max_nesting = p.deepest});
        login_outcome out;
        run_logins(*w.pool, p.tasks, 0, out);
        SCOPED_TRACE(p.describe());
        EXPECT_EQ(out.failed.load(), 0);
        EXPECT_EQ(out.succeeded.load(), static_cast<int>(p.tasks.size()));
        EXPECT_EQ(f.detector->stats().deadlocks, 0u);
        EXPECT_EQ(w.pool->stats().timeouts, 0u);
        EXPECT_LE(w.peak->peak(), p.pool_size);
        EXPECT_EQ(w.pool->stats().active, 0u);
    }
}

TEST(HealOracle, WithTheClaimLearnedHealLetsEveryTaskFinish) {
    std::mt19937_64 rng(0x6ea1ed);
    for (int round = 0; round < programs_per_mode; ++round) {
        const program p = random_program(rng);
        const std::size_t overflow = std::max<std::size_t>(1, p.deepest - 1);
        detector_fixture f;
        auto w = threaded_watched_pool(f, {.name = "app", .max_size = p.pool_size, .on_deadlock = deadlock_policy::heal,
                                           .max_overflow = std::min(overflow, p.pool_size)});
        login_outcome out;
        run_logins(*w.pool, p.tasks, 0, out);
        SCOPED_TRACE(p.describe());
        EXPECT_EQ(out.failed.load(), 0);
        EXPECT_EQ(out.succeeded.load(), static_cast<int>(p.tasks.size()));
        EXPECT_EQ(w.pool->stats().timeouts, 0u);
        EXPECT_EQ(w.pool->stats().emergency_failed, 0u);
        EXPECT_LE(w.peak->peak(), p.pool_size + overflow);
        EXPECT_EQ(w.pool->stats().active, 0u);
    }
}

}  // namespace
}  // namespace lifeguard::testing
