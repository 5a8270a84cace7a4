// The detector's owner ledger on its own: entries by owner, spilling, a full table, purging a
// pool, and slot parking. (Threads: owner_ledger_threads_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "lifeguard/diagnostics/detail/owner_ledger.hpp"
#include "support/ledger_entries.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

using lifeguard::testing::lease_entry;
using lifeguard::testing::ledger_entries;

TEST(OwnerLedger, EntriesAreKeptPerOwner) {
    owner_ledger l(64);
    EXPECT_TRUE(l.empty(1));
    ASSERT_TRUE(l.add(1, lease_entry(10, 7)));
    ASSERT_TRUE(l.add(1, lease_entry(11, 8)));
    ASSERT_TRUE(l.add(2, lease_entry(12, 7)));
    ASSERT_TRUE(l.add(1, {ledger_entry::wait_tag(5), 9, std::source_location::current()}));
    EXPECT_FALSE(l.empty(1));
    EXPECT_FALSE(l.empty(2));
    EXPECT_TRUE(l.empty(3));
    const auto mine = ledger_entries(l, 1);
    ASSERT_EQ(mine.size(), 3u);
    EXPECT_EQ(std::ranges::count_if(mine, [](const ledger_entry& e) { return e.is_wait(); }), 1);
    EXPECT_FALSE(l.remove(1, ledger_entry::lease_tag(12), 7)) << "owner 2's lease";
    EXPECT_FALSE(l.remove(1, ledger_entry::lease_tag(10), 8)) << "wrong pool";
    EXPECT_TRUE(l.remove(1, ledger_entry::lease_tag(10), 7));
    EXPECT_TRUE(l.remove(1, ledger_entry::lease_tag(11), 8));
    EXPECT_TRUE(l.remove(1, ledger_entry::wait_tag(5), 9));
    EXPECT_TRUE(l.empty(1));
    EXPECT_EQ(ledger_entries(l, 2).size(), 1u);
}

TEST(OwnerLedger, ABusyOwnerSpillsIntoNeighbouringBuckets) {
    owner_ledger l(64);
    for (std::uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(l.add(5, lease_entry(i, 1)));  // 7 per bucket
    EXPECT_EQ(ledger_entries(l, 5).size(), 40u);
    for (std::uint64_t i = 0; i < 40; i += 2) ASSERT_TRUE(l.remove(5, ledger_entry::lease_tag(i), 1));
    EXPECT_EQ(ledger_entries(l, 5).size(), 20u);
    for (std::uint64_t i = 1; i < 40; i += 2) ASSERT_TRUE(l.remove(5, ledger_entry::lease_tag(i), 1));
    EXPECT_TRUE(l.empty(5));
    EXPECT_EQ(l.dropped(), 0u);
}

TEST(OwnerLedger, AFullNeighbourhoodDropsAndCounts) {
    owner_ledger l(64);
    const std::size_t room = owner_ledger::slots_per_bucket * owner_ledger::max_probe;
    for (std::uint64_t i = 0; i < room; ++i) ASSERT_TRUE(l.add(5, lease_entry(i, 1)));
    EXPECT_FALSE(l.add(5, lease_entry(room, 1)));
    EXPECT_EQ(l.dropped(), 1u);
    EXPECT_EQ(ledger_entries(l, 5).size(), room);
    for (std::uint64_t i = 0; i < room; ++i) ASSERT_TRUE(l.remove(5, ledger_entry::lease_tag(i), 1));
    EXPECT_TRUE(l.empty(5));
    EXPECT_TRUE(l.add(5, lease_entry(0, 1))) << "room again";
}

TEST(OwnerLedger, RemovePoolForgetsOnlyThatPool) {
    owner_ledger l(64);
    for (owner_id o = 1; o <= 20; ++o) {
        ASSERT_TRUE(l.add(o, lease_entry(o, 100)));
        ASSERT_TRUE(l.add(o, lease_entry(o, 200)));
    }
    EXPECT_EQ(l.remove_pool(100), 20u);
    for (owner_id o = 1; o <= 20; ++o) {
        const auto left = ledger_entries(l, o);
        ASSERT_EQ(left.size(), 1u);
        EXPECT_EQ(left[0].pool, 200u);
    }
}

TEST(OwnerLedger, AParkedSlotLooksEmptyAndIsReusedByItsOwner) {
    owner_ledger l(64);
    ASSERT_TRUE(l.add(9, lease_entry(1, 1)));
    ASSERT_TRUE(l.remove(9, ledger_entry::lease_tag(1), 1, /*park=*/true));
    EXPECT_TRUE(l.empty(9));
    EXPECT_TRUE(ledger_entries(l, 9).empty());
    ASSERT_TRUE(l.add(9, lease_entry(2, 1)));
    const auto e = ledger_entries(l, 9);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].tag, ledger_entry::lease_tag(2));
    // Another owner's entries are unaffected by our parking.
    ASSERT_TRUE(l.add(10, lease_entry(3, 1)));
    ASSERT_TRUE(l.remove(10, ledger_entry::lease_tag(3), 1, true));  // this thread now parks 10's slot
    EXPECT_EQ(ledger_entries(l, 9).size(), 1u);
    EXPECT_TRUE(l.empty(10));
    ASSERT_TRUE(l.remove(9, ledger_entry::lease_tag(2), 1, true));
    EXPECT_TRUE(l.empty(9));
}

}  // namespace
}  // namespace lifeguard::diagnostics::detail
