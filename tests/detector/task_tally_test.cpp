// Tn and Cm counted in one place (diagnostics/src/task_tally) and recorded in one place
// (pool_usage in diagnostics/src/records.hpp): pure tests.
#include <gtest/gtest.h>

#include "records.hpp"
#include "task_tally.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

TEST(TaskTally, DistinctHoldersAndWaitersAreTheTasks) {
    const task_tally t = tally_tasks({1, 2, 2}, {{3, {}}, {2, {}}});
    EXPECT_EQ(t.tasks, 3u);
    EXPECT_EQ(t.depth, 3u) << "task 2 holds two and asks for a third";
}

TEST(TaskTally, NobodyWaitingIsDepthOne) {
    EXPECT_EQ(tally_tasks({1, 2}, {}).depth, 1u);
    EXPECT_EQ(tally_tasks({}, {}).tasks, 0u);
}

TEST(TaskTally, AThreadBlockedInANestedScopeIsOneTaskWithItsEnclosingOwners) {
    // request 10 holds one; its id generator 11 (a scope inside it) waits.
    const task_tally t = tally_tasks({10}, {{11, {10}}});
    EXPECT_EQ(t.tasks, 1u);
    EXPECT_EQ(t.depth, 2u);
}

TEST(TaskTally, EnclosingLeasesAddUp) {
    // thread owner 1 holds one, request 2 (inside) holds one, id generator 3 (inside) waits.
    const task_tally t = tally_tasks({1, 2, 4}, {{3, {2, 1}}, {5, {}}});
    EXPECT_EQ(t.tasks, 3u) << "{1,2,3} is one request; 4 and 5 are two more";
    EXPECT_EQ(t.depth, 3u);
}

TEST(PoolUsage, KeepsTheMostTasksAndTheDeepestNestingSeen) {
    pool_usage u;
    EXPECT_EQ(u.tasks(), 0u);
    EXPECT_EQ(u.depth(), 1u);
    EXPECT_TRUE(u.observe({3, 2})) << "Tn grew";
    EXPECT_FALSE(u.observe({2, 3})) << "Tn did not grow";
    EXPECT_EQ(u.tasks(), 3u);
    EXPECT_EQ(u.depth(), 3u) << "Cm is recorded even when Tn does not grow";
    u.observe_depth(2);
    EXPECT_EQ(u.depth(), 3u);
    u.observe_depth(4);
    EXPECT_EQ(u.depth(), 4u);
    EXPECT_TRUE(u.observe({4, 1}));
    EXPECT_EQ(u.depth(), 4u);
}

}  // namespace
}  // namespace lifeguard::diagnostics::detail
