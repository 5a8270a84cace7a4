// A caller waiting for a connection. Waiters form one intrusive FIFO queue per pool, guarded
// by the pool's mutex; the node lives on the waiting caller's stack (or in an async
// operation), so nothing is allocated to wait.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <source_location>
#include <string_view>
#include <system_error>

#include "lifeguard/owner.hpp"

namespace lifeguard::detail {

struct waiter {
    waiter* next = nullptr;
    waiter* prev = nullptr;
    bool queued = false;

    owner_id owner = 0;
    std::string_view owner_label;
    std::source_location site;
    std::int64_t since = 0;     ///< pool clock, ns
    std::int64_t deadline = 0;  ///< pool clock, ns

    // Outcome, written under the pool mutex by whoever dequeues the waiter for it.
    void* handed = nullptr;  ///< the slot handed to this waiter
    std::error_code failure;
    std::exception_ptr failure_exception;

    std::condition_variable cv;

    bool done() const noexcept { return handed != nullptr || static_cast<bool>(failure); }
    void wake() noexcept { cv.notify_one(); }
};

class wait_queue {
public:
    waiter* head() const noexcept { return head_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    void push_back(waiter& w) noexcept {
        w.prev = tail_;
        w.next = nullptr;
        (tail_ ? tail_->next : head_) = &w;
        tail_ = &w;
        w.queued = true;
        ++size_;
    }

    void remove(waiter& w) noexcept {
        if (!w.queued) return;
        (w.prev ? w.prev->next : head_) = w.next;
        (w.next ? w.next->prev : tail_) = w.prev;
        w.next = w.prev = nullptr;
        w.queued = false;
        --size_;
    }

    template <class F>
    void for_each(F&& f) const {
        for (waiter* w = head_; w; w = w->next) f(*w);
    }

private:
    waiter* head_ = nullptr;
    waiter* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace lifeguard::detail
