// Test helpers for the detector on real pools: an observer that records the failures it hears
// of, an observer that lets a test wait until given
// callers have blocked (attached after the detector, so when it hears of a block the detector's
// own check of that block is over), and a collector of detector reports to wait on. No sleeps:
// everything waits on condition variables for events that must happen.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/observer.hpp"

namespace lifeguard::testing {

/// Records what on_acquire_failed saw, as a metrics or logging observer would.
class failure_recorder final : public pool_observer {
public:
    void on_acquire_failed(pool_view&, pool_diagnostics& d) override {
        std::lock_guard lock(mutex_);
        seen_.push_back(d);
    }
    std::vector<pool_diagnostics> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<pool_diagnostics> seen_;
};

class block_events final : public pool_observer {
public:
    struct block {
        std::string pool;
        owner_id owner;
        unsigned line;
    };

    void on_block(pool_view& p, const wait_info& w) override {
        std::lock_guard lock(mutex_);
        blocks_.push_back({p.name(), w.owner, w.site.line()});
        cv_.notify_all();
    }

    /// Waits until `n` blocks satisfy `pred`.
    void wait_for(std::size_t n, const std::function<bool(const block&)>& pred) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] {
            std::size_t c = 0;
            for (const auto& b : blocks_) c += pred(b);
            return c >= n;
        });
    }
    void wait_for_owner(owner_id owner, const std::string& pool) {
        wait_for(1, [&](const block& b) { return b.owner == owner && b.pool == pool; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<block> blocks_;
};

class report_collector {
public:
    std::function<void(const diagnostics::report&)> callback() {
        return [this](const diagnostics::report& r) {
            std::lock_guard lock(mutex_);
            reports_.push_back(r);
            cv_.notify_all();
        };
    }

    /// Waits for the first report of `kind` and returns it. The bound only turns a report that
    /// never comes (a broken detector) into a failure instead of a hang; nothing is timed.
    diagnostics::report wait_for(diagnostics::report_kind kind) {
        std::unique_lock lock(mutex_);
        const diagnostics::report* found = nullptr;
        const bool came = cv_.wait_for(lock, std::chrono::minutes(2), [&] {
            for (const auto& r : reports_)
                if (r.kind == kind) return (found = &r) != nullptr;
            return false;
        });
        if (!came) {
            std::fprintf(stderr, "report_collector: no report of the awaited kind came within 2 minutes\n");
            std::abort();  // threads of the test still wait: end the process, do not hang
        }
        return *found;
    }

    std::vector<diagnostics::report> of(diagnostics::report_kind kind) const {
        std::lock_guard lock(mutex_);
        std::vector<diagnostics::report> out;
        for (const auto& r : reports_)
            if (r.kind == kind) out.push_back(r);
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<diagnostics::report> reports_;
};

/// A one-shot gate threads can wait on (std::latch cannot be reopened or queried).
class gate {
public:
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

}  // namespace lifeguard::testing
