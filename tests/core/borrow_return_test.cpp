// Borrowing and returning: the fast path, validation on borrow, reset and eviction on return.
#include <gtest/gtest.h>

#include "core/test_pool.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;

TEST(PoolBorrow, WorkerFillsToMinIdle) {
    manual_fixture f;
    auto pool = f.make({.max_size = 4, .min_idle = 2});
    EXPECT_EQ(pool->stats().total, 0u);
    pool->run_worker_once();
    const auto st = pool->stats();
    EXPECT_EQ(st.total, 2u);
    EXPECT_EQ(st.idle, 2u);
    EXPECT_EQ(st.created, 2u);
    EXPECT_EQ(st.max, 4u);
    EXPECT_EQ(st.min, 2u);
}

TEST(PoolBorrow, LeaseReturnsOnDestruction) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    {
        auto lease = pool->acquire();
        ASSERT_TRUE(lease);
        EXPECT_EQ(pool->stats().active, 1u);
        EXPECT_EQ(pool->stats().idle, 1u);
    }
    EXPECT_EQ(pool->stats().active, 0u);
    EXPECT_EQ(pool->stats().idle, 2u);
    EXPECT_EQ(pool->stats().acquired, 1u);
}

TEST(PoolBorrow, SuccessfulAcquireClearsTheCallersErrorCode) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    std::error_code ec = make_error_code(errc::timeout);  // left over from an earlier call
    auto lease = pool->acquire(ec);
    ASSERT_TRUE(lease);
    EXPECT_FALSE(ec) << ec.message();
}

TEST(PoolBorrow, LeaseRecordsOwnerSiteAndTime) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    const auto here = std::source_location::current();
    auto first = pool->acquire();
    EXPECT_EQ(first.owner(), current_owner());
    EXPECT_EQ(first.site().line(), here.line() + 1);
    EXPECT_EQ(first.acquired_at(), f.clock.now().time_since_epoch());
    owner_scope request("login 7");
    auto second = pool->acquire();
    EXPECT_EQ(second.owner(), request.id());
    EXPECT_NE(second.owner(), first.owner());
}

TEST(PoolBorrow, MovedLeaseKeepsOwnerAndReturnsOnce) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto a = pool->acquire();
    const auto owner = a.owner();
    auto b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(b.owner(), owner);
    b.release();
    EXPECT_FALSE(b);
    EXPECT_EQ(pool->stats().idle, 1u);
    EXPECT_EQ(pool->stats().usage.count, 1u);
}

TEST(PoolBorrow, ReturnRollsBackAndResetsSession) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    {
        auto lease = pool->acquire();
        lease->in_transaction = true;
        lease->session_setting = 42;
    }
    auto lease = pool->acquire();
    EXPECT_FALSE(lease->in_transaction);
    EXPECT_EQ(lease->session_setting, 0);
    EXPECT_EQ(f.driver.with([](auto& s) { return s.rollbacks; }), 1);
}

TEST(PoolBorrow, InvalidatedLeaseIsClosedAndReplaced) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    std::uint64_t first_id;
    {
        auto lease = pool->acquire();
        first_id = lease->id;
        lease.invalidate();
    }
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::broken), 1u);
    auto lease = pool->acquire();
    EXPECT_NE(lease->id, first_id);
    EXPECT_EQ(f.driver.with([](auto& s) { return s.open; }), 1);
}

TEST(PoolBorrow, FailedResetEvicts) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    f.driver.with([](auto& s) { s.reset_fails = true; });
    { auto lease = pool->acquire(); }
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::broken), 1u);
}

TEST(PoolBorrow, ValidatesOnlyConnectionsIdlePastBypassWindow) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .alive_bypass_window = 500ms});
    { auto lease = pool->acquire(); }
    f.clock.advance(400ms);
    { auto lease = pool->acquire(); }
    EXPECT_EQ(f.driver.with([](auto& s) { return s.validations; }), 0);
    f.clock.advance(600ms);
    { auto lease = pool->acquire(); }
    EXPECT_EQ(f.driver.with([](auto& s) { return s.validations; }), 1);
}

TEST(PoolBorrow, BrokenConnectionIsClosedAndBorrowMovesOn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 2});
    f.driver.with([](auto& s) { s.broken = {1}; });
    f.clock.advance(1s);
    auto lease = pool->acquire();
    EXPECT_EQ(lease->id, 2u);
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::broken), 1u);
}

TEST(PoolBorrow, TryAcquireNeverWaits) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1});
    auto a = pool->try_acquire();
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(pool->try_acquire().has_value());
}

TEST(PoolBorrow, ExpiredConnectionIsRetiredOnReturn) {
    manual_fixture f;
    auto pool = f.make_filled({.max_size = 1, .max_lifetime = 60s});
    {
        auto lease = pool->acquire();
        f.clock.advance(61s);
    }
    pool->run_worker_once();
    EXPECT_EQ(pool->stats().closed_for(close_reason::lifetime), 1u);
    EXPECT_EQ(pool->stats().idle, 1u);  // refilled
}

}  // namespace
}  // namespace lifeguard::testing

namespace lifeguard::testing {
namespace {

TEST(Owners, ScopesNestAndRestoreTheThreadOwner) {
    const owner_id thread_owner = current_owner();
    {
        owner_scope a("request a");
        EXPECT_NE(current_owner(), thread_owner);
        EXPECT_EQ(current_owner_label(), "request a");
        {
            owner_scope b;
            EXPECT_NE(b.id(), a.id());
            EXPECT_EQ(current_owner(), b.id());
            EXPECT_EQ(current_owner_label(), "");
        }
        EXPECT_EQ(current_owner(), a.id());
    }
    EXPECT_EQ(current_owner(), thread_owner);
}

TEST(Owners, LabelIsKnownWhileItsScopeLives) {
    owner_id id;
    {
        owner_scope s("login 1");
        id = s.id();
        EXPECT_EQ(owner_label(id), "login 1");
        owner_scope resumed(id, "login 1 (resumed)");  // the same task again: the first label stays
        EXPECT_EQ(owner_label(id), "login 1");
    }
    EXPECT_EQ(owner_label(id), "");
}

}  // namespace
}  // namespace lifeguard::testing
