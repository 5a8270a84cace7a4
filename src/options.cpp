// Validation of pool_options: every rule in one place, each failure naming field, value, rule.
#include <algorithm>
#include <atomic>
#include <string>

#include "lifeguard/errors.hpp"
#include "lifeguard/options.hpp"

namespace lifeguard {
namespace {

using std::chrono::milliseconds;

std::string show(milliseconds d) { return duration_text(d); }
std::string show(std::size_t n) {
    return n == pool_options::unbounded ? std::string("unbounded") : std::to_string(n);
}

[[noreturn]] void reject(const std::string& pool, const char* field, const std::string& value, const char* rule) {
    throw options_error("lifeguard: pool '" + pool + "': option " + field + " = " + value + " is invalid: " + rule);
}

}  // namespace

std::string duration_text(milliseconds d) {
    return d == forever ? std::string("forever") : std::to_string(d.count()) + " ms";
}

namespace {

void check_name(const std::string& name) {
    if (name.size() > 64) reject(name.substr(0, 64) + "...", "name", "(" + std::to_string(name.size()) + " characters)", "at most 64 characters");
    for (char c : name) {
        if (c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\')
            reject("?", "name", "\"" + name + "\"", "printable ASCII without spaces, quotes or backslashes");
    }
}

// A duration that must lie in [low, high].
void check_range(const std::string& pool, const char* field, milliseconds d, milliseconds low, milliseconds high) {
    if (d < low) reject(pool, field, show(d), ("must be at least " + show(low)).c_str());
    if (d > high) reject(pool, field, show(d), ("must be at most " + show(high)).c_str());
}

// A duration where 0 and forever both mean `none` ("never", "off"); any other value must be
// at least `low`.
void check_none_or_at_least(const std::string& pool, const char* field, milliseconds d, milliseconds low,
                            const char* none) {
    if (d.count() < 0 || (d.count() > 0 && d < low))
        reject(pool, field, show(d),
               ("must be 0 or forever (" + std::string(none) + "), or at least " + show(low)).c_str());
}

}  // namespace

pool_options validated(pool_options o) {
    static std::atomic<unsigned> pool_counter{0};
    if (o.name.empty()) o.name = "pool-" + std::to_string(pool_counter.fetch_add(1, std::memory_order_relaxed) + 1);
    check_name(o.name);
    const std::string& p = o.name;

    if (o.max_size < 1) reject(p, "max_size", show(o.max_size), "must be at least 1");
    if (o.max_size > 100000) reject(p, "max_size", show(o.max_size), "must be at most 100000");
    if (o.min_idle == pool_options::same_as_max_size) o.min_idle = o.max_size;
    if (o.min_idle > o.max_size)
        reject(p, "min_idle", show(o.min_idle), ("must not exceed max_size (" + show(o.max_size) + ")").c_str());
    check_range(p, "acquire_timeout", o.acquire_timeout, 250ms, forever);
    if (o.validation_timeout == pool_options::follows_acquire_timeout) {
        o.validation_timeout = std::min<milliseconds>(5s, o.acquire_timeout / 2);
    } else {
        check_range(p, "validation_timeout", o.validation_timeout, 250ms, 1h);
        if (o.validation_timeout >= o.acquire_timeout)
            reject(p, "validation_timeout", show(o.validation_timeout),
                   ("must be less than acquire_timeout (" + show(o.acquire_timeout) + ")").c_str());
    }
    check_none_or_at_least(p, "max_lifetime", o.max_lifetime, 30s, "never");
    check_none_or_at_least(p, "idle_timeout", o.idle_timeout, 10s, "never");
    check_none_or_at_least(p, "keepalive_interval", o.keepalive_interval, 30s, "off");
    check_none_or_at_least(p, "leak_detection_threshold", o.leak_detection_threshold, 2s, "off");
    check_range(p, "alive_bypass_window", o.alive_bypass_window, 0ms, forever);
    if (o.max_pending < 1) reject(p, "max_pending", show(o.max_pending), "must be at least 1 (or unbounded)");
    check_range(p, "housekeeping_interval", o.housekeeping_interval, 100ms, 1h);
    if (o.max_size_ceiling == pool_options::same_as_max_size) o.max_size_ceiling = o.max_size;
    if (o.max_size_ceiling < o.max_size)
        reject(p, "max_size_ceiling", show(o.max_size_ceiling), ("must be at least max_size (" + show(o.max_size) + ")").c_str());
    if (o.max_size_ceiling > 100000) reject(p, "max_size_ceiling", show(o.max_size_ceiling), "must be at most 100000");
    if (o.initialization_fail_timeout.count() < 0) o.initialization_fail_timeout = pool_options::starts_without_waiting;
    if (o.initialization_fail_timeout > 1h)
        reject(p, "initialization_fail_timeout", show(o.initialization_fail_timeout),
               "must be at most 3600000 ms (0: try once; negative: start without waiting)");
    if (to_string(o.on_deadlock) == "unknown")
        reject(p, "on_deadlock", std::to_string(static_cast<int>(o.on_deadlock)),
               "must be ignore, report, heal, fail_fast or abort");
    const std::string at_most_max_size = "must not exceed max_size (" + show(o.max_size) + ")";
    if (o.max_nesting > o.max_size)
        reject(p, "max_nesting", show(o.max_nesting),
               (at_most_max_size + ": a task that holds more than the pool has could never finish").c_str());
    if (o.max_overflow > o.max_size) reject(p, "max_overflow", show(o.max_overflow), at_most_max_size.c_str());
    return o;
}

pool_options with_settings(pool_options next, const pool_options& current, const pool_settings& change) {
    next.name = current.name;  // a default name was drawn once
    next.max_size_ceiling = current.max_size_ceiling;  // the slots were allocated once
    if (change.max_size) {
        if (*change.max_size > current.max_size_ceiling)
            reject(current.name, "max_size", show(*change.max_size),
                   ("must be at most max_size_ceiling (" + show(current.max_size_ceiling) +
                    "), the slots allocated when the pool was made")
                       .c_str());
        next.max_size = *change.max_size;
    }
    if (change.min_idle) next.min_idle = *change.min_idle;
    if (change.acquire_timeout) next.acquire_timeout = *change.acquire_timeout;
    if (change.idle_timeout) next.idle_timeout = *change.idle_timeout;
    if (change.max_lifetime) next.max_lifetime = *change.max_lifetime;
    if (change.leak_detection_threshold) next.leak_detection_threshold = *change.leak_detection_threshold;
    return next;
}

std::string_view to_string(deadlock_policy policy) noexcept {
    switch (policy) {
    case deadlock_policy::ignore: return "ignore";
    case deadlock_policy::report: return "report";
    case deadlock_policy::heal: return "heal";
    case deadlock_policy::fail_fast: return "fail_fast";
    case deadlock_policy::abort: return "abort";
    }
    return "unknown";
}

}  // namespace lifeguard
