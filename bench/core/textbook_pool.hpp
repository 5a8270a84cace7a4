// The baseline the core benchmark compares lifeguard with: the pool most people write first.
// One std::mutex guards a vector of free connections; a caller that finds it empty waits on a
// std::condition_variable until a connection comes back or its timeout passes; returning a
// connection wakes one waiter. It is deliberately plain (no fairness, no validation, no
// metrics): the point is to show what a straightforward pool costs on this machine.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace lifeguard_bench {

template <class Connection>
class textbook_pool {
public:
    // Move-only RAII handle: gives the connection back when it goes out of scope.
    class handle {
    public:
        handle(textbook_pool& pool, Connection connection) noexcept
            : pool_(&pool), connection_(std::move(connection)) {}
        handle(handle&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}
        handle& operator=(handle&&) = delete;
        ~handle() {
            if (pool_ != nullptr) pool_->give_back(std::move(connection_));
        }

        Connection& operator*() noexcept { return connection_; }

    private:
        textbook_pool* pool_;
        Connection connection_;
    };

    explicit textbook_pool(std::vector<Connection> connections) : free_(std::move(connections)) {}

    // Blocks until a connection is free or `timeout` passes (then throws std::runtime_error).
    // The deadline is only computed when the caller actually has to wait, as any sensible
    // hand-written pool would do: a clock read costs as much as the rest of the borrow.
    handle acquire(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        if (free_.empty()) {
            const auto deadline = std::chrono::steady_clock::now() + timeout;
            if (!returned_.wait_until(lock, deadline, [this] { return !free_.empty(); }))
                throw std::runtime_error("textbook_pool: timed out waiting for a connection");
        }
        Connection connection = std::move(free_.back());
        free_.pop_back();
        return handle(*this, std::move(connection));
    }

private:
    void give_back(Connection connection) {
        {
            std::lock_guard lock(mutex_);
            free_.push_back(std::move(connection));
        }
        // Outside the lock so the woken waiter does not immediately block on the mutex.
        returned_.notify_one();
    }

    std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<Connection> free_;  // capacity never grows past the initial size
};

}  // namespace lifeguard_bench
