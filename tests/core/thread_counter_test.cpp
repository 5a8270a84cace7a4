// thread_counter: exact sums across threads that add without a locked instruction, cells that
// outlive neither their thread nor their counter, and reads that never go backwards.
#include "lifeguard/detail/thread_counter.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

using lifeguard::detail::thread_counter;

TEST(ThreadCounter, SumsOneThreadsAdds) {
    thread_counter c;
    EXPECT_EQ(c.read(), 0u);
    for (int i = 0; i < 1000; ++i) c.add();
    c.add(24);
    EXPECT_EQ(c.read(), 1024u);
}

TEST(ThreadCounter, MoreCountersThanCellsStayExact) {
    constexpr std::size_t n = thread_counter::cells_per_thread + 3;  // the last ones find no cell
    std::array<std::unique_ptr<thread_counter>, n> counters;
    for (auto& c : counters) c = std::make_unique<thread_counter>();
    for (int round = 0; round < 10; ++round)
        for (std::size_t i = 0; i < n; ++i) counters[i]->add(i + 1);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(counters[i]->read(), 10 * (i + 1)) << "counter " << i;
}

TEST(ThreadCounter, ACellFreedByADestroyedCounterStartsAtZeroForTheNext) {
    // Fill every cell of this thread, free them, and count again in the same cells.
    for (int generation = 0; generation < 3; ++generation) {
        std::vector<std::unique_ptr<thread_counter>> counters;
        for (std::size_t i = 0; i < thread_counter::cells_per_thread; ++i) {
            counters.push_back(std::make_unique<thread_counter>());
            counters.back()->add(100 + i);
        }
        for (std::size_t i = 0; i < counters.size(); ++i)
            EXPECT_EQ(counters[i]->read(), 100 + i) << "generation " << generation << ", counter " << i;
    }
}

TEST(ThreadCounter, ACounterHoldsACellOnlyWhileItLives) {
    const std::size_t before = thread_counter::cells_held_by_this_thread();
    {
        thread_counter c;
        EXPECT_EQ(thread_counter::cells_held_by_this_thread(), before) << "no cell before the first add";
        c.add();
        c.add();
        EXPECT_EQ(thread_counter::cells_held_by_this_thread(), before + 1);
    }
    EXPECT_EQ(thread_counter::cells_held_by_this_thread(), before) << "the destroyed counter's cell is free again";
}

TEST(ThreadCounter, CountsEachAddOnceWhileThreadsLiveAndAfterTheyExit) {
    constexpr int threads = 8;
    constexpr std::uint64_t adds = 5000;
    thread_counter c;
    std::barrier added(threads + 1);
    std::barrier read_done(threads + 1);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (std::uint64_t i = 0; i < adds; ++i) c.add();
            added.arrive_and_wait();
            read_done.arrive_and_wait();  // stay alive while the main thread reads the cells
        });
    added.arrive_and_wait();
    EXPECT_EQ(c.read(), threads * adds) << "read from the live threads' cells";
    read_done.arrive_and_wait();
    for (auto& w : workers) w.join();
    EXPECT_EQ(c.read(), threads * adds) << "folded into the counter when the threads exited";
}

TEST(ThreadCounter, AThreadOutlivingItsCounterLeavesNothingBehind) {
    std::barrier step(2);
    auto c = std::make_unique<thread_counter>();
    std::thread worker([&] {
        c->add(7);
        step.arrive_and_wait();  // the main thread destroys the counter
        step.arrive_and_wait();
        thread_counter next;  // the freed cell is claimed again, from zero
        next.add(3);
        EXPECT_EQ(next.read(), 3u);
    });
    step.arrive_and_wait();
    EXPECT_EQ(c->read(), 7u);
    c.reset();
    step.arrive_and_wait();
    worker.join();
}

// Adds from a thread_local destructor that runs after the counter's exit hook (it was
// constructed before the thread's first add, so it is destroyed after the hook).
struct adds_when_destroyed {
    thread_counter* counter = nullptr;
    ~adds_when_destroyed() {
        if (counter) counter->add(5);
    }
};
thread_local adds_when_destroyed late_adder;

TEST(ThreadCounter, AnAddAfterTheThreadsExitHookIsCountedToo) {
    thread_counter c;
    const std::size_t threads_before = thread_counter::registered_thread_count();
    std::thread worker([&] {
        late_adder.counter = &c;  // constructed now, before the first add registers the hook
        c.add();
    });
    worker.join();
    EXPECT_EQ(c.read(), 6u);
    EXPECT_EQ(thread_counter::registered_thread_count(), threads_before)
        << "the exited thread left cells in the registry: a read would walk its freed storage";
}

TEST(ThreadCounter, ReadsNeverGoBackwardsWhileThreadsAddAndExit) {
    thread_counter c;
    std::atomic<bool> stop{false};
    std::uint64_t last = 0;
    bool backwards = false;
    std::thread reader([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            const std::uint64_t now = c.read();
            if (now < last) backwards = true;
            last = now;
        }
    });
    constexpr int waves = 20, per_wave = 4;
    constexpr std::uint64_t adds = 500;
    for (int wave = 0; wave < waves; ++wave) {
        std::vector<std::thread> workers;
        for (int t = 0; t < per_wave; ++t)
            workers.emplace_back([&] {
                for (std::uint64_t i = 0; i < adds; ++i) c.add();
            });
        for (auto& w : workers) w.join();  // each exit folds its cell while the reader reads
    }
    stop = true;
    reader.join();
    EXPECT_FALSE(backwards);
    EXPECT_EQ(c.read(), waves * per_wave * adds);
}

}  // namespace
