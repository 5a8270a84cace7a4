// A pool_view whose state the test scripts step by step, calling its observer the way
// basic_pool does (acquire_start, block after queueing, unblock before acquired, release), so
// the detector's logic can be tested on one thread with exact states: no timing, no races.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "lifeguard/observer.hpp"

namespace lifeguard::testing {

class scripted_pool final : public pool_view {
public:
    scripted_pool(std::string name, std::size_t max_size, deadlock_policy policy,
                  std::shared_ptr<pool_observer> observer)
        : observer_(std::move(observer)) {
        static std::uint64_t next_id = 1000;
        id_ = next_id++;
        options_.name = std::move(name);
        options_.max_size = max_size;
        options_.min_idle = max_size;
        options_.on_deadlock = policy;
        observer_->on_attach(*this);
    }
    ~scripted_pool() { detach(); }

    void detach() {
        if (observer_) observer_->on_detach(*this);
        observer_.reset();
    }

    struct failure {
        owner_id owner;
        std::error_code ec;
        std::exception_ptr exception;
    };

    // ---- what the test does

    /// An acquire that finds a free connection. Returns the lease id.
    std::uint64_t take(owner_id owner, std::source_location site = std::source_location::current()) {
        observer_->on_acquire_start(*this, owner, site);
        if (holders_.size() >= options_.max_size) throw std::logic_error("scripted_pool: no free connection");
        return hand(owner, site, std::chrono::nanoseconds(0));
    }

    /// An acquire that finds nothing and waits (on_block is called as the real pool does).
    /// Returns false when an observer failed it at once.
    bool wait(owner_id owner, std::source_location site = std::source_location::current()) {
        observer_->on_acquire_start(*this, owner, site);
        waiters_.push_back({owner, {}, site, now_});
        observer_->on_block(*this, waiters_.back());
        return std::ranges::any_of(waiters_, [&](const wait_info& w) { return w.owner == owner; });
    }

    /// A wait the observer never hears about (as if it was attached after the caller queued).
    void wait_unseen(owner_id owner, std::source_location site = std::source_location::current()) {
        waiters_.push_back({owner, {}, site, now_});
    }

    /// Serves the oldest wait of `owner` with a connection (a hand-off). Returns the lease id.
    std::uint64_t serve(owner_id owner) {
        auto it = std::ranges::find(waiters_, owner, &wait_info::owner);
        if (it == waiters_.end()) throw std::logic_error("scripted_pool: not waiting");
        const wait_info w = *it;
        waiters_.erase(it);
        observer_->on_unblock(*this, w);
        return hand(owner, w.site, now_ - w.since);
    }

    /// The wait of `owner` ends without a connection (timeout); on_acquire_failed is called
    /// with a timeout diagnostics object, which is returned.
    pool_diagnostics time_out(owner_id owner) {
        auto it = std::ranges::find(waiters_, owner, &wait_info::owner);
        if (it == waiters_.end()) throw std::logic_error("scripted_pool: not waiting");
        const wait_info w = *it;
        waiters_.erase(it);
        observer_->on_unblock(*this, w);
        return failed(w, make_error_code(errc::timeout));
    }

    /// Finishes a wait that fail_waiter ended (what the real pool's waiter does when it wakes).
    pool_diagnostics finish_failed(owner_id owner) {
        auto it = std::ranges::find(failed_, owner, &failure::owner);
        if (it == failed_.end()) throw std::logic_error("scripted_pool: not failed");
        const wait_info w{owner, {}, std::source_location{}, now_};
        observer_->on_unblock(*this, w);
        return failed(w, it->ec);
    }

    void give_back(std::uint64_t lease_id) {
        auto it = std::ranges::find(holders_, lease_id, &held::lease);
        if (it == holders_.end()) throw std::logic_error("scripted_pool: no such lease");
        const held h = *it;
        holders_.erase(it);
        observer_->on_release(*this, {h.lease, h.owner, h.site, h.at}, now_ - h.at);
    }

    /// Runs `f` inside each holders() read until it returns true: what the pool does while an
    /// observer is in the middle of reading it.
    void during_holders_reads(std::function<bool(scripted_pool&)> f) { during_holders_read_ = std::move(f); }

    /// A hand-off observers have not heard of yet (a real pool tells them after the new holder
    /// has stamped the lease): lease `lease_id` goes back and the oldest wait of `to` gets it.
    void pass_silently(std::uint64_t lease_id, owner_id to) {
        auto h = std::ranges::find(holders_, lease_id, &held::lease);
        auto w = std::ranges::find(waiters_, to, &wait_info::owner);
        if (h == holders_.end() || w == waiters_.end()) throw std::logic_error("scripted_pool: cannot pass");
        h->owner = to;
        h->site = w->site;
        h->at = now_;
        waiters_.erase(w);
    }

    void set_room(bool room) { room_ = room; }
    void advance(std::chrono::nanoseconds d) { now_ += d; }
    void connect_failed(std::string error) {
        ++connect_failures_;
        observer_->on_connect_failed(*this, error);
    }
    void connection_created() { observer_->on_connection_created(*this, std::chrono::nanoseconds(0)); }

    const std::vector<failure>& failures() const { return failed_; }
    std::uint64_t deadlocks_counted() const { return deadlocks_; }
    std::uint64_t nested_counted() const { return nested_; }
    bool waiting(owner_id owner) const { return std::ranges::find(waiters_, owner, &wait_info::owner) != waiters_.end(); }

    // ---- pool_view

    std::uint64_t id() const noexcept override { return id_; }
    const std::string& name() const noexcept override { return options_.name; }
    const pool_options& options() const noexcept override { return options_; }
    pool_stats stats() const noexcept override {
        pool_stats s;
        s.max = options_.max_size;
        s.active = holders_.size();
        s.total = room_ ? holders_.size() : options_.max_size;
        s.idle = 0;
        s.pending = waiters_.size();
        s.acquired = acquired_;
        s.connect_failures = connect_failures_;
        return s;
    }
    std::chrono::nanoseconds now() const noexcept override { return now_; }
    std::vector<holder_info> holders() const override {
        if (during_holders_read_ && during_holders_read_(const_cast<scripted_pool&>(*this))) during_holders_read_ = nullptr;
        std::vector<holder_info> out;
        for (const auto& h : holders_) out.push_back({h.owner, {}, h.site, now_ - h.at});
        return out;
    }
    std::vector<wait_info> waiters() const override { return waiters_; }
    bool has_room() const noexcept override { return room_ || holders_.size() < options_.max_size; }
    bool fail_waiter(owner_id owner, std::error_code ec, std::exception_ptr ex) override {
        auto it = std::ranges::find(waiters_, owner, &wait_info::owner);
        if (it == waiters_.end()) return false;
        waiters_.erase(it);
        failed_.push_back({owner, ec, std::move(ex)});
        return true;
    }
    void count_deadlock() noexcept override { ++deadlocks_; }
    void count_nested_acquisition() noexcept override { ++nested_; }
    std::string target() const override { return "scripted://"; }

private:
    struct held {
        std::uint64_t lease;
        owner_id owner;
        std::source_location site;
        std::chrono::nanoseconds at;
    };

    std::uint64_t hand(owner_id owner, std::source_location site, std::chrono::nanoseconds waited) {
        const std::uint64_t lease = ++next_lease_;
        holders_.push_back({lease, owner, site, now_});
        ++acquired_;
        observer_->on_acquired(*this, {lease, owner, site, now_}, waited);
        return lease;
    }

    pool_diagnostics failed(const wait_info& w, std::error_code ec) {
        pool_diagnostics d;
        d.pool_name = options_.name;
        d.code = ec;
        d.what = verdict::exhausted;
        d.stats = stats();
        d.owner = w.owner;
        d.site = w.site;
        d.holders = holders();
        explain_failure(*observer_, *this, d);  // as the pool's engine does: the verdict first
        observer_->on_acquire_failed(*this, d);
        return d;
    }

    std::shared_ptr<pool_observer> observer_;
    std::uint64_t id_;
    pool_options options_;
    std::vector<held> holders_;
    std::vector<wait_info> waiters_;
    std::vector<failure> failed_;
    bool room_ = false;
    mutable std::function<bool(scripted_pool&)> during_holders_read_;
    std::chrono::nanoseconds now_{1'000'000'000};
    std::uint64_t next_lease_ = 0, acquired_ = 0, connect_failures_ = 0, deadlocks_ = 0, nested_ = 0;
};

}  // namespace lifeguard::testing
