// What a HikariCP user watches while the pool hangs: the pool's gauges (HikariCP's
// hikaricp_connections_{active,idle,pending}) and the logins finished, one row every interval.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "console.hpp"
#include "lifeguard/observer.hpp"
#include "load.hpp"

namespace autoid {

class stats_monitor {
public:
    struct peaks {
        std::size_t active = 0;
        std::size_t idle = 0;  ///< the lowest idle seen once logins ran
        std::size_t pending = 0;
    };

    stats_monitor(const lifeguard::pool_view& pool, const load_progress& progress,
                  std::chrono::milliseconds every)
        : pool_(pool), progress_(progress), every_(every), table_(columns()), started_(steady::now()) {
        table_.header();
        sample();
        thread_ = std::thread([this] { loop(); });
    }
    stats_monitor(const stats_monitor&) = delete;
    stats_monitor& operator=(const stats_monitor&) = delete;
    ~stats_monitor() { stop(); }

    /// Stops sampling and prints a last row.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            if (stopped_) return;
            stopped_ = true;
        }
        wake_.notify_all();
        thread_.join();
        sample();
    }

    peaks peak() const {
        std::lock_guard lock(mutex_);
        return peaks_;
    }

private:
    static std::vector<table::column> columns() {
        return {{"time", 6},    {"total", 5},     {"active", 6}, {"idle", 4},
                {"pending", 7}, {"succeeded", 9}, {"failed", 6}, {"logins/s", 8}};
    }

    void loop() {
        std::unique_lock lock(mutex_);
        auto next = started_ + every_;
        while (!wake_.wait_until(lock, next, [this] { return stopped_; })) {
            lock.unlock();
            sample();
            lock.lock();
            next += every_;
        }
    }

    void sample() {
        const auto st = pool_.stats();
        const auto now = steady::now();
        const int ok = progress_.succeeded.load();
        const int failed = progress_.failed.load();
        std::lock_guard lock(mutex_);
        const double dt = std::chrono::duration<double>(now - last_time_).count();
        // Per interval; the last row may come early, but still counts over a whole interval.
        const double span = std::max(dt, std::chrono::duration<double>(every_).count());
        const double rate = samples_ > 0 ? (ok - last_ok_) / span : 0.0;
        peaks_.active = std::max(peaks_.active, st.active);
        peaks_.pending = std::max(peaks_.pending, st.pending);
        peaks_.idle = samples_ == 1 ? st.idle : samples_ > 1 ? std::min(peaks_.idle, st.idle) : peaks_.idle;
        table_.row({seconds(now - started_), std::to_string(st.total), std::to_string(st.active),
                    std::to_string(st.idle), std::to_string(st.pending), std::to_string(ok),
                    std::to_string(failed), fmt::format("{:.1f}", rate)});
        ++samples_;
        last_ok_ = ok;
        last_time_ = now;
    }

    const lifeguard::pool_view& pool_;
    const load_progress& progress_;
    const std::chrono::milliseconds every_;
    table table_;
    const steady::time_point started_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopped_ = false;
    peaks peaks_;
    int samples_ = 0;
    int last_ok_ = 0;
    steady::time_point last_time_{};
    std::thread thread_;
};

}  // namespace autoid
