// The smallest lifeguard program: a pool over an in-memory driver, one blocking borrow, then one
// asynchronous borrow through Boost.Asio (lifeguard::asio).
#include "lifeguard/asio.hpp"  // first: it includes Asio the way GCC 12 needs

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>

#include "counter_driver.hpp"
#include "lifeguard/pool.hpp"

int main() {
    lifeguard::pool<counter_driver> pool{counter_driver{}, {.name = "consumer", .max_size = 1}};
    {
        auto lease = pool.acquire();
        std::printf("consumer: borrowed connection %d from pool '%s'\n", *lease, pool.name().c_str());
    }
    boost::asio::io_context io;
    int borrowed = 0;
    lifeguard::async_acquire(pool, boost::asio::bind_executor(io, [&](boost::system::error_code ec, auto lease) {
                                 if (!ec) borrowed = *lease;
                             }));
    io.run();  // returns once the handler ran: the pending acquisition counts as work on `io`
    std::printf("consumer: borrowed connection %d asynchronously\n", borrowed);
    return borrowed == 0 ? 1 : 0;
}
