// initialization_fail_timeout: the pool's constructor opens its first connection itself, on the
// constructing thread, before the worker starts (HikariCP's fail-fast check).
//
// Each attempt is a connect (deadline: acquire_timeout, or the budget left if less, but at least
// 1 s) and a validation. With a budget of 0 one attempt is made; with a positive budget
// attempts are retried after a backoff of 10 ms doubling to 1 s until the budget (measured on
// the pool's clock) is spent. Then startup_error carries the last error. The backoff is a real
// sleep whatever the pool's clock (a manual test clock only decides when the budget is spent).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "lifeguard/detail/clock.hpp"
#include "lifeguard/detail/saturating_time.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/options.hpp"
#include "lifeguard/startup.hpp"

namespace lifeguard::detail {

inline constexpr std::int64_t startup_backoff_min_ns = 10'000'000;
inline constexpr std::int64_t startup_backoff_max_ns = 1'000'000'000;
inline constexpr std::chrono::milliseconds startup_attempt_floor{1000};

/// One attempt: a connection that opened and passed validation, or the reason it did not.
template <class Driver>
std::optional<typename Driver::connection_type> try_first_connection(Driver& driver, const pool_options& o,
                                                                     std::chrono::steady_clock::time_point deadline,
                                                                     std::string& error) {
    try {
        auto c = driver.connect(deadline);
        if (driver.is_valid(c, o.validation_timeout)) return c;
        driver.close(c);
        error = "the new connection failed validation";
    } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "connect failed (no message)";
    } catch (...) {
        error = "connect failed with a non-standard exception";
    }
    return std::nullopt;
}

/// The startup_error for `attempts` failed attempts over `waited` ns, the last failing with `error`.
inline startup_error startup_failure(const pool_options& o, int attempts, std::int64_t waited, const std::string& error) {
    auto d = std::make_shared<pool_diagnostics>();
    d->pool_name = o.name;
    d->code = make_error_code(errc::timeout);
    d->what = verdict::database_unreachable;
    d->waited = std::chrono::nanoseconds(waited);
    d->last_connect_error = error;
    d->detail = "initialization_fail_timeout = " + duration_text(o.initialization_fail_timeout);
    return startup_error(std::move(d), "lifeguard: pool '" + o.name +
                                           "': no connection opened within initialization_fail_timeout (" +
                                           duration_text(o.initialization_fail_timeout) + ", " + std::to_string(attempts) +
                                           (attempts == 1 ? " attempt" : " attempts") + "): " + error);
}

/// Opens and validates the pool's first connection within o.initialization_fail_timeout (>= 0),
/// or throws startup_error. No attempt starts once the budget is spent; one started near its end
/// has at least `startup_attempt_floor` (or acquire_timeout if shorter) to finish, so that the
/// error reported is the server's answer rather than a cut-short connect.
template <class Driver, class Clock>
typename Driver::connection_type open_first_connection(Driver& driver, const Clock& clock, const pool_options& o) {
    using std::chrono::milliseconds;
    const std::int64_t began = precise_now(clock);
    const std::int64_t budget_ns = to_ns(o.initialization_fail_timeout);
    const std::int64_t give_up_at = add_ns(began, budget_ns);
    std::int64_t backoff = 0;
    std::string error;
    for (int attempts = 1;; ++attempts) {
        const auto left = std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds(give_up_at - precise_now(clock)));
        const auto per_attempt = std::min(o.acquire_timeout, budget_ns == 0 ? o.acquire_timeout : std::max(left, startup_attempt_floor));
        const auto deadline = deadline_after<std::chrono::steady_clock>(std::chrono::steady_clock::now(), per_attempt);
        if (auto c = try_first_connection(driver, o, deadline, error)) return std::move(*c);
        std::int64_t now = precise_now(clock);
        if (budget_ns == 0 || now >= give_up_at) throw startup_failure(o, attempts, now - began, error);
        backoff = backoff == 0 ? startup_backoff_min_ns : std::min(backoff * 2, startup_backoff_max_ns);
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(backoff, give_up_at - now)));
        now = precise_now(clock);
        if (now >= give_up_at) throw startup_failure(o, attempts, now - began, error);
    }
}

}  // namespace lifeguard::detail
