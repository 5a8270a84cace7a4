// Asynchronous acquire with Boost.Asio (Boost 1.74 / Asio 1.18 and later): the same pool, the same
// FIFO queue, timeouts and diagnostics as the blocking acquire(), completing through any Asio
// completion token (a callback, boost::asio::use_future, boost::asio::use_awaitable).
//
//     boost::asio::awaitable<void> login(lifeguard::pool<pg_driver>& pool) {
//         const lifeguard::owner_id me = lifeguard::new_owner_id();  // this task, for the detector
//         auto tx = co_await lifeguard::async_acquire(pool, me, boost::asio::use_awaitable);
//         auto id = co_await lifeguard::async_acquire(pool, me, boost::asio::use_awaitable);
//         ...
//     }
//
// Include this header before other Asio headers, or include <utility> first (the GCC 12 note in
// detail/asio_prelude.hpp). Only this header and its detail/asio_* helpers include Asio: the core
// headers stay free of it.
//
// Owners. An asynchronous acquisition is made for an explicit owner: a task (a coroutine, a
// request), never the thread it happens to run on. Give each task one id (new_owner_id()) and
// pass it to every acquisition the task makes: then the deadlock detector sees tasks. Two
// coroutines taking turns on one thread are two owners (no false nesting); a coroutine that
// resumes on another thread keeps its leases; a knot among coroutines is named like one among
// threads. Without an owner, each acquisition is its own owner (nothing can be attributed).
//
// Blocking drivers. Connections are opened, validated and reset on the pool's worker, never on
// the handler's executor: a connection that needs validating before it is lent is checked by the
// worker before the completion is posted, and returning a lease made here (on any thread) leaves
// its reset (ROLLBACK, DISCARD ALL, a session reset) to the worker; the connection is lent again,
// to the waiters in their order, once that is done.
#pragma once

// clang-format off
#include "lifeguard/detail/asio_prelude.hpp"  // first: see the GCC 12 note there
// clang-format on

#include <chrono>
#include <exception>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "lifeguard/detail/asio_acquire_op.hpp"
#include "lifeguard/detail/asio_error.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/owner.hpp"
#include "lifeguard/pool.hpp"

/// Boost codes compare with lifeguard::errc through lifeguard::make_error_condition (below).
template <>
struct boost::system::is_error_condition_enum<lifeguard::errc> : std::true_type {};

namespace lifeguard {

// ------------------------------------------------------------------------------ error codes

/// lifeguard's error category as Boost.System sees it: same name ("lifeguard.pool") and messages
/// as pool_category(). Asynchronous completions carry boost::system::error_code because Asio's
/// tokens turn only that type into exceptions (use_awaitable, use_future).
inline const boost::system::error_category& boost_pool_category() noexcept {
    return detail::boost_pool_category_instance();
}

/// A lifeguard (or any std) error code as a Boost code; to_std_error_code() undoes it.
inline boost::system::error_code to_boost_error_code(const std::error_code& ec) {
    return detail::to_boost(ec);
}

/// The std code behind a Boost code from an asynchronous completion:
/// `to_std_error_code(ec) == lifeguard::errc::timeout`.
inline std::error_code to_std_error_code(const boost::system::error_code& ec) {
    return detail::to_std(ec);
}

/// Lets Boost codes compare with lifeguard's enum directly: `ec == lifeguard::errc::timeout`.
/// (Found by argument-dependent lookup; std code is unaffected.)
inline boost::system::error_condition make_error_condition(errc e) noexcept {
    return {static_cast<int>(e), detail::boost_pool_category_instance()};
}

// ------------------------------------------------------------------------------ async_acquire

/// Who acquires, and where a failure is explained. Designated initializers read best:
///     async_acquire(pool, {.owner = me, .owner_label = "login 17"}, token)
/// Only trivially destructible members: GCC 12 frees a std::string member of a braced temporary
/// in a co_await expression twice (the class of bug in chriskohlhoff/asio#1073).
struct async_acquire_params {
    /// The task acquiring. Default 0: a new owner for this acquisition alone (never the thread).
    owner_id owner = 0;
    /// Shown in diagnostics and deadlock reports ("login 17"); copied when the operation starts
    /// (for use_awaitable: when it is awaited, within the same full expression). Default empty.
    std::string_view owner_label{};
    /// If not null: on failure, set before the handler runs to the exception the throwing
    /// acquire() would have thrown: a pool_error carrying the diagnostics (verdict, counters,
    /// holders), or the detector's deadlock_error. Must stay valid until the handler runs.
    std::exception_ptr* failure = nullptr;
    /// How long this acquisition may wait; unset: the pool's acquire_timeout. Zero or negative:
    /// no wait (an idle connection, or errc::timeout). Saturates at duration::max().
    std::optional<std::chrono::nanoseconds> timeout{};
};

/// The completion signature: an error (a lifeguard code in boost_pool_category(), see
/// to_std_error_code) and a lease, empty on error.
template <class Pool>
using async_acquire_signature = void(boost::system::error_code, typename Pool::lease_type);

/// A completion token for async_acquire on `Pool` (unchecked where Asio has no concepts).
template <class Token, class Pool>
concept async_acquire_token =
#if defined(BOOST_ASIO_HAS_CONCEPTS)
    boost::asio::completion_token_for<Token, async_acquire_signature<Pool>>;
#else
    true;
#endif

/// Borrows a connection asynchronously. Waits in the pool's one FIFO queue together with blocking
/// callers, up to options().acquire_timeout (or params.timeout); the pool's max_pending, close() and diagnostics
/// apply as to acquire().
///
/// Thread-safety: as acquire(); any thread, any number at once.
/// Exception safety: throws only if the operation cannot be allocated (the handler is then
/// destroyed uncalled). Failures are reported to the handler: errc::timeout, pool_closed,
/// pending_limit, or deadlock (a detector with policy fail_fast).
/// Lifetimes: `pool` must be alive when the operation starts (for use_awaitable: when it is
/// awaited); the pool may be destroyed while operations are pending (they fail with
/// errc::pool_closed, or complete with a lease that closes its connection when returned).
/// If the handler's execution context is destroyed first, the operation is abandoned: a
/// connection handed to it goes back to the pool, and the handler is destroyed uncalled.
/// Handler: `void(boost::system::error_code, lease_type)`, always run through the handler's
/// associated executor (default: the system executor), never inside this call, even when a
/// connection is idle. Work is counted on that executor while the operation waits, so
/// io_context::run() does not return under it.
template <class Driver, class Clock, async_acquire_token<basic_pool<Driver, Clock>> Token>
auto async_acquire(basic_pool<Driver, Clock>& pool, const async_acquire_params& params, Token&& token,
                   std::source_location site = std::source_location::current()) {
    using pool_type = basic_pool<Driver, Clock>;
    const owner_id owner = params.owner != 0 ? params.owner : new_owner_id();
    return boost::asio::async_initiate<Token, async_acquire_signature<pool_type>>(
        detail::initiate_async_acquire<pool_type>{&pool.core()}, token, owner,
        std::string(params.owner_label), site, params.failure, params.timeout);
}

/// As above, for `owner` (a task id from new_owner_id()).
template <class Driver, class Clock, async_acquire_token<basic_pool<Driver, Clock>> Token>
auto async_acquire(basic_pool<Driver, Clock>& pool, owner_id owner, Token&& token,
                   std::source_location site = std::source_location::current()) {
    async_acquire_params params;
    params.owner = owner;
    return async_acquire(pool, params, std::forward<Token>(token), site);
}

/// As above, for a new owner of its own (the detector cannot relate it to other acquisitions).
template <class Driver, class Clock, async_acquire_token<basic_pool<Driver, Clock>> Token>
auto async_acquire(basic_pool<Driver, Clock>& pool, Token&& token,
                   std::source_location site = std::source_location::current()) {
    return async_acquire(pool, async_acquire_params{}, std::forward<Token>(token), site);
}

}  // namespace lifeguard
