// initialization_fail_timeout: the constructor opens a first connection, or throws
// startup_error with the driver's error; and the option's extremes.
#include <gtest/gtest.h>


#include "core/option_errors.hpp"
#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

manual_pool make_pool(fake_driver& d, manual_clock& clock, pool_options o) {
    return manual_pool(d, std::move(o), clock, worker_mode::manual);
}

TEST(PoolStartup, ByDefaultStartsWithoutConnecting) {
    fake_driver d;
    manual_clock clock;
    d.with([](auto& s) { s.refuse_connects = true; });
    auto pool = make_pool(d, clock, {.name = "lazy", .max_size = 2});
    EXPECT_EQ(d.with([](auto& s) { return s.connects; }), 0);
    EXPECT_EQ(pool.options().initialization_fail_timeout, pool_options::starts_without_waiting);
}

TEST(PoolStartup, ZeroFailsAtOnceWithTheDriversError) {
    fake_driver d;
    manual_clock clock;
    d.with([](auto& s) {
        s.refuse_connects = true;
        s.connect_error = "FATAL: password authentication failed for user \"app\"";
    });
    try {
        make_pool(d, clock, {.name = "strict", .max_size = 2, .initialization_fail_timeout = 0ms});
        FAIL() << "the constructor returned";
    } catch (const startup_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("pool 'strict'"), std::string::npos) << what;
        EXPECT_NE(what.find("initialization_fail_timeout (0 ms, 1 attempt)"), std::string::npos) << what;
        EXPECT_NE(what.find("password authentication failed for user \"app\""), std::string::npos) << what;
        EXPECT_EQ(e.code(), errc::timeout);
        EXPECT_EQ(e.diagnostics().what, verdict::database_unreachable);
        EXPECT_EQ(e.diagnostics().last_connect_error, "FATAL: password authentication failed for user \"app\"");
    }
    EXPECT_EQ(d.with([](auto& s) { return s.connects; }), 1);
}

TEST(PoolStartup, StartupErrorIsAPoolError) {
    fake_driver d;
    manual_clock clock;
    d.with([](auto& s) { s.refuse_connects = true; });
    EXPECT_THROW(make_pool(d, clock, {.initialization_fail_timeout = 0ms}), pool_error);
}

TEST(PoolStartup, ZeroOpensValidatesAndKeepsOneConnection) {
    fake_driver d;
    manual_clock clock;
    auto pool = make_pool(d, clock, {.max_size = 3, .min_idle = 0, .initialization_fail_timeout = 0ms});
    const auto st = pool.stats();
    EXPECT_EQ(st.total, 1u);
    EXPECT_EQ(st.idle, 1u);
    EXPECT_EQ(st.created, 1u);
    EXPECT_EQ(d.with([](auto& s) { return s.validations; }), 1);
    auto lease = pool.try_acquire();
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)->id, 1u);
    EXPECT_EQ(pool.health().verdict, health_verdict::healthy);
}

TEST(PoolStartup, AFirstConnectionFailingValidationIsClosedAndReported) {
    fake_driver d;
    manual_clock clock;
    d.with([](auto& s) { s.broken.insert(1); });
    try {
        make_pool(d, clock, {.name = "v", .initialization_fail_timeout = 0ms});
        FAIL() << "the constructor returned";
    } catch (const startup_error& e) {
        EXPECT_NE(std::string(e.what()).find("the new connection failed validation"), std::string::npos) << e.what();
    }
    EXPECT_EQ(d.with([](auto& s) { return s.open; }), 0) << "the connection that failed validation was closed";
}

/// A fake driver whose every connect attempt takes a second of the manual clock.
class slow_driver : public fake_driver {
public:
    explicit slow_driver(manual_clock clock) : clock_(std::move(clock)) {}
    fake_connection connect(std::chrono::steady_clock::time_point deadline) {
        clock_.advance(1s);
        return fake_driver::connect(deadline);
    }

private:
    manual_clock clock_;
};

using slow_pool = basic_pool<slow_driver, manual_clock>;

TEST(PoolStartup, PositiveRetriesUntilTheDatabaseAnswers) {
    manual_clock clock;
    slow_driver d(clock);
    d.with([](auto& s) { s.fail_next_connects = 3; });
    slow_pool pool(d, {.max_size = 2, .min_idle = 0, .initialization_fail_timeout = 10s}, clock, worker_mode::manual);
    EXPECT_EQ(pool.stats().total, 1u);
    EXPECT_EQ(pool.stats().created, 1u);
    EXPECT_EQ(d.with([](auto& s) { return s.connects; }), 4);
}

TEST(PoolStartup, PositiveGivesUpOnceItsBudgetIsSpent) {
    manual_clock clock;
    slow_driver d(clock);
    d.with([](auto& s) {
        s.refuse_connects = true;
        s.connect_error = "could not connect: Connection refused";
    });
    try {
        slow_pool pool(d, {.name = "budget", .initialization_fail_timeout = 2500ms}, clock, worker_mode::manual);
        FAIL() << "the constructor returned";
    } catch (const startup_error& e) {
        // Attempts at 0 s, 1 s and 2 s; the third ends at 3 s, past the 2.5 s budget.
        const std::string what = e.what();
        EXPECT_NE(what.find("(2500 ms, 3 attempts): could not connect: Connection refused"), std::string::npos) << what;
        EXPECT_EQ(e.diagnostics().waited, 3s);
    }
    EXPECT_EQ(d.with([](auto& s) { return s.connects; }), 3);
}

TEST(PoolStartupOptions, NegativeMeansStartWithoutWaiting) {
    EXPECT_EQ(validated({.initialization_fail_timeout = -5ms}).initialization_fail_timeout,
              pool_options::starts_without_waiting);
    EXPECT_EQ(validated({.initialization_fail_timeout = std::chrono::milliseconds::min()}).initialization_fail_timeout,
              pool_options::starts_without_waiting);
    EXPECT_EQ(validated({.initialization_fail_timeout = 1h}).initialization_fail_timeout, 1h);
}

TEST(PoolStartupOptions, ForeverAndHugeAreRejected) {
    for (const auto bad : {forever, std::chrono::milliseconds(3'600'001), std::chrono::milliseconds(1h) * 48}) {
        const std::string message = option_error_text({.name = "p", .initialization_fail_timeout = bad});
        EXPECT_NE(message.find("pool 'p': option initialization_fail_timeout = " + duration_text(bad) + " is invalid"),
                  std::string::npos)
            << message;
        EXPECT_NE(message.find("must be at most 3600000 ms (0: try once; negative: start without waiting)"),
                  std::string::npos)
            << message;
    }
}

TEST(PoolStartupOptions, MaxSizeCeilingDefaultsToMaxSizeAndIsBounded) {
    EXPECT_EQ(validated({.max_size = 7}).max_size_ceiling, 7u);
    EXPECT_EQ(validated({.max_size = 7, .max_size_ceiling = 70}).max_size_ceiling, 70u);
    std::string m = option_error_text({.name = "p", .max_size = 7, .max_size_ceiling = 6});
    EXPECT_NE(m.find("option max_size_ceiling = 6 is invalid: must be at least max_size (7)"), std::string::npos) << m;
    m = option_error_text({.name = "p", .max_size_ceiling = 100001});
    EXPECT_NE(m.find("option max_size_ceiling = 100001 is invalid: must be at most 100000"), std::string::npos) << m;
}

}  // namespace
}  // namespace lifeguard::testing
