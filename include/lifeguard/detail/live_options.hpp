// The options of a running pool, changeable by reconfigure() without a data race.
//
// Every version is validated, immutable once published and kept until the pool is destroyed
// (a few hundred bytes per reconfigure() call): readers load one atomic pointer and may keep the
// reference they got (pool_view::options() hands it to observers), while reconfigure() publishes
// the next version. Only reconfigure() writes, under the pool's mutex.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "lifeguard/options.hpp"

namespace lifeguard::detail {

class live_options {
public:
    /// `requested`: what the pool was made with (its defaults keep following their options).
    explicit live_options(const pool_options& requested)
        : requested_(requested), current_(keep(validated(requested))) {}

    live_options(const live_options&) = delete;
    live_options& operator=(const live_options&) = delete;

    /// The version in force now. Lock-free; the reference stays valid for the pool's life.
    const pool_options& current() const noexcept { return *current_.load(std::memory_order_acquire); }

    /// Validates `change` against the version in force and, if it passes, publishes the result
    /// (caller holds the pool's mutex). Throws options_error and changes nothing otherwise.
    const pool_options& apply(const pool_settings& change) {
        pool_options next_requested = with_settings(requested_, current(), change);
        const pool_options* next = keep(validated(next_requested));
        requested_ = std::move(next_requested);
        current_.store(next, std::memory_order_release);
        return *next;
    }

private:
    const pool_options* keep(pool_options o) {
        versions_.push_back(std::make_unique<const pool_options>(std::move(o)));
        return versions_.back().get();
    }

    std::vector<std::unique_ptr<const pool_options>> versions_;
    pool_options requested_;
    std::atomic<const pool_options*> current_;
};

}  // namespace lifeguard::detail
