// The observers attached to one pool, seen by the pool as a single pointer: null when none
// (one predictable branch on the hot path), the observer itself when one, a fan-out when
// several. Attaching builds a new fan-out; old ones stay alive until the pool dies, because a
// thread may still be calling through them.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "lifeguard/observer.hpp"

namespace lifeguard::detail {

class observer_fanout final : public pool_observer {
public:
    explicit observer_fanout(std::vector<pool_observer*> targets) : targets_(std::move(targets)) {}

    void on_attach(pool_view& p) override { for (auto* t : targets_) t->on_attach(p); }
    void on_detach(pool_view& p) override { for (auto* t : targets_) t->on_detach(p); }
    void on_acquire_start(pool_view& p, owner_id o, const std::source_location& s) override {
        for (auto* t : targets_) t->on_acquire_start(p, o, s);
    }
    void on_block(pool_view& p, const wait_info& w) override { for (auto* t : targets_) t->on_block(p, w); }
    void on_unblock(pool_view& p, const wait_info& w) override { for (auto* t : targets_) t->on_unblock(p, w); }
    void on_acquired(pool_view& p, const lease_info& l, std::chrono::nanoseconds w) override {
        for (auto* t : targets_) t->on_acquired(p, l, w);
    }
    void on_release(pool_view& p, const lease_info& l, std::chrono::nanoseconds h) override {
        for (auto* t : targets_) t->on_release(p, l, h);
    }
    /// Every target is asked (an explanation may be state it must drop); the first answer wins.
    std::optional<failure_explanation> explain_acquire_failure(pool_view& p, const pool_diagnostics& d) override {
        std::optional<failure_explanation> first;
        for (auto* t : targets_)
            if (auto e = t->explain_acquire_failure(p, d); e && !first) first = std::move(e);
        return first;
    }
    void on_acquire_failed(pool_view& p, pool_diagnostics& d) override {
        for (auto* t : targets_) t->on_acquire_failed(p, d);
    }
    void on_connection_created(pool_view& p, std::chrono::nanoseconds took) override {
        for (auto* t : targets_) t->on_connection_created(p, took);
    }
    void on_connect_failed(pool_view& p, std::string_view e) override {
        for (auto* t : targets_) t->on_connect_failed(p, e);
    }
    void on_connection_closed(pool_view& p, close_reason r) override {
        for (auto* t : targets_) t->on_connection_closed(p, r);
    }
    void on_leak(pool_view& p, const holder_info& h) override { for (auto* t : targets_) t->on_leak(p, h); }
    void on_clock_leap(pool_view& p, std::chrono::nanoseconds leap) override {
        for (auto* t : targets_) t->on_clock_leap(p, leap);
    }

private:
    std::vector<pool_observer*> targets_;
};

class observer_list {
public:
    /// Adds `o`; returns what the pool should call from now on. Not thread-safe: the pool
    /// serialises calls.
    pool_observer* add(std::shared_ptr<pool_observer> o) {
        owned_.push_back(std::move(o));
        if (owned_.size() == 1) return owned_.front().get();
        std::vector<pool_observer*> targets;
        for (auto& x : owned_) targets.push_back(x.get());
        fanouts_.push_back(std::make_unique<observer_fanout>(std::move(targets)));
        return fanouts_.back().get();
    }

    const std::vector<std::shared_ptr<pool_observer>>& all() const noexcept { return owned_; }

private:
    std::vector<std::shared_ptr<pool_observer>> owned_;
    std::vector<std::unique_ptr<observer_fanout>> fanouts_;
};

}  // namespace lifeguard::detail
