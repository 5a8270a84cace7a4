// Threads against one pool: FIFO service of waiters, no lost wake-up under saturation, leases
// crossing threads, and close() racing with busy callers. Runs under ThreadSanitizer too.
// Synchronisation is by latches and the pool's own block hook; nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <future>
#include <latch>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolConcurrency, WaitersAreServedInArrivalOrder) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto held = pool->acquire();
    constexpr int n = 6;
    std::vector<int> served;
    std::mutex served_mutex;
    std::vector<std::thread> callers;
    for (int i = 0; i < n; ++i) {
        callers.emplace_back([&, i] {
            auto lease = pool->acquire();
            std::lock_guard lock(served_mutex);
            served.push_back(i);
        });
        f.events->wait_blocked(static_cast<std::size_t>(i) + 1);  // queue them one by one
    }
    held.release();
    for (auto& t : callers) t.join();
    std::vector<int> expected(n);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(served, expected);
}

TEST(PoolConcurrency, EachReturnWakesTheOldestWaiterNotYetWoken) {
    // Two connections come back while three callers wait: the two oldest get them, and the
    // youngest, which no return woke, takes none even if it wakes up by itself.
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    std::optional<manual_pool::lease_type> first = pool->acquire(), second = pool->acquire();
    std::atomic<unsigned> served_mask{0};
    std::atomic<int> served{0};
    std::latch finish{1};
    std::vector<std::thread> callers;
    for (int i = 0; i < 3; ++i) {
        callers.emplace_back([&, i] {
            auto lease = pool->acquire();
            served_mask.fetch_or(1u << i);
            served.fetch_add(1);
            served.notify_all();
            finish.wait();  // keep the connection until the test has looked
        });
        f.events->wait_blocked(static_cast<std::size_t>(i) + 1);  // queue them one by one
    }
    first.reset();
    second.reset();
    for (int seen = served.load(); seen < 2; seen = served.load()) served.wait(seen);
    EXPECT_EQ(served_mask.load(), 0b011u);
    finish.count_down();
    for (auto& t : callers) t.join();
    EXPECT_EQ(served_mask.load(), 0b111u);
}

/// Holds every caller that blocks inside its on_block hook (queued, not yet asleep) until the
/// test lets go: such a waiter cannot take a returned connection by itself.
class holding_observer : public pool_observer {
public:
    void on_block(pool_view&, const wait_info&) override { let_go_.wait(); }
    void let_go() { let_go_.count_down(); }

private:
    std::latch let_go_{1};
};

TEST(PoolConcurrency, AWaiterIsOwedTheConnectionOnceEnoughLeasesHavePassedIt) {
    // The manual clock never moves, so the head's 1 ms starvation deadline never comes: only the
    // lease count can get it its turn. The head is held in its block hook, so it never claims a
    // connection itself; a caller that re-borrows at once barges past it until the connection
    // has been lent fair_after_leases times. Then the pool owes the head: the next return is
    // handed to it, and try_acquire() finds the pool fair.
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto hold = std::make_shared<holding_observer>();
    pool->add_observer(hold);
    std::optional<manual_pool::lease_type> held = pool->acquire();
    std::atomic<bool> served{false};
    std::thread waiter([&] {
        auto lease = pool->acquire();
        served = true;
    });
    f.events->wait_blocked(1);  // the recording observer runs first: the waiter is queued
    std::uint64_t passed = 0;
    while (passed < 4 * detail::fair_after_leases) {
        held.reset();
        held = pool->try_acquire();
        if (!held) break;
        ++passed;
    }
    held.reset();  // if the waiter was never owed the connection, let it have it now
    hold->let_go();
    waiter.join();
    EXPECT_TRUE(served.load());
    EXPECT_EQ(passed, detail::fair_after_leases);
}

TEST(PoolConcurrency, SaturatedPoolLosesNoWakeUp) {
    // 16 threads × 2000 borrow/return cycles on 2 connections with a real worker thread.
    fake_driver driver;
    pool<fake_driver> p(driver, {.max_size = 2, .acquire_timeout = 60s});
    constexpr int threads = 16, rounds = 2000;
    std::latch start(threads);
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                std::error_code ec;
                auto lease = p.acquire(ec);
                if (ec) failures.fetch_add(1);
                if (lease) ++lease->session_setting;
            }
        });
    }
    for (auto& w : workers) w.join();
    EXPECT_EQ(failures.load(), 0);
    const auto st = p.stats();
    EXPECT_EQ(st.acquired, static_cast<std::uint64_t>(threads * rounds));
    EXPECT_EQ(st.active, 0u);
    EXPECT_EQ(st.pending, 0u);
    EXPECT_LE(st.total, 2u);
}

TEST(PoolConcurrency, LeaseReturnedOnAnotherThreadKeepsItsOwner) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto lease = pool->acquire();
    const owner_id acquirer = current_owner();
    owner_id seen = 0;
    std::thread other([&, l = std::move(lease)]() mutable {
        seen = l.owner();
        l.release();
    });
    other.join();
    EXPECT_EQ(seen, acquirer);
    EXPECT_EQ(pool->stats().idle, 1u);
}

TEST(PoolConcurrency, CloseRacingWithBusyCallersLeavesNothingOpen) {
    fake_driver driver;
    std::atomic<int> served{0}, closed_errors{0};
    {
        pool<fake_driver> p(driver, {.max_size = 3, .acquire_timeout = 60s});
        constexpr int threads = 8;
        std::barrier sync(threads + 1);
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&] {
                sync.arrive_and_wait();
                for (;;) {  // until close(): every caller must see pool_closed
                    std::error_code ec;
                    auto lease = p.acquire(ec);
                    if (ec == errc::pool_closed) {
                        closed_errors.fetch_add(1);
                        return;
                    }
                    if (ec) ADD_FAILURE() << ec.message();
                    served.fetch_add(1);
                }
            });
        }
        sync.arrive_and_wait();
        while (served.load() < 2000) std::this_thread::yield();
        p.close();
        for (auto& w : workers) w.join();
        EXPECT_EQ(p.stats().active, 0u);
    }
    EXPECT_EQ(closed_errors.load(), 8);
    EXPECT_EQ(driver.with([](auto& s) { return s.open; }), 0);
}

TEST(PoolConcurrency, DestroyingThePoolWhileLeasesComeBackOnOtherThreads) {
    fake_driver driver;
    // Several rounds: the returners race each other and the handle's destruction differently
    // each time (one of them must free the engine, after every other one let go of it).
    for (int round = 0; round < 200; ++round) {
        auto p = std::make_unique<pool<fake_driver>>(driver, pool_options{.max_size = 4});
        std::vector<pool<fake_driver>::lease_type> leases;
        for (int i = 0; i < 4; ++i) leases.push_back(p->acquire());
        std::latch go(5);
        std::vector<std::thread> returners;
        for (auto& l : leases) {
            returners.emplace_back([&go, l = std::move(l)]() mutable {
                go.arrive_and_wait();
                l.release();
            });
        }
        go.arrive_and_wait();
        p.reset();
        for (auto& t : returners) t.join();
        ASSERT_EQ(driver.with([](auto& s) { return s.open; }), 0) << "round " << round;
    }
}

TEST(PoolConcurrency, WorkerThreadServesWaitersOnAnEmptyPool) {
    fake_driver driver;
    pool<fake_driver> p(driver, {.max_size = 4, .min_idle = 0});
    std::vector<std::thread> callers;
    std::latch all_served(4), done(1);
    for (int i = 0; i < 4; ++i) {
        callers.emplace_back([&] {
            auto lease = p.acquire();
            all_served.count_down();
            done.wait();
        });
    }
    all_served.wait();
    EXPECT_EQ(p.stats().active, 4u);
    EXPECT_EQ(p.stats().created, 4u);
    done.count_down();
    for (auto& t : callers) t.join();
}

// The worker sleeps until what it knows is due; borrowing never wakes it. A lease taken after
// it went to sleep was only looked at on the next housekeeping pass (here 1 h): the leak
// threshold bounds its sleep, so the leak is reported once the threshold has passed.
TEST(PoolConcurrency, WorkerThreadReportsALeakTakenWhileItSleeps) {
    fake_driver driver;
    auto events = std::make_shared<recording_observer>();
    pool<fake_driver> p(driver, {.max_size = 1,
                                 .min_idle = 1,
                                 .idle_timeout = forever,
                                 .max_lifetime = forever,
                                 .keepalive_interval = forever,
                                 .leak_detection_threshold = 2s,
                                 .housekeeping_interval = 1h});
    p.add_observer(events);
    while (p.stats().idle != 1) std::this_thread::yield();
    // The worker marks the connection idle and computes its next wake-up under the pool's
    // mutex without letting go of it: once we hold the mutex too, it is asleep.
    (void)p.last_failure();
    auto leaked = p.acquire();
    ASSERT_TRUE(events->wait_leaks(1, 60s)) << "no leak reported a minute after a 2 s threshold";
    EXPECT_EQ(events->leaks()[0].owner, current_owner());
}

// A scope touches only its own thread's record: opening one never waits for a process-wide
// lock (one mutex per scope used to serialise every request in the process). Here the lock a
// diagnostics walk takes is held while a thread opens a thousand scopes.
TEST(OwnerScopes, OpenAndCloseWithoutAProcessWideLock) {
    std::latch registered(1), go(1);
    std::promise<void> done;
    auto finished = done.get_future();
    std::thread worker([&] {
        { owner_scope first; }  // the thread's record registers, once
        registered.count_down();
        go.wait();
        for (int i = 0; i < 1000; ++i) {
            owner_scope request("request " + std::to_string(i));
            EXPECT_EQ(current_owner(), request.id());
        }
        done.set_value();
    });
    registered.wait();
    {
        std::lock_guard walk(detail::thread_scopes::registry::instance().mutex);
        go.count_down();
        EXPECT_EQ(finished.wait_for(60s), std::future_status::ready) << "owner_scope waited for the registry";
    }
    worker.join();
}

// Diagnostics read other threads' scopes (labels, thread counts) while those open and close.
TEST(OwnerScopes, LabelsAndThreadCountsReadWhileScopesComeAndGo) {
    const owner_id task = new_owner_id();
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            while (!stop.load(std::memory_order_relaxed)) {
                owner_scope s(task, "task on thread " + std::to_string(t));
                owner_scope nested("nested " + std::to_string(t));
            }
        });
    }
    for (int i = 0; i < 2000; ++i) {
        EXPECT_LE(owner_threads(task), 4u);
        const std::string label = owner_label(task);
        EXPECT_TRUE(label.empty() || label.starts_with("task on thread ")) << label;
    }
    stop = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(owner_threads(task), 0u);
    EXPECT_EQ(owner_label(task), "");
}

}  // namespace
}  // namespace lifeguard::testing
