// The load generator: N concurrent logins on N threads, released together, each timed and its
// failure classified; and the k6-style numbers of a run (requests, throughput, p95, errors).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <exception>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "lifeguard/errors.hpp"
#include "login_service.hpp"

namespace autoid {

using steady = std::chrono::steady_clock;

struct login_result {
    int number = 0;  ///< 1-based: "login 7"
    bool ok = false;
    std::string error;      ///< "timeout", "deadlock", "pool closed", "database", "other"; empty when ok
    std::string verdict;    ///< the pool's verdict when a pool_error ended it ("exhausted", "deadlocked")
    std::string message;    ///< what() of the failure (drivers and pools never put passwords there)
    std::string failed_at;  ///< the stage it was in ("connection #1", "connection #2", ...)
    std::shared_ptr<const lifeguard::pool_diagnostics> diagnostics;  ///< of a pool_error
    login_trace trace;
    steady::time_point finished{};
    std::chrono::nanoseconds latency{0};
};

/// Live counters for a monitor that prints while the logins run.
struct load_progress {
    std::atomic<int> succeeded{0};
    std::atomic<int> failed{0};
};

struct load_result {
    std::vector<login_result> logins;
    steady::time_point started{};
    std::chrono::nanoseconds wall{0};

    int succeeded() const {
        return static_cast<int>(std::ranges::count_if(logins, [](const auto& l) { return l.ok; }));
    }
    int failed() const { return static_cast<int>(logins.size()) - succeeded(); }

    /// Successful logins per second of the whole run.
    double throughput() const {
        const double s = std::chrono::duration<double>(wall).count();
        return s > 0 ? succeeded() / s : 0.0;
    }

    /// Nearest-rank percentile of all logins' latencies (failed ones included, as k6 does).
    std::chrono::nanoseconds percentile(double p) const {
        if (logins.empty()) return {};
        std::vector<std::chrono::nanoseconds> v;
        for (const auto& l : logins) v.push_back(l.latency);
        std::ranges::sort(v);
        const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
        return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
    }
    std::chrono::nanoseconds average() const {
        if (logins.empty()) return {};
        std::chrono::nanoseconds sum{0};
        for (const auto& l : logins) sum += l.latency;
        return sum / static_cast<long>(logins.size());
    }
    std::chrono::nanoseconds max() const {
        std::chrono::nanoseconds m{0};
        for (const auto& l : logins) m = std::max(m, l.latency);
        return m;
    }

    std::map<std::string, int> errors() const {
        std::map<std::string, int> m;
        for (const auto& l : logins)
            if (!l.ok) ++m[l.error];
        return m;
    }
    std::map<std::string, int> verdicts() const {
        std::map<std::string, int> m;
        for (const auto& l : logins)
            if (!l.ok && !l.verdict.empty()) ++m[l.verdict];
        return m;
    }
    /// Logins that succeeded before the first one failed: during a pool deadlock, none.
    int succeeded_before_first_failure() const {
        std::optional<steady::time_point> first_failure;
        for (const auto& l : logins)
            if (!l.ok && (!first_failure || l.finished < *first_failure)) first_failure = l.finished;
        if (!first_failure) return succeeded();
        return static_cast<int>(std::ranges::count_if(
            logins, [&](const auto& l) { return l.ok && l.finished < *first_failure; }));
    }
};

/// Runs `login(number, trace)` for numbers 1..n, each on its own thread, all released at once.
/// Each login runs with its own lifeguard owner labelled "login N", so reports name requests.
template <class Login>
load_result run_logins(int n, Login login, load_progress* progress = nullptr) {
    load_result result;
    result.logins.resize(static_cast<std::size_t>(n));
    std::latch ready(n + 1);
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            login_result& r = result.logins[static_cast<std::size_t>(i)];
            r.number = i + 1;
            ready.arrive_and_wait();
            const auto t0 = steady::now();
            try {
                lifeguard::owner_scope request("login " + std::to_string(r.number));
                login(r.number, r.trace);
                r.ok = true;
            } catch (const lifeguard::diagnostics::deadlock_error& e) {
                r.error = "deadlock";
                r.verdict = std::string(lifeguard::to_string(e.diagnostics().what));
                r.message = e.what();
                r.diagnostics = std::make_shared<lifeguard::pool_diagnostics>(e.diagnostics());
            } catch (const lifeguard::pool_error& e) {
                const auto& d = e.diagnostics();
                r.error = d.code == lifeguard::errc::timeout       ? "timeout"
                          : d.code == lifeguard::errc::pool_closed ? "pool closed"
                                                                   : d.code.message();
                r.verdict = std::string(lifeguard::to_string(d.what));
                r.message = e.what();
                r.diagnostics = std::make_shared<lifeguard::pool_diagnostics>(d);
            } catch (const std::exception& e) {
                r.error = "database";
                r.message = e.what();
            } catch (...) {
                r.error = "other";
                r.message = "unknown exception";
            }
            r.finished = steady::now();
            r.latency = r.finished - t0;
            if (!r.ok) r.failed_at = to_string(r.trace.at);
            if (progress) (r.ok ? progress->succeeded : progress->failed).fetch_add(1);
        });
    }
    result.started = steady::now();
    ready.arrive_and_wait();
    for (auto& t : threads) t.join();
    result.wall = steady::now() - result.started;
    return result;
}

}  // namespace autoid
