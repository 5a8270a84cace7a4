// When the worker may try again to open a connection after failed attempts: the connect backoff.
//
// After a failure the next attempt waits 10 ms, doubling with every further failure up to 5 s
// (HikariCP's pace): a pool nobody is waiting on costs a down server one attempt per 5 s. While
// callers wait, the wait is capped at 250 ms: a down server sees at most four attempts a second
// from the pool, and once it accepts again the waiters are served within 250 ms plus one connect,
// not up to 5 s later. The doubling goes on underneath the cap, so when the waiters give up the
// pool falls back to the full backoff at once.
//
// Pure: it takes `now`, reads no clock and takes no lock (the worker calls it under the pool's
// mutex). Unit-tested in tests/core/housekeeper_test.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "lifeguard/detail/saturating_time.hpp"

namespace lifeguard::detail {

inline constexpr std::int64_t backoff_min_ns = 10'000'000;
inline constexpr std::int64_t backoff_max_ns = 5'000'000'000;
/// The longest wait between attempts while callers wait for a connection.
inline constexpr std::int64_t backoff_while_waited_ns = 250'000'000;

/// Why the worker would open a connection now.
enum class connect_need {
    none,     ///< nothing to open (no room, or enough idle and being opened)
    refill,   ///< below min_idle, nobody waiting: the full backoff applies
    waiters,  ///< callers wait for a connection: the backoff is capped
};

class connect_backoff {
public:
    /// True when an attempt for `need` may start at `now`.
    bool allows(std::int64_t now, connect_need need) const noexcept {
        return need != connect_need::none && now >= retry_at(need);
    }

    /// When the next attempt for `need` may start: 0 when nothing failed since the last success.
    std::int64_t retry_at(connect_need need) const noexcept {
        if (delay_ == 0) return 0;
        const std::int64_t wait = need == connect_need::waiters ? std::min(delay_, backoff_while_waited_ns) : delay_;
        return add_ns(failed_at_, wait);
    }

    /// An attempt that ended at `ended` failed: the wait doubles (from 10 ms, up to 5 s).
    void failed(std::int64_t ended) noexcept {
        delay_ = delay_ == 0 ? backoff_min_ns : std::min(delay_ * 2, backoff_max_ns);
        failed_at_ = ended;
    }

    void succeeded() noexcept {
        delay_ = 0;
        failed_at_ = 0;
    }

private:
    std::int64_t delay_ = 0;      ///< the full wait after the latest failure (0: not failing)
    std::int64_t failed_at_ = 0;  ///< when the latest failed attempt ended
};

}  // namespace lifeguard::detail
