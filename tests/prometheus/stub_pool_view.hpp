// A pool_view whose answers the test sets by hand, for driving observers without a pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lifeguard/observer.hpp"

namespace lifeguard::testing {

class stub_pool_view final : public pool_view {
public:
    explicit stub_pool_view(std::string name, pool_options options = {})
        : name_(std::move(name)), options_(std::move(options)) {
        options_.name = name_;
        if (options_.min_idle == pool_options::same_as_max_size) options_.min_idle = options_.max_size;
        snapshot.max = options_.max_size;
        snapshot.min = options_.min_idle;
    }

    std::uint64_t id() const noexcept override { return id_; }
    const std::string& name() const noexcept override { return name_; }
    const pool_options& options() const noexcept override { return options_; }
    pool_stats stats() const noexcept override { return snapshot; }
    std::chrono::nanoseconds now() const noexcept override { return now_value; }
    std::vector<holder_info> holders() const override { return holder_list; }
    std::vector<wait_info> waiters() const override { return {}; }
    bool has_room() const noexcept override { return false; }
    bool fail_waiter(owner_id, std::error_code, std::exception_ptr) override { return false; }
    void count_deadlock() noexcept override { ++snapshot.deadlocks; }
    void count_nested_acquisition() noexcept override { ++snapshot.nested_acquisitions; }
    std::string target() const override { return target_text; }

    // Test knobs: `snapshot` is what stats() returns; `now_value` is the clock.
    pool_stats snapshot;
    std::chrono::nanoseconds now_value{0};
    std::string target_text;
    std::vector<holder_info> holder_list;

private:
    static std::uint64_t next_id() {
        static std::atomic<std::uint64_t> next{1'000'000};
        return next.fetch_add(1);
    }
    std::uint64_t id_ = next_id();
    std::string name_;
    pool_options options_;
};

}  // namespace lifeguard::testing
