// pool_health: the verdict rule (health.hpp) and the JSON a readiness endpoint serves.
#include <cstdio>
#include <string>

#include "lifeguard/detail/health_window.hpp"
#include "lifeguard/detail/saturating_time.hpp"
#include "lifeguard/health.hpp"

namespace lifeguard {
namespace {

std::string ms_text(std::chrono::nanoseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.count()) / 1e6);
    return buf;
}

std::string seconds_text(std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

// A JSON string literal: quotes, backslashes and control characters escaped.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string ms_or_null(const std::optional<std::chrono::nanoseconds>& d) { return d ? ms_text(*d) : "null"; }

}  // namespace

std::string_view to_string(health_verdict v) noexcept {
    switch (v) {
    case health_verdict::healthy: return "healthy";
    case health_verdict::degraded: return "degraded";
    case health_verdict::down: return "down";
    }
    return "unknown";
}

std::string to_json(const pool_health& h) {
    std::string j = "{";
    const auto field = [&](const char* name, const std::string& value) {
        if (j.size() > 1) j += ',';
        j += quoted(name);
        j += ':';
        j += value;
    };
    const auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    field("pool", quoted(h.pool_name));
    field("verdict", quoted(to_string(h.verdict)));
    field("reason", quoted(h.reason));
    field("closed", flag(h.closed));
    field("suspended", flag(h.suspended));
    field("since_last_connect_ms", ms_or_null(h.since_last_connect));
    field("since_last_failure_ms", ms_or_null(h.since_last_failure));
    field("last_error", quoted(h.last_error));
    field("down_for_ms", ms_or_null(h.down_for));
    field("failures_in_a_row", std::to_string(h.failures_in_a_row));
    field("open", std::to_string(h.open));
    field("idle", std::to_string(h.idle));
    field("active", std::to_string(h.active));
    field("max_size", std::to_string(h.max_size));
    field("pending", std::to_string(h.pending));
    field("window_ms", ms_text(h.window));
    field("queued_in_window", std::to_string(h.queued_in_window));
    field("p99_queued_wait_ms", ms_text(h.p99_queued_wait));
    field("timeouts_in_window", std::to_string(h.timeouts_in_window));
    return j + "}";
}

namespace detail {

void judge(pool_health& h, std::int64_t acquire_timeout_ns) {
    const auto set = [&](health_verdict v, std::string why) {
        h.verdict = v;
        h.reason = std::move(why);
    };
    if (h.closed) return set(health_verdict::down, "the pool is closed");
    if (h.open == 0 && h.down_for)
        return set(health_verdict::down, "no connection open, and connecting fails for " + seconds_text(*h.down_for) +
                                             ": " + h.last_error);
    if (h.suspended) return set(health_verdict::degraded, "the pool is suspended: acquires wait until resume()");
    if (h.down_for)
        return set(health_verdict::degraded, "connecting fails for " + seconds_text(*h.down_for) + " (" +
                                                 std::to_string(h.open) + " connections still open): " + h.last_error);
    if (h.timeouts_in_window > 0)
        return set(health_verdict::degraded, std::to_string(h.timeouts_in_window) + " acquires timed out in the last " +
                                                 seconds_text(h.window));
    if (acquire_timeout_ns != ns_max && h.queued_in_window > 0 && h.p99_queued_wait.count() >= acquire_timeout_ns / 2)
        return set(health_verdict::degraded, "p99 wait of queued acquires " + ms_text(h.p99_queued_wait) +
                                                 " ms, half the acquire_timeout or more");
    set(health_verdict::healthy, "serving");
}

}  // namespace detail
}  // namespace lifeguard
