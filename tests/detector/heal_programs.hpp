// The randomized programs of the heal oracles (heal_oracle_test.cpp with threads only,
// tests/async/async_heal_oracle_test.cpp with coroutines among them), the pools they run on and
// what each mode promises:
//  - the claim declared (max_nesting = the deepest nesting): never a knot, never a failed or
//    timed-out acquire, never more than max_size open;
//  - the claim learned under heal, max_overflow = Cm - 1: never a failed or timed-out acquire,
//    never more than max_size + max_overflow open.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "detector/heal_support.hpp"

namespace lifeguard::testing {

/// Up to 40 tasks on one pool of up to 16, nesting up to 4 deep (some inner calls in
/// owner_scopes of their own), holding for random lengths, all started at once.
struct program {
    std::size_t pool_size = 0;
    std::size_t deepest = 1;
    std::vector<login_task> tasks;       ///< on threads of their own
    std::vector<login_task> coroutines;  ///< on one io_context thread

    std::size_t size() const noexcept { return tasks.size() + coroutines.size(); }
    std::string describe() const {
        return "pool " + std::to_string(pool_size) + ", " + std::to_string(tasks.size()) + " threads and " +
               std::to_string(coroutines.size()) + " coroutines, deepest " + std::to_string(deepest);
    }
};

/// With `with_coroutines`, about one task in three is a coroutine.
inline program random_program(std::mt19937_64& rng, bool with_coroutines = false) {
    program p;
    const std::size_t tasks = 2 + rng() % 39;  // 2..40
    for (std::size_t i = 0; i < tasks; ++i) {
        login_task t{.depth = 1 + rng() % 4, .scoped_inner = rng() % 3 == 0, .hold_yields = static_cast<int>(rng() % 64)};
        p.deepest = std::max(p.deepest, t.depth);
        (with_coroutines && rng() % 3 == 0 ? p.coroutines : p.tasks).push_back(t);
    }
    p.pool_size = p.deepest + rng() % (17 - p.deepest);  // deepest..16: every task can finish alone
    return p;
}

constexpr int programs_per_mode = 12;

inline pool_options declared_claim_options(const program& p) {
    return {.name = "app", .max_size = p.pool_size, .on_deadlock = deadlock_policy::report, .max_nesting = p.deepest};
}

/// Cm - 1 emergency connections let one member of a knot learned at depth Cm finish.
inline std::size_t heal_overflow(const program& p) { return std::min(std::max<std::size_t>(1, p.deepest - 1), p.pool_size); }

inline pool_options learned_claim_options(const program& p) {
    return {.name = "app", .max_size = p.pool_size, .on_deadlock = deadlock_policy::heal, .max_overflow = heal_overflow(p)};
}

inline void expect_everyone_finished(const program& p, const watched_pool& w, int succeeded, int failed) {
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(succeeded, static_cast<int>(p.size()));
    EXPECT_EQ(w.pool->stats().timeouts, 0u);
    EXPECT_EQ(w.pool->stats().active, 0u);
}

inline void expect_declared_claim_kept(const program& p, detector_fixture& f, const watched_pool& w, int succeeded,
                                       int failed) {
    expect_everyone_finished(p, w, succeeded, failed);
    EXPECT_EQ(f.detector->stats().deadlocks, 0u);
    EXPECT_LE(w.peak->peak(), p.pool_size);
}

inline void expect_learned_claim_healed(const program& p, const watched_pool& w, int succeeded, int failed) {
    expect_everyone_finished(p, w, succeeded, failed);
    EXPECT_EQ(w.pool->stats().emergency_failed, 0u);
    EXPECT_LE(w.peak->peak(), p.pool_size + heal_overflow(p));
}

enum class claim_mode { declared, learned };

/// Runs programs_per_mode random programs drawn from `seed`, each on a fresh watched pool set up
/// for `mode`, through `run(pool, program, succeeded, failed)`, and checks what `mode` promises.
template <class Run>
void run_oracle(std::uint64_t seed, claim_mode mode, bool with_coroutines, Run&& run) {
    std::mt19937_64 rng(seed);
    for (int round = 0; round < programs_per_mode; ++round) {
        const program p = random_program(rng, with_coroutines);
        SCOPED_TRACE(p.describe());
        detector_fixture f;
        auto w = threaded_watched_pool(f, mode == claim_mode::declared ? declared_claim_options(p) : learned_claim_options(p));
        int succeeded = 0, failed = 0;
        run(*w.pool, p, succeeded, failed);
        if (mode == claim_mode::declared)
            expect_declared_claim_kept(p, f, w, succeeded, failed);
        else
            expect_learned_claim_healed(p, w, succeeded, failed);
    }
}

}  // namespace lifeguard::testing
