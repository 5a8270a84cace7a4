// Blocking and async waiters share one FIFO queue: when returns come faster than the threads they
// wake can run, each return still goes to the oldest waiter no return has served yet, also when
// that one is an async waiter behind a woken thread. Deterministic: the thread at the head is held
// (inside on_block, queued) while the returns come, so "woken but not yet run" is a state the
// test controls; nothing sleeps.
// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <gtest/gtest.h>

#include <boost/asio/bind_executor.hpp>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "async/async_support.hpp"

namespace lifeguard::testing {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using lease_type = manual_pool::lease_type;

/// Holds the first blocking caller that queues inside its on_block (queued, outside the pool's
/// lock) until released; counts blocking callers that queued.
class first_blocker_gate final : public pool_observer {
public:
    void on_block(pool_view&, const wait_info& w) override {
        if (!w.blocks_thread) return;
        std::unique_lock lock(mutex_);
        const int me = ++threads_;
        cv_.notify_all();
        if (me == 1) cv_.wait(lock, [&] { return released_; });
    }
    void wait_threads(int n) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return threads_ >= n; });
    }
    void release() {
        std::lock_guard lock(mutex_);
        released_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int threads_ = 0;
    bool released_ = false;
};

/// Who was served, in order.
class service_log {
public:
    void note(const std::string& who) {
        std::lock_guard lock(mutex_);
        order_.push_back(who);
        cv_.notify_all();
    }
    /// Waits until `n` were served, at most `limit` (a bound against a hang, not a timing
    /// assertion). False when fewer were.
    bool wait_served(std::size_t n, std::chrono::seconds limit = 30s) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, limit, [&] { return order_.size() >= n; });
    }
    std::vector<std::string> order() const {
        std::lock_guard lock(mutex_);
        return order_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::string> order_;
};

TEST(AsyncFifo, ASecondReturnGoesToTheAsyncWaiterBeforeTheBlockingOneBehindIt) {
    fake_driver driver;
    manual_clock clock;
    auto gate = std::make_shared<first_blocker_gate>();
    manual_pool pool(driver, {.name = "fifo", .max_size = 2}, clock, worker_mode::manual);
    pool.add_observer(gate);
    pool.run_worker_once();
    lease_type first = pool.acquire(), second = pool.acquire();

    service_log log;
    std::latch let_go(1);  // the blocking callers keep their leases until then
    std::thread head([&] {
        auto lease = pool.acquire();
        log.note("head");
        let_go.wait();
    });
    gate->wait_threads(1);  // queued first, and held before it can claim anything
    asio::io_context io;
    lease_type async_lease;
    async_acquire(pool, asio::bind_executor(io, [&](error_code ec, lease_type l) {
        EXPECT_FALSE(ec) << ec.message();
        async_lease = std::move(l);
        log.note("async");
    }));
    std::thread behind([&] {
        auto lease = pool.acquire();
        log.note("behind");
        let_go.wait();
    });
    gate->wait_threads(2);  // queued third

    first.release();   // wakes the head, which has not run yet
    second.release();  // the oldest waiter not yet served is the async one
    io.restart();
    io.poll();
    EXPECT_TRUE(async_lease) << "the second return did not go to the async waiter, second in line";

    gate->release();
    EXPECT_TRUE(log.wait_served(2));
    EXPECT_EQ(pool.stats().pending, 1u);
    let_go.count_down();  // the head returns its connection: now the one behind is served
    head.join();
    behind.join();
    io.restart();
    io.poll();  // before the fix, the async waiter is served only now
    EXPECT_EQ(log.order(), (std::vector<std::string>{"async", "head", "behind"}));
}

}  // namespace
}  // namespace lifeguard::testing
