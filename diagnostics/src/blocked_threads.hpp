// Threads blocked in an acquisition made inside a nested owner_scope. While such a thread
// waits, the owners of the scopes around the call wait too (they cannot release what they hold
// until the inner call returns), so the detector counts them as waiting on the same pool, and
// counts the thread as one request in Tn and Cm. Guarded by the detector's data mutex.
#pragma once

#include <cstdint>
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
    void add(blocked_thread b) { all_.push_back(std::move(b)); }

    /// Removes the record of this wait and returns it, if there is one.
    std::optional<blocked_thread> remove(owner_id waiter, std::uint64_t pool, std::int64_t since);

    /// The enclosing owners of this wait, or nullptr when it was not made in a nested scope.
    const std::vector<owner_id>* enclosing(owner_id waiter, std::uint64_t pool, std::int64_t since) const;

    bool empty() const noexcept { return all_.empty(); }

private:
    std::vector<blocked_thread> all_;  // a few at most: threads blocked right now
};

}  // namespace lifeguard::diagnostics::detail
