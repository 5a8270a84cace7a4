// The smallest lifeguard program: a pool over an in-memory driver, one borrow, one return.
#include <chrono>
#include <cstdio>

#include "lifeguard/pool.hpp"

struct counter_driver {
    using connection_type = int;
    int next = 1;
    int connect(std::chrono::steady_clock::time_point) { return next++; }
    bool is_valid(int&, std::chrono::milliseconds) { return true; }
    bool reset(int&) { return true; }
    void close(int&) noexcept {}
};

int main() {
    lifeguard::pool<counter_driver> pool{counter_driver{}, {.name = "consumer", .max_size = 1}};
    auto lease = pool.acquire();
    std::printf("consumer: borrowed connection %d from pool '%s'\n", *lease, pool.name().c_str());
}
