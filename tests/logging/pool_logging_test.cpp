// logging_observer attached to a real pool (fake driver, manual clock, manual worker): what a
// pool's life looks like in the log.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "lifeguard/logging.hpp"
#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"
#include "support/manual_clock.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::testing::fake_driver;
using lifeguard::testing::manual_clock;
using manual_pool = lifeguard::basic_pool<fake_driver, manual_clock>;
using level = spdlog::level::level_enum;

struct line {
    level lvl;
    std::string text;
};

class block_counter final : public lifeguard::pool_observer {
public:
    void on_block(lifeguard::pool_view&, const lifeguard::wait_info&) override {
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

struct fixture {
    fake_driver driver;
    manual_clock clock;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
        std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(500);
    std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>("app", sink);
    std::shared_ptr<block_counter> blocks = std::make_shared<block_counter>();

    fixture() { logger->set_level(level::trace); }

    std::unique_ptr<manual_pool> make(lifeguard::pool_options o) {
        auto p = std::make_unique<manual_pool>(driver, std::move(o), clock, lifeguard::worker_mode::manual);
        p->add_observer(blocks);
        p->add_observer(lifeguard::make_logging_observer({.logger = logger}));
        return p;
    }

    std::vector<line> lines() const {
        std::vector<line> out;
        for (const auto& m : sink->last_raw())
            out.push_back({m.level, std::string(m.payload.data(), m.payload.size())});
        return out;
    }
    std::vector<line> at(level lvl) const {
        std::vector<line> out;
        for (auto& l : lines())
            if (l.lvl == lvl) out.push_back(l);
        return out;
    }
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(PoolLogging, StartFailureRecoveryUseAndStop) {
    fixture f;
    f.driver.with([](auto& s) { s.fail_next_connects = 1; });
    auto pool = f.make({.name = "orders", .max_size = 1, .min_idle = 1});
    pool->run_worker_once();  // the first connect fails
    f.clock.advance(1s);      // past the retry backoff
    pool->run_worker_once();
    {
        auto lease = pool->acquire();
        f.clock.advance(5ms);
    }
    pool.reset();

    const auto info = f.at(level::info);
    ASSERT_EQ(info.size(), 3u);
    EXPECT_TRUE(contains(info[0].text, "pool 'orders' started: target fake://db, max_size 1"))
        << info[0].text;
    EXPECT_EQ(info[1].text, "pool 'orders': connected again after 1 failed attempt");
    EXPECT_TRUE(contains(info[2].text, "pool 'orders' stopped: acquired 1, timeouts 0")) << info[2].text;

    const auto errors = f.at(level::err);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].text,
              "pool 'orders': cannot open a connection to fake://db: connection refused (fake)");

    const auto trace = f.at(level::trace);
    ASSERT_EQ(trace.size(), 2u);
    EXPECT_TRUE(contains(trace[0].text, "lease ")) << trace[0].text;
    EXPECT_TRUE(contains(trace[0].text, "pool_logging_test.cpp:")) << trace[0].text;
    EXPECT_TRUE(contains(trace[1].text, "after 5.000 ms")) << trace[1].text;
}

TEST(PoolLogging, TimeoutIsLoggedWithHoldersAtWarn) {
    fixture f;
    auto pool = f.make(
        {.name = "orders", .max_size = 1, .min_idle = 1, .acquire_timeout = 1s, .validation_timeout = 500ms});
    pool->run_worker_once();
    auto held = pool->acquire();
    std::error_code ec;
    std::thread waiter([&] { auto lease = pool->acquire(ec); });
    f.blocks->wait_blocked(1);
    f.clock.advance(2s);
    waiter.join();
    ASSERT_EQ(ec, lifeguard::errc::timeout);

    const auto warnings = f.at(level::warn);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0].text, "pool 'orders': timed out after")) << warnings[0].text;
    EXPECT_TRUE(contains(warnings[0].text, "holders (1)")) << warnings[0].text;
    EXPECT_TRUE(contains(warnings[0].text, "pool_logging_test.cpp:")) << warnings[0].text;
    const auto debug = f.at(level::debug);
    EXPECT_TRUE(std::any_of(debug.begin(), debug.end(),
                            [](const line& l) { return contains(l.text, "waits for a connection"); }));
}

}  // namespace
