// Randomized programs (heal_programs.hpp) of threads against what admission and heal promise:
// with the claim declared, no knot and no failure within max_size; with the claim learned under
// heal, no failure within max_size + max_overflow. The banker's check itself is compared with a
// brute force in tests/core/admission_test.cpp; tests/async/async_heal_oracle_test.cpp runs
// such programs with coroutines among the tasks.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "detector/heal_programs.hpp"

namespace lifeguard::testing {
namespace {

TEST(HealOracle, WithTheClaimDeclaredNoKnotFormsAndNobodyFailsOrWaitsOut) {
    std::mt19937_64 rng(0x11fe6a4d);
    for (int round = 0; round < programs_per_mode; ++round) {
        const program p = random_program(rng);
        SCOPED_TRACE(p.describe());
        detector_fixture f;
        auto w = threaded_watched_pool(f, declared_claim_options(p));
        login_outcome out;
        run_logins(*w.pool, p.tasks, 0, out);
        expect_declared_claim_kept(p, f, w, out.succeeded.load(), out.failed.load());
    }
}

TEST(HealOracle, WithTheClaimLearnedHealLetsEveryTaskFinish) {
    std::mt19937_64 rng(0x6ea1ed);
    for (int round = 0; round < programs_per_mode; ++round) {
        const program p = random_program(rng);
        SCOPED_TRACE(p.describe());
        detector_fixture f;
        auto w = threaded_watched_pool(f, learned_claim_options(p));
        login_outcome out;
        run_logins(*w.pool, p.tasks, 0, out);
        expect_learned_claim_healed(p, w, out.succeeded.load(), out.failed.load());
    }
}

}  // namespace
}  // namespace lifeguard::testing
