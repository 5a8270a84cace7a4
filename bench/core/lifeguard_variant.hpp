// lifeguard's pool as a variant of the core benchmark (see variants.hpp for the interface):
// lifeguard::pool over a driver whose connections are ints, so only the pool is measured.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>

#include "lifeguard/pool.hpp"
#include "support/trivial_driver.hpp"

namespace lifeguard_bench {

/// A fixed-size pool (min_idle = max_size) with default options otherwise; measuring starts
/// once the worker has opened every connection.
class lifeguard_variant {
public:
    static constexpr std::string_view name = "lifeguard";

    explicit lifeguard_variant(std::size_t size)
        : pool_(trivial_driver{},
                lifeguard::pool_options{.name = "bench", .max_size = size, .min_idle = size}) {}

    // Waits (bounded) for the worker to fill the pool, so no run measures connection opening.
    std::string ready() {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (pool_.stats().idle != pool_.stats().max) {
            if (std::chrono::steady_clock::now() > give_up)
                return "lifeguard pool did not fill within 10 s (stats().idle != max_size)";
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        return {};
    }

    template <class F>
    void with_lease(F&& f) {
        auto lease = pool_.acquire();
        f(*lease);
    }

private:
    lifeguard::pool<trivial_driver> pool_;
};

}  // namespace lifeguard_bench
