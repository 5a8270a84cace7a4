// lifeguard::async_acquire (lifeguard/asio.hpp): completion tokens (callback, use_future,
// use_awaitable), the handler's executor, never completing inline, work tracking, one FIFO queue
// shared with blocking callers, timeouts and their diagnostics, close, max_pending, destroyed
// pools and destroyed io_contexts, validation kept off the event loop, and many coroutines on an
// io_context and a thread_pool. Runs under ThreadSanitizer too. Nothing sleeps: tests wait on
// handlers, latches and the pool's on_block hook; the manual clock drives timeouts, except one
// test that checks the real Asio timer with a 300 ms acquire_timeout.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <latch>
#include <numeric>
#include <thread>
#include <vector>

#include "async/async_support.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using manual_lease = manual_pool::lease_type;
using steady_pool = pool<fake_driver>;
using steady_lease = steady_pool::lease_type;

/// A pool whose worker thread runs by itself (it resets the async leases returned to it), over
/// the fixture's driver and observer.
std::unique_ptr<steady_pool> make_threaded(manual_fixture& f, pool_options o) {
    auto p = std::make_unique<steady_pool>(f.driver, std::move(o));
    p->add_observer(f.blocks);
    return p;
}

struct outcome {
    error_code ec;
    manual_lease lease;
    bool on_io_thread = false;
};

// ------------------------------------------------------------------------------ tokens and executors

TEST(AsyncAcquire, CallbackRunsOnItsExecutorNeverInsideTheCall) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    asio::io_context io;
    const owner_id me = new_owner_id();
    bool ran = false;
    error_code got;
    manual_lease lease;
    async_acquire(*pool, me, asio::bind_executor(io, [&](error_code ec, manual_lease l) {
        ran = true;
        got = ec;
        lease = std::move(l);
    }));
    EXPECT_FALSE(ran) << "completed inside async_acquire although a connection was idle";
    io.run();
    ASSERT_TRUE(ran);
    EXPECT_FALSE(got) << got.message();
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease.owner(), me);
    EXPECT_EQ(pool->stats().active, 1u);
    lease.release();
    pool->run_worker_once();  // manual mode: the worker resets what an async lease gave back
    EXPECT_EQ(pool->stats().idle, 2u);
}

TEST(AsyncAcquire, PlainCallbackCompletesOnTheSystemExecutorNotTheCaller) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    awaited<std::thread::id> ran_on;
    async_acquire(*pool, [&](error_code ec, manual_lease l) {
        EXPECT_FALSE(ec);
        EXPECT_TRUE(l);
        ran_on.set(std::this_thread::get_id());
    });
    EXPECT_NE(ran_on.take(), std::this_thread::get_id());
}

TEST(AsyncAcquire, StrandBoundHandlersRunInTheirStrand) {
    manual_fixture f;
    auto pool = make_threaded(f, {.max_size = 2});  // its worker resets the leases given back
    io_threads runner(2);
    auto strand = asio::make_strand(runner.io);
    constexpr int n = 200;
    int in_strand = 0;  // plain int: the strand serialises the handlers (TSan checks)
    std::latch done(n);
    for (int i = 0; i < n; ++i) {
        async_acquire(*pool, asio::bind_executor(strand, [&](error_code ec, steady_lease l) {
            EXPECT_FALSE(ec);
            EXPECT_TRUE(l);
            if (strand.running_in_this_thread() && runner.runs_here()) ++in_strand;
            done.count_down();
        }));
    }
    done.wait();
    runner.join();
    EXPECT_EQ(in_strand, n);
    EXPECT_EQ(pool->stats().acquired, static_cast<std::uint64_t>(n));
}

TEST(AsyncAcquire, UseFutureGivesTheLeaseOrThrowsTheError) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    std::future<manual_lease> first = async_acquire(*pool, asio::use_future);
    manual_lease lease = first.get();
    ASSERT_TRUE(lease);
    pool->close();
    std::future<manual_lease> second = async_acquire(*pool, asio::use_future);
#if defined(__SANITIZE_THREAD__)
    // The exception is made and last released on use_future's system thread, and its reference
    // count lives in libstdc++, which ThreadSanitizer does not see: it would report the reads
    // below as racing with that release. The error path is checked through coroutines instead.
    second.wait();
    return;
#endif
    try {
        second.get();
        ADD_FAILURE() << "acquired from a closed pool";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), errc::pool_closed);
        EXPECT_EQ(to_std_error_code(e.code()), errc::pool_closed);
    }
}

TEST(AsyncAcquire, CoroutinesAwaitALeaseAndSeeErrorsAsExceptions) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 1s, .validation_timeout = 500ms});
    io_threads runner;
    const owner_id me = new_owner_id();
    awaited<owner_id> first_owner;
    std::promise<void> second_blocked_until_timeout;
    auto done = asio::co_spawn(
        runner.io,
        [&]() -> asio::awaitable<void> {
            auto lease = co_await async_acquire(*pool, {.owner = me, .owner_label = "checkout 1"},
                                                asio::use_awaitable);
            first_owner.set(lease.owner());
            try {
                auto second = co_await async_acquire(*pool, me, asio::use_awaitable);  // waits: pool of 1
                ADD_FAILURE() << "got a second connection from a pool of one";
            } catch (const boost::system::system_error& e) {
                EXPECT_EQ(e.code(), errc::timeout) << e.code().message();
            }
        },
        asio::use_future);
    EXPECT_EQ(first_owner.take(), me);
    f.blocks->wait_blocked(1);
    f.clock.advance(1s);
    done.get();
    pool->run_worker_once();  // manual mode: the worker resets what an async lease gave back
    EXPECT_EQ(pool->stats().timeouts, 1u);
    EXPECT_EQ(pool->stats().idle, 1u);
}

TEST(AsyncAcquire, WorkIsCountedWhileAnOperationWaits) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto held = pool->acquire();
    asio::io_context io;
    bool ran = false;
    async_acquire(*pool, asio::bind_executor(io, [&](error_code ec, manual_lease) {
        EXPECT_FALSE(ec);
        ran = true;
    }));
    f.blocks->wait_blocked(1);
    EXPECT_EQ(io.poll(), 0u);
    EXPECT_FALSE(io.stopped()) << "the io_context ran out of work while an acquisition waited";
    held.release();
    io.run();
    EXPECT_TRUE(ran);
    EXPECT_TRUE(io.stopped());
}

// ------------------------------------------------------------------------------ one queue

TEST(AsyncAcquire, SyncAndAsyncWaitersAreServedInArrivalOrder) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto held = pool->acquire();
    io_threads runner;
    constexpr int n = 8;
    std::mutex served_mutex;
    std::vector<int> served;
    std::vector<std::thread> sync_callers;
    std::latch all_served(n);
    for (int i = 0; i < n; ++i) {
        if (i % 2 == 0) {
            sync_callers.emplace_back([&, i] {
                auto lease = pool->acquire();
                std::lock_guard lock(served_mutex);
                served.push_back(i);
                all_served.count_down();
            });
        } else {
            async_acquire(*pool, asio::bind_executor(runner.io, [&, i](error_code ec, manual_lease lease) {
                EXPECT_FALSE(ec);
                EXPECT_TRUE(lease);
                std::lock_guard lock(served_mutex);
                served.push_back(i);
                all_served.count_down();
            }));
        }
        f.blocks->wait_blocked(static_cast<std::size_t>(i) + 1);  // queue them one by one
    }
    held.release();
    // Manual mode: the async leases come back through the worker (their reset runs there).
    std::atomic<bool> all_in{false};
    std::thread pump([&] {
        while (!all_in.load()) {
            pool->run_worker_once();
            std::this_thread::yield();
        }
    });
    all_served.wait();
    all_in = true;
    pump.join();
    for (auto& t : sync_callers) t.join();
    std::vector<int> expected(n);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(served, expected);
}

// ------------------------------------------------------------------------------ timeouts

TEST(AsyncAcquire, TimeoutExplainsItselfLikeTheBlockingAcquire) {
    manual_fixture f;
    auto pool =
        f.make_filled({.name = "orders", .max_size = 1, .acquire_timeout = 2s, .validation_timeout = 1s});
    owner_scope request("checkout 12");
    auto held = pool->acquire();
    const auto held_line = held.site().line();
    io_threads runner;
    std::exception_ptr why;
    awaited<error_code> result;
    const owner_id me = new_owner_id();
    async_acquire(*pool, {.owner = me, .owner_label = "async checkout", .failure = &why},
                  asio::bind_executor(runner.io, [&](error_code ec, manual_lease lease) {
                      EXPECT_FALSE(lease);
                      result.set(ec);
                  }));
    f.blocks->wait_blocked(1);
    f.clock.advance(1s);
    f.clock.advance(1s);
    const error_code ec = result.take();
    EXPECT_EQ(ec, errc::timeout);
    EXPECT_EQ(ec.category(), boost_pool_category());
    EXPECT_STREQ(ec.category().name(), "lifeguard.pool");
    ASSERT_TRUE(why);
    try {
        std::rethrow_exception(why);
    } catch (const pool_error& e) {
        const auto& d = e.diagnostics();
        EXPECT_EQ(e.code(), errc::timeout);
        EXPECT_EQ(d.what, verdict::exhausted);
        EXPECT_EQ(d.pool_name, "orders");
        EXPECT_EQ(d.waited, 2s);
        EXPECT_EQ(d.owner, me);
        ASSERT_EQ(d.holders.size(), 1u);
        EXPECT_EQ(d.holders[0].owner, request.id());
        EXPECT_EQ(d.holders[0].site.line(), held_line);
        const std::string text = e.what();
        EXPECT_NE(text.find("pool 'orders': timed out after 2000 ms, pool exhausted: 1/1 connections in use"),
                  std::string::npos)
            << text;
    }
    EXPECT_EQ(pool->stats().timeouts, 1u);
    EXPECT_EQ(pool->stats().pending, 0u);
    ASSERT_TRUE(pool->last_failure());
    EXPECT_EQ(pool->last_failure()->what, verdict::exhausted);
}

TEST(AsyncAcquire, APerCallTimeoutReplacesThePoolsOwn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 30s});
    auto held = pool->acquire();
    io_threads runner;
    awaited<error_code> result;
    async_acquire(*pool, {.timeout = 50ms},
                  asio::bind_executor(runner.io, [&](error_code ec, manual_lease lease) {
                      EXPECT_FALSE(lease);
                      result.set(ec);
                  }));
    f.blocks->wait_blocked(1);
    f.clock.advance(50ms);
    EXPECT_EQ(result.take(), errc::timeout) << "50 ms, not the pool's 30 s";
    ASSERT_TRUE(pool->last_failure());
    EXPECT_EQ(pool->last_failure()->waited, 50ms);

    awaited<error_code> at_once;
    async_acquire(*pool, {.timeout = 0ms}, asio::bind_executor(runner.io, [&](error_code ec, manual_lease) {
                      at_once.set(ec);
                  }));
    EXPECT_EQ(at_once.take(), errc::timeout) << "zero: no wait, the clock did not move";
    EXPECT_EQ(pool->stats().timeouts, 2u);
}

TEST(AsyncAcquire, TimeoutFiresOnTheSteadyClockThroughTheAsioTimer) {
    fake_driver driver;
    steady_pool pool(driver, {.max_size = 1, .acquire_timeout = 300ms, .validation_timeout = 250ms});
    auto held = pool.acquire();
    asio::io_context io;
    error_code got;
    std::exception_ptr why;
    const auto started = std::chrono::steady_clock::now();
    async_acquire(pool, {.failure = &why},
                  asio::bind_executor(io, [&](error_code ec, steady_lease) { got = ec; }));
    io.run();  // returns once the operation completed: its wait is counted as work
    EXPECT_EQ(got, errc::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
    ASSERT_TRUE(why);
    try {
        std::rethrow_exception(why);
    } catch (const pool_error& e) {
        EXPECT_GE(e.diagnostics().waited, 300ms);
        EXPECT_EQ(e.diagnostics().what, verdict::exhausted);
    }
    EXPECT_EQ(pool.stats().timeouts, 1u);
}

TEST(AsyncAcquire, ServedOperationsDoNotWaitOutTheirTimer) {
    // A served acquisition cancels its timer: io.run() returns at once, not after 30 s.
    fake_driver driver;
    steady_pool pool(driver, {.max_size = 1});
    auto held = pool.acquire();
    asio::io_context io;
    int served = 0;
    async_acquire(pool, asio::bind_executor(io, [&](error_code ec, steady_lease l) {
                      EXPECT_FALSE(ec);
                      served += static_cast<bool>(l);
                  }));
    std::thread returner([&] { held.release(); });
    io.run();
    returner.join();
    EXPECT_EQ(served, 1);
}

// ------------------------------------------------------------------------------ close, limits, lifetimes

TEST(AsyncAcquire, CloseFailsPendingAsyncWaiters) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto held = pool->acquire();
    io_threads runner;
    constexpr int n = 4;
    std::atomic<int> closed{0};
    std::exception_ptr why[n];
    std::latch done(n);
    for (int i = 0; i < n; ++i) {
        async_acquire(*pool, {.failure = &why[i]},
                      asio::bind_executor(runner.io, [&](error_code ec, manual_lease l) {
                          EXPECT_FALSE(l);
                          if (ec == errc::pool_closed) closed.fetch_add(1);
                          done.count_down();
                      }));
    }
    f.blocks->wait_blocked(n);
    pool->close();
    done.wait();
    EXPECT_EQ(closed.load(), n);
    for (auto& w : why) {
        ASSERT_TRUE(w);
        try {
            std::rethrow_exception(w);
        } catch (const pool_error& e) {
            EXPECT_EQ(e.diagnostics().what, verdict::closed);
        }
    }
    EXPECT_EQ(pool->stats().pending, 0u);
    held.release();
    pool->run_worker_once();  // manual mode: the worker closes what came back
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 0) << "closed pool kept a connection";
}

TEST(AsyncAcquire, FullQueueRefusesAtOnceAndClosedPoolRefusesNewOnes) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .max_pending = 1});
    auto held = pool->acquire();
    std::error_code first;
    std::thread waiter([&] { auto l = pool->acquire(first); });
    f.blocks->wait_blocked(1);
    asio::io_context io;
    error_code rejected, closed;
    std::exception_ptr why;
    async_acquire(*pool, {.failure = &why},
                  asio::bind_executor(io, [&](error_code ec, manual_lease) { rejected = ec; }));
    io.run();
    EXPECT_EQ(rejected, errc::pending_limit);
    EXPECT_EQ(pool->stats().rejected, 1u);
    ASSERT_TRUE(why);
    try {
        std::rethrow_exception(why);
    } catch (const pool_error& e) {
        EXPECT_EQ(e.diagnostics().what, verdict::rejected);
        EXPECT_EQ(e.diagnostics().stats.pending, 1u);
    }
    held.release();
    waiter.join();
    EXPECT_FALSE(first);
    pool->close();
    io.restart();
    async_acquire(*pool, asio::bind_executor(io, [&](error_code ec, manual_lease) { closed = ec; }));
    io.run();
    EXPECT_EQ(closed, errc::pool_closed);
}

TEST(AsyncAcquire, PoolDestroyedWhileOperationsArePending) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    auto held = pool->acquire();
    asio::io_context io;
    error_code waiting;
    manual_lease handed;
    // One operation was handed a connection (its completion is posted, not run); one waits.
    async_acquire(*pool, asio::bind_executor(io, [&](error_code ec, manual_lease l) {
        EXPECT_FALSE(ec);
        handed = std::move(l);
    }));
    async_acquire(*pool, asio::bind_executor(io, [&](error_code ec, manual_lease) { waiting = ec; }));
    f.blocks->wait_blocked(1);
    pool.reset();  // closes: the waiting one fails; the engine lives on for the completions
    io.run();
    EXPECT_EQ(waiting, errc::pool_closed);
    ASSERT_TRUE(handed) << "a connection handed before close must still be delivered";
    handed->in_transaction = true;
    handed.release();
    held.release();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 0);
}

TEST(AsyncAcquire, DestroyedIoContextAbandonsAQueuedOperation) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto held = pool->acquire();
    auto alive = std::make_shared<int>(0);
    bool ran = false;
    {
        asio::io_context io;
        async_acquire(*pool, asio::bind_executor(io, [&, alive](error_code, manual_lease) { ran = true; }));
        f.blocks->wait_blocked(1);
        EXPECT_EQ(pool->stats().pending, 1u);
    }  // never run
    EXPECT_FALSE(ran);
    EXPECT_EQ(alive.use_count(), 1) << "the abandoned handler was not destroyed";
    EXPECT_EQ(pool->stats().pending, 0u);
    held.release();
    EXPECT_EQ(pool->stats().idle, 1u) << "the connection went to an abandoned operation";
}

TEST(AsyncAcquire, DestroyedIoContextGivesBackAConnectionHandedToIt) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    bool ran = false;
    {
        asio::io_context io;
        async_acquire(*pool, asio::bind_executor(io, [&](error_code, manual_lease) { ran = true; }));
        EXPECT_EQ(pool->stats().active, 1u);  // handed (or borrowed): the completion is posted
    }
    EXPECT_FALSE(ran);
    EXPECT_EQ(pool->stats().active, 0u);
    pool->run_worker_once();  // manual mode: the worker resets what came back
    EXPECT_EQ(pool->stats().idle, 1u);
    auto again = pool->try_acquire();
    EXPECT_TRUE(again.has_value());
}

// ------------------------------------------------------------------------------ blocking drivers

TEST(AsyncAcquire, ValidationRunsOnTheWorkerNeverOnTheEventLoop) {
    // alive_bypass_window = 0: every borrow validates first. Asynchronous borrows must leave that
    // to the pool's worker; Connector/C++ would block the event loop.
    io_threads runner;  // outlives the pool, whose worker thread posts completions into it
    recording_driver driver;
    basic_pool<recording_driver> pool(driver, {.max_size = 2, .alive_bypass_window = 0ms});
    constexpr int rounds = 20;
    auto done = asio::co_spawn(
        runner.io,
        [&]() -> asio::awaitable<void> {
            const owner_id me = new_owner_id();
            for (int i = 0; i < rounds; ++i) {
                auto lease = co_await async_acquire(pool, me, asio::use_awaitable);
                EXPECT_TRUE(lease);
            }
        },
        asio::use_future);
    done.get();
    const auto on = driver.validated_on();
    EXPECT_GE(on.size(), static_cast<std::size_t>(rounds));
    for (const auto& id : on)
        EXPECT_NE(id, runner.ids().front()) << "a validation ran on the io_context's thread";
}

TEST(AsyncAcquire, TimeoutWhileTheWorkerChecksTheConnectionWaitsForTheCheck) {
    // The worker is validating the connection handed to an operation when its timeout fires. The
    // completion must not run before the worker is done with the operation (it frees it).
    recording_driver driver;
    manual_clock clock;
    auto blocks = std::make_shared<block_counter>();
    basic_pool<recording_driver, manual_clock> pool(
        driver,
        {.max_size = 1, .acquire_timeout = 1s, .validation_timeout = 500ms, .alive_bypass_window = 0ms},
        clock, worker_mode::manual);
    pool.run_worker_once();  // opens the connection
    io_threads runner;
    awaited<error_code> result;
    driver.hold_validations();
    async_acquire(pool, asio::bind_executor(runner.io, [&](error_code ec, auto) { result.set(ec); }));
    std::thread worker([&] { pool.run_worker_once(); });  // checks the connection for the operation
    driver.wait_for_held_validation();
    clock.advance(1s);  // the operation's deadline passes during the check
    std::promise<void> marker;
    asio::post(runner.io, [&] { marker.set_value(); });  // after any completion posted by advance()
    marker.get_future().get();
    EXPECT_FALSE(result.ready()) << "completed while the worker still checked its connection";
    driver.release_validations();
    worker.join();
    EXPECT_EQ(result.take(), errc::timeout);
    runner.join();
    EXPECT_EQ(pool.stats().idle, 1u);
    EXPECT_EQ(pool.stats().timeouts, 1u);
}

TEST(AsyncAcquire, DestroyedIoContextWhileTheWorkerChecksTheConnection) {
    // The context goes away while the worker validates the connection handed to the operation:
    // the connection must come back to the pool, and the worker must not touch the freed
    // operation. Both orders of "worker done" and "context destroyed" are exercised.
    recording_driver driver;
    manual_clock clock;
    basic_pool<recording_driver, manual_clock> pool(driver, {.max_size = 1, .alive_bypass_window = 0ms},
                                                    clock, worker_mode::manual);
    pool.run_worker_once();
    for (int round = 0; round < 20; ++round) {
        bool ran = false;
        auto io = std::make_unique<asio::io_context>();
        driver.hold_validations();
        async_acquire(pool, asio::bind_executor(*io, [&](error_code, auto) { ran = true; }));
        std::thread worker([&] { pool.run_worker_once(); });
        driver.wait_for_held_validation();
        std::thread destroyer([&] { io.reset(); });
        driver.release_validations();
        destroyer.join();
        worker.join();
        EXPECT_FALSE(ran);
        const auto st = pool.stats();
        ASSERT_EQ(st.idle, 1u) << "round " << round;
        ASSERT_EQ(st.active, 0u) << "round " << round;
        ASSERT_EQ(st.pending, 0u) << "round " << round;
    }
}

// ------------------------------------------------------------------------------ many coroutines

void run_many_coroutines(asio::any_io_executor ex, steady_pool& pool, int tasks, int rounds,
                         std::atomic<int>& served) {
    for (int t = 0; t < tasks; ++t) {
        asio::co_spawn(
            ex,
            [&pool, &served, rounds]() -> asio::awaitable<void> {
                const owner_id me = new_owner_id();
                auto here = co_await asio::this_coro::executor;
                for (int i = 0; i < rounds; ++i) {
                    auto lease = co_await async_acquire(pool, me, asio::use_awaitable);
                    ++lease->session_setting;
                    co_await asio::post(here, asio::use_awaitable);  // hold it across a suspension
                    served.fetch_add(1, std::memory_order_relaxed);
                }
            },
            asio::detached);
    }
}

TEST(AsyncAcquire, ManyCoroutinesOnOneIoContext) {
    asio::io_context io;  // outlives the pool, whose worker thread posts completions into it
    fake_driver driver;
    steady_pool pool(driver, {.max_size = 4});
    std::atomic<int> served{0};
    constexpr int tasks = 500, rounds = 10;
    run_many_coroutines(io.get_executor(), pool, tasks, rounds, served);
    io.run();
    EXPECT_EQ(served.load(), tasks * rounds);
    const auto st = pool.stats();
    EXPECT_EQ(st.acquired, static_cast<std::uint64_t>(tasks * rounds));
    EXPECT_EQ(st.active, 0u);
    EXPECT_EQ(st.pending, 0u);
    EXPECT_EQ(st.timeouts, 0u);
}

TEST(AsyncAcquire, ManyCoroutinesOnAThreadPoolWithBlockingCallersToo) {
    asio::thread_pool threads(2);  // outlives the pool, whose worker thread posts completions into it
    fake_driver driver;
    steady_pool pool(driver, {.max_size = 3});
    std::atomic<int> served{0}, sync_served{0};
    constexpr int tasks = 200, rounds = 10, sync_rounds = 500;
    run_many_coroutines(threads.get_executor(), pool, tasks, rounds, served);
    std::thread blocking([&] {
        for (int i = 0; i < sync_rounds; ++i) {
            auto lease = pool.acquire();
            ++lease->session_setting;
            sync_served.fetch_add(1);
        }
    });
    blocking.join();
    threads.join();
    EXPECT_EQ(served.load(), tasks * rounds);
    EXPECT_EQ(sync_served.load(), sync_rounds);
    const auto st = pool.stats();
    EXPECT_EQ(st.acquired, static_cast<std::uint64_t>(tasks * rounds + sync_rounds));
    EXPECT_EQ(st.active, 0u);
    EXPECT_EQ(st.pending, 0u);
}

// ------------------------------------------------------------------------------ error codes

TEST(AsyncAcquire, ErrorCodesConvertBothWays) {
    const error_code b = to_boost_error_code(make_error_code(errc::deadlock));
    EXPECT_EQ(b, errc::deadlock);
    EXPECT_NE(b, errc::timeout);
    EXPECT_EQ(b.category(), boost_pool_category());
    EXPECT_EQ(b.message(), make_error_code(errc::deadlock).message());
    EXPECT_EQ(to_std_error_code(b), errc::deadlock);
    EXPECT_EQ(&to_std_error_code(b).category(), &pool_category());
    const std::error_code io_error = std::make_error_code(std::errc::io_error);
    EXPECT_EQ(to_std_error_code(to_boost_error_code(io_error)), std::errc::io_error);
    EXPECT_FALSE(to_boost_error_code(std::error_code{}));
    EXPECT_FALSE(to_std_error_code(error_code{}));
}

}  // namespace
}  // namespace lifeguard::testing
