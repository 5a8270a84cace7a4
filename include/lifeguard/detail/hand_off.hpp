// Who is served next: the wait queue and the fairness policy, as decisions.
//
// hand_off keeps the FIFO queue of waiters and whether the head is owed the next connection.
// It never touches a slot, a lock, a condition variable or a clock: the engine (pool_core.hpp)
// holds the pool's mutex around every call, passes `now`, and carries out what is decided
// ("hand a slot to the head", "wake this thread", "the pool turns fair").
//
// The policy (the engine's header says why): waiters queue FIFO; callers that are running may
// take an idle connection first ("barging") while the head is not owed one; a sleeping waiter
// other than the head may claim only after a return woke it; each return goes to the oldest
// waiter no return has served yet (a thread is woken, an async waiter is handed the slot); once
// the head has waited `fair_after_ns`, or any connection was lent `fair_after_leases` times
// since it became the head, the head is owed: nobody barges or claims, and the next return is
// handed to it.
//
// Under admission (admission.hpp) the queue is ordered by what each waiter's task holds, more
// first, FIFO among equals: a nested request goes before first requests, so the tasks that
// hold connections finish and give them back. Without a claim every waiter holds 0: FIFO.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lifeguard/detail/waiter.hpp"

namespace lifeguard::detail {

inline constexpr std::int64_t fair_after_ns = 1'000'000;
inline constexpr std::uint64_t fair_after_leases = 1024;

/// What a connection that just became idle should do for the queue.
enum class serve_step {
    nothing,             ///< nobody to serve (or only sleepers a return already woke)
    hand_to_head,        ///< the head is owed: claim an idle slot and hand it to the head
    let_async_head_act,  ///< the head is asynchronous: serve it directly
    hand_to_async,       ///< `who`, asynchronous and behind woken threads, is next: hand it the slot
    wake_thread,         ///< wake `who` (a sleeping thread) to come and claim
};

struct serve_decision {
    serve_step step = serve_step::nothing;
    waiter* who = nullptr;
};

/// How a waiter that may not claim yet should wait.
struct wait_plan {
    bool owe_now = false;   ///< the head has waited long enough: owe it, then look again
    std::int64_t wake_at;   ///< else sleep until then (deadline, or when the head starves)
};

/// What changed when a waiter left the queue.
struct departure {
    bool was_head = false;
    bool was_owed = false;  ///< it was the head and was owed: the pool stops being fair
    bool now_empty = false;
};

class hand_off {
public:
    waiter* head() const noexcept { return queue_.head(); }
    std::size_t size() const noexcept { return queue_.size(); }
    bool empty() const noexcept { return queue_.empty(); }
    bool head_owed() const noexcept { return head_owed_; }
    /// Queued waiters a return has something to do for: asynchronous ones, and threads no
    /// return has woken yet. While there are none, a return need not serve the queue: every
    /// queued thread has been woken and will come to claim.
    std::size_t unserved() const noexcept { return unserved_; }

    template <class F>
    void for_each(F&& f) const {
        queue_.for_each(f);
    }

    /// Queues `w` after every waiter that holds as much as it does or more (last, when it holds
    /// nothing); true when it became the head (its fairness count starts now). A head it goes
    /// before is no longer owed (it is owed again once it is the head and has starved).
    bool join(waiter& w) noexcept {
        waiter* before = nullptr;
        if (w.holds != 0)
            for (waiter* q = queue_.head(); q; q = q->next)
                if (q->holds < w.holds) {
                    before = q;
                    break;
                }
        if (counts_as_unserved(w)) ++unserved_;
        if (!before) {
            queue_.push_back(w);
        } else {
            if (before == queue_.head()) head_owed_ = false;
            queue_.insert_before(*before, w);
        }
        return queue_.head() == &w;
    }

    /// Orders the queue again by what each waiter's task holds (more first, FIFO among equals),
    /// after the holdings were counted anew: waiters that joined before the pool had a claim
    /// were queued in arrival order. True when the head changed (an owed head is owed no more).
    bool rank_by_holds() {
        std::vector<waiter*> order;
        order.reserve(queue_.size());
        queue_.for_each([&](waiter& w) { order.push_back(&w); });
        std::ranges::stable_sort(order, [](const waiter* a, const waiter* b) { return a->holds > b->holds; });
        waiter* const old_head = queue_.head();
        queue_.clear();
        for (waiter* w : order) queue_.push_back(*w);
        if (queue_.head() == old_head) return false;
        head_owed_ = false;
        return true;
    }

    /// Puts `w` back first: a connection handed to it failed its check and it keeps its place.
    void rejoin_first(waiter& w) noexcept {
        if (counts_as_unserved(w)) ++unserved_;
        queue_.push_front(w);
    }

    /// `w`, a queued thread, runs: true when a return had woken it. From now on it is unserved
    /// again: if it sleeps once more, the next return wakes it.
    bool take_wake(waiter& w) noexcept {
        if (!w.woken_by_return) return false;
        w.woken_by_return = false;
        if (w.queued) ++unserved_;
        return true;
    }

    departure leave(waiter& w) noexcept {
        departure d;
        d.was_head = queue_.head() == &w;
        if (w.queued && counts_as_unserved(w)) --unserved_;
        queue_.remove(w);
        if (d.was_head && head_owed_) {
            head_owed_ = false;
            d.was_owed = true;
        }
        d.now_empty = queue_.empty();
        return d;
    }

    /// The head may take an idle connection at any time; another waiter only when a return woke
    /// it, and not while the head is owed the next connection.
    bool may_claim(const waiter& w, bool woken_by_return) const noexcept {
        return queue_.head() == &w || (woken_by_return && !head_owed_);
    }

    /// `w` may not claim now: owe it (it is the head and has waited `fair_after_ns`), or sleep
    /// until its deadline or until it would starve.
    wait_plan plan_wait(const waiter& w, std::int64_t now) const noexcept {
        if (queue_.head() != &w || head_owed_) return {false, w.deadline};
        const std::int64_t starve_at = w.since + fair_after_ns;
        if (now >= starve_at) return {true, w.deadline};
        return {false, std::min(w.deadline, starve_at)};
    }

    /// A connection was lent `fair_after_leases` times past the head: true when the head must
    /// now be owed (a thread that is not owed yet; async heads are served on every return).
    bool passed_over() const noexcept {
        const waiter* h = queue_.head();
        return h && !h->async && !head_owed_;
    }

    /// The pool turns fair: the next connection returned goes to the head.
    void owe_head() noexcept { head_owed_ = true; }

    /// A connection became idle. `sleepers_armed`: waiters sleep and asked returns to come
    /// here. It goes to the oldest waiter no return has served yet: threads already woken (and
    /// not yet run) are passed, as each will take the connection of the return that woke it. A
    /// thread is marked woken, so the next return picks the next waiter (a condition variable's
    /// notify_one, in arrival order); an async waiter has no thread to wake and is handed the
    /// connection, so a thread behind it never gets ahead of it.
    serve_decision after_return(bool sleepers_armed) noexcept {
        waiter* h = queue_.head();
        if (!h) return {};
        if (head_owed_) return {serve_step::hand_to_head, h};
        if (!sleepers_armed) return {};
        if (h->async) return {serve_step::let_async_head_act, h};
        for (waiter* w = h; w; w = w->next) {
            if (w->woken_by_return) continue;
            if (w->async) return {serve_step::hand_to_async, w};
            w->woken_by_return = true;
            --unserved_;
            return {serve_step::wake_thread, w};
        }
        return {};
    }

private:
    static bool counts_as_unserved(const waiter& w) noexcept { return w.async || !w.woken_by_return; }

    wait_queue queue_;
    std::size_t unserved_ = 0;  ///< see unserved()
    bool head_owed_ = false;
};

}  // namespace lifeguard::detail
