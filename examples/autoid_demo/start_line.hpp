// The start line: makes "all logins arrive at once" deterministic, as it is under real load.
//
// Each login takes its first connection and begins its transaction, then waits here. The line
// opens when `holders` logins hold a first connection and `queued` more are queued in the pool
// for theirs (the pool tells us through on_block); only then may anyone ask for a second
// connection. Without it, a fast login could take its second connection before a slower one
// took its first, finish, and hide the deadlock: the outcome would depend on the scheduler.
//
// It is a latch with a second condition (the pool's queue), so it is a pool observer: the pool
// calls on_block after it queued the waiter, which is when its `pending` gauge counts it. Logins
// that arrive after the line opened (they got a connection someone gave back) pass at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "lifeguard/observer.hpp"

namespace autoid {

class start_line final : public lifeguard::pool_observer {
public:
    using clock = std::chrono::steady_clock;

    start_line(std::size_t holders, std::size_t queued) : holders_(holders), queued_(queued) {}

    /// Called by a login that holds its first connection; returns once the line is open.
    void arrive() {
        std::unique_lock lock(mutex_);
        ++arrived_;
        open_if_ready_locked();
        changed_.wait(lock, [&] { return open_; });
    }

    /// When the line opened (the epoch if it never did).
    clock::time_point opened_at() const {
        std::lock_guard lock(mutex_);
        return opened_at_;
    }

    void on_attach(lifeguard::pool_view& pool) override {
        std::lock_guard lock(mutex_);
        pool_ = &pool;
    }
    void on_detach(lifeguard::pool_view&) override {
        std::lock_guard lock(mutex_);
        pool_ = nullptr;
    }
    void on_block(lifeguard::pool_view&, const lifeguard::wait_info&) override {
        std::lock_guard lock(mutex_);
        open_if_ready_locked();
    }

private:
    void open_if_ready_locked() {
        if (open_ || arrived_ < holders_) return;
        if (queued_ > 0 && (!pool_ || pool_->stats().pending < queued_)) return;
        open_ = true;
        opened_at_ = clock::now();
        changed_.notify_all();
    }

    const std::size_t holders_;
    const std::size_t queued_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    lifeguard::pool_view* pool_ = nullptr;
    std::size_t arrived_ = 0;
    bool open_ = false;
    clock::time_point opened_at_{};
};

}  // namespace autoid
