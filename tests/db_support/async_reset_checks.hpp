// What the MariaDB and PostgreSQL pool tests check alike about the return of a lease from
// async_acquire: a clean one is reset by the thread that returns it (the driver's reset_is_local
// says no round trip is needed), a dirty one by the pool's worker. Which one ran the reset is
// read from stats().worker_resets (the async returns the worker reset), never from timing.
// Kept out of pool_checks.hpp: it brings Asio, which is slow to compile.
#pragma once

// clang-format off
#include "lifeguard/asio.hpp"  // first: it brings <utility> before Asio (GCC 12)
// clang-format on

#include <gtest/gtest.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <utility>

namespace lifeguard::test {

/// Acquires from `pool` asynchronously, running `io` on this thread until the lease is there.
template <class Pool>
typename Pool::lease_type acquire_async(Pool& pool, boost::asio::io_context& io) {
    using lease_type = typename Pool::lease_type;
    lease_type out;
    boost::system::error_code failed;
    lifeguard::async_acquire(pool, boost::asio::bind_executor(io, [&](boost::system::error_code ec, lease_type l) {
                                 failed = ec;
                                 out = std::move(l);
                             }));
    io.restart();
    io.run();
    EXPECT_FALSE(failed) << failed.message();
    return out;
}

/// On `pool` (max_size 1): an async lease used by `use_cleanly(lease)` is reset by its returner,
/// one changed by `make_dirty(lease)` (a transaction, a session setting) by the worker, and
/// `expect_reset(lease)` then finds the change undone on the next lease.
template <class Pool, class Clean, class Dirty, class Check>
void expect_async_reset_by_returner_when_clean_and_by_worker_when_dirty(Pool& pool, Clean use_cleanly,
                                                                        Dirty make_dirty, Check expect_reset) {
    ASSERT_EQ(pool.options().max_size, 1u);
    boost::asio::io_context io;
    const std::uint64_t before = pool.stats().worker_resets;
    {
        auto lease = acquire_async(pool, io);
        ASSERT_TRUE(lease);
        use_cleanly(lease);
    }  // reset here, by this thread
    EXPECT_EQ(pool.stats().idle, 1u) << "a clean async return is idle at once";
    { auto next = pool.acquire(); }  // had the reset been left to the worker, this waits for it
    EXPECT_EQ(pool.stats().worker_resets, before) << "the worker reset a clean async lease";
    {
        auto lease = acquire_async(pool, io);
        ASSERT_TRUE(lease);
        make_dirty(lease);
    }  // left to the worker
    auto next = pool.acquire();  // served once the worker has reset it
    EXPECT_EQ(pool.stats().worker_resets, before + 1) << "the worker did not reset a dirty async lease";
    expect_reset(next);
}

}  // namespace lifeguard::test
