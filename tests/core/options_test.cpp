// Option validation: defaults, and each bad value named with its field, value and rule.
#include <gtest/gtest.h>

#include "core/option_errors.hpp"
#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

std::string error_of(pool_options o) { return option_error_text(std::move(o)); }

TEST(PoolOptions, DefaultsMatchTheDesign) {
    const auto o = validated({});
    EXPECT_EQ(o.max_size, 10u);
    EXPECT_EQ(o.min_idle, 10u);
    EXPECT_EQ(o.acquire_timeout, 30s);
    EXPECT_EQ(o.validation_timeout, 5s);
    EXPECT_EQ(o.idle_timeout, 10min);
    EXPECT_EQ(o.max_lifetime, 30min);
    EXPECT_EQ(o.keepalive_interval, 2min);
    EXPECT_EQ(o.leak_detection_threshold, 0ms);
    EXPECT_EQ(o.alive_bypass_window, 500ms);
    EXPECT_EQ(o.max_pending, pool_options::unbounded);
    EXPECT_EQ(o.on_deadlock, deadlock_policy::report);
    EXPECT_EQ(o.name.rfind("pool-", 0), 0u) << o.name;
}

TEST(PoolOptions, DurationsReadAsMillisecondsOrForever) {
    EXPECT_EQ(duration_text(250ms), "250 ms");
    EXPECT_EQ(duration_text(0ms), "0 ms");
    EXPECT_EQ(duration_text(forever), "forever");
    EXPECT_EQ(duration_text(std::chrono::milliseconds::max()), "forever");
}

TEST(PoolOptions, DefaultNamesAreDistinct) {
    EXPECT_NE(validated({}).name, validated({}).name);
}

TEST(PoolOptions, MinIdleDefaultsToMaxSize) {
    EXPECT_EQ(validated({.max_size = 3}).min_idle, 3u);
    EXPECT_EQ(validated({.max_size = 3, .min_idle = 0}).min_idle, 0u);
}

struct bad_option {
    const char* field;
    pool_options options;
    const char* value;
    const char* rule;
};

class PoolOptionsRejects : public ::testing::TestWithParam<bad_option> {};

TEST_P(PoolOptionsRejects, NamingFieldValueAndRule) {
    const auto& bad = GetParam();
    const std::string message = error_of(bad.options);
    ASSERT_FALSE(message.empty()) << bad.field << " was accepted";
    EXPECT_NE(message.find(std::string("option ") + bad.field + " = " + bad.value), std::string::npos) << message;
    EXPECT_NE(message.find(bad.rule), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    EachField, PoolOptionsRejects,
    ::testing::Values(
        bad_option{"max_size", {.name = "p", .max_size = 0}, "0", "at least 1"},
        bad_option{"max_size", {.name = "p", .max_size = 100001}, "100001", "at most 100000"},
        bad_option{"min_idle", {.name = "p", .max_size = 2, .min_idle = 3}, "3", "must not exceed max_size (2)"},
        bad_option{"acquire_timeout", {.name = "p", .acquire_timeout = 100ms}, "100 ms", "at least 250 ms"},
        bad_option{"validation_timeout", {.name = "p", .validation_timeout = 10ms}, "10 ms", "at least 250 ms"},
        bad_option{"validation_timeout", {.name = "p", .acquire_timeout = 1s, .validation_timeout = 1s}, "1000 ms",
                   "less than acquire_timeout (1000 ms)"},
        bad_option{"idle_timeout", {.name = "p", .idle_timeout = 1s}, "1000 ms", "must be 0 or forever (never), or at least 10000 ms"},
        bad_option{"idle_timeout", {.name = "p", .idle_timeout = -1ms}, "-1 ms", "must be 0 or forever (never), or at least"},
        bad_option{"max_lifetime", {.name = "p", .max_lifetime = 5s}, "5000 ms", "must be 0 or forever (never), or at least 30000 ms"},
        bad_option{"keepalive_interval", {.name = "p", .keepalive_interval = 1s}, "1000 ms", "must be 0 or forever (off), or at least 30000 ms"},
        bad_option{"leak_detection_threshold", {.name = "p", .leak_detection_threshold = 1s}, "1000 ms",
                   "must be 0 or forever (off), or at least 2000 ms"},
        bad_option{"alive_bypass_window", {.name = "p", .alive_bypass_window = -5ms}, "-5 ms", "must be at least 0 ms"},
        bad_option{"max_pending", {.name = "p", .max_pending = 0}, "0", "at least 1"},
        bad_option{"housekeeping_interval", {.name = "p", .housekeeping_interval = 10ms}, "10 ms", "at least 100 ms"},
        bad_option{"name", {.name = "has space"}, "\"has space\"", "printable ASCII without spaces"},
        bad_option{"on_deadlock", {.name = "p", .on_deadlock = static_cast<deadlock_policy>(9)}, "9",
                   "ignore, report, heal, fail_fast or abort"},
        bad_option{"max_nesting", {.name = "p", .max_size = 10, .max_nesting = 11}, "11",
                   "must not exceed max_size (10): a task that holds more than the pool has could never finish"},
        bad_option{"max_nesting", {.name = "p", .max_nesting = pool_options::unbounded}, "unbounded",
                   "must not exceed max_size (10)"},
        bad_option{"max_overflow", {.name = "p", .max_size = 4, .max_overflow = 5}, "5", "must not exceed max_size (4)"}));

TEST(PoolOptions, PoolConstructorValidates) {
    fake_driver d;
    EXPECT_THROW((basic_pool<fake_driver, manual_clock>(d, {.max_size = 0}, manual_clock{}, worker_mode::manual)),
                 options_error);
}

TEST(PoolOptions, MessageNamesThePool) {
    EXPECT_NE(error_of({.name = "orders", .max_size = 0}).find("pool 'orders'"), std::string::npos);
}

}  // namespace
}  // namespace lifeguard::testing
