// Every duration option at its extremes (negative, 0, just below its minimum, its minimum, a
// large value, a value too long to count in nanoseconds, forever): each gives an options_error
// naming the field, or a pool that works. "Works": it fills, lends, takes back and lends again
// while the clock jumps far ahead, its worker finishes (no spinning), it reports no false leak
// and hands its drivers deadlines they can compute. Overflow is caught by UBSan, which the
// ASan build runs with -fno-sanitize-recover: the first overflow aborts this binary.
// Also: what forever means for each option, and that each single option at each documented
// boundary, with every other option left at its default, makes a valid pool.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr auto days = std::chrono::hours(24);
constexpr std::chrono::nanoseconds a_century = 100 * 365 * days;  // far past any finite option

/// The fake driver, doing the arithmetic the real drivers do with what the pool hands them
/// (now + validation timeout, deadline - now), so that UBSan sees an unusable value; and a
/// brake: a worker that spins calls its driver without end, so past `call_limit` calls every
/// connect throws and every validation fails, `spun` is set, and the worker runs out of work
/// instead of hanging the test.
class guarded_driver {
public:
    using connection_type = fake_connection;
    static constexpr int call_limit = 1000;

    struct state {
        std::atomic<int> calls{0};
        std::atomic<bool> spun{false};
        std::atomic<std::int64_t> last_validation_timeout_ms{-1};
        std::atomic<bool> connect_had_no_deadline{false};
    };

    fake_connection connect(std::chrono::steady_clock::time_point deadline) {
        const auto now = std::chrono::steady_clock::now();
        if (deadline == std::chrono::steady_clock::time_point::max())
            state_->connect_had_no_deadline = true;
        else
            EXPECT_GT(std::chrono::duration_cast<milliseconds>(deadline - now).count(), 0);
        if (braked()) throw std::runtime_error("guarded_driver: too many calls (the worker spins)");
        return fake_.connect(deadline);
    }
    bool is_valid(fake_connection& c, milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;  // as the real drivers do
        EXPECT_GT(until, std::chrono::steady_clock::now());
        state_->last_validation_timeout_ms = timeout.count();
        return !braked() && fake_.is_valid(c, timeout);
    }
    bool reset(fake_connection& c) { return fake_.reset(c); }
    void close(fake_connection& c) noexcept { fake_.close(c); }

    fake_driver& fake() { return fake_; }
    state& observed() { return *state_; }

private:
    bool braked() {
        if (state_->calls.fetch_add(1) < call_limit) return false;
        state_->spun = true;
        return true;
    }

    fake_driver fake_;
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

using guarded_pool = basic_pool<guarded_driver, manual_clock>;

struct guarded_fixture : manual_fixture_for<guarded_driver> {
    int validations() {
        return driver.fake().with([](auto& s) { return s.validations; });
    }
};

/// The message of the options_error that `o` gives, or "" when it is valid.
std::string rejection_of(const pool_options& o) {
    try {
        validated(o);
    } catch (const options_error& e) {
        return e.what();
    }
    return "";
}

/// A pool with `o` lends, takes back and lends again while its clock jumps ahead, and its
/// worker neither spins nor reports a leak that is none.
void expect_works(pool_options o, const std::string& label) {
    SCOPED_TRACE(label);
    o.max_size = 2;
    o.min_idle = 1;  // one idle connection above min_idle once both are open: idle_timeout applies
    guarded_fixture f;
    auto pool = f.make(o);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().idle, 1u);
    {
        auto lease = pool->acquire();
        EXPECT_TRUE(lease);
        f.clock.advance(1s);      // held for less than any leak threshold (>= 2 s)
        pool->run_worker_once();  // opens the second (min_idle)
        EXPECT_EQ(pool->stats().idle, 1u);
    }
    EXPECT_TRUE(f.events->leaks().empty()) << "false leak report";
    for (const std::chrono::nanoseconds jump :
         {std::chrono::nanoseconds(1h), std::chrono::nanoseconds(1000 * days), a_century}) {
        f.clock.advance(jump);
        pool->run_worker_once();  // retires what is due and refills
        auto lease = pool->acquire();
        EXPECT_TRUE(lease);
    }
    EXPECT_TRUE(f.events->leaks().empty()) << "false leak report";
    EXPECT_TRUE(f.events->failures().empty());
    EXPECT_FALSE(f.driver.observed().spun) << "the worker spins";
}

enum class outcome { rejected, works };

struct extreme {
    const char* field;
    milliseconds pool_options::*member;
    milliseconds value;
    outcome expected;
};

std::string describe(const extreme& e) {
    return std::string(e.field) + " = " +
           (e.value == forever ? std::string("forever") : std::to_string(e.value.count()) + " ms");
}

class DurationExtremes : public ::testing::TestWithParam<extreme> {};

TEST_P(DurationExtremes, RejectedNamingTheFieldOrWorks) {
    const extreme& e = GetParam();
    pool_options o;
    o.*e.member = e.value;
    const std::string message = rejection_of(o);
    if (e.expected == outcome::rejected) {
        EXPECT_NE(message.find(std::string("option ") + e.field + " = "), std::string::npos)
            << describe(e) << " was not rejected by name: \"" << message << "\"";
    } else {
        ASSERT_EQ(message, "") << describe(e) << " was rejected";
        expect_works(o, describe(e));
    }
}

constexpr milliseconds uncountable = forever - 1ms;  // finite, but past int64 nanoseconds
constexpr milliseconds large = 1000 * days;          // countable in nanoseconds (8.6e16)
// validation_timeout must be below acquire_timeout (30 s); housekeeping_interval at most 1 h.
constexpr auto R = outcome::rejected;
constexpr auto W = outcome::works;

/// One option at: -1 ms, 0, just below its minimum, its minimum, large, uncountable, forever.
struct extremes_of {
    const char* field;
    milliseconds pool_options::*member;
    milliseconds minimum;
    std::array<outcome, 7> expected;
};

std::vector<extreme> all_extremes(std::initializer_list<extremes_of> options,
                                  std::initializer_list<extreme> more) {
    std::vector<extreme> out;
    for (const extremes_of& o : options) {
        const std::array<milliseconds, 7> values = {-1ms,  0ms,         o.minimum - 1ms, o.minimum,
                                                    large, uncountable, forever};
        for (std::size_t i = 0; i < values.size(); ++i)
            out.push_back({o.field, o.member, values[i], o.expected[i]});
    }
    out.insert(out.end(), more);
    return out;
}

INSTANTIATE_TEST_SUITE_P(
    EveryDurationOption, DurationExtremes,
    ::testing::ValuesIn(all_extremes(
        {
            // outcomes at: -1 ms, 0, minimum - 1 ms, minimum, large, uncountable, forever
            // clang-format off
            {"acquire_timeout",          &pool_options::acquire_timeout,          250ms, {R, R, R, W, W, W, W}},
            {"validation_timeout",       &pool_options::validation_timeout,       250ms, {R, R, R, W, R, R, R}},
            {"idle_timeout",             &pool_options::idle_timeout,             10s,   {R, W, R, W, W, W, W}},
            {"max_lifetime",             &pool_options::max_lifetime,             30s,   {R, W, R, W, W, W, W}},
            {"keepalive_interval",       &pool_options::keepalive_interval,       30s,   {R, W, R, W, W, W, W}},
            {"leak_detection_threshold", &pool_options::leak_detection_threshold, 2s,    {R, W, R, W, W, W, W}},
            {"alive_bypass_window",      &pool_options::alive_bypass_window,      0ms,   {R, W, R, W, W, W, W}},
            {"housekeeping_interval",    &pool_options::housekeeping_interval,    100ms, {R, R, R, W, R, R, R}},
            // clang-format on
        },
        {
            {"validation_timeout", &pool_options::validation_timeout, milliseconds::min() + 1ms, R},
            {"idle_timeout", &pool_options::idle_timeout, milliseconds::min(), R},
            {"housekeeping_interval", &pool_options::housekeeping_interval, 1h, W},
            {"housekeeping_interval", &pool_options::housekeeping_interval, 1h + 1ms, R},
        })),
    [](const auto& p) {
        std::string name = describe(p.param);
        for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return name + "_" + std::to_string(p.index);
    });

// With acquire_timeout = forever, validation_timeout may be long, up to 1 h: the drivers get it
// as it is, and compute now + timeout without overflow.
TEST(DurationOptions, ValidationTimeoutUpToAnHourWhenAcquireWaitsForever) {
    expect_works({.acquire_timeout = forever, .validation_timeout = 1h, .alive_bypass_window = 0ms}, "1 h");
    EXPECT_NE(rejection_of({.acquire_timeout = forever, .validation_timeout = 1h + 1ms})
                  .find("option validation_timeout = 3600001 ms is invalid: must be at most 3600000 ms"),
              std::string::npos);
    EXPECT_NE(rejection_of({.acquire_timeout = forever, .validation_timeout = forever})
                  .find("option validation_timeout = forever is invalid"),
              std::string::npos);
    guarded_fixture f;
    auto pool = f.make(
        {.max_size = 1, .acquire_timeout = forever, .validation_timeout = 1h, .alive_bypass_window = 0ms});
    pool->run_worker_once();
    auto lease = pool->acquire();
    EXPECT_EQ(f.driver.observed().last_validation_timeout_ms, 3'600'000);
}

// ------------------------------------------------------------------ what forever means

static_assert(forever == milliseconds::max());

// The worker's housekeeping must run: forever would never apply idle_timeout.
TEST(DurationForever, HousekeepingIntervalForeverIsRejected) {
    EXPECT_NE(rejection_of({.name = "p", .housekeeping_interval = forever})
                  .find("option housekeeping_interval = forever is invalid: must be at most 3600000 ms"),
              std::string::npos);
}

// The waiter keeps waiting across a century of clock and gets the connection when it comes
// back; with an overflowing deadline it failed at once.
TEST(DurationForever, AcquireTimeoutForeverWaitsUntilAConnectionIsReturned) {
    guarded_fixture f;
    // No lifetime: after a century the returned connection is handed on, not retired.
    auto pool = f.make({.max_size = 1, .acquire_timeout = forever, .max_lifetime = 0ms});
    pool->run_worker_once();
    std::optional<guarded_pool::lease_type> held(pool->acquire());
    bool got = false;
    std::thread waiter([&] {
        std::error_code ec;
        got = static_cast<bool>(pool->acquire(ec));  // the error-code form: a failure must not terminate
    });
    f.events->wait_blocked(1);
    f.clock.advance(a_century);  // wakes the waiter to look at its deadline
    held.reset();
    waiter.join();
    EXPECT_TRUE(got);
    EXPECT_TRUE(f.events->failures().empty());
    EXPECT_EQ(pool->stats().timeouts, 0u);
}

// An empty pool: the waiter waits for the worker to open a connection, which it opens with no
// deadline (drivers read time_point::max() as "none"); it used to fail after 0 ms as "database
// unreachable".
TEST(DurationForever, AcquireTimeoutForeverWaitsUntilAConnectionIsOpened) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 1, .min_idle = 0, .acquire_timeout = forever});
    bool got = false;
    std::thread waiter([&] {
        std::error_code ec;
        got = static_cast<bool>(pool->acquire(ec));  // the error-code form: a failure must not terminate
    });
    f.events->wait_blocked(1);
    f.clock.advance(a_century);
    pool->run_worker_once();
    waiter.join();
    EXPECT_TRUE(got);
    EXPECT_TRUE(f.driver.observed().connect_had_no_deadline);
    EXPECT_TRUE(f.events->failures().empty());
}

// An unset validation_timeout stays HikariCP's 5 s and leaves no deadline for the connect.
TEST(DurationForever, AcquireTimeoutForeverKeepsValidationAtFiveSeconds) {
    EXPECT_EQ(validated({.acquire_timeout = forever}).validation_timeout, 5s);
}

TEST(DurationForever, LeakThresholdForeverNeverReports) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 1, .leak_detection_threshold = forever});
    pool->run_worker_once();
    auto lease = pool->acquire();
    f.clock.advance(a_century);
    pool->run_worker_once();
    EXPECT_TRUE(f.events->leaks().empty());
    EXPECT_EQ(pool->stats().leaks, 0u);
}

// A large finite threshold is neither reported early nor missed.
TEST(DurationOptions, LargeLeakThresholdReportsOnceWhenReached) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 1, .leak_detection_threshold = 1000 * days});
    pool->run_worker_once();
    auto lease = pool->acquire();
    f.clock.advance(999 * days);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().leaks, 0u);
    f.clock.advance(2 * days);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().leaks, 1u);
}

TEST(DurationForever, KeepaliveForeverNeverValidates) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 2, .max_lifetime = 0ms, .keepalive_interval = forever});
    pool->run_worker_once();
    f.clock.advance(a_century);
    pool->run_worker_once();
    EXPECT_EQ(f.validations(), 0);
    EXPECT_FALSE(f.driver.observed().spun);
}

TEST(DurationOptions, LargeKeepaliveValidatesWhenDue) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 2, .max_lifetime = 0ms, .keepalive_interval = 1000 * days});
    pool->run_worker_once();
    f.clock.advance(999 * days);
    pool->run_worker_once();
    EXPECT_EQ(f.validations(), 0);
    f.clock.advance(2 * days);
    pool->run_worker_once();
    EXPECT_EQ(f.validations(), 2);
}

TEST(DurationForever, MaxLifetimeForeverNeverRetires) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 2, .max_lifetime = forever, .keepalive_interval = 0ms});
    pool->run_worker_once();
    f.clock.advance(a_century);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 0u);
    EXPECT_EQ(pool->stats().created, 2u);
}

// A lifetime too long to count in nanoseconds (with its jitter) is forever, not an overflow.
TEST(DurationOptions, UncountableMaxLifetimeNeverRetires) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 2, .max_lifetime = forever - 1ms, .keepalive_interval = 0ms});
    pool->run_worker_once();
    f.clock.advance(a_century);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 0u);
}

TEST(DurationOptions, LargeMaxLifetimeRetiresWithinItsJitter) {
    guarded_fixture f;
    auto pool = f.make({.max_size = 2, .max_lifetime = 1000 * days, .keepalive_interval = 0ms});
    pool->run_worker_once();
    f.clock.advance(974 * days);  // jitter is at most 2.5% = 25 days
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 0u);
    f.clock.advance(27 * days);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 2u);
}

/// A pool with min_idle 0 and one idle connection, opened for a borrower who returned it.
std::unique_ptr<guarded_pool> one_idle_above_min_idle(guarded_fixture& f, milliseconds idle_timeout) {
    auto pool = f.make({.max_size = 2,
                        .min_idle = 0,
                        .idle_timeout = idle_timeout,
                        .max_lifetime = 0ms,
                        .keepalive_interval = 0ms});
    std::thread borrower([&] {
        std::error_code ec;
        auto lease = pool->acquire(ec);  // makes the worker open one
        EXPECT_FALSE(ec);
    });
    f.events->wait_blocked(1);
    pool->run_worker_once();
    borrower.join();
    EXPECT_EQ(pool->stats().idle, 1u);
    return pool;
}

TEST(DurationForever, IdleTimeoutForeverNeverRetires) {
    guarded_fixture f;
    auto pool = one_idle_above_min_idle(f, forever);
    f.clock.advance(a_century);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::idle), 0u);
    EXPECT_EQ(pool->stats().idle, 1u);
}

TEST(DurationOptions, LargeIdleTimeoutRetiresWhenDue) {
    guarded_fixture f;
    auto pool = one_idle_above_min_idle(f, 1000 * days);
    f.clock.advance(999 * days);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::idle), 0u);
    f.clock.advance(2 * days);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::idle), 1u);
}

TEST(DurationForever, AliveBypassWindowForeverNeverValidatesOnBorrow) {
    guarded_fixture f;
    auto pool = f.make(
        {.max_size = 1, .max_lifetime = 0ms, .keepalive_interval = 0ms, .alive_bypass_window = forever});
    pool->run_worker_once();
    f.clock.advance(a_century);
    auto lease = pool->acquire();
    EXPECT_EQ(f.validations(), 0);
}

// The worker thread schedules its next wake-up from lifetimes, keepalives and leak thresholds:
// with each forever it sleeps (it used to spin holding the pool's mutex, so acquire() hung).
// (acquire_timeout keeps its default, so that only the worker's own arithmetic is tested here.)
TEST(DurationForever, WorkerThreadServesWithEveryOptionForever) {
    guarded_driver driver;
    guarded_pool pool(driver,
                      {.max_size = 2,
                       .idle_timeout = forever,
                       .max_lifetime = forever,
                       .keepalive_interval = forever,
                       .leak_detection_threshold = forever,
                       .alive_bypass_window = forever,
                       .housekeeping_interval = 1h},
                      manual_clock{}, worker_mode::thread);
    auto a = pool.acquire();  // waits for the worker to open it
    auto b = pool.acquire();
    EXPECT_TRUE(a && b);
    EXPECT_FALSE(driver.observed().spun);
}

// ------------------------------------------------------------------ defaults that compose

// validation_timeout left unset follows acquire_timeout: half of it, at most 5 s.
TEST(DurationOptions, UnsetValidationTimeoutFollowsAcquireTimeout) {
    EXPECT_EQ(validated({.acquire_timeout = 250ms}).validation_timeout, 125ms);
    EXPECT_EQ(validated({.acquire_timeout = 1s}).validation_timeout, 500ms);
    EXPECT_EQ(validated({.acquire_timeout = 5s}).validation_timeout, 2500ms);
    EXPECT_EQ(validated({.acquire_timeout = 10s}).validation_timeout, 5s);
    EXPECT_EQ(validated({.acquire_timeout = 30s}).validation_timeout, 5s);
    EXPECT_EQ(validated({.acquire_timeout = forever}).validation_timeout, 5s);
    // A value that is set is kept, and checked.
    EXPECT_EQ(validated({.acquire_timeout = 5s, .validation_timeout = 4s}).validation_timeout, 4s);
    EXPECT_NE(rejection_of({.acquire_timeout = 5s, .validation_timeout = 5s})
                  .find("option validation_timeout = 5000 ms is invalid: must be less than acquire_timeout "
                        "(5000 ms)"),
              std::string::npos);
}

// The README's first example: it threw at start because the default validation_timeout (5 s)
// was not below it.
TEST(DurationOptions, AcquireTimeoutOfFiveSecondsAloneMakesAWorkingPool) {
    guarded_fixture f;
    auto pool = f.make({.acquire_timeout = 5s});
    pool->run_worker_once();
    EXPECT_TRUE(pool->acquire());
}

struct single_option {
    const char* label;
    pool_options options;
};

class SingleOptionAtItsBoundary : public ::testing::TestWithParam<single_option> {};

TEST_P(SingleOptionAtItsBoundary, ComposesWithTheDefaults) {
    const single_option& s = GetParam();
    EXPECT_EQ(rejection_of(s.options), "") << s.label;
    fake_driver driver;
    EXPECT_NO_THROW((manual_pool(driver, s.options, manual_clock{}, worker_mode::manual))) << s.label;
}

INSTANTIATE_TEST_SUITE_P(
    EveryDocumentedBoundary, SingleOptionAtItsBoundary,
    ::testing::Values(
        single_option{"name_64", {.name = std::string(64, 'n')}},
        single_option{"max_size_1", {.max_size = 1}}, single_option{"max_size_100000", {.max_size = 100000}},
        single_option{"min_idle_0", {.min_idle = 0}}, single_option{"min_idle_10", {.min_idle = 10}},
        single_option{"acquire_timeout_250ms", {.acquire_timeout = 250ms}},
        single_option{"acquire_timeout_1s", {.acquire_timeout = 1s}},
        single_option{"acquire_timeout_5s", {.acquire_timeout = 5s}},
        single_option{"acquire_timeout_forever", {.acquire_timeout = forever}},
        single_option{"validation_timeout_250ms", {.validation_timeout = 250ms}},
        single_option{"validation_timeout_29999ms", {.validation_timeout = 29999ms}},
        single_option{"idle_timeout_0", {.idle_timeout = 0ms}},
        single_option{"idle_timeout_10s", {.idle_timeout = 10s}},
        single_option{"idle_timeout_forever", {.idle_timeout = forever}},
        single_option{"max_lifetime_0", {.max_lifetime = 0ms}},
        single_option{"max_lifetime_30s", {.max_lifetime = 30s}},
        single_option{"max_lifetime_forever", {.max_lifetime = forever}},
        single_option{"keepalive_interval_0", {.keepalive_interval = 0ms}},
        single_option{"keepalive_interval_30s", {.keepalive_interval = 30s}},
        single_option{"keepalive_interval_forever", {.keepalive_interval = forever}},
        single_option{"leak_detection_threshold_2s", {.leak_detection_threshold = 2s}},
        single_option{"leak_detection_threshold_forever", {.leak_detection_threshold = forever}},
        single_option{"alive_bypass_window_0", {.alive_bypass_window = 0ms}},
        single_option{"alive_bypass_window_forever", {.alive_bypass_window = forever}},
        single_option{"max_pending_1", {.max_pending = 1}},
        single_option{"housekeeping_interval_100ms", {.housekeeping_interval = 100ms}},
        single_option{"housekeeping_interval_1h", {.housekeeping_interval = 1h}},
        single_option{"on_deadlock_abort", {.on_deadlock = deadlock_policy::abort}}),
    [](const auto& p) { return std::string(p.param.label); });

}  // namespace
}  // namespace lifeguard::testing
