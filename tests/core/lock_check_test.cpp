// detail::held_by_this_thread(): the debug check that observer hooks run outside the pool's
// mutex relies on it telling "this thread holds it" from "nobody" and "another thread".
#include <gtest/gtest.h>

#include <condition_variable>
#include <latch>
#include <thread>

#include "lifeguard/detail/lock_check.hpp"

namespace lifeguard::detail {
namespace {

using namespace std::chrono_literals;

class LockCheck : public ::testing::Test {
protected:
    void SetUp() override {
        if (!lock_check_available) GTEST_SKIP() << "this C library records no mutex owner";
    }
    std::mutex m;
};

TEST_F(LockCheck, HeldWhileLockedAndNotAfterUnlock) {
    EXPECT_FALSE(held_by_this_thread(m));
    {
        std::lock_guard lock(m);
        EXPECT_TRUE(held_by_this_thread(m));
    }
    EXPECT_FALSE(held_by_this_thread(m));
}

TEST_F(LockCheck, AnotherThreadsLockIsNotOurs) {
    std::latch locked(1), done(1);
    std::thread holder([&] {
        std::lock_guard lock(m);
        locked.count_down();
        done.wait();
    });
    locked.wait();
    EXPECT_FALSE(held_by_this_thread(m));
    done.count_down();
    holder.join();
}

TEST_F(LockCheck, HeldAgainAfterAConditionVariableWait) {
    std::condition_variable cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, 1ms);  // unlocks and re-locks
    EXPECT_TRUE(held_by_this_thread(m));
    lock.unlock();
    EXPECT_FALSE(held_by_this_thread(m));
}

}  // namespace
}  // namespace lifeguard::detail
