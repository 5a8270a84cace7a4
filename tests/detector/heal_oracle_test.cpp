// Randomized programs (heal_programs.hpp) of threads against what admission and heal promise:
// with the claim declared, no knot and no failure within max_size; with the claim learned under
// heal, no failure within max_size + max_overflow. The banker's check itself is compared with a
// brute force in tests/core/admission_test.cpp; tests/async/async_heal_oracle_test.cpp runs
// such programs with coroutines among the tasks.
#include <gtest/gtest.h>

#include "detector/heal_programs.hpp"

namespace lifeguard::testing {
namespace {

/// Runs the program's tasks, each on a thread of its own.
void run_threads(threaded_pool& pool, const program& p, int& succeeded, int& failed) {
    login_outcome out;
    run_logins(pool, p.tasks, 0, out);
    succeeded = out.succeeded.load();
    failed = out.failed.load();
}

TEST(HealOracle, WithTheClaimDeclaredNoKnotFormsAndNobodyFailsOrWaitsOut) {
    run_oracle(0x11fe6a4d, claim_mode::declared, false, run_threads);
}

TEST(HealOracle, WithTheClaimLearnedHealLetsEveryTaskFinish) {
    run_oracle(0x6ea1ed, claim_mode::learned, false, run_threads);
}

}  // namespace
}  // namespace lifeguard::testing
