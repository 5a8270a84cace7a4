// A caller waiting for a connection. Waiters form one intrusive FIFO queue per pool, guarded
// by the pool's mutex; the node lives on the waiting caller's stack (or in an async
// operation), so nothing is allocated to wait.
#pragma once

#include <condition_variable>
#include <cstddef>
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
    /// Admission (admission.hpp), set when it joins while the pool has a claim: connections its
    /// task holds of this pool (the queue serves more before fewer), and for a blocking caller
    /// its thread's scope chain (the owners of enclosing scopes wait with it: one task).
    std::size_t holds = 0;
    const owner_slot* chain = nullptr;

    // Outcome, written under the pool mutex by whoever dequeues the waiter for it.
    void* handed = nullptr;  ///< the slot handed to this waiter
    std::error_code failure;
    std::exception_ptr failure_exception;

    // Asynchronous waiters have no thread to run the head's claim loop: the pool serves them
    // directly and calls deliver() (under its mutex) once handed or failed.
    bool async = false;
    bool block_reported = false;   ///< on_block was called for it
    bool validating = false;       ///< handed a slot the worker is checking before delivery
    bool cancelled = false;        ///< failed while the worker was checking its slot
    bool woken_by_return = false;  ///< woken by a return to take a connection (sync), not yet run
    bool fresh = false;            ///< handed a connection just opened for it: lend it unchecked

    std::condition_variable cv;

    waiter() = default;
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    bool done() const noexcept { return handed != nullptr || static_cast<bool>(failure); }
    /// Sync waiters: wakes the waiting thread. Async waiters: delivers the outcome.
    void wake() noexcept {
        if (async)
            deliver();
        else
            cv.notify_one();
    }

protected:
    ~waiter() = default;
    /// Async waiters: schedule the completion (never run it inline: the pool's mutex is held).
    virtual void deliver() noexcept {}
};

/// The node a synchronous caller waits with, on its own stack.
struct sync_waiter final : waiter {};

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

    void push_front(waiter& w) noexcept {
        w.next = head_;
        w.prev = nullptr;
        (head_ ? head_->prev : tail_) = &w;
        head_ = &w;
        w.queued = true;
        ++size_;
    }

    /// Queues `w` just before `pos` (which is queued).
    void insert_before(waiter& pos, waiter& w) noexcept {
        w.next = &pos;
        w.prev = pos.prev;
        (pos.prev ? pos.prev->next : head_) = &w;
        pos.prev = &w;
        w.queued = true;
        ++size_;
    }

    /// Empties the queue, leaving the nodes unlinked and unqueued.
    void clear() noexcept {
        while (head_) remove(*head_);
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
