// The detector on real pools driven from one thread (no worker thread, no other callers):
// potential problems are reported without anything blocking, owners that take turns on one
// thread are told apart, and a task that deadlocks with itself is failed at once.
#include <gtest/gtest.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <memory>
#include <vector>

#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"

namespace lifeguard::diagnostics {
namespace {

using testing::fake_driver;
using test_pool = basic_pool<fake_driver>;

struct fixture {
    std::vector<report> reports;
    std::shared_ptr<deadlock_detector> detector;

    fixture() {
        detector_options o;
        o.watchdog_interval = 0ms;
        o.logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
        o.on_report = [this](const report& r) { reports.push_back(r); };
        detector = std::make_shared<deadlock_detector>(std::move(o));
    }

    std::unique_ptr<test_pool> pool(std::string name, std::size_t size, deadlock_policy policy) {
        auto p = std::make_unique<test_pool>(
            fake_driver{},
            pool_options{.name = std::move(name), .max_size = size, .acquire_timeout = 30s, .on_deadlock = policy},
            std::chrono::steady_clock{}, worker_mode::manual);
        p->run_worker_once();
        p->add_observer(detector);
        return p;
    }

    std::size_t count(report_kind k) const {
        return static_cast<std::size_t>(std::ranges::count(reports, k, &report::kind));
    }
};

TEST(DetectorOneThread, OneOwnerAloneGetsAPotentialReportAndNoError) {
    fixture f;
    auto pool = f.pool("app", 2, deadlock_policy::fail_fast);
    {
        auto outer = pool->acquire();
        auto inner = pool->acquire();  // nested: fine for one task on a pool of 2
    }
    ASSERT_EQ(f.count(report_kind::nested_acquisition), 1u);
    const auto& n = f.reports[0].nested[0];
    EXPECT_EQ(n.depth, 2u);
    EXPECT_EQ(n.tasks, 1u);
    EXPECT_EQ(n.safe_size, 2u);
    EXPECT_EQ(f.count(report_kind::deadlock), 0u);
    EXPECT_EQ(pool->stats().nested_acquisitions, 1u);
    EXPECT_EQ(pool->stats().deadlocks, 0u);
}

TEST(DetectorOneThread, TwoOwnerScopesOnOneThreadAreNotNesting) {
    fixture f;
    auto pool = f.pool("app", 3, deadlock_policy::report);
    owner_scope first("coroutine 1");
    auto a = pool->acquire();
    {
        owner_scope second("coroutine 2");  // another task resumed on this thread
        auto b = pool->acquire();
        EXPECT_EQ(b.owner(), second.id());
    }
    EXPECT_EQ(pool->stats().nested_acquisitions, 0u);
    EXPECT_EQ(f.count(report_kind::nested_acquisition), 0u);
    auto c = pool->acquire();  // the first task again: now it is nesting
    EXPECT_EQ(pool->stats().nested_acquisitions, 1u);
    EXPECT_EQ(f.count(report_kind::nested_acquisition), 1u);
}

TEST(DetectorOneThread, OrderInversionIsReportedWithoutBlocking) {
    fixture f;
    auto app = f.pool("app", 2, deadlock_policy::report);
    auto audit = f.pool("audit", 2, deadlock_policy::report);
    {
        auto a = app->acquire();
        auto b = audit->acquire();
    }
    EXPECT_EQ(f.count(report_kind::order_inversion), 0u);
    {
        auto b = audit->acquire();
        auto a = app->acquire();
    }
    ASSERT_EQ(f.count(report_kind::order_inversion), 1u);
    EXPECT_EQ(app->stats().acquire_wait.max.count(), 0) << "nothing waited";
    EXPECT_EQ(audit->stats().acquire_wait.max.count(), 0);
    const auto snap = f.detector->snapshot();
    EXPECT_EQ(snap.order_edges.size(), 2u);
}

TEST(DetectorOneThread, ATaskDeadlockedWithItselfIsFailedAtOnce) {
    fixture f;
    auto pool = f.pool("app", 1, deadlock_policy::fail_fast);
    auto outer = pool->acquire();
    try {
        auto inner = pool->acquire();  // would wait 30 s for itself
        FAIL() << "no deadlock_error";
    } catch (const deadlock_error& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::deadlock));
        ASSERT_EQ(e.report().members.size(), 1u);
        EXPECT_EQ(e.report().members[0].owner, current_owner());
        EXPECT_EQ(e.report().pools[0].safe_size, 2u);
    }
    EXPECT_EQ(pool->stats().deadlocks, 1u);
    EXPECT_EQ(pool->stats().timeouts, 0u);
}

}  // namespace
}  // namespace lifeguard::diagnostics
