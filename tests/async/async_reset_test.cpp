// The reset on return of a lease made by async_acquire (a ROLLBACK, DISCARD ALL: a round trip)
// runs on the pool's worker, never on the thread that returns it (an event loop), while a
// blocking lease is still reset by its returner; so is a clean async lease when the driver says
// (reset_is_local) that its reset needs no round trip. Until the reset is done the connection is
// lent to nobody; waiters are then served in their order; closing or destroying the pool with
// resets pending closes every connection and loses none. Nothing sleeps: the driver's reset is
// a gate the test holds and releases. Runs under ThreadSanitizer too.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "async/async_support.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using recording_pool = basic_pool<recording_driver, manual_clock>;
using recording_lease = recording_pool::lease_type;

/// A manual-mode pool over a recording driver, its connections opened.
template <class Driver>
struct reset_fixture_for {
    using pool_type = basic_pool<Driver, manual_clock>;
    using lease_type = typename pool_type::lease_type;

    Driver driver;
    manual_clock clock;
    std::unique_ptr<pool_type> pool;

    explicit reset_fixture_for(std::size_t size) {
        pool = std::make_unique<pool_type>(driver, pool_options{.max_size = size, .min_idle = size}, clock,
                                           worker_mode::manual);
        pool->run_worker_once();
    }
    /// Acquires asynchronously and runs `io` until the lease is there.
    lease_type acquire_async(asio::io_context& io) {
        lease_type out;
        async_acquire(*pool, asio::bind_executor(io, [&](error_code ec, lease_type l) {
            EXPECT_FALSE(ec) << ec.message();
            out = std::move(l);
        }));
        io.restart();
        io.run();
        return out;
    }
};
using reset_fixture = reset_fixture_for<recording_driver>;

TEST(AsyncReset, AnAsyncLeaseIsResetOnTheWorkerNeverOnTheEventLoop) {
    io_threads runner;  // outlives the pool, whose worker thread posts completions into it
    recording_driver driver;
    basic_pool<recording_driver> pool(driver, {.max_size = 2});
    constexpr int rounds = 20;
    auto done = asio::co_spawn(
        runner.io,
        [&]() -> asio::awaitable<void> {
            const owner_id me = new_owner_id();
            for (int i = 0; i < rounds; ++i) {
                auto lease = co_await async_acquire(pool, me, asio::use_awaitable);
                EXPECT_TRUE(lease);
                lease->in_transaction = true;  // a dirty return: the reset rolls it back
            }  // returned here, on the io_context's thread
        },
        asio::use_future);
    done.get();
    driver.resets().wait_passed(rounds);
    const auto on = driver.resets().passed_on();
    ASSERT_EQ(on.size(), static_cast<std::size_t>(rounds));
    for (const auto& id : on) EXPECT_NE(id, runner.ids().front()) << "a reset ran on the io_context's thread";
    driver.fake.wait_for([&](auto& st) { return st.rollbacks == rounds; });
}

static_assert(has_reset_is_local<local_reset_driver> && !has_reset_is_local<recording_driver>);

TEST(AsyncReset, ACleanAsyncLeaseIsResetByItsReturnerWhenTheDriverSaysNoRoundTripIsNeeded) {
    reset_fixture_for<local_reset_driver> f(1);
    asio::io_context io;
    f.acquire_async(io).release();  // clean: on this thread, inside release()
    const auto on = f.driver.resets().passed_on();
    ASSERT_EQ(on.size(), 1u) << "the reset was left to the worker";
    EXPECT_EQ(on.front(), std::this_thread::get_id());
    EXPECT_EQ(f.pool->stats().idle, 1u) << "idle again at once";
    EXPECT_EQ(f.pool->stats().worker_resets, 0u);
}

TEST(AsyncReset, ADirtyAsyncLeaseIsStillResetByTheWorkerWhenTheDriverHasTheHook) {
    reset_fixture_for<local_reset_driver> f(1);
    asio::io_context io;
    {
        auto lease = f.acquire_async(io);
        lease->in_transaction = true;  // the reset must roll back: a round trip
    }
    EXPECT_TRUE(f.driver.resets().passed_on().empty()) << "release() ran a round-trip reset itself";
    EXPECT_EQ(f.pool->stats().idle, 0u);
    std::thread worker([&] { f.pool->run_worker_once(); });
    const std::thread::id worker_id = worker.get_id();
    worker.join();
    const auto on = f.driver.resets().passed_on();
    ASSERT_EQ(on.size(), 1u);
    EXPECT_EQ(on.front(), worker_id);
    EXPECT_EQ(f.pool->stats().worker_resets, 1u);
    EXPECT_EQ(f.pool->stats().idle, 1u);
    EXPECT_EQ(f.driver.fake.with([](auto& st) { return st.rollbacks; }), 1);
}

TEST(AsyncReset, ADriverWithoutTheHookHasEveryAsyncLeaseResetByTheWorker) {
    reset_fixture f(1);
    asio::io_context io;
    f.acquire_async(io).release();  // clean, but the driver cannot say so
    EXPECT_TRUE(f.driver.resets().passed_on().empty());
    f.pool->run_worker_once();
    EXPECT_EQ(f.driver.resets().passed_on().size(), 1u);
    EXPECT_EQ(f.pool->stats().worker_resets, 1u);
}

TEST(AsyncReset, ABlockingLeaseIsStillResetByTheThreadThatReturnsIt) {
    reset_fixture f(1);
    {
        auto lease = f.pool->acquire();
        lease->in_transaction = true;
    }
    const auto on = f.driver.resets().passed_on();
    ASSERT_EQ(on.size(), 1u) << "reset inside release(), before it returned";
    EXPECT_EQ(on.front(), std::this_thread::get_id());
    EXPECT_EQ(f.pool->stats().idle, 1u) << "idle again at once";
}

TEST(AsyncReset, UntilTheWorkerHasResetItTheConnectionIsLentToNobodyThenWaitersInOrder) {
    reset_fixture f(1);
    asio::io_context io;
    recording_lease first = f.acquire_async(io);
    ASSERT_TRUE(first);
    // Two async waiters, then a blocking one, queue behind the lease.
    std::vector<int> served;
    std::vector<recording_lease> leases;
    for (int i = 0; i < 2; ++i)
        async_acquire(*f.pool, asio::bind_executor(io, [&, i](error_code ec, recording_lease l) {
            EXPECT_FALSE(ec) << ec.message();
            served.push_back(i);
            leases.push_back(std::move(l));
        }));
    f.driver.resets().hold();
    first.release();  // on this thread: the reset is left to the worker
    EXPECT_TRUE(f.driver.resets().passed_on().empty()) << "release() ran the reset itself";
    EXPECT_EQ(f.pool->stats().idle, 0u);
    EXPECT_EQ(f.pool->stats().active, 0u);
    EXPECT_EQ(f.pool->stats().total, 1u) << "the connection is still the pool's";
    EXPECT_FALSE(f.pool->try_acquire().has_value()) << "lent before its reset";
    std::thread worker([&] { f.pool->run_worker_once(); });
    f.driver.resets().wait_held();
    io.restart();
    io.poll();
    EXPECT_TRUE(served.empty()) << "a waiter was served while the reset ran";
    f.driver.resets().release();
    worker.join();
    EXPECT_NE(f.driver.resets().passed_on().front(), std::this_thread::get_id());
    io.restart();
    io.run_one();  // waiter 0's completion (waiter 1 still counts as work: run() would wait)
    ASSERT_EQ(served, (std::vector<int>{0}));
    leases.clear();  // waiter 0 returns it: again through the worker, then waiter 1
    io.restart();
    io.poll();
    EXPECT_EQ(served.size(), 1u);
    f.pool->run_worker_once();
    io.restart();
    io.run();
    EXPECT_EQ(served, (std::vector<int>{0, 1}));
    leases.clear();
    f.pool->run_worker_once();
    EXPECT_EQ(f.pool->stats().idle, 1u);
    EXPECT_EQ(f.driver.resets().passed_on().size(), 3u);
}

TEST(AsyncReset, AConnectionTheWorkerResetsAfterTheShrinkIsClosedNotKeptIdle) {
    reset_fixture f(2);
    asio::io_context io;
    recording_lease async_lease = f.acquire_async(io);
    auto blocking = f.pool->acquire();
    async_lease.release();  // its reset is left to the worker
    f.pool->reconfigure({.max_size = 1, .min_idle = 1});  // the blocking lease fills max_size
    f.pool->run_worker_once();  // resets it
    const pool_stats st = f.pool->stats();
    EXPECT_EQ(f.driver.resets().passed_on().size(), 1u);
    EXPECT_EQ(st.total, 1u) << "a connection stayed open above max_size";
    EXPECT_EQ(st.idle, 0u);
    EXPECT_EQ(st.closed_for(close_reason::evicted), 1u);
}

TEST(AsyncReset, AFailedResetClosesTheConnectionAsBroken) {
    reset_fixture f(1);
    asio::io_context io;
    recording_lease lease = f.acquire_async(io);
    f.driver.fake.with([](auto& st) { st.reset_fails = true; });
    lease.release();
    f.pool->run_worker_once();
    EXPECT_EQ(f.pool->stats().closed_for(close_reason::broken), 1u);
    EXPECT_EQ(f.pool->stats().created, 2u) << "closed, and another opened for min_idle";
}

TEST(AsyncReset, AnInvalidatedAsyncLeaseIsClosedWithoutAReset) {
    reset_fixture f(1);
    asio::io_context io;
    recording_lease lease = f.acquire_async(io);
    lease.invalidate();
    lease.release();
    f.pool->run_worker_once();
    EXPECT_TRUE(f.driver.resets().passed_on().empty());
    EXPECT_EQ(f.pool->stats().closed_for(close_reason::broken), 1u);
}

TEST(AsyncReset, DestroyingThePoolWithResetsQueuedClosesEveryConnection) {
    reset_fixture f(2);
    asio::io_context io;
    recording_lease a = f.acquire_async(io), b = f.acquire_async(io);
    a.release();
    b.release();  // both queued for the worker, which never runs again
    f.pool.reset();  // closes what it holds before it returns
    f.driver.fake.with([](auto& st) {
        EXPECT_EQ(st.closes, 2);
        EXPECT_EQ(st.open, 0);
    });
    EXPECT_TRUE(f.driver.resets().passed_on().empty()) << "connections about to close need no reset";
}

TEST(AsyncReset, ClosingThePoolWhileTheWorkerResetsClosesTheConnectionAfterwards) {
    reset_fixture f(2);
    asio::io_context io;
    recording_lease a = f.acquire_async(io), b = f.acquire_async(io);
    f.driver.resets().hold();
    a.release();
    b.release();
    std::thread worker([&] { f.pool->run_worker_once(); });
    f.driver.resets().wait_held();  // the worker is resetting a's connection
    f.pool->close();
    f.driver.resets().release();
    worker.join();
    EXPECT_EQ(f.driver.resets().passed_on().size(), 1u) << "b, queued when the pool closed, is not reset";
    EXPECT_EQ(f.pool->stats().closed_for(close_reason::shutdown), 2u);
    EXPECT_EQ(f.pool->stats().total, 0u);
    f.driver.fake.with([](auto& st) { EXPECT_EQ(st.open, 0); });
}

TEST(AsyncReset, AnAsyncLeaseReturnedAfterThePoolWasDestroyedIsClosed) {
    reset_fixture f(1);
    asio::io_context io;
    recording_lease lease = f.acquire_async(io);
    f.pool.reset();  // the engine lives on until the lease is back
    lease.release();
    f.driver.fake.with([](auto& st) {
        EXPECT_EQ(st.closes, 1);
        EXPECT_EQ(st.open, 0);
    });
    EXPECT_TRUE(f.driver.resets().passed_on().empty());
}

}  // namespace
}  // namespace lifeguard::testing
