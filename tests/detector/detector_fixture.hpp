// The detector-on-a-real-pool fixture shared by the thread tests: a detector whose reports a
// test can wait for, block events to wait for callers that blocked, and pools of fake
// connections, all opened up front (the worker is run by hand, so nothing opens later).
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "detector/pool_events.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"

namespace lifeguard::testing {

using namespace std::chrono_literals;
using detector_test_pool = basic_pool<fake_driver>;

struct detector_fixture {
    report_collector reports;
    std::shared_ptr<diagnostics::deadlock_detector> detector;
    std::shared_ptr<block_events> blocks = std::make_shared<block_events>();

    explicit detector_fixture(std::chrono::milliseconds watchdog = 0ms) {
        diagnostics::detector_options o;
        o.watchdog_interval = watchdog;
        o.on_report = reports.callback();
        o.logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
        detector = std::make_shared<diagnostics::deadlock_detector>(std::move(o));
    }

    /// A pool with all `size` connections open (worker run by hand: nothing opens later), watched
    /// by the detector and then by the block events.
    std::unique_ptr<detector_test_pool> pool(std::string name, std::size_t size, deadlock_policy policy, bool watch = true) {
        return pool(pool_options{.name = std::move(name), .max_size = size, .acquire_timeout = 30s, .on_deadlock = policy},
                    watch);
    }

    /// The same with any options (a driver to keep a handle on, if the test needs one).
    std::unique_ptr<detector_test_pool> pool(pool_options options, bool watch = true, fake_driver driver = {}) {
        auto p = std::make_unique<detector_test_pool>(std::move(driver), std::move(options), std::chrono::steady_clock{},
                                                      worker_mode::manual);
        p->run_worker_once();
        if (watch) p->add_observer(detector);
        p->add_observer(blocks);
        return p;
    }
};

/// Pool "app" of one open connection, policy report, acquire_timeout 250 ms (the least
/// allowed), observed by `first` and then by `detector`.
inline std::unique_ptr<detector_test_pool> one_connection_pool(std::shared_ptr<pool_observer> first,
                                                               std::shared_ptr<pool_observer> detector) {
    auto p = std::make_unique<detector_test_pool>(
        fake_driver{},
        pool_options{.name = "app", .max_size = 1, .acquire_timeout = 250ms, .on_deadlock = deadlock_policy::report},
        std::chrono::steady_clock{}, worker_mode::manual);
    p->run_worker_once();
    p->add_observer(std::move(first));
    p->add_observer(std::move(detector));
    return p;
}

/// The one failure `recorder` heard of, if it heard of exactly one and its verdict is the
/// knot's: deadlocked, with the report of one task holding all of pool "app" in its detail.
inline std::optional<pool_diagnostics> the_knot_failure(const failure_recorder& recorder) {
    const auto seen = recorder.seen();
    if (seen.size() != 1 || seen[0].what != verdict::deadlocked ||
        seen[0].detail.find("lifeguard deadlock: 1 task holds all 1 connections of pool \"app\"") == std::string::npos)
        return std::nullopt;
    return seen[0];
}

inline std::vector<owner_id> owners_of(const std::vector<diagnostics::task_report>& tasks) {
    std::vector<owner_id> out;
    for (const auto& t : tasks) out.push_back(t.owner);
    std::ranges::sort(out);
    return out;
}

}  // namespace lifeguard::testing
