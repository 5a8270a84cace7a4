// Why the pool closed a connection; used by stats, observers and metrics labels.
#pragma once

#include <cstddef>
#include <string_view>

namespace lifeguard {

enum class close_reason : unsigned char {
    broken,    ///< failed validation or reset, or the lease was invalidated
    idle,      ///< idle longer than idle_timeout while above min_idle
    lifetime,  ///< reached its max_lifetime
    evicted,   ///< soft_evict() or a clock leap retired it, or it was above max_size after reconfigure() lowered it
    shutdown,  ///< the pool was closed
    emergency, ///< an emergency connection (on_deadlock heal) came back
};

inline constexpr std::size_t close_reason_count = 6;

constexpr std::string_view to_string(close_reason r) noexcept {
    switch (r) {
    case close_reason::broken: return "broken";
    case close_reason::idle: return "idle";
    case close_reason::lifetime: return "lifetime";
    case close_reason::evicted: return "evicted";
    case close_reason::shutdown: return "shutdown";
    case close_reason::emergency: return "emergency";
    }
    return "unknown";
}

}  // namespace lifeguard
