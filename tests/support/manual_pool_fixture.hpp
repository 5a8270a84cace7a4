// A pool on the fake driver and the manual clock, with a manual worker, for tests of what is
// attached to a pool (logging, metrics): the test drives time and the worker itself, and can
// wait, without sleeping, until callers are queued.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>

#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"
#include "support/manual_clock.hpp"

namespace lifeguard::testing {

using manual_pool = basic_pool<fake_driver, manual_clock>;

// Counts the callers that had to wait, so a test can wait until n of them are queued.
class block_counter final : public pool_observer {
public:
    void on_block(pool_view&, const wait_info&) override {
        std::lock_guard lock(mutex_);
        ++blocked_;
        cv_.notify_all();
    }
    void wait_blocked(int n) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return blocked_ >= n; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int blocked_ = 0;
};

// One driver and one clock shared by every pool the test makes; each pool reports to `blocks`.
struct manual_pool_fixture {
    fake_driver driver;
    manual_clock clock;
    std::shared_ptr<block_counter> blocks = std::make_shared<block_counter>();

    std::unique_ptr<manual_pool> make(pool_options o) {
        auto p = std::make_unique<manual_pool>(driver, std::move(o), clock, worker_mode::manual);
        p->add_observer(blocks);
        return p;
    }
};

}  // namespace lifeguard::testing
