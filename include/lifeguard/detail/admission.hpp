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
// The full check allocates: it runs only on the slow path, near exhaustion.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

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

/// True when, with `spare` connections left, there is an order in which each task (one entry
/// of `holds` per task holding connections) can get up to `claim` and finish, giving back what
/// it holds. A task at or past its claim needs nothing more. Greedy is exact for one resource:
/// a task whose need is smallest can finish first if anyone can, and finishing only adds to
/// what is spare.
inline bool is_safe(std::size_t claim, std::size_t spare, std::span<const std::size_t> holds) {
    auto need = [claim](std::size_t h) { return h >= claim ? std::size_t{0} : claim - h; };
    std::vector<std::size_t> by_need(holds.begin(), holds.end());
    std::ranges::sort(by_need, [&](std::size_t a, std::size_t b) { return need(a) < need(b); });
    std::size_t available = spare;
    for (std::size_t h : by_need) {
        if (need(h) > available) return false;
        available += h;
    }
    return true;
}

/// The full check, near exhaustion: true when granting one connection to a task holding
/// `requester_holds` leaves a safe state, given the other tasks' holdings (`others`, one entry
/// per task holding at least one) and `spare` after the grant.
inline bool safe_after_grant(std::size_t claim, std::size_t spare, std::size_t requester_holds,
                             std::span<const std::size_t> others) {
    if (obviously_safe(claim, spare, requester_holds)) return true;
    std::vector<std::size_t> after(others.begin(), others.end());
    after.push_back(requester_holds + 1);
    return is_safe(claim, spare, after);
}

/// Admission's answer: grant when the state stays safe. When the claim rose (heal learned it
/// from a knot) after the connections were lent (`claim_rose`), the state can be unsafe
/// already: then refusing every request would leave them all waiting beside idle connections,
/// so a task that holds connections is granted (the queue serves the one holding most first),
/// and a knot that still forms is the detector's to heal. A first request is never granted into
/// an unsafe state. A claim declared from the start keeps every state safe: no exception.
inline bool admits(std::size_t claim, std::size_t spare, std::size_t requester_holds,
                   std::span<const std::size_t> others, bool claim_rose) {
    if (safe_after_grant(claim, spare, requester_holds, others)) return true;
    if (requester_holds == 0 || !claim_rose) return false;
    std::vector<std::size_t> before(others.begin(), others.end());
    before.push_back(requester_holds);
    return !is_safe(claim, spare + 1, before);
}

}  // namespace lifeguard::detail
