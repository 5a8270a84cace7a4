// heal and admission for coroutines: twenty logins on one io_context thread, each holding a
// transaction's connection and asking for an id generator's, on a pool of 10 (a worker thread
// opens connections, emergency ones too). Under heal with the claim learned, all twenty finish;
// with the claim declared, the knot never forms. Nothing sleeps: the first ten transactions
// meet at a coroutine gate before nesting, the test waits for the coroutines' futures.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <vector>

#include "async/async_support.hpp"
#include "async/coroutine_gate.hpp"
#include "detector/heal_support.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;

struct coroutine_logins {
    int succeeded = 0, failed = 0;  // one thread: no atomics needed
    std::size_t most_transactions = 0;
};

/// `n` logins as coroutines on one thread; the first `together` to hold a transaction meet
/// before asking for their second connection.
coroutine_logins run_coroutine_logins(threaded_pool& pool, int n, int together) {
    io_threads runner;
    coroutine_gate gate(runner.io.get_executor(), together);
    coroutine_logins out;
    int arrived = 0;
    std::size_t holding = 0;
    std::vector<std::future<void>> logins;
    for (int i = 0; i < n; ++i)
        logins.push_back(asio::co_spawn(
            runner.io,
            [&]() -> asio::awaitable<void> {
                const owner_id me = new_owner_id();
                try {
                    auto tx = co_await async_acquire(pool, me, asio::use_awaitable);
                    out.most_transactions = std::max(out.most_transactions, ++holding);
                    if (++arrived <= together) co_await gate.arrive_and_wait();
                    auto id = co_await async_acquire(pool, me, asio::use_awaitable);
                    id.release();
                    --holding;
                    tx.release();
                    ++out.succeeded;
                } catch (const boost::system::system_error&) {
                    ++out.failed;
                }
            },
            asio::use_future));
    for (auto& l : logins) l.get();
    return out;
}

pool_options async_heal_options(std::size_t max_nesting) {
    return {.name = "app", .max_size = 10, .on_deadlock = deadlock_policy::heal, .max_nesting = max_nesting};
}

TEST(AsyncHeal, TwentyCoroutineLoginsOnAPoolOfTenAllSucceed) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, async_heal_options(0));
    const auto out = run_coroutine_logins(*w.pool, 20, 10);
    EXPECT_EQ(out.succeeded, 20);
    EXPECT_EQ(out.failed, 0);
    const pool_stats st = w.pool->stats();
    EXPECT_GE(st.emergency_lent, 1u);
    EXPECT_EQ(st.claim, 2u);
    EXPECT_EQ(st.active, 0u);
    EXPECT_EQ(st.timeouts, 0u);
    EXPECT_LE(w.peak->peak(), 11u);
    EXPECT_GE(f.detector->stats().healed_tasks, 1u);
}

TEST(AsyncHeal, ADeclaredClaimAdmitsNineTransactionsAndNoKnotForms) {
    detector_fixture f;
    auto w = threaded_watched_pool(f, async_heal_options(2));
    const auto out = run_coroutine_logins(*w.pool, 20, 9);
    EXPECT_EQ(out.succeeded, 20);
    EXPECT_EQ(out.most_transactions, 9u);
    EXPECT_EQ(f.detector->stats().deadlocks, 0u);
    EXPECT_EQ(w.pool->stats().emergency_lent, 0u);
    EXPECT_EQ(w.pool->stats().active, 0u);
}

}  // namespace
}  // namespace lifeguard::testing
