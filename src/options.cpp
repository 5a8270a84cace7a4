// Validation of pool_options: every rule in one place, each failure naming field, value, rule.
#include <atomic>
#include <string>

#include "lifeguard/errors.hpp"
#include "lifeguard/options.hpp"

namespace lifeguard {
namespace {

using std::chrono::milliseconds;

std::string show(milliseconds d) { return std::to_string(d.count()) + " ms"; }
std::string show(std::size_t n) {
    return n == pool_options::unbounded ? std::string("unbounded") : std::to_string(n);
}

[[noreturn]] void reject(const std::string& pool, const char* field, const std::string& value, const char* rule) {
    throw options_error("lifeguard: pool '" + pool + "': option " + field + " = " + value + " is invalid: " + rule);
}

void check_name(const std::string& name) {
    if (name.size() > 64) reject(name.substr(0, 64) + "...", "name", "(" + std::to_string(name.size()) + " characters)", "at most 64 characters");
    for (char c : name) {
        if (c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\')
            reject("?", "name", "\"" + name + "\"", "printable ASCII without spaces, quotes or backslashes");
    }
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
    if (o.acquire_timeout < milliseconds(250)) reject(p, "acquire_timeout", show(o.acquire_timeout), "must be at least 250 ms");
    if (o.validation_timeout < milliseconds(250))
        reject(p, "validation_timeout", show(o.validation_timeout), "must be at least 250 ms");
    if (o.validation_timeout >= o.acquire_timeout)
        reject(p, "validation_timeout", show(o.validation_timeout),
               ("must be less than acquire_timeout (" + show(o.acquire_timeout) + ")").c_str());
    if (o.max_lifetime.count() < 0 || (o.max_lifetime.count() > 0 && o.max_lifetime < milliseconds(30000)))
        reject(p, "max_lifetime", show(o.max_lifetime), "must be 0 (forever) or at least 30000 ms");
    if (o.idle_timeout.count() < 0 || (o.idle_timeout.count() > 0 && o.idle_timeout < milliseconds(10000)))
        reject(p, "idle_timeout", show(o.idle_timeout), "must be 0 (never) or at least 10000 ms");
    if (o.keepalive_interval.count() < 0 || (o.keepalive_interval.count() > 0 && o.keepalive_interval < milliseconds(30000)))
        reject(p, "keepalive_interval", show(o.keepalive_interval), "must be 0 (off) or at least 30000 ms");
    if (o.leak_detection_threshold.count() < 0 ||
        (o.leak_detection_threshold.count() > 0 && o.leak_detection_threshold < milliseconds(2000)))
        reject(p, "leak_detection_threshold", show(o.leak_detection_threshold), "must be 0 (off) or at least 2000 ms");
    if (o.alive_bypass_window.count() < 0)
        reject(p, "alive_bypass_window", show(o.alive_bypass_window), "must not be negative");
    if (o.max_pending < 1) reject(p, "max_pending", show(o.max_pending), "must be at least 1 (or unbounded)");
    if (o.housekeeping_interval < milliseconds(100))
        reject(p, "housekeeping_interval", show(o.housekeeping_interval), "must be at least 100 ms");
    switch (o.on_deadlock) {
    case deadlock_policy::ignore:
    case deadlock_policy::report:
    case deadlock_policy::fail_fast:
    case deadlock_policy::abort: break;
    default: reject(p, "on_deadlock", std::to_string(static_cast<int>(o.on_deadlock)), "must be ignore, report, fail_fast or abort");
    }
    return o;
}

}  // namespace lifeguard
