// The Boost.Asio headers lifeguard's asynchronous front-end needs, and no others (the whole of
// <boost/asio.hpp> costs every including file seconds of compile time).
//
// Why a prelude: with GCC 12 in C++20 mode, Asio 1.18 (Boost 1.74) fails to compile ("'exchange'
// is not a member of 'std'", chriskohlhoff/asio#944) unless <utility> was included before it.
// lifeguard/asio.hpp includes this first; code that includes Asio headers before lifeguard's
// should include <utility> first itself.
#pragma once

// clang-format off
#include <utility>  // must precede every Asio header (see above)
// clang-format on

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>
