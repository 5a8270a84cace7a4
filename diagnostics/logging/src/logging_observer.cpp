// logging_observer: formats pool events for spdlog, with per-pool rate limits for failures.
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "lifeguard/logging.hpp"

namespace lifeguard {

namespace {

using std::chrono::nanoseconds;
using level = spdlog::level::level_enum;

double millis(nanoseconds d) {
    return std::chrono::duration<double, std::milli>(d).count();
}
double seconds(nanoseconds d) {
    return std::chrono::duration<double>(d).count();
}

std::string off_or_ms(std::chrono::milliseconds d) {
    return d.count() == 0 || d == forever ? std::string("off") : duration_text(d);
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// First event logged in full, later ones within `interval` counted, the next one after it
// logged as a summary of the count. Guarded by the registry mutex.
struct rate_limiter {
    enum class outcome { full, counted, summary };

    struct verdict {
        outcome what = outcome::full;
        std::uint64_t count = 0;  // events the summary stands for
        nanoseconds span{0};      // how long they took
    };

    verdict admit(nanoseconds now, nanoseconds interval, std::string latest_text) {
        if (interval.count() == 0) return {};
        if (!open) {
            open = true;
            started = now;
            suppressed = 0;
            return {};
        }
        if (now - started < interval) {
            ++suppressed;
            latest = std::move(latest_text);
            return {outcome::counted};
        }
        verdict v{suppressed == 0 ? outcome::full : outcome::summary, suppressed + 1, now - started};
        started = now;
        suppressed = 0;
        return v;
    }

    // Closes the window; returns the events counted but not yet reported (and their span).
    verdict flush(nanoseconds now) {
        verdict v{outcome::summary, suppressed, now - started};
        if (!open || suppressed == 0) v.what = outcome::counted;  // nothing to report
        open = false;
        suppressed = 0;
        return v;
    }

    bool open = false;
    nanoseconds started{0};
    std::uint64_t suppressed = 0;
    std::string latest;
};

enum class failure_kind { connect, timeout, rejected, deadlock, kinds };

// "3 more acquire timeouts", "1 more failure to open a connection".
std::string more(std::uint64_t n, failure_kind k) {
    switch (k) {
        case failure_kind::connect:
            return plural(n, "more failure to open a connection", "more failures to open a connection");
        case failure_kind::timeout:
            return plural(n, "more acquire timeout", "more acquire timeouts");
        case failure_kind::rejected:
            return plural(n, "more acquire rejected by max_pending", "more acquires rejected by max_pending");
        case failure_kind::deadlock:
            return plural(n, "more acquire failed by the deadlock detector",
                          "more acquires failed by the deadlock detector");
        case failure_kind::kinds:
            break;
    }
    return plural(n, "more failure", "more failures");
}

level level_of(failure_kind k) {
    return k == failure_kind::connect ? level::err : level::warn;
}

}  // namespace

struct logging_observer::pool_state {
    rate_limiter limiters[static_cast<std::size_t>(failure_kind::kinds)];
    std::uint64_t connect_streak = 0;  // failed attempts since the last success
};

struct logging_observer::registry {
    std::mutex mutex;
    std::map<std::uint64_t, pool_state> pools;
};

logging_observer::logging_observer(logging_options options)
    : logger_(std::move(options.logger)),
      slow_connect_threshold_(options.slow_connect_threshold),
      summary_interval_(options.summary_interval),
      pools_(std::make_unique<registry>()) {
    if (!logger_) {
        // Constructed directly, never through spdlog's factories: those register the logger.
        logger_ = std::make_shared<spdlog::logger>("lifeguard",
                                                   std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    }
}

logging_observer::~logging_observer() = default;

logging_observer::pool_state& logging_observer::state_of(pool_view& pool) {
    return pools_->pools[pool.id()];
}

void logging_observer::on_attach(pool_view& pool) {
    {
        std::lock_guard lock(pools_->mutex);
        state_of(pool);
    }
    if (!logger_->should_log(level::info)) return;
    const auto& o = pool.options();
    auto target = pool.target();
    if (target.empty()) target = "(undescribed)";
    logger_->info(
        "pool '{}' started: target {}, max_size {}, min_idle {}, acquire_timeout {}, "
        "validation_timeout {}, idle_timeout {}, max_lifetime {}, keepalive_interval {}, "
        "leak_detection_threshold {}, max_pending {}, on_deadlock {}",
        pool.name(), target, o.max_size, o.min_idle, duration_text(o.acquire_timeout), duration_text(o.validation_timeout),
        off_or_ms(o.idle_timeout), off_or_ms(o.max_lifetime), off_or_ms(o.keepalive_interval),
        off_or_ms(o.leak_detection_threshold),
        o.max_pending == pool_options::unbounded ? std::string("unbounded") : std::to_string(o.max_pending),
        to_string(o.on_deadlock));
}

void logging_observer::on_detach(pool_view& pool) {
    struct pending_summary {
        failure_kind kind;
        rate_limiter::verdict v;
        std::string latest;
    };
    std::vector<pending_summary> summaries;
    const auto now = pool.now();
    {
        std::lock_guard lock(pools_->mutex);
        auto it = pools_->pools.find(pool.id());
        if (it != pools_->pools.end()) {
            for (std::size_t k = 0; k < static_cast<std::size_t>(failure_kind::kinds); ++k) {
                auto& limiter = it->second.limiters[k];
                auto v = limiter.flush(now);
                if (v.what == rate_limiter::outcome::summary)
                    summaries.push_back({static_cast<failure_kind>(k), v, std::move(limiter.latest)});
            }
            pools_->pools.erase(it);
        }
    }
    for (const auto& s : summaries)
        logger_->log(level_of(s.kind), "pool '{}': {} in the last {:.1f} s; latest: {}", pool.name(),
                     more(s.v.count, s.kind), seconds(s.v.span), s.latest);
    if (!logger_->should_log(level::info)) return;
    const auto s = pool.stats();
    logger_->info(
        "pool '{}' stopped: acquired {}, timeouts {}, rejected {}, connections opened {}, "
        "connect failures {}, leaks {}, deadlocks {}, nested acquisitions {}",
        pool.name(), s.acquired, s.timeouts, s.rejected, s.created, s.connect_failures, s.leaks, s.deadlocks,
        s.nested_acquisitions);
}

void logging_observer::on_block(pool_view& pool, const wait_info& waiter) {
    if (!logger_->should_log(level::debug)) return;
    logger_->debug("pool '{}': {} waits for a connection at {} ({} waiting)", pool.name(),
                   describe_owner(waiter.owner, waiter.owner_label), describe_site(waiter.site),
                   pool.stats().pending);
}

void logging_observer::on_unblock(pool_view& pool, const wait_info& waiter) {
    if (!logger_->should_log(level::trace)) return;
    logger_->trace("pool '{}': {} left the wait queue after {:.3f} ms", pool.name(),
                   describe_owner(waiter.owner, waiter.owner_label), millis(pool.now() - waiter.since));
}

void logging_observer::on_acquired(pool_view& pool, const lease_info& lease, nanoseconds waited) {
    const auto lvl = waited.count() > 0 ? level::debug : level::trace;
    if (!logger_->should_log(lvl)) return;
    logger_->log(lvl, "pool '{}': lease {} to {} at {} after waiting {:.3f} ms", pool.name(), lease.lease_id,
                 describe_owner(lease.owner, {}), describe_site(lease.site), millis(waited));
}

void logging_observer::on_release(pool_view& pool, const lease_info& lease, nanoseconds held) {
    if (!logger_->should_log(level::trace)) return;
    logger_->trace("pool '{}': lease {} returned by {} after {:.3f} ms", pool.name(), lease.lease_id,
                   describe_owner(lease.owner, {}), millis(held));
}

void logging_observer::on_acquire_failed(pool_view& pool, pool_diagnostics& diagnostics) {
    failure_kind kind;
    if (diagnostics.code == errc::timeout)
        kind = failure_kind::timeout;
    else if (diagnostics.code == errc::pending_limit)
        kind = failure_kind::rejected;
    else if (diagnostics.code == errc::deadlock)
        kind = failure_kind::deadlock;
    else {
        // pool_closed is the expected end of waiting at shutdown; anything else is unexpected.
        const auto lvl = diagnostics.code == errc::pool_closed ? level::debug : level::warn;
        if (logger_->should_log(lvl)) logger_->log(lvl, "{}", diagnostics.summary());
        return;
    }
    if (!logger_->should_log(level_of(kind))) return;

    auto line = diagnostics.summary();
    rate_limiter::verdict v;
    {
        std::lock_guard lock(pools_->mutex);
        v = state_of(pool).limiters[static_cast<std::size_t>(kind)].admit(pool.now(), summary_interval_,
                                                                          line);
    }
    switch (v.what) {
        case rate_limiter::outcome::counted:
            return;
        case rate_limiter::outcome::summary:
            logger_->log(level_of(kind), "pool '{}': {} in the last {:.1f} s; latest: {}", pool.name(),
                         more(v.count, kind), seconds(v.span), line);
            return;
        case rate_limiter::outcome::full:
            // A timeout gets the whole snapshot (holders and detail), like HikariCP's logPoolState;
            // the deadlock report itself is logged by the detector.
            if (kind == failure_kind::timeout)
                logger_->warn("{}", diagnostics.to_string());
            else
                logger_->log(level_of(kind), "{}", line);
            return;
    }
}

void logging_observer::on_connection_created(pool_view& pool, nanoseconds took) {
    rate_limiter::verdict pending;
    std::uint64_t streak = 0;
    std::string latest;
    {
        std::lock_guard lock(pools_->mutex);
        auto& state = state_of(pool);
        if (state.connect_streak != 0) {
            auto& limiter = state.limiters[static_cast<std::size_t>(failure_kind::connect)];
            pending = limiter.flush(pool.now());
            latest = std::move(limiter.latest);
            streak = std::exchange(state.connect_streak, 0);
        }
    }
    if (pending.what == rate_limiter::outcome::summary)
        logger_->error("pool '{}': {} in the last {:.1f} s; latest: {}", pool.name(),
                       more(pending.count, failure_kind::connect), seconds(pending.span), latest);
    if (streak != 0)
        logger_->info("pool '{}': connected again after {}", pool.name(),
                      plural(streak, "failed attempt", "failed attempts"));

    if (slow_connect_threshold_.count() > 0 && took > slow_connect_threshold_) {
        logger_->warn("pool '{}': opening a connection took {:.1f} ms (slow_connect_threshold {:.0f} ms)",
                      pool.name(), millis(took), millis(slow_connect_threshold_));
    } else if (logger_->should_log(level::debug)) {
        logger_->debug("pool '{}': opened a connection in {:.3f} ms", pool.name(), millis(took));
    }
}

void logging_observer::on_connect_failed(pool_view& pool, std::string_view error) {
    const std::string text(error);
    rate_limiter::verdict v;
    {
        std::lock_guard lock(pools_->mutex);
        auto& state = state_of(pool);
        ++state.connect_streak;
        v = state.limiters[static_cast<std::size_t>(failure_kind::connect)].admit(pool.now(),
                                                                                  summary_interval_, text);
    }
    switch (v.what) {
        case rate_limiter::outcome::counted:
            return;
        case rate_limiter::outcome::summary:
            logger_->error("pool '{}': {} in the last {:.1f} s; latest: {}", pool.name(),
                           more(v.count, failure_kind::connect), seconds(v.span), text);
            return;
        case rate_limiter::outcome::full: {
            auto target = pool.target();
            if (target.empty()) target = "(undescribed)";
            logger_->error("pool '{}': cannot open a connection to {}: {}", pool.name(), target, text);
            return;
        }
    }
}

void logging_observer::on_connection_closed(pool_view& pool, close_reason why) {
    if (!logger_->should_log(level::debug)) return;
    logger_->debug("pool '{}': closed a connection ({})", pool.name(), to_string(why));
}

void logging_observer::on_leak(pool_view& pool, const holder_info& holder) {
    logger_->warn(
        "pool '{}': apparent connection leak: {} has held a lease taken at {} for {:.0f} ms "
        "(leak_detection_threshold {} ms)",
        pool.name(), describe_owner(holder.owner, holder.owner_label), describe_site(holder.site),
        millis(holder.age), pool.options().leak_detection_threshold.count());
}

void logging_observer::on_clock_leap(pool_view& pool, nanoseconds leap) {
    logger_->warn("pool '{}': the pool clock jumped {} by {:.0f} ms", pool.name(),
                  leap.count() > 0 ? "forward" : "backward", millis(leap.count() > 0 ? leap : -leap));
}

std::shared_ptr<logging_observer> make_logging_observer(logging_options options) {
    return std::make_shared<logging_observer>(std::move(options));
}

}  // namespace lifeguard
