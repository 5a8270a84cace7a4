// A stress check of reference_pool.hpp, so the floor the benchmark reports is the floor of a
// correct pool: more threads than connections borrow and return many times, and every lease
// is counted on its connection. It fails when a connection is lent to two threads at once, when
// a lease hands out a connection the pool does not own, when the leases counted differ from the
// borrows made, or when the threads stop making progress (a lost wakeup leaves a borrower parked
// with a free slot: the check then prints why and aborts, since the parked threads cannot be
// joined). Holders yield now and then while holding, so the pool runs dry and borrowers park;
// the pool yields at its interleaving points (reference_pool.hpp), so a race lost in a window of
// a few instructions is lost often.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "reference_pool.hpp"

namespace lifeguard_bench {

struct yield_interleave {
    static void point() noexcept { std::this_thread::yield(); }
};

struct reference_check_shape {
    std::size_t size;        // connections in the pool
    unsigned threads;        // borrowing threads
    unsigned rounds;         // borrow + return pairs per thread
    reference_detail::fences fence_pair = reference_detail::fences::asymmetric_if_available;
};

/// "" when the pool behaved, else what went wrong (with the shape).
inline std::string check_reference_pool(const reference_check_shape& shape,
                                        std::chrono::seconds stuck_after = std::chrono::seconds(60)) {
    std::vector<int> numbers(shape.size);
    std::iota(numbers.begin(), numbers.end(), 0);
    reference_pool<int, yield_interleave> pool(std::move(numbers), shape.fence_pair);

    // Per connection: how many threads hold it right now, and how many leases it has had.
    const auto holders = std::make_unique<std::atomic<unsigned>[]>(shape.size);
    const auto leases = std::make_unique<std::atomic<unsigned long>[]>(shape.size);
    std::atomic<unsigned long> lent_twice{0};
    std::atomic<unsigned long> foreign{0};

    std::mutex finished_mutex;
    std::condition_variable finished_changed;
    unsigned finished = 0;
    std::latch start(shape.threads);

    std::vector<std::thread> threads;
    for (unsigned t = 0; t < shape.threads; ++t) {
        threads.emplace_back([&] {
            start.arrive_and_wait();
            for (unsigned round = 0; round < shape.rounds; ++round) {
                auto lease = pool.acquire();
                const auto connection = static_cast<std::size_t>(*lease);
                if (connection >= shape.size) {
                    foreign.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                if (holders[connection].fetch_add(1, std::memory_order_relaxed) != 0)
                    lent_twice.fetch_add(1, std::memory_order_relaxed);
                leases[connection].fetch_add(1, std::memory_order_relaxed);
                if (round % 8 == 0) std::this_thread::yield();  // hold across a reschedule
                holders[connection].fetch_sub(1, std::memory_order_relaxed);
            }
            const std::lock_guard lock(finished_mutex);
            ++finished;
            finished_changed.notify_one();
        });
    }

    const std::string what = "reference_pool (" + std::to_string(shape.size) + " connections, " +
                             std::to_string(shape.threads) + " threads, " + std::to_string(shape.rounds) +
                             " rounds each, " + (pool.uses_asymmetric_fences() ? "membarrier" : "seq_cst") +
                             " fences): ";
    {
        std::unique_lock lock(finished_mutex);
        if (!finished_changed.wait_for(lock, stuck_after, [&] { return finished == shape.threads; })) {
            std::fprintf(stderr, "%sonly %u of %u threads finished within %lld s: a borrower is parked "
                         "with no wakeup coming (lost wakeup?)\n",
                         what.c_str(), finished, shape.threads, static_cast<long long>(stuck_after.count()));
            std::abort();
        }
    }
    for (std::thread& thread : threads) thread.join();

    unsigned long counted = 0;
    for (std::size_t i = 0; i < shape.size; ++i) counted += leases[i].load();
    const unsigned long borrowed = static_cast<unsigned long>(shape.threads) * shape.rounds;
    if (lent_twice.load() != 0)
        return what + std::to_string(lent_twice.load()) + " leases got a connection another thread still held";
    if (foreign.load() != 0)
        return what + std::to_string(foreign.load()) + " leases got a connection the pool does not own";
    if (counted != borrowed)
        return what + std::to_string(counted) + " leases counted for " + std::to_string(borrowed) + " borrows";
    return {};
}

/// The shapes the benchmark and its check both run: one connection shared by many threads, the
/// benchmark's pool of 2 and of 10, each with more threads than connections, `rounds` each; then
/// `short_runs` short runs of one connection, two threads and one borrow each. A lost wakeup during a long run
/// heals (the next return wakes the sleeper) and only shows when no return is left to come, so
/// the short runs end, each, with the moment where one would hang. "" or the first failure.
/// Both fence pairs are checked (the symmetric one is what runs where membarrier is not allowed).
inline std::string check_reference_pool_shapes(unsigned rounds, unsigned short_runs) {
    for (const reference_detail::fences fence_pair :
         {reference_detail::fences::asymmetric_if_available, reference_detail::fences::symmetric}) {
        for (const reference_check_shape& shape :
             {reference_check_shape{1, 4, rounds, fence_pair}, reference_check_shape{2, 8, rounds, fence_pair},
              reference_check_shape{10, 16, rounds, fence_pair}}) {
            if (std::string failure = check_reference_pool(shape); !failure.empty()) return failure;
        }
        for (unsigned run = 0; run < short_runs; ++run) {
            if (std::string failure = check_reference_pool({1, 2, 1, fence_pair}); !failure.empty()) return failure;
        }
    }
    return {};
}

}  // namespace lifeguard_bench
