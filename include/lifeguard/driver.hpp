// The driver concept: the small type a pool needs to open, check, reset and close
// connections of one kind of database.
//
// A driver is shared by the pool's worker and by callers (validation on borrow, reset on
// return): its members must be safe to call concurrently for *different* connections.
// connect() reports failure by throwing; the exception's what() becomes the pool's
// "last connection error", so it must never contain a password.
//
// Optional members, found by their signature (a driver without them compiles unchanged):
//   std::string describe() const
//       the target for diagnostics (describe_target below);
//   bool reset_is_local(const connection_type& c) const noexcept
//       true when reset(c) needs no round trip to the server now (no transaction open, no
//       session state to undo: reset() only clears the driver's own bookkeeping). It lets the
//       return of a lease from async_acquire reset the connection on the returning thread, at
//       once, instead of leaving the reset to the pool's worker (which is there to keep round
//       trips off event loops). Called on the returning thread, so it must be cheap and must not
//       do I/O itself; when in doubt, say false. Without it every async return is reset by the
//       worker. (Blocking leases are always reset by their returner.)
#pragma once

#include <chrono>
#include <concepts>
#include <string>

namespace lifeguard {

template <class D>
concept driver = requires(D& d, typename D::connection_type& c,
                          std::chrono::steady_clock::time_point deadline,
                          std::chrono::milliseconds timeout) {
    typename D::connection_type;
    requires std::movable<typename D::connection_type>;
    /// Opens a connection before `deadline` (steady clock) or throws.
    { d.connect(deadline) } -> std::same_as<typename D::connection_type>;
    /// True when the connection answers within `timeout`. Must not throw.
    { d.is_valid(c, timeout) } -> std::convertible_to<bool>;
    /// Rolls back an open transaction and resets session state before the connection is lent
    /// again; false when the connection is no longer usable. Must not throw.
    { d.reset(c) } -> std::convertible_to<bool>;
    /// Closes the connection. Must not throw.
    { d.close(c) } noexcept;
};

/// A driver's reset_is_local member, declared as the header comment says.
template <class D>
concept has_reset_is_local = requires(const D& d, const typename D::connection_type& c) {
    { d.reset_is_local(c) } -> std::convertible_to<bool>;
};

/// True when the driver says resetting `c` needs no round trip (its optional reset_is_local);
/// false for drivers without it.
template <class D>
bool reset_is_local(const D& d, const typename D::connection_type& c) noexcept {
    if constexpr (has_reset_is_local<D>) {
        static_assert(noexcept(d.reset_is_local(c)), "Driver::reset_is_local(const connection_type&) must be noexcept");
        return d.reset_is_local(c);
    } else {
        // A reset_is_local that is not const or takes a non-const connection would be ignored
        // in silence: say so instead.
        static_assert(!requires(D& m, typename D::connection_type& mc) { m.reset_is_local(mc); },
                      "Driver::reset_is_local must be declared `bool reset_is_local(const connection_type&) "
                      "const noexcept`");
        return false;
    }
}

/// Drivers may describe their target ("postgres 127.0.0.1:5432/app") for diagnostics. The
/// text must not contain a password.
template <class D>
std::string describe_target(const D& d) {
    if constexpr (requires { { d.describe() } -> std::convertible_to<std::string>; })
        return d.describe();
    else
        return {};
}

}  // namespace lifeguard
