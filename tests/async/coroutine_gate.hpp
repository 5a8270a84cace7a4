// A meeting point for coroutines on one single-threaded io_context (an Asio timer that never
// fires on its own: the last to arrive cancels it).
#pragma once

// clang-format off
#include <utility>  // first: Asio 1.18 under GCC 12 in C++20 needs it before any Asio header
// clang-format on

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lifeguard::testing {

/// Coroutines on one single-threaded io_context wait here until `n` have arrived.
class coroutine_gate {
public:
    coroutine_gate(boost::asio::any_io_executor ex, int n)
        : timer_(ex, boost::asio::steady_timer::time_point::max()), left_(n) {}
    boost::asio::awaitable<void> arrive_and_wait() {
        if (--left_ == 0) {
            timer_.cancel();
            co_return;
        }
        boost::system::error_code ignored;
        co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }

private:
    boost::asio::steady_timer timer_;
    int left_;
};

}  // namespace lifeguard::testing
