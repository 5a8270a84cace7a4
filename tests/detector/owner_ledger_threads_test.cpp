// The owner ledger with threads: parked slots of exiting threads come back, a parking thread
// may outlive its ledger, and concurrent adds and removes keep exact books.
#include <gtest/gtest.h>

#include <barrier>
#include <memory>
#include <thread>
#include <vector>

#include "lifeguard/diagnostics/detail/owner_ledger.hpp"
#include "support/ledger_entries.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

using lifeguard::testing::lease_entry;
using lifeguard::testing::ledger_entries;

TEST(OwnerLedger, ThreadsThatExitGiveTheirParkedSlotsBack) {
    // 64 slots; 200 threads each park one slot for their own owner and exit. Had the slots
    // stayed parked, the table would be full.
    owner_ledger l(64);
    for (owner_id o = 1000; o < 1200; ++o)
        std::thread([&, o] {
            ASSERT_TRUE(l.add(o, lease_entry(o, 1)));
            ASSERT_TRUE(l.remove(o, ledger_entry::lease_tag(o), 1, true));
        }).join();
    std::size_t added = 0;
    for (owner_id o = 1; o <= 128; ++o) added += l.add(o, lease_entry(o, 1));
    EXPECT_GE(added, 120u);  // hashing may leave a few neighbourhoods full
    EXPECT_EQ(l.dropped(), 128 - added);
}

TEST(OwnerLedger, AParkingThreadMayOutliveItsLedger) {
    // The thread parks a slot in a ledger that is destroyed before it exits, then uses another.
    auto first = std::make_unique<owner_ledger>(64);
    std::barrier step(2);
    std::thread t([&] {
        ASSERT_TRUE(first->add(1, lease_entry(1, 1)));
        ASSERT_TRUE(first->remove(1, ledger_entry::lease_tag(1), 1, true));
        step.arrive_and_wait();  // main destroys `first`
        step.arrive_and_wait();
        owner_ledger second(64);
        ASSERT_TRUE(second.add(1, lease_entry(2, 1)));
        ASSERT_TRUE(second.remove(1, ledger_entry::lease_tag(2), 1, true));
        ASSERT_TRUE(second.add(1, lease_entry(3, 1)));
        EXPECT_EQ(ledger_entries(second, 1).size(), 1u);
        ASSERT_TRUE(second.remove(1, ledger_entry::lease_tag(3), 1, true));
    });
    step.arrive_and_wait();
    first.reset();
    step.arrive_and_wait();
    t.join();  // exits with a slot parked in a ledger that died with the thread's scope
}

TEST(OwnerLedger, AnEntryRemovedByAnotherThreadLeavesTheAddersShortcutHarmless) {
    // The adding thread remembers where its entry went; another thread removes it and a
    // neighbouring owner takes the slot. The adder's remove must not free that owner's entry.
    owner_ledger l(64);                           // 32 buckets: owners 7 and 39 share one
    ASSERT_TRUE(l.add(7, lease_entry(1, 1)));
    std::thread([&] {
        ASSERT_TRUE(l.remove(7, ledger_entry::lease_tag(1), 1));
        ASSERT_TRUE(l.add(39, lease_entry(1, 1)));  // same bucket, same tag and pool
    }).join();
    EXPECT_FALSE(l.remove(7, ledger_entry::lease_tag(1), 1));
    EXPECT_TRUE(l.empty(7));
    ASSERT_EQ(ledger_entries(l, 39).size(), 1u);
    EXPECT_TRUE(l.remove(39, ledger_entry::lease_tag(1), 1));
    EXPECT_TRUE(l.empty(39));

    // Removed and parked by the other thread (which then exits): the adder's remove finds nothing,
    // and the slot comes back for everyone.
    ASSERT_TRUE(l.add(7, lease_entry(2, 1)));
    std::thread([&] { ASSERT_TRUE(l.remove(7, ledger_entry::lease_tag(2), 1, true)); }).join();
    EXPECT_FALSE(l.remove(7, ledger_entry::lease_tag(2), 1, true));
    EXPECT_TRUE(l.empty(7));
    for (std::uint64_t i = 0; i < owner_ledger::slots_per_bucket; ++i) ASSERT_TRUE(l.add(7, lease_entry(10 + i, 1)));
    EXPECT_EQ(ledger_entries(l, 7).size(), owner_ledger::slots_per_bucket);
}

TEST(OwnerLedgerConcurrency, ManyThreadsKeepExactBookkeeping) {
    owner_ledger l(1024);
    constexpr int threads = 4, rounds = 20'000;
    std::barrier start(threads);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int r = 0; r < rounds; ++r) {
                // Each thread acts for its own owner, and for a shared one every few rounds;
                // half of its entries are removed "by another thread" (the next owner's id).
                const owner_id mine = 1 + static_cast<owner_id>(t);
                const owner_id shared = 99;
                const std::uint64_t id = static_cast<std::uint64_t>(t) << 32 | static_cast<std::uint64_t>(r);
                ASSERT_TRUE(l.add(mine, lease_entry(id, 1)));
                if (r % 4 == 0) {
                    ASSERT_TRUE(l.add(shared, lease_entry(id, 2)));
                }
                EXPECT_FALSE(l.empty(mine));
                ASSERT_TRUE(l.remove(mine, ledger_entry::lease_tag(id), 1, r % 2 == 0));
                if (r % 4 == 0) {
                    ASSERT_TRUE(l.remove(shared, ledger_entry::lease_tag(id), 2, true));
                }
            }
        });
    for (auto& t : ts) t.join();
    for (owner_id o = 1; o <= threads; ++o) EXPECT_TRUE(l.empty(o));
    EXPECT_TRUE(l.empty(99));
    EXPECT_EQ(l.dropped(), 0u);
}

}  // namespace
}  // namespace lifeguard::diagnostics::detail
