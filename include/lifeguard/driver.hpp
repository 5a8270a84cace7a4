// The driver concept: the small type a pool needs to open, check, reset and close
// connections of one kind of database.
//
// A driver is shared by the pool's worker and by callers (validation on borrow, reset on
// return): its members must be safe to call concurrently for *different* connections.
// connect() reports failure by throwing; the exception's what() becomes the pool's
// "last connection error", so it must never contain a password.
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
