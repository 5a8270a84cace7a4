// Time arithmetic that cannot overflow. The pool keeps times as int64 nanoseconds on its clock
// and options as milliseconds, up to milliseconds::max() (lifeguard::forever); converting such
// an option to nanoseconds, or adding it to a time, would overflow int64. Every conversion and
// every "time + duration" the pool does goes through these, and saturates instead: a sum past
// the end of time is the end of time (int64 max, which the pool reads as "never").
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>

namespace lifeguard::detail {

inline constexpr std::int64_t ns_max = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t ns_min = std::numeric_limits<std::int64_t>::min();

/// `d` in nanoseconds, saturated to [ns_min, ns_max]: a duration too long to count in int64
/// nanoseconds (292 years) counts as ns_max.
template <class Rep, class Period>
constexpr std::int64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept {
    static_assert(std::is_integral_v<Rep>, "pool durations count whole ticks");
    using per_ns = std::ratio_divide<Period, std::nano>;
    static_assert(per_ns::den == 1 || per_ns::num == 1, "a tick must be a multiple or a fraction of 1 ns");
    if constexpr (per_ns::den == 1) {
        std::int64_t out = 0;
        if (__builtin_mul_overflow(d.count(), per_ns::num, &out)) return d.count() < 0 ? ns_min : ns_max;
        return out;
    } else {
        return static_cast<std::int64_t>(d.count() / per_ns::den);  // finer than 1 ns: only shrinks
    }
}

/// a + b, saturated to [ns_min, ns_max].
constexpr std::int64_t add_ns(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t out = 0;
    if (__builtin_add_overflow(a, b, &out)) return b < 0 ? ns_min : ns_max;
    return out;
}

/// `d` after `t` on a clock counting nanoseconds; Clock::time_point::max() when that is past
/// the end of the clock's range (drivers read max() as "no deadline").
template <class Clock, class Rep, class Period>
constexpr typename Clock::time_point deadline_after(typename Clock::time_point t,
                                                    std::chrono::duration<Rep, Period> d) noexcept {
    static_assert(std::is_same_v<typename Clock::duration, std::chrono::nanoseconds>);
    return
        typename Clock::time_point(std::chrono::nanoseconds(add_ns(t.time_since_epoch().count(), to_ns(d))));
}

}  // namespace lifeguard::detail
