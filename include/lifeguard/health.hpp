// pool.health(): one structured answer for readiness probes and dashboards.
//
//     const lifeguard::pool_health h = pool.health();
//     if (h.verdict == lifeguard::health_verdict::down) return 503;  // take the pod out
//     body = lifeguard::to_json(h);
//
// The verdict, first rule that holds:
//  - down: the pool is closed; or it has no open connection and its latest connection attempt
//    failed (a service with this pool cannot serve a query now);
//  - degraded: the pool is suspended; or its latest connection attempt failed (connections are
//    still open); or an acquire timed out within the window; or the p99 wait of the acquires
//    that queued within the window reached half the acquire_timeout;
//  - healthy: otherwise (a pool that has not tried to connect yet, with min_idle 0, is healthy).
// `reason` says which rule decided, in words. No text in it carries a password: connection
// errors are the driver's, which never do (driver.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lifeguard {

enum class health_verdict { healthy, degraded, down };

/// "healthy", "degraded" or "down".
std::string_view to_string(health_verdict v) noexcept;

struct pool_health {
    health_verdict verdict = health_verdict::healthy;
    std::string reason;  ///< the rule that decided the verdict, e.g. "2 acquires timed out in the last 60 s"
    std::string pool_name;
    bool closed = false;
    bool suspended = false;

    // Connectivity (ages on the pool's clock, measured back from the moment of the snapshot).
    std::optional<std::chrono::nanoseconds> since_last_connect;  ///< since a connection last opened; none if never
    std::optional<std::chrono::nanoseconds> since_last_failure;  ///< since an attempt last failed; none if never
    std::string last_error;  ///< that failure's error text (kept after later successes)
    std::optional<std::chrono::nanoseconds> down_for;  ///< since the first of the failures after the last success; none when the latest attempt succeeded
    std::uint64_t failures_in_a_row = 0;               ///< failed attempts since the last success

    // Saturation.
    std::size_t open = 0;       ///< open connections
    std::size_t idle = 0;
    std::size_t active = 0;     ///< leased
    std::size_t max_size = 0;
    std::size_t pending = 0;    ///< callers waiting now
    std::chrono::nanoseconds window{0};  ///< how far back the figures below look
    std::uint64_t queued_in_window = 0;  ///< acquires that had to queue (answered or timed out)
    std::chrono::nanoseconds p99_queued_wait{0};  ///< 99th percentile of their waits (0 when none)
    std::uint64_t timeouts_in_window = 0;
};

/// The snapshot as one JSON object (durations in milliseconds, absent values as null), e.g.
/// {"pool":"orders","verdict":"healthy","reason":"...","closed":false,...}.
std::string to_json(const pool_health& h);

}  // namespace lifeguard
