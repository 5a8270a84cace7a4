// Threads blocked in an acquisition made inside a nested owner_scope. While such a thread
// waits, the owners of the scopes around the call wait too (they cannot release what they hold
// until the inner call returns), so the detector counts them as waiting on the same pool, and
// counts the thread as one request in Tn and Cm. Thread-safe: a leaf lock of its own, under
// which nothing else is called.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "lifeguard/owner.hpp"

namespace lifeguard::diagnostics::detail {

struct blocked_thread {
    owner_id waiter = 0;               ///< the owner the pool queued
    std::uint64_t pool = 0;            ///< the pool's id
    std::int64_t since = 0;            ///< the wait's start (ns, pool clock): tells two waits apart
    std::vector<owner_id> enclosing;   ///< owners of the scopes around the call, innermost first
};

class blocked_threads {
public:
    void add(blocked_thread b);

    /// Removes the record of this wait and returns it, if there is one.
    std::optional<blocked_thread> remove(owner_id waiter, std::uint64_t pool, std::int64_t since);

    /// The enclosing owners of this wait; empty when it was not made in a nested scope.
    std::vector<owner_id> enclosing(owner_id waiter, std::uint64_t pool, std::int64_t since) const;

    /// Any thread blocked in a nested scope now (a hint, lock-free).
    bool any() const noexcept { return count_.load(std::memory_order_relaxed) != 0; }

private:
    mutable std::mutex mutex_;
    std::vector<blocked_thread> all_;  // a few at most: threads blocked right now
    std::atomic<std::size_t> count_{0};
};

}  // namespace lifeguard::diagnostics::detail
