// A caller that acquires on a thread of its own and is queued in the pool (its on_block seen)
// before the constructor returns: for tests of what a waiting caller gets, and when.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <system_error>
#include <thread>

#include "core/test_pool.hpp"

namespace lifeguard::testing {

template <class Pool>
class queued_caller {
public:
    /// Starts the acquire and waits until the pool reported it blocked. `on_served` runs on the
    /// caller's thread with the connection it got, before the lease is returned.
    queued_caller(Pool& pool, recording_observer& events, std::function<void(fake_connection&)> on_served = {})
        : blocked_before_(events.blocked().size()), thread_([this, &pool, &events, on_served] {
              auto lease = pool.acquire(error_);
              if (events.blocked().size() == blocked_before_) {
                  // It never queued: end the constructor's wait with a failure, not a hang.
                  did_not_queue_ = true;
                  events.on_block(pool.view(), wait_info{});
              }
              if (!lease) return;
              id_ = lease->id;
              if (on_served) on_served(*lease);
              served_ = true;
          }) {
        events.wait_blocked(blocked_before_ + 1);
        if (did_not_queue_) ADD_FAILURE() << "the acquire did not wait in the queue";
    }
    queued_caller(const queued_caller&) = delete;
    queued_caller& operator=(const queued_caller&) = delete;
    ~queued_caller() { join(); }

    /// Waits until the acquire ended (and its lease, if any, went back).
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    /// Whether it was lent a connection (read after join(), or as a snapshot before).
    bool served() const noexcept { return served_; }
    std::uint64_t connection_id() const noexcept { return id_; }
    std::error_code error() const noexcept { return error_; }

private:
    std::size_t blocked_before_;
    std::atomic<bool> served_{false};
    std::atomic<std::uint64_t> id_{0};
    std::atomic<bool> did_not_queue_{false};
    std::error_code error_;
    std::thread thread_;
};

template <class Pool>
queued_caller(Pool&, recording_observer&) -> queued_caller<Pool>;

}  // namespace lifeguard::testing
