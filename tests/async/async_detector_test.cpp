// The deadlock detector (lifeguard::diagnostics) watching asynchronous acquisitions: owners are
// tasks, not threads. The AUTO-ID knot among coroutines on one thread is named like one among
// threads, fail_fast unties it, coroutines taking turns on one thread are not "nested", and a
// coroutine that resumes on another thread keeps its leases. Nothing sleeps: coroutines meet at
// an Asio gate, the test waits for reports and for the coroutines' futures.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "async/async_support.hpp"
#include "async/coroutine_gate.hpp"
#include "detector/detector_fixture.hpp"
#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "lifeguard/diagnostics/detector.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using diagnostics::report;
using diagnostics::report_kind;
using test_pool = basic_pool<fake_driver>;
using test_lease = test_pool::lease_type;

/// Collects the detector's reports and lets the test wait for one kind.
class reports {
public:
    std::function<void(const report&)> callback() {
        return [this](const report& r) {
            std::lock_guard lock(mutex_);
            all_.push_back(r);
            cv_.notify_all();
        };
    }
    report wait_for(report_kind kind) {
        std::unique_lock lock(mutex_);
        std::optional<report> found;
        cv_.wait(lock, [&] {
            for (const auto& r : all_)
                if (r.kind == kind) return (found = r).has_value();
            return false;
        });
        return *found;
    }
    std::vector<report> of(report_kind kind) const {
        std::lock_guard lock(mutex_);
        std::vector<report> out;
        std::copy_if(all_.begin(), all_.end(), std::back_inserter(out),
                     [&](const report& r) { return r.kind == kind; });
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<report> all_;
};

struct fixture {
    reports seen;
    std::shared_ptr<diagnostics::deadlock_detector> detector;

    fixture() {
        diagnostics::detector_options o;
        o.watchdog_interval = 0ms;
        o.on_report = seen.callback();
        o.logger =
            std::make_shared<spdlog::logger>("async-test", std::make_shared<spdlog::sinks::null_sink_mt>());
        detector = std::make_shared<diagnostics::deadlock_detector>(std::move(o));
    }

    /// All `size` connections open up front (the worker runs by hand: nothing opens later).
    std::unique_ptr<test_pool> pool(std::string name, std::size_t size, deadlock_policy policy) {
        auto p = std::make_unique<test_pool>(
            fake_driver{},
            pool_options{
                .name = std::move(name), .max_size = size, .acquire_timeout = 30s, .on_deadlock = policy},
            std::chrono::steady_clock{}, worker_mode::manual);
        p->run_worker_once();
        p->add_observer(detector);
        return p;
    }
};

/// Resumes the awaiting coroutine on the thread of `ex` (Asio 1.18 cannot bind use_awaitable to
/// another executor): the coroutine's handler is called from there, as a completion from
/// another thread would be.
asio::awaitable<void> resume_on(asio::io_context::executor_type ex) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void()>(
        [ex](auto handler) { asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(); }); },
        asio::use_awaitable);
}

/// Each context's thread posts into the other's context, and Asio signals a context's condition
/// variable after unlocking its mutex: both threads must be done before either context goes.
void join_both(io_threads& a, io_threads& b) {
    a.join();
    b.join();
}

// ------------------------------------------------------------------------------ AUTO-ID among coroutines

TEST(AsyncDetector, AutoIdKnotAmongCoroutinesIsNamedLikeOneAmongThreads) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::report);
    io_threads runner;  // both logins on one thread
    coroutine_gate both(runner.io.get_executor(), 2);
    std::atomic<unsigned> outer_line{0}, inner_line{0};
    error_code results[2];
    owner_id ids[2] = {new_owner_id(), new_owner_id()};
    std::vector<std::future<void>> logins;
    for (int i = 0; i < 2; ++i) {
        logins.push_back(asio::co_spawn(
            runner.io,
            [&, i]() -> asio::awaitable<void> {
                const std::string label = "login " + std::to_string(i);
                outer_line = std::source_location::current().line() + 1;  // the acquire below
                auto outer = co_await async_acquire(*pool, {.owner = ids[i], .owner_label = label},
                                                    asio::use_awaitable);
                co_await both.arrive_and_wait();
                error_code ec;
                inner_line = std::source_location::current().line() + 1;  // the acquire below
                auto inner = co_await async_acquire(*pool, {.owner = ids[i], .owner_label = label},
                                                    asio::redirect_error(asio::use_awaitable, ec));
                results[i] = ec;
            },
            asio::use_future));
    }
    const report r = f.seen.wait_for(report_kind::deadlock);
    pool->close();  // ends the waits; with policy report they would last 30 s
    for (auto& l : logins) l.get();

    EXPECT_EQ(results[0], errc::pool_closed);
    EXPECT_EQ(results[1], errc::pool_closed);
    ASSERT_EQ(r.members.size(), 2u) << r.to_string();
    std::vector<owner_id> members{r.members[0].owner, r.members[1].owner};
    std::ranges::sort(members);
    EXPECT_EQ(members, (std::vector<owner_id>{std::min(ids[0], ids[1]), std::max(ids[0], ids[1])}));
    std::set<std::string> labels;
    for (const auto& m : r.members) {
        labels.insert(m.label);
        ASSERT_EQ(m.holds.size(), 1u);
        EXPECT_EQ(m.holds[0].site.line(), outer_line.load());
        EXPECT_EQ(m.waits_for, "app");
        EXPECT_EQ(m.wait_site.line(), inner_line.load());
    }
    EXPECT_EQ(labels, (std::set<std::string>{"login 0", "login 1"}));
    const std::string text = r.to_string();
    EXPECT_NE(text.find("login 0"), std::string::npos) << text;
    EXPECT_NE(text.find("async_detector_test.cpp:" + std::to_string(inner_line.load())), std::string::npos)
        << text;
    EXPECT_EQ(pool->stats().deadlocks, 1u);
    // Cm comes from the nesting the detector saw at acquire start.
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_EQ(r.pools[0].connections_per_task, 2u);
    EXPECT_EQ(r.pools[0].safe_size, 3u);
}

TEST(AsyncDetector, FailFastUntiesAKnotAmongCoroutines) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::fail_fast);
    std::optional<worker_pump<test_pool>> worker(std::in_place, *pool);  // resets the victim's return
    io_threads runner;
    coroutine_gate both(runner.io.get_executor(), 2);
    std::atomic<int> completed{0}, failed{0};
    std::optional<report> seen;
    owner_id victim = 0;
    std::vector<std::future<void>> logins;
    for (int i = 0; i < 2; ++i) {
        logins.push_back(asio::co_spawn(
            runner.io,
            [&]() -> asio::awaitable<void> {
                const owner_id me = new_owner_id();
                auto outer = co_await async_acquire(*pool, me, asio::use_awaitable);
                co_await both.arrive_and_wait();
                std::exception_ptr why;
                try {
                    auto inner =
                        co_await async_acquire(*pool, {.owner = me, .failure = &why}, asio::use_awaitable);
                    ++completed;
                } catch (const boost::system::system_error& e) {
                    EXPECT_EQ(e.code(), errc::deadlock);
                    try {
                        std::rethrow_exception(why);
                    } catch (const diagnostics::deadlock_error& d) {
                        seen = d.report();  // one thread: no lock needed
                        victim = me;
                        EXPECT_EQ(d.report().victim, me);
                    }
                    ++failed;
                }
            },  // the victim's return gives `outer` back, and the other coroutine goes on
            asio::use_future));
    }
    for (auto& l : logins) l.get();
    worker.reset();
    EXPECT_EQ(completed.load(), 1);
    EXPECT_EQ(failed.load(), 1);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->members.size(), 2u);
    EXPECT_NE(victim, 0u);
    EXPECT_EQ(f.detector->stats().failed_tasks, 1u);
    EXPECT_EQ(pool->stats().timeouts, 0u);
    EXPECT_EQ(pool->stats().idle, 2u);
}

TEST(AsyncDetector, AnObserverAddedBeforeTheDetectorSeesTheDeadlockVerdictOfAnAsyncTimeout) {
    // A coroutine nests on a pool of 1 (policy report): the knot is found as it queues, and its
    // timeout is explained by it before any observer hears of the failure.
    fixture f;
    auto first = std::make_shared<failure_recorder>();
    auto pool = one_connection_pool(first, f.detector);
    io_threads runner;
    error_code result;
    auto request = asio::co_spawn(
        runner.io,
        [&]() -> asio::awaitable<void> {
            const owner_id me = new_owner_id();
            auto outer = co_await async_acquire(*pool, me, asio::use_awaitable);
            error_code ec;
            auto inner = co_await async_acquire(*pool, me, asio::redirect_error(asio::use_awaitable, ec));
            result = ec;
        },
        asio::use_future);
    request.get();
    EXPECT_EQ(result, errc::timeout);
    ASSERT_EQ(f.seen.of(report_kind::deadlock).size(), 1u);
    EXPECT_TRUE(the_knot_failure(*first))
        << (first->seen().empty() ? std::string("no failure") : first->seen()[0].to_string());
}

// ------------------------------------------------------------------------------ tasks, not threads

TEST(AsyncDetector, CoroutinesTakingTurnsOnOneThreadAreNotNested) {
    fixture f;
    auto pool = f.pool("app", 4, deadlock_policy::report);
    // Two coroutines on one thread, each its own task, both holding a lease at once.
    auto run_pair = [&](owner_id a, owner_id b) {
        io_threads runner;
        coroutine_gate both(runner.io.get_executor(), 2);
        std::vector<std::future<void>> tasks;
        for (owner_id who : {a, b}) {
            tasks.push_back(asio::co_spawn(
                runner.io,
                [&, who]() -> asio::awaitable<void> {
                    auto lease = co_await async_acquire(*pool, who, asio::use_awaitable);
                    co_await both.arrive_and_wait();  // the other acquires while this one holds
                },
                asio::use_future));
        }
        for (auto& t : tasks) t.get();
    };
    run_pair(new_owner_id(), new_owner_id());
    EXPECT_TRUE(f.seen.of(report_kind::nested_acquisition).empty());
    EXPECT_EQ(pool->stats().nested_acquisitions, 0u);
    EXPECT_EQ(f.detector->stats().nested_pairs, 0u);

    // The control: the same two coroutines acting for one task (as a thread-keyed detector
    // would see them) are a nested acquisition.
    const owner_id shared = new_owner_id();
    run_pair(shared, shared);
    const report r = f.seen.wait_for(report_kind::nested_acquisition);
    ASSERT_EQ(r.nested.size(), 1u);
    EXPECT_EQ(r.nested[0].depth, 2u);
    EXPECT_EQ(pool->stats().nested_acquisitions, 1u);
}

TEST(AsyncDetector, CoroutineResumedOnAnotherThreadKeepsItsLeases) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::report);
    io_threads first, second;  // two single-threaded contexts
    const owner_id me = new_owner_id();
    std::thread::id acquired_on, resumed_on;
    owner_id owner_after_hop = 0;
    std::vector<owner_id> holders_after_hop;
    auto task = asio::co_spawn(
        first.io,
        [&]() -> asio::awaitable<void> {
            auto lease = co_await async_acquire(*pool, me, asio::use_awaitable);
            acquired_on = std::this_thread::get_id();
            co_await resume_on(second.io.get_executor());  // hop
            resumed_on = std::this_thread::get_id();
            owner_after_hop = lease.owner();
            for (const auto& h : pool->view().holders()) holders_after_hop.push_back(h.owner);
            lease.release();  // returned from the other thread
        },
        asio::use_future);
    task.get();
    join_both(first, second);
    pool->run_worker_once();  // manual mode: the worker resets what an async lease gave back
    EXPECT_NE(acquired_on, resumed_on);
    EXPECT_EQ(owner_after_hop, me);
    EXPECT_EQ(holders_after_hop, std::vector<owner_id>{me});
    EXPECT_EQ(pool->stats().idle, 2u);
    EXPECT_EQ(pool->stats().active, 0u);
}

TEST(AsyncDetector, NestingAcrossAThreadHopIsTheTasksNesting) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::report);
    io_threads first, second;
    const owner_id me = new_owner_id();
    unsigned outer_line = 0, inner_line = 0;
    auto task = asio::co_spawn(
        first.io,
        [&]() -> asio::awaitable<void> {
            outer_line = std::source_location::current().line() + 1;  // the acquire below
            auto outer = co_await async_acquire(*pool, me, asio::use_awaitable);
            co_await resume_on(second.io.get_executor());
            inner_line = std::source_location::current().line() + 1;  // the acquire below
            auto inner = co_await async_acquire(*pool, me, asio::use_awaitable);
        },
        asio::use_future);
    task.get();
    join_both(first, second);
    // A thread-keyed detector would see two threads each holding one lease; the task held two.
    const report r = f.seen.wait_for(report_kind::nested_acquisition);
    ASSERT_EQ(r.nested.size(), 1u);
    EXPECT_EQ(r.nested[0].outer_site.line(), outer_line);
    EXPECT_EQ(r.nested[0].inner_site.line(), inner_line);
    EXPECT_EQ(r.nested[0].depth, 2u);
}

}  // namespace
}  // namespace lifeguard::testing
