// Per-call deadlines: acquire_for() and acquire_until() wait as long as the call says, not the
// pool's acquire_timeout. The manual clock moves only when told, so "still waiting" and "timed
// out" are exact; the pool's block hook says when a caller is queued. Nothing sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <limits>
#include <memory>
#include <thread>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

/// The outcome of `waiter`, or, when it has none within a generous real-time bound (against a
/// hang, not a timing assertion: the manual clock decides the outcome), the pool is closed so
/// that the waiting thread returns, and the test fails.
template <class T>
T outcome_of(std::future<T>& waiter, manual_pool& pool) {
    if (waiter.wait_for(60s) != std::future_status::ready) {
        pool.close();
        ADD_FAILURE() << "the waiter was still waiting after its deadline on the pool's clock";
    }
    return waiter.get();
}

TEST(PerCallDeadline, ZeroOrNegativeDoesNotWaitAndExplainsItself) {
    manual_fixture f;
    auto pool = f.make_filled({.name = "orders", .max_size = 1, .acquire_timeout = 30s});
    auto held = pool->acquire();
    for (const auto timeout : {0ms, -5ms}) {
        auto attempt = std::async(std::launch::async, [&]() -> std::shared_ptr<const pool_diagnostics> {
            try {
                (void)pool->acquire_for(timeout);
            } catch (const pool_error& e) {
                return std::make_shared<pool_diagnostics>(e.diagnostics());
            }
            return nullptr;
        });
        const auto failure = outcome_of(attempt, *pool);
        ASSERT_TRUE(failure) << "a busy pool lent a connection";
        EXPECT_EQ(failure->code, errc::timeout);
        EXPECT_EQ(failure->what, verdict::exhausted);
        EXPECT_EQ(failure->waited, 0ns) << "the clock never moved: it did not wait";
    }
    EXPECT_EQ(pool->stats().timeouts, 2u);
    EXPECT_EQ(pool->stats().pending, 0u);
    held.release();
    EXPECT_TRUE(pool->acquire_for(0ms)) << "with an idle connection, no wait is needed";
}

TEST(PerCallDeadline, AShortTimeoutEndsTheWaitLongBeforeThePoolsOwn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 30s});
    auto held = pool->acquire();
    auto waiter = std::async(std::launch::async, [&] {
        std::error_code ec;
        auto lease = pool->acquire_for(50ms, ec);
        return std::pair(ec, static_cast<bool>(lease));
    });
    f.events->wait_blocked(1);
    f.clock.advance(49ms);
    f.clock.advance(1ms);
    const auto [ec, got] = outcome_of(waiter, *pool);
    EXPECT_EQ(ec, errc::timeout);
    EXPECT_FALSE(got);
    ASSERT_TRUE(pool->last_failure());
    EXPECT_EQ(pool->last_failure()->waited, 50ms);
}

TEST(PerCallDeadline, AWaiterWithinItsTimeoutIsServed) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 30s});
    auto held = pool->acquire();
    auto waiter = std::async(std::launch::async, [&] { return static_cast<bool>(pool->acquire_for(50ms)); });
    f.events->wait_blocked(1);
    f.clock.advance(49ms);
    held.release();
    EXPECT_TRUE(outcome_of(waiter, *pool));
}

// duration::max() saturates: a deadline that wrapped around would be in the past and the call
// would time out at once. (A waiter past its deadline that is woken by a return may still take
// the connection, so this cannot also prove that the pool's own 1 s was ignored: the two tests
// above do, from the other side.)
TEST(PerCallDeadline, DurationMaxDoesNotOverflowIntoAnImmediateTimeout) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 1s});
    auto held = pool->acquire();
    auto waiter = std::async(std::launch::async, [&] {
        return static_cast<bool>(pool->acquire_for(std::chrono::nanoseconds::max()));
    });
    f.events->wait_blocked(1);
    f.clock.advance(10min);  // within the connection's 30 min lifetime
    held.release();
    EXPECT_TRUE(outcome_of(waiter, *pool)) << "ten minutes past acquire_timeout, still waiting, then served";
    EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST(PerCallDeadline, ADeadlineIsOnThePoolsClockAndOneInThePastDoesNotWait) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 30s});
    auto held = pool->acquire();
    std::error_code ec;
    EXPECT_FALSE(pool->acquire_until(f.clock.now() - 1ms, ec));
    EXPECT_EQ(ec, errc::timeout);
    EXPECT_FALSE(pool->acquire_until(manual_clock::time_point::min(), ec)) << "min() does not overflow";
    EXPECT_EQ(ec, errc::timeout);
    const auto deadline = f.clock.now() + 200ms;
    auto waiter = std::async(std::launch::async, [&] {
        std::error_code e;
        (void)pool->acquire_until(deadline, e);
        return e;
    });
    f.events->wait_blocked(3);  // the two above blocked for an instant too
    f.clock.advance(200ms);
    EXPECT_EQ(outcome_of(waiter, *pool), errc::timeout);
    ASSERT_TRUE(pool->last_failure());
    EXPECT_EQ(pool->last_failure()->waited, 200ms);
}

}  // namespace
}  // namespace lifeguard::testing
