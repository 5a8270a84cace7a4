// Process-wide counters for pool ids and default names, and a seed for lifetime jitter.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "lifeguard/detail/pool_core.hpp"

namespace lifeguard::detail {

std::uint64_t next_pool_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t lifetime_jitter_seed() noexcept {
    const auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return (t * 0x9E3779B97F4A7C15ull) | 1;  // xorshift state must not be zero
}

}  // namespace lifeguard::detail
