// The tick word's protocol, driven by hand: a fake clock and a ticker that only counts the
// requests to start.
#include "lifeguard/detail/tick_clock.hpp"

#include <gtest/gtest.h>

namespace {

using lifeguard::detail::tick_source;

std::int64_t fake_now_ns = 0;
int starts_requested = 0;

std::int64_t fake_now() noexcept { return fake_now_ns; }
void count_start(tick_source&) noexcept { ++starts_requested; }

constexpr unsigned idle_ticks = 3;

class TickSource : public ::testing::Test {
protected:
    void SetUp() override {
        fake_now_ns = 1'000;
        starts_requested = 0;
    }
    tick_source ticks{&fake_now, &count_start, idle_ticks};
};

TEST_F(TickSource, AStoppedSourceReadsTheClockAndAsksToStart) {
    EXPECT_EQ(ticks.read(), 1'000);
    EXPECT_EQ(starts_requested, 1);
}

TEST_F(TickSource, ReadsReturnTheLastTickWithoutTouchingTheClock) {
    ASSERT_TRUE(ticks.tick());
    fake_now_ns = 5'000;  // the clock moves on; readers see the tick until the next one
    EXPECT_EQ(ticks.read(), 1'000);
    EXPECT_EQ(ticks.read(), 1'000);
    ASSERT_TRUE(ticks.tick());
    EXPECT_EQ(ticks.read(), 5'000);
    EXPECT_EQ(starts_requested, 0);
}

TEST_F(TickSource, AnOddClockReadingIsNeverReportedLater) {
    fake_now_ns = 1'001;  // the low bit marks "unread": the tick must not run ahead of the clock
    ASSERT_TRUE(ticks.tick());
    EXPECT_EQ(ticks.read(), 1'000);
}

TEST_F(TickSource, KeepsTickingWhileSomebodyReadsEveryFewTicks) {
    for (int i = 0; i < 100; ++i) {
        fake_now_ns += 1'000;
        ASSERT_TRUE(ticks.tick()) << "tick " << i;
        if (i % idle_ticks == 0) (void)ticks.read();
    }
    EXPECT_EQ(starts_requested, 0);
}

TEST_F(TickSource, StopsAfterIdleTicksUnreadAndRestartsOnTheNextRead) {
    (void)ticks.read();  // stopped: starts
    ASSERT_EQ(starts_requested, 1);
    ASSERT_TRUE(ticks.tick());  // the first tick is unread, but follows a stop
    for (unsigned i = 1; i < idle_ticks; ++i) ASSERT_TRUE(ticks.tick()) << "tick " << i;
    EXPECT_FALSE(ticks.tick());  // idle_ticks ticks nobody read
    fake_now_ns = 9'000;
    EXPECT_EQ(ticks.read(), 9'000);  // from the clock, not the last tick
    EXPECT_EQ(starts_requested, 2);
    ASSERT_TRUE(ticks.tick());
    EXPECT_EQ(ticks.read(), 9'000);
    EXPECT_EQ(starts_requested, 2);
}

TEST_F(TickSource, AReadBetweenTicksResetsTheIdleCount) {
    for (unsigned i = 0; i + 1 < idle_ticks; ++i) ASSERT_TRUE(ticks.tick());
    (void)ticks.read();
    for (unsigned i = 0; i < idle_ticks; ++i) ASSERT_TRUE(ticks.tick()) << "tick " << i;
    EXPECT_FALSE(ticks.tick());
}

TEST_F(TickSource, ResetAfterForkStopsTheSource) {
    ASSERT_TRUE(ticks.tick());
    ticks.reset();
    fake_now_ns = 7'000;
    EXPECT_EQ(ticks.read(), 7'000);
    EXPECT_EQ(starts_requested, 1);
}

}  // namespace
