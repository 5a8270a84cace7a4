// A core-only lifeguard program: a pool over an in-memory driver and one blocking borrow.
#include <cstdio>

#include "counter_driver.hpp"
#include "lifeguard/pool.hpp"

int main() {
    lifeguard::pool<counter_driver> pool{counter_driver{}, {.name = "core", .max_size = 1}};
    auto lease = pool.acquire();
    std::printf("core consumer: borrowed connection %d from pool '%s'\n", *lease, pool.name().c_str());
    return *lease == 1 ? 0 : 1;
}
