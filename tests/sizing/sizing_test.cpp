// Unit tests of include/lifeguard/sizing.hpp: the formulas on known cases (HikariCP's wiki, the
// AUTO-id seed story), zero inputs, overflow at the exact boundaries, and a randomized
// comparison with a naive 128-bit model. The static_asserts prove the functions are constexpr.
#include <gtest/gtest.h>

#include <cstddef>
#include <lifeguard/sizing.hpp>
#include <limits>
#include <random>
#include <set>
#include <string>

namespace {

using lifeguard::deadlock_free_minimum;
using lifeguard::fleet_budget;
using lifeguard::fleet_demand;
using lifeguard::fleet_fits;
using lifeguard::recommend_size;
using lifeguard::server_budget;
using lifeguard::sizing_error;
using lifeguard::throughput_size;

constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();

// Compile-time: everything is usable in constant expressions, errors included.
static_assert(deadlock_free_minimum(3, 4).value == 10);
static_assert(deadlock_free_minimum(8, 3).value == 17);
static_assert(deadlock_free_minimum(50, 2).value == 51);
static_assert(deadlock_free_minimum(size_max, 2).error == sizing_error::overflow);
static_assert(!deadlock_free_minimum(0, 2));
static_assert(throughput_size(1, 1).value == 3);
static_assert(throughput_size(0, 1).error == sizing_error::zero_cores);
static_assert(server_budget(100, 3, 4).value.per_instance == 24);
static_assert(fleet_fits(server_budget(100, 3, 4).value, 24));
static_assert(!fleet_fits(server_budget(100, 3, 4).value, 25));
static_assert(fleet_demand(size_max, 2).error == sizing_error::overflow);
static_assert(recommend_size({.tasks = 50, .connections_per_task = 2, .cores = 1, .effective_spindles = 1})
                  .value.max_size == 51);
static_assert(lifeguard::to_string(sizing_error::overflow) == "the result is too large (overflow)");

TEST(DeadlockFreeMinimum, MatchesHikariWikiExamples) {
    // "About Pool Sizing": Tn = 3, Cm = 4 -> 10; Tn = 8, Cm = 3 -> 17.
    EXPECT_EQ(deadlock_free_minimum(3, 4).value, 10u);
    EXPECT_EQ(deadlock_free_minimum(8, 3).value, 17u);
    EXPECT_TRUE(deadlock_free_minimum(3, 4).ok());
}

TEST(DeadlockFreeMinimum, SeedCaseOfFiftyLoginsWithTwoConnectionsNeedsFiftyOne) {
    const auto r = deadlock_free_minimum(50, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value, 51u);
    // One fewer is the deadlock of the story: 50 tasks each hold one and wait for a second.
    EXPECT_GT(r.value, 50u * (2u - 1u));
}

TEST(DeadlockFreeMinimum, OneConnectionPerTaskNeedsOneForAnyTaskCount) {
    EXPECT_EQ(deadlock_free_minimum(1, 1).value, 1u);
    EXPECT_EQ(deadlock_free_minimum(1000, 1).value, 1u);
    EXPECT_EQ(deadlock_free_minimum(size_max, 1).value, 1u);
}

TEST(DeadlockFreeMinimum, SingleTaskNeedsAllItsConnections) {
    EXPECT_EQ(deadlock_free_minimum(1, 5).value, 5u);
}

TEST(DeadlockFreeMinimum, RejectsZeroInputs) {
    EXPECT_EQ(deadlock_free_minimum(0, 2).error, sizing_error::zero_tasks);
    EXPECT_EQ(deadlock_free_minimum(5, 0).error, sizing_error::zero_connections_per_task);
    EXPECT_EQ(deadlock_free_minimum(0, 0).error, sizing_error::zero_tasks);
    EXPECT_FALSE(deadlock_free_minimum(5, 0).ok());
}

TEST(DeadlockFreeMinimum, ReportsOverflowAtTheExactBoundary) {
    // The largest representable results succeed...
    EXPECT_EQ(deadlock_free_minimum(1, size_max).value, size_max);
    EXPECT_EQ(deadlock_free_minimum(size_max - 1, 2).value, size_max);
    EXPECT_EQ(deadlock_free_minimum(2, size_max / 2 + 1).value, size_max);
    // ...one more overflows: in the + 1, and in the multiplication.
    EXPECT_EQ(deadlock_free_minimum(size_max, 2).error, sizing_error::overflow);
    EXPECT_EQ(deadlock_free_minimum(2, size_max / 2 + 2).error, sizing_error::overflow);
    EXPECT_EQ(deadlock_free_minimum(size_max / 2 + 1, 3).error, sizing_error::overflow);
    EXPECT_EQ(deadlock_free_minimum(size_max, size_max).error, sizing_error::overflow);
}

TEST(ThroughputSize, CoresTimesTwoPlusSpindles) {
    EXPECT_EQ(throughput_size(1, 1).value, 3u);  // the seed's tiny database server
    EXPECT_EQ(throughput_size(4, 1).value, 9u);  // the wiki's 4-core i7 with one disk
    EXPECT_EQ(throughput_size(8, 0).value, 16u);
}

TEST(ThroughputSize, RejectsZeroCoresButAcceptsZeroSpindles) {
    EXPECT_EQ(throughput_size(0, 0).error, sizing_error::zero_cores);
    EXPECT_EQ(throughput_size(0, 4).error, sizing_error::zero_cores);
    EXPECT_TRUE(throughput_size(2, 0));
}

TEST(ThroughputSize, ReportsOverflow) {
    EXPECT_EQ(throughput_size(size_max / 2, 1).value, size_max);
    EXPECT_EQ(throughput_size(size_max / 2, 2).error, sizing_error::overflow);
    EXPECT_EQ(throughput_size(size_max / 2 + 1, 0).error, sizing_error::overflow);
    EXPECT_EQ(throughput_size(1, size_max).error, sizing_error::overflow);
    EXPECT_EQ(throughput_size(1, size_max - 2).value, size_max);
}

TEST(ServerBudget, SplitsWhatIsLeftAfterReservedAcrossInstances) {
    const auto b = server_budget(100, 3, 4);
    ASSERT_TRUE(b);
    EXPECT_EQ(b.value.available, 97u);
    EXPECT_EQ(b.value.per_instance, 24u);  // rounded down: 4 x 25 = 100 would not fit
    EXPECT_TRUE(fleet_fits(b.value, 24));
    EXPECT_FALSE(fleet_fits(b.value, 25));
    EXPECT_EQ(server_budget(100, 0, 1).value.per_instance, 100u);
    EXPECT_EQ(server_budget(100, 99, 1).value.available, 1u);
    EXPECT_EQ(server_budget(100, 3, 200).value.per_instance, 0u);  // more instances than slots
    EXPECT_FALSE(fleet_fits(server_budget(100, 3, 200).value, 1));
}

TEST(ServerBudget, RejectsInvalidInputs) {
    EXPECT_EQ(server_budget(0, 0, 1).error, sizing_error::zero_server_max_connections);
    EXPECT_EQ(server_budget(100, 100, 1).error, sizing_error::reserved_exceeds_server);
    EXPECT_EQ(server_budget(100, 101, 1).error, sizing_error::reserved_exceeds_server);
    EXPECT_EQ(server_budget(100, 3, 0).error, sizing_error::zero_instances);
}

TEST(FleetDemand, MultipliesAndReportsOverflow) {
    EXPECT_EQ(fleet_demand(4, 51).value, 204u);
    EXPECT_EQ(fleet_demand(1, size_max).value, size_max);
    EXPECT_EQ(fleet_demand(size_max, 2).error, sizing_error::overflow);
    EXPECT_EQ(fleet_demand(2, size_max / 2 + 1).error, sizing_error::overflow);
}

TEST(FleetFits, IsExactEvenWhereTheProductWouldOverflow) {
    const fleet_budget b = server_budget(size_max, 0, 2).value;
    EXPECT_TRUE(fleet_fits(b, size_max / 2));
    EXPECT_FALSE(fleet_fits(b, size_max / 2 + 1));  // 2 x that overflows: must not wrap to "fits"
    EXPECT_FALSE(fleet_fits(server_budget(100, 0, 3).value, size_max));
}

TEST(RecommendSize, SeedCaseGivesFiftyOneAndThree) {
    const auto r =
        recommend_size({.tasks = 50, .connections_per_task = 2, .cores = 1, .effective_spindles = 1});
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value.deadlock_free_minimum, 51u);
    EXPECT_EQ(r.value.throughput_size, 3u);
    EXPECT_EQ(r.value.max_size, 51u);
    EXPECT_EQ(r.value.min_idle, 3u);
}

TEST(RecommendSize, ThroughputWinsWhenTasksDoNotNest) {
    const auto r =
        recommend_size({.tasks = 200, .connections_per_task = 1, .cores = 4, .effective_spindles = 1});
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value.deadlock_free_minimum, 1u);
    EXPECT_EQ(r.value.max_size, 9u);
    EXPECT_EQ(r.value.min_idle, 9u);
}

TEST(RecommendSize, PassesOnTheFirstError) {
    EXPECT_EQ(recommend_size({.tasks = 0, .connections_per_task = 1, .cores = 0}).error,
              sizing_error::zero_tasks);
    EXPECT_EQ(recommend_size({.tasks = 1, .connections_per_task = 1, .cores = 0}).error,
              sizing_error::zero_cores);
    EXPECT_EQ(recommend_size({.tasks = size_max, .connections_per_task = 3, .cores = 1}).error,
              sizing_error::overflow);
    EXPECT_EQ(recommend_size({.tasks = 1, .connections_per_task = 1, .cores = size_max}).error,
              sizing_error::overflow);
}

TEST(SizingError, EveryErrorHasItsOwnDescription) {
    std::set<std::string> seen;
    for (const auto e :
         {sizing_error::none, sizing_error::zero_tasks, sizing_error::zero_connections_per_task,
          sizing_error::zero_cores, sizing_error::zero_instances, sizing_error::zero_server_max_connections,
          sizing_error::reserved_exceeds_server, sizing_error::overflow}) {
        EXPECT_TRUE(seen.insert(std::string(lifeguard::to_string(e))).second) << lifeguard::to_string(e);
    }
}

// The overflow checks against a naive model computed in 128 bits, on random values spread over
// every magnitude (uniform 64-bit values would almost never land near the boundaries).
TEST(Sizing, AgreesWithA128BitModelOnRandomInputs) {
    __extension__ typedef unsigned __int128 wide;  // -Wpedantic: __int128 is a GNU extension
    static_assert(sizeof(std::size_t) == 8, "the model assumes a 64-bit size_t");
    std::mt19937_64 random(20240611);
    const auto any_magnitude = [&] {
        const int bits = static_cast<int>(random() % 65);
        const std::size_t mask = bits == 64 ? size_max : (std::size_t{1} << bits) - 1;
        return random() & mask;
    };
    for (int i = 0; i < 20000; ++i) {
        const std::size_t a = any_magnitude();
        const std::size_t b = any_magnitude();

        const auto minimum = deadlock_free_minimum(a, b);
        if (a == 0 || b == 0) {
            EXPECT_FALSE(minimum.ok());
        } else {
            const wide expected = wide{a} * (wide{b} - 1) + 1;
            if (expected > size_max) {
                EXPECT_EQ(minimum.error, sizing_error::overflow) << a << " " << b;
            } else {
                EXPECT_EQ(wide{minimum.value}, expected) << a << " " << b;
            }
        }

        const auto throughput = throughput_size(a, b);
        if (a != 0) {
            const wide expected = wide{a} * 2 + b;
            if (expected > size_max) {
                EXPECT_EQ(throughput.error, sizing_error::overflow) << a << " " << b;
            } else {
                EXPECT_EQ(wide{throughput.value}, expected) << a << " " << b;
            }
        }

        const std::size_t instances = any_magnitude() | 1;
        const auto budget = server_budget(size_max, any_magnitude() % size_max, instances);
        ASSERT_TRUE(budget);
        EXPECT_EQ(fleet_fits(budget.value, a), wide{instances} * a <= budget.value.available)
            << instances << " x " << a << " vs " << budget.value.available;
        const auto demand = fleet_demand(instances, a);
        EXPECT_EQ(demand.ok(), wide{instances} * a <= size_max);
    }
}

}  // namespace
