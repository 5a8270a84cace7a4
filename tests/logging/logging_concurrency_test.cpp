// logging_observer hit from several threads at once (also run under ThreadSanitizer): the rate
// limiter counts every failure exactly once.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <latch>
#include <thread>
#include <vector>

#include "lifeguard/logging.hpp"
#include "stub_pool_view.hpp"

namespace {

TEST(LoggingConcurrency, ConcurrentConnectFailuresAreCountedOnce) {
    constexpr int threads = 4;
    constexpr int per_thread = 2000;
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(20000);
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::trace);
    lifeguard::logging_observer observer({.logger = logger});
    lifeguard::testing::stub_pool_view pool("orders");

    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < per_thread; ++i) {
                observer.on_connect_failed(pool, "refused");
                observer.on_acquired(pool, {}, std::chrono::nanoseconds(i));
            }
        });
    for (auto& w : workers) w.join();
    observer.on_connection_created(pool, std::chrono::milliseconds(1));

    std::vector<std::string> errors, infos;
    for (const auto& m : sink->last_raw()) {
        const std::string text(m.payload.data(), m.payload.size());
        if (m.level == spdlog::level::err) errors.push_back(text);
        if (m.level == spdlog::level::info) infos.push_back(text);
    }
    ASSERT_EQ(errors.size(), 2u);  // the first in full, then the summary when it reconnected
    EXPECT_EQ(errors[1], "pool 'orders': " + std::to_string(threads * per_thread - 1) +
                             " more failures to open a connection in the last 0.0 s; latest: refused");
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0], "pool 'orders': connected again after " + std::to_string(threads * per_thread) +
                            " failed attempts");
}

}  // namespace
