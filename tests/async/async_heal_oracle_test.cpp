// The heal oracles (tests/detector/heal_programs.hpp) with coroutines among the tasks: about one
// task in three is a coroutine on one io_context thread, acquiring with async_acquire, while the
// others run on threads of their own, all on one pool at once. The promises are the same: with
// the claim declared, no knot and no failed acquire within max_size; with the claim learned
// under heal, no failed acquire within max_size + max_overflow. Nothing sleeps.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <thread>
#include <vector>

#include "async/async_support.hpp"
#include "detector/heal_programs.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;

/// Runs the program's threads and its coroutines at once and waits for all of them.
void run_mixed(threaded_pool& pool, const program& p, int& succeeded, int& failed) {
    login_outcome threads_out;
    std::thread threads([&] { run_logins(pool, p.tasks, 0, threads_out); });
    int coroutines_ok = 0, coroutines_failed = 0;  // one io thread: no atomics needed
    {
        io_threads runner;
        std::vector<std::future<void>> running;
        for (const login_task& t : p.coroutines)
            running.push_back(asio::co_spawn(
                runner.io,
                [&pool, &runner, &coroutines_ok, &coroutines_failed, t]() -> asio::awaitable<void> {
                    const owner_id me = new_owner_id();
                    try {
                        std::vector<threaded_pool::lease_type> held;  // one inside the other
                        for (std::size_t d = 0; d < t.depth; ++d)
                            held.push_back(co_await async_acquire(pool, me, asio::use_awaitable));
                        for (int i = 0; i < t.hold_yields; ++i) co_await asio::post(runner.io, asio::use_awaitable);
                        while (!held.empty()) held.pop_back();  // innermost first
                        ++coroutines_ok;
                    } catch (const boost::system::system_error&) {
                        ++coroutines_failed;
                    }
                },
                asio::use_future));
        for (auto& r : running) r.get();
    }
    threads.join();
    succeeded = threads_out.succeeded.load() + coroutines_ok;
    failed = threads_out.failed.load() + coroutines_failed;
}

TEST(AsyncHealOracle, WithTheClaimDeclaredNoKnotFormsAndNoThreadOrCoroutineFails) {
    run_oracle(0xa5c1a1, claim_mode::declared, true, run_mixed);
}

TEST(AsyncHealOracle, WithTheClaimLearnedHealLetsEveryThreadAndCoroutineFinish) {
    run_oracle(0x6ea1edc0, claim_mode::learned, true, run_mixed);
}

}  // namespace
}  // namespace lifeguard::testing
