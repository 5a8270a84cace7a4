// What pool.health() reads beyond the pool's stats: the latest connection attempts and the
// acquires that queued recently. Fed by the engine off its hot path (connect attempts,
// acquisitions that waited, timeouts), with a mutex of its own, so health() never takes the
// pool's.
//
// The recent acquisitions are a ring of the last `capacity` that queued (answered or timed
// out): the window's figures cover at most that many (the most recent ones).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lifeguard/health.hpp"

namespace lifeguard::detail {

class health_window {
public:
    static constexpr std::size_t capacity = 1024;

    void connect_succeeded(std::int64_t now) {
        std::lock_guard lock(mutex_);
        last_connect_ = now;
        down_since_.reset();
        failures_in_a_row_ = 0;
    }

    void connect_failed(std::int64_t now, std::string_view error) {
        std::lock_guard lock(mutex_);
        last_failure_ = now;
        last_error_.assign(error);
        if (!down_since_) down_since_ = now;
        ++failures_in_a_row_;
    }

    /// An acquisition that queued ended at `now` after `waited` ns: served, or timed out.
    void queued(std::int64_t now, std::int64_t waited, bool timed_out) {
        std::lock_guard lock(mutex_);
        events_[next_ % capacity] = {now, waited, timed_out};
        ++next_;
    }

    /// Fills the connectivity and window fields of `h` as of `now`, looking `window` ns back.
    void fill(pool_health& h, std::int64_t now, std::int64_t window) const {
        std::vector<std::int64_t> waits;
        std::lock_guard lock(mutex_);
        if (last_connect_) h.since_last_connect = std::chrono::nanoseconds(now - *last_connect_);
        if (last_failure_) h.since_last_failure = std::chrono::nanoseconds(now - *last_failure_);
        if (down_since_) h.down_for = std::chrono::nanoseconds(now - *down_since_);
        h.last_error = last_error_;
        h.failures_in_a_row = failures_in_a_row_;
        h.window = std::chrono::nanoseconds(window);
        const std::size_t stored = std::min<std::uint64_t>(next_, capacity);
        waits.reserve(stored);
        for (std::size_t i = 0; i < stored; ++i) {
            const event& e = events_[i];
            if (now - e.at >= window) continue;  // "the last 60 s": an event exactly 60 s old is out
            waits.push_back(e.waited);
            if (e.timed_out) ++h.timeouts_in_window;
        }
        h.queued_in_window = waits.size();
        h.p99_queued_wait = std::chrono::nanoseconds(p99(waits));
    }

    /// The 99th percentile (nearest rank) of `values`; 0 when empty.
    static std::int64_t p99(std::vector<std::int64_t>& values) {
        if (values.empty()) return 0;
        const std::size_t rank = (values.size() * 99 + 99) / 100;  // ceil(0.99 n), 1-based
        const auto at = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
        std::nth_element(values.begin(), at, values.end());
        return *at;
    }

private:
    struct event {
        std::int64_t at = 0;
        std::int64_t waited = 0;
        bool timed_out = false;
    };

    mutable std::mutex mutex_;
    std::optional<std::int64_t> last_connect_, last_failure_, down_since_;
    std::string last_error_;
    std::uint64_t failures_in_a_row_ = 0;
    std::array<event, capacity> events_{};
    std::uint64_t next_ = 0;
};

/// Decides `h.verdict` and `h.reason` from its other fields (the rule in health.hpp).
/// `acquire_timeout_ns` is ns_max for forever.
void judge(pool_health& h, std::int64_t acquire_timeout_ns);

}  // namespace lifeguard::detail
