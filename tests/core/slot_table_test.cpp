// The bag (detail/slot_table.hpp) on its own: slots of a plain int "connection", no pool, no
// driver, no threads.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "lifeguard/detail/slot_table.hpp"

namespace lifeguard::detail {
namespace {

using table = slot_table<int>;

void set_states(table& t, std::initializer_list<std::uint32_t> states) {
    std::size_t i = 0;
    for (std::uint32_t st : states) t[i++].state.store(st);
}

TEST(SlotTable, SlotsKnowTheirIndexAndStartEmpty) {
    table t(3);
    ASSERT_EQ(t.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(t[i].index, i);
        EXPECT_EQ(t[i].state.load(), slot_empty);
    }
}

TEST(SlotTable, TakeMovesASlotOnlyOutOfTheStateNamed) {
    table t(1);
    EXPECT_FALSE(table::take(t[0], slot_idle, slot_leased));
    EXPECT_EQ(t[0].state.load(), slot_empty);
    EXPECT_TRUE(table::take(t[0], slot_empty, slot_creating));
    EXPECT_EQ(t[0].state.load(), slot_creating);
    EXPECT_FALSE(table::take(t[0], slot_empty, slot_creating)) << "taken once";
}

TEST(SlotTable, TakeAnyTakesTheLowestIndexInTheState) {
    table t(4);
    set_states(t, {slot_leased, slot_idle, slot_empty, slot_idle});
    EXPECT_EQ(t.take_any(slot_idle, slot_leased), &t[1]);
    EXPECT_EQ(t.take_any(slot_idle, slot_leased), &t[3]);
    EXPECT_EQ(t.take_any(slot_idle, slot_leased), nullptr);
    EXPECT_EQ(t.take_any(slot_empty, slot_creating), &t[2]);
}

TEST(SlotTable, CensusCountsEveryStateAndOpenMeansHoldingAConnection) {
    table t(6);
    set_states(t, {slot_empty, slot_creating, slot_idle, slot_idle, slot_leased, slot_held_by_pool});
    const slot_census c = t.census();
    EXPECT_EQ(c.empty, 1u);
    EXPECT_EQ(c.creating, 1u);
    EXPECT_EQ(c.idle, 2u);
    EXPECT_EQ(c.leased, 1u);
    EXPECT_EQ(c.held_by_pool, 1u);
    EXPECT_EQ(c.open(), 4u);
}

TEST(SlotTable, TakeIdleIfTakesOnlyIdleSlotsThePredicateChoosesInIndexOrder) {
    table t(5);
    set_states(t, {slot_idle, slot_leased, slot_idle, slot_idle, slot_empty});
    std::vector<std::uint32_t> asked, taken;
    t.take_idle_if(
        [&](const table::slot_type& s) {
            asked.push_back(s.index);
            return s.index != 2;
        },
        [&](table::slot_type& s) { taken.push_back(s.index); });
    EXPECT_EQ(asked, (std::vector<std::uint32_t>{0, 2, 3}));
    EXPECT_EQ(taken, (std::vector<std::uint32_t>{0, 3}));
    EXPECT_EQ(t[0].state.load(), slot_held_by_pool);
    EXPECT_EQ(t[2].state.load(), slot_idle);
    EXPECT_EQ(t[3].state.load(), slot_held_by_pool);
}

TEST(SlotTable, TheFairnessBoundCountsFromEachSlotsOwnLeases) {
    table t(2);
    t[0].lease_seq.store(5);
    t[1].lease_seq.store(70);
    t.owe_head_after(1024);
    EXPECT_EQ(t[0].owed_at_seq.load(), 5u + 1024);
    EXPECT_EQ(t[1].owed_at_seq.load(), 70u + 1024);
    t.owe_head_after(std::nullopt);
    EXPECT_EQ(t[0].owed_at_seq.load(), std::numeric_limits<std::uint64_t>::max());
}

TEST(SlotTable, RetirementIsDueAtTheLifetimesEndOrAfterAnEviction) {
    slot<int> s;
    s.expires_at = 1'000;
    s.generation = 3;
    EXPECT_EQ(retirement_due(s, 999, 3), std::nullopt);
    EXPECT_EQ(retirement_due(s, 1'000, 3), close_reason::lifetime) << "due at exactly its end";
    EXPECT_EQ(retirement_due(s, 10, 4), close_reason::evicted);
    EXPECT_EQ(retirement_due(s, 1'000, 4), close_reason::lifetime) << "the lifetime is named first";
    s.expires_at = never;
    EXPECT_EQ(retirement_due(s, std::numeric_limits<std::int64_t>::max() - 1, 3), std::nullopt);
}

TEST(SlotTable, LastActiveIsTheLaterOfLastUseAndLastCheck) {
    slot<int> s;
    s.last_used.store(10);
    s.last_checked.store(30);
    EXPECT_EQ(s.last_active(), 30);
    s.last_used.store(40);
    EXPECT_EQ(s.last_active(), 40);
}

}  // namespace
}  // namespace lifeguard::detail
