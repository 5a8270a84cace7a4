// reconfigure(): options changed on a live pool, checked like the constructor's; shrinking
// retires connections as they come back, growing serves waiters at once.
#include <gtest/gtest.h>

#include <thread>

#include "core/queued_caller.hpp"
#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

std::string rejection(manual_pool& pool, const pool_settings& change) {
    try {
        pool.reconfigure(change);
    } catch (const options_error& e) {
        return e.what();
    }
    return "";
}

TEST(PoolReconfigure, GrowingServesAWaiterAtOnce) {
    manual_fixture f;
    auto pool = f.make_filled({.name = "grow", .max_size = 1, .max_size_ceiling = 3});
    auto held = pool->acquire();
    queued_caller waiter(*pool, *f.events);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 1u) << "max_size 1: nothing opened for the waiter yet";
    pool->reconfigure({.max_size = 2});
    pool->run_worker_once();  // the worker's next step, with nothing else due
    waiter.join();
    EXPECT_TRUE(waiter.served());
    EXPECT_EQ(pool->stats().max, 2u);
    EXPECT_EQ(pool->stats().created, 2u);
    EXPECT_EQ(pool->options().max_size, 2u);
}

TEST(PoolReconfigure, ShrinkingRetiresIdleConnectionsAtOnceAndLeasedOnesOnReturn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 4});
    std::optional<manual_pool::lease_type> a = pool->acquire(), b = pool->acquire(), c = pool->acquire();
    pool->reconfigure({.max_size = 1, .min_idle = 1});
    pool->run_worker_once();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.closes; }), 1) << "the idle one";
    auto st = pool->stats();
    EXPECT_EQ(st.active, 3u) << "leases are not interrupted";
    EXPECT_EQ(st.idle, 0u);
    (*a)->session_setting = 7;  // still usable
    a.reset();
    pool->run_worker_once();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.closes; }), 2) << "retired as it came back";
    b.reset();
    pool->run_worker_once();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.closes; }), 3);
    c.reset();  // the last one back fits max_size 1: kept
    pool->run_worker_once();
    st = pool->stats();
    EXPECT_EQ(f.driver.with([](auto& s) { return s.closes; }), 3);
    EXPECT_EQ(st.total, 1u);
    EXPECT_EQ(st.idle, 1u);
    EXPECT_EQ(st.closed_for(close_reason::evicted), 3u);
    // Lent and returned again, the one kept stays.
    { auto again = pool->acquire(); }
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 1u);
}

// A connection that becomes idle again after the shrink (opened, kept alive, reset by the worker
// while max_size went down) must not stay open above it until some lease happens to come back.
void expect_only_max_size_open(manual_pool& pool, fake_driver& driver, std::size_t max_size) {
    const pool_stats st = pool.stats();
    EXPECT_EQ(st.total, max_size) << "a connection stayed open above max_size";
    EXPECT_EQ(st.idle, 0u);
    EXPECT_EQ(st.closed_for(close_reason::evicted), 1u);
    EXPECT_EQ(driver.with([](auto& s) { return s.open; }), static_cast<int>(max_size));
}

TEST(PoolReconfigure, AConnectionThatFinishesOpeningAfterTheShrinkIsClosedNotKeptIdle) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2, .max_size_ceiling = 3});
    auto a = pool->acquire();
    auto b = pool->acquire();
    f.driver.with([](auto& s) { s.hold_connects = true; });
    pool->reconfigure({.max_size = 3});  // min_idle follows: the worker opens a third
    std::thread worker([&] { pool->run_worker_once(); });
    f.driver.wait_for([](auto& s) { return s.connects_waiting == 1; });
    pool->reconfigure({.max_size = 2});  // while it opens: both leases fill max_size
    f.driver.with([](auto& s) { s.hold_connects = false; });
    worker.join();
    expect_only_max_size_open(*pool, f.driver, 2);
}

TEST(PoolReconfigure, AConnectionKeptAliveDuringTheShrinkIsClosedNotKeptIdle) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    auto held = pool->acquire();
    f.clock.advance(2min);  // the idle one is due for its keepalive (keepalive_interval 2 min)
    f.driver.with([](auto& s) { s.hold_validations = true; });
    std::thread worker([&] { pool->run_worker_once(); });
    f.driver.wait_for([](auto& s) { return s.validations_waiting == 1; });
    pool->reconfigure({.max_size = 1});  // while it is validated: the lease fills max_size
    f.driver.with([](auto& s) { s.hold_validations = false; });
    worker.join();
    expect_only_max_size_open(*pool, f.driver, 1);
}

TEST(PoolReconfigure, ShrinkingThenGrowingRefillsToMinIdle) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 3});
    pool->reconfigure({.max_size = 1});  // min_idle follows max_size (its default)
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 1u);
    EXPECT_EQ(pool->options().min_idle, 1u);
    pool->reconfigure({.max_size = 3});
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 3u);
    EXPECT_EQ(pool->options().min_idle, 3u);
}

TEST(PoolReconfigure, DefaultsKeepFollowingAndSetValuesStay) {
    manual_fixture f;
    auto pool = f.make({.name = "follow", .max_size = 2, .max_size_ceiling = 8, .acquire_timeout = 30s});
    EXPECT_EQ(pool->options().validation_timeout, 5s);
    pool->reconfigure({.acquire_timeout = 2s});
    EXPECT_EQ(pool->options().acquire_timeout, 2s);
    EXPECT_EQ(pool->options().validation_timeout, 1s) << "follows acquire_timeout, as at construction";
    pool->reconfigure({.min_idle = 1});
    pool->reconfigure({.max_size = 6});
    EXPECT_EQ(pool->options().min_idle, 1u) << "set explicitly: kept";
    EXPECT_EQ(pool->options().name, "follow");
    EXPECT_EQ(pool->options().max_size_ceiling, 8u);
    EXPECT_EQ(pool->view().options().max_size, 6u);
}

TEST(PoolReconfigure, RejectsBadValuesByFieldValueAndRuleAndChangesNothing) {
    manual_fixture f;
    auto pool = f.make({.name = "strict", .max_size = 2, .max_size_ceiling = 3, .leak_detection_threshold = 5s});
    const pool_options before = pool->options();
    const struct {
        pool_settings change;
        const char* message;
    } cases[] = {
        {{.max_size = 0}, "pool 'strict': option max_size = 0 is invalid: must be at least 1"},
        {{.max_size = 4},
         "option max_size = 4 is invalid: must be at most max_size_ceiling (3), the slots allocated when the pool was made"},
        {{.max_size = std::numeric_limits<std::size_t>::max()}, "option max_size = unbounded is invalid: must be at most max_size_ceiling (3)"},
        {{.min_idle = 3}, "option min_idle = 3 is invalid: must not exceed max_size (2)"},
        {{.max_size = 1, .min_idle = 2}, "option min_idle = 2 is invalid: must not exceed max_size (1)"},
        {{.acquire_timeout = 100ms}, "option acquire_timeout = 100 ms is invalid: must be at least 250 ms"},
        {{.acquire_timeout = -1ms}, "option acquire_timeout = -1 ms is invalid: must be at least 250 ms"},
        {{.idle_timeout = 1s}, "option idle_timeout = 1000 ms is invalid: must be 0 or forever (never), or at least 10000 ms"},
        {{.max_lifetime = -5ms}, "option max_lifetime = -5 ms is invalid: must be 0 or forever (never)"},
        {{.leak_detection_threshold = 1s}, "option leak_detection_threshold = 1000 ms is invalid: must be 0 or forever (off)"},
    };
    for (const auto& c : cases) {
        const std::string message = rejection(*pool, c.change);
        EXPECT_NE(message.find(c.message), std::string::npos) << "got: " << message;
        const pool_options now = pool->options();
        EXPECT_EQ(now.max_size, before.max_size);
        EXPECT_EQ(now.min_idle, before.min_idle);
        EXPECT_EQ(now.acquire_timeout, before.acquire_timeout);
        EXPECT_EQ(now.idle_timeout, before.idle_timeout);
        EXPECT_EQ(now.max_lifetime, before.max_lifetime);
        EXPECT_EQ(now.leak_detection_threshold, before.leak_detection_threshold);
    }
    // forever is a documented value for the durations that take it.
    pool->reconfigure({.acquire_timeout = forever, .idle_timeout = forever, .max_lifetime = forever,
                       .leak_detection_threshold = forever});
    EXPECT_EQ(pool->options().acquire_timeout, forever);
    EXPECT_EQ(pool->options().validation_timeout, 5s);
}

TEST(PoolReconfigure, AShorterAcquireTimeoutAppliesToTheNextAcquire) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .acquire_timeout = 30s});
    auto held = pool->acquire();
    pool->reconfigure({.acquire_timeout = 1s});
    queued_caller waiter(*pool, *f.events);
    f.clock.advance(1s);
    waiter.join();
    EXPECT_EQ(waiter.error(), errc::timeout);
}

TEST(PoolReconfigure, ALeakThresholdSetLaterReportsALeaseHeldPastIt) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto held = pool->acquire();
    f.clock.advance(10s);
    pool->run_worker_once();
    EXPECT_TRUE(f.events->leaks().empty()) << "leak detection is off";
    pool->reconfigure({.leak_detection_threshold = 2s});
    pool->run_worker_once();
    ASSERT_EQ(f.events->leaks().size(), 1u);
    EXPECT_EQ(f.events->leaks()[0].age, 10s);
}

TEST(PoolReconfigure, AShorterIdleTimeoutRetiresIdleConnectionsAboveMinIdle) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 3, .idle_timeout = 10min});
    pool->reconfigure({.min_idle = 1});
    EXPECT_EQ(pool->stats().total, 3u);
    f.clock.advance(20s);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 3u) << "idle 20 s < 10 min";
    pool->reconfigure({.idle_timeout = 10s});
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 1u);
    EXPECT_EQ(pool->stats().closed_for(close_reason::idle), 2u);
}

TEST(PoolReconfigure, ANewMaxLifetimeAppliesToConnectionsOpenedAfterwards) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .max_lifetime = 30min});
    pool->reconfigure({.max_lifetime = 30s});
    f.clock.advance(31s);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().total, 1u) << "the open connection keeps its 30 min";
    pool->soft_evict();
    pool->run_worker_once();  // closes it and opens one under the new lifetime
    EXPECT_EQ(pool->stats().created, 2u);
    f.clock.advance(31s);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 1u);
}

}  // namespace
}  // namespace lifeguard::testing
