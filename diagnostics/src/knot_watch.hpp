// The knot watch: finds live deadlocks (knots), confirms them from the pools' own state read
// twice, decides what to do under the pools' policies, and remembers the explanation for each
// task the knot made wait. It returns the reports; the detector logs them.
//
// Locks: the detector holds its registry lock (shared) around every call that takes a
// pool_registry, and its action lock around confirm() and act_on_all(). The watch's own tables
// sit under a leaf lock of its own; it calls pools (fail_waiter, count_deadlock) only without it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "lifeguard/diagnostics/detail/owner_ledger.hpp"
#include "blocked_threads.hpp"
#include "records.hpp"

namespace lifeguard::diagnostics::detail {

/// The nesting pairs seen on some pools (the nesting watch answers it).
using nested_pairs_on = std::function<std::vector<nested_report>(const std::vector<pool_key>&)>;

class knot_watch {
public:
    knot_watch(const owner_ledger& ledger, const blocked_threads& blocked, after_acquire_triggers& triggers)
        : ledger_(ledger), blocked_(blocked), triggers_(triggers) {}

    /// The fast check from `start`: holders and room from the live pools, waits from the
    /// ledger (hints). True when it finds no way out for `start`: confirm() then decides.
    bool suspects(const pool_registry& pools, owner_id start) const;

    /// Reads the pools twice and acts when both readings show the same knot around `start`.
    reports_to_emit confirm(const pool_registry& pools, owner_id start, const nested_pairs_on& nested);

    /// Reads every watched pool once.
    pools_reading read_pools(const pool_registry& pools) const;

    /// The knots of `first` that a second reading shows unchanged are acted on; the active
    /// knots not among them are forgotten (reported again if they re-form). `started`: the
    /// untie_epoch() before `first` was read.
    reports_to_emit act_on_all(const pool_registry& pools, const pools_reading& first, std::uint64_t started,
                               const nested_pairs_on& nested);

    /// Counts untyings of knots: a reading taken before the count moved is stale.
    std::uint64_t untie_epoch() const;

    /// Owners stopped waiting: the knots they were in are untied.
    void resumed(const std::vector<owner_id>& owners);

    /// The explanation for the failure of an acquire of `owner` (a knot it waited in), taken
    /// once. Empty when there is none.
    std::shared_ptr<const report> take_explanation(owner_id owner);
    /// `owner` was served: an explanation kept for it is stale.
    void forget_explanation(owner_id owner);

    std::uint64_t deadlocks() const noexcept { return deadlocks_.load(std::memory_order_relaxed); }
    std::uint64_t failed_tasks() const noexcept { return failed_tasks_.load(std::memory_order_relaxed); }
    std::uint64_t healed_tasks() const noexcept { return healed_tasks_.load(std::memory_order_relaxed); }
    std::uint64_t confirmations() const noexcept { return confirmations_.load(std::memory_order_relaxed); }
    std::uint64_t unconfirmed() const noexcept { return unconfirmed_.load(std::memory_order_relaxed); }

private:
    void add_enclosing_waits(pools_reading& reading) const;
    void act(const knot& k, const pools_reading& reading, owner_id prefer, std::uint64_t started,
             const nested_pairs_on& nested, reports_to_emit& out);
    void untie_through_a_member(report& rep, const knot_roles& roles, const pools_reading& reading, const knot& k,
                                owner_id prefer, deadlock_policy policy);
    template <class Pred>
    void untie_if(Pred&& pred);
    void remember_explanation(const std::vector<owner_id>& owners, const std::shared_ptr<const report>& rep);
    void forget_explanation_locked(owner_id owner);

    const owner_ledger& ledger_;
    const blocked_threads& blocked_;
    after_acquire_triggers& triggers_;

    mutable std::mutex tables_;
    std::unordered_map<std::uint64_t, std::vector<owner_id>> active_;  // knot key -> members (sorted)
    std::unordered_map<std::uint64_t, std::shared_ptr<const report>> active_reports_;
    std::unordered_map<std::uint64_t, std::uint64_t> untied_;  // knot key -> untie_epoch_ when untied
    std::uint64_t untie_epoch_ = 0;
    std::unordered_map<owner_id, std::shared_ptr<const report>> explanations_;  // owner -> the knot it waited in
    std::atomic<std::size_t> active_count_{0};

    std::atomic<std::uint64_t> deadlocks_{0}, failed_tasks_{0}, healed_tasks_{0}, confirmations_{0}, unconfirmed_{0};
};

}  // namespace lifeguard::diagnostics::detail
