// Nesting-aware admission: may the pool grant one more connection to a task without the risk
// that its tasks lock it (each holding some connections and waiting for more, none left)?
//
// This is Dijkstra's banker's algorithm for one kind of resource and one claim for every task:
// every task holds at most `claim` connections of this pool at once (the deepest nesting:
// HikariCP's AUTO-ID shape holds a transaction's connection and asks for an id generator's,
// claim 2). A state is *safe* when there is an order in which each task holding connections
// can get up to its claim and finish, giving back what it holds; from a safe state, no
// deadlock on this pool can form. A request is granted only when the state after the grant is
// safe; otherwise the caller waits (it is not failed), and a nested request (the task already
// holds connections) goes before first requests, so the tasks that hold connections finish.
//
// Pure decisions, no pool and no lock: the engine (pool_core.hpp) counts, under its mutex or
// by a scan, and asks. `spare` is always "idle + openable + being opened, after the grant".
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

namespace lifeguard::detail {

/// The cheap half of the check, enough away from exhaustion (one comparison on the hot path):
/// true when, from a safe state, the grant keeps it safe without knowing who holds what: when
/// there is no claim (claim <= 1: no task waits while holding), when the spare left covers
/// any holder's remaining need (spare >= claim - 1: whoever asks next can finish), or when the
/// grant completes the requester's claim (it can finish at once and give everything back; so
/// such a grant is made even from an unsafe state, which it can only improve).
constexpr bool obviously_safe(std::size_t claim, std::size_t spare, std::size_t requester_holds) noexcept {
    return claim <= 1 || spare + 1 >= claim || requester_holds + 1 >= claim;
}

/// The full check, near exhaustion: true when granting one connection to a task holding
/// `requester_holds` leaves a safe state, given the other tasks' holdings (`others`, one entry
/// per task holding at least one; reordered here) and `spare` after the grant. A task at or
/// past its claim needs nothing more. Greedy is exact for one resource: a task whose need is
/// smallest can finish first if anyone can, and finishing only adds to what is spare.
inline bool safe_after_grant(std::size_t claim, std::size_t spare, std::size_t requester_holds,
                             std::span<std::size_t> others) noexcept {
    if (obviously_safe(claim, spare, requester_holds)) return true;
    auto need = [claim](std::size_t holds) { return holds >= claim ? std::size_t{0} : claim - holds; };
    std::ranges::sort(others, [&](std::size_t a, std::size_t b) { return need(a) < need(b); });
    const std::size_t requester_after = requester_holds + 1;
    bool requester_done = false;
    std::size_t available = spare;
    std::size_t next = 0;
    while (next < others.size() || !requester_done) {
        // Whoever needs least goes next: the requester, or the next of the others.
        const bool requester_now =
            !requester_done && (next == others.size() || need(requester_after) <= need(others[next]));
        const std::size_t holds = requester_now ? requester_after : others[next++];
        requester_done = requester_done || requester_now;
        if (need(holds) > available) return false;
        available += holds;
    }
    return true;
}

}  // namespace lifeguard::detail
