// The pool engine behind basic_pool: slots, the wait queue, the worker and housekeeping.
//
// Cost model. Borrowing an idle connection is a CAS on its slot plus a load of the process tick
// word (a timestamp, see tick_clock.hpp); returning one is a tick-word load, a release store
// and a compiler barrier (see fence.hpp). Neither takes the mutex, allocates or makes a system
// call while nobody waits. The mutex guards the wait queue and the worker's bookkeeping;
// callers take it only when they must wait, or when a return finds the `gate_` word non-zero
// (waiters to wake, fairness hand-off, closed pool).
//
// What the hot path keeps beyond bench/core's best-case `reference` pool (one CAS, one store:
// 5.7 ns a pair against lifeguard's 12.8 ns, one thread, same process): per borrow, the
// observer pointer and gate word loads, the lifetime / eviction / freshness compares, and the
// lease stamp (site, acquired_at, lease_seq, owner: what leak reports, pool errors and the
// detector read); per return, the usage counters (count, total, max held), the driver's reset,
// the same compares, last_used, the fairness check (lease_seq against owed_at_seq) and the
// owner cleared beside the idle store. Measured, not guessed: clearing the owner in a store of
// its own, before the reset, cost 3.5 ns of the pair.
//
// Hand-off policy. Waiters are queued FIFO. Callers that are running and do not wait may take
// an idle connection first ("barging"): that keeps connections busy instead of parked while a
// sleeping waiter is scheduled. While anyone waits, every return takes the slow path and wakes
// the oldest waiter that no return has woken yet (a condition variable's notify_one, but in
// arrival order); then the returning thread yields its CPU, so that the woken thread runs now,
// while the returner holds no connection, rather than a time slice later (0.1-4 ms here under
// load). A woken waiter, like the head, takes any idle connection; if a running caller took it
// first, it sleeps until a return wakes it again. Barging is bounded twice over:
//  - by count: once any connection has been lent `fair_after_leases` (1024) times since the
//    head began to wait (checked on return, with one comparison);
//  - by time: once the head has waited `fair_after` (1 ms).
// Then the head is owed: the pool turns fair (nobody barges, no other waiter claims) and the
// next connection returned is handed to the head, until it has been served. So fairness costs
// a context switch per thousand leases or per millisecond, not one per hand-off.
//
// Lifetime. The engine is heap-allocated and owned by the basic_pool handle; leases point at
// it. Destroying the handle closes the engine; if leases are still out, the last one returned
// frees it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lifeguard/detail/clock.hpp"
#include "lifeguard/detail/fence.hpp"
#include "lifeguard/detail/lock_check.hpp"
#include "lifeguard/detail/observer_list.hpp"
#include "lifeguard/detail/return_guard.hpp"
#include "lifeguard/detail/slot.hpp"
#include "lifeguard/detail/waiter.hpp"
#include "lifeguard/detail/worker_wake.hpp"
#include "lifeguard/driver.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/observer.hpp"
#include "lifeguard/options.hpp"
#include "lifeguard/stats.hpp"

namespace lifeguard {

/// Who runs the pool's background work.
enum class worker_mode {
    thread,  ///< a worker thread owned by the pool (production)
    manual,  ///< nobody: tests call run_worker_once() to do what is due, deterministically
};

namespace detail {

std::uint64_t next_pool_id() noexcept;
std::uint64_t lifetime_jitter_seed() noexcept;

// gate_ bits: any set bit sends returns (and, for closed/fair, borrows) to the slow path.
inline constexpr std::uint32_t gate_closed = 1;
inline constexpr std::uint32_t gate_fair = 2;       // the head is owed the next return: no barging
inline constexpr std::uint32_t gate_sleepers = 4;   // waiters sleep: returns come to wake one

// The hand-off policy (see the top of this file).
inline constexpr std::int64_t fair_after_ns = 1'000'000;
inline constexpr std::uint64_t fair_after_leases = 1024;

inline constexpr std::int64_t backoff_min_ns = 10'000'000;
inline constexpr std::int64_t backoff_max_ns = 5'000'000'000;
inline constexpr std::int64_t leap_tolerance_ns = 128'000'000;

inline thread_local std::uint32_t borrow_hint = 0;

/// A timing accumulated with atomics (off the hot path).
struct atomic_timing {
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::int64_t> total{0};
    std::atomic<std::int64_t> max{0};
    void add(std::int64_t ns) noexcept {
        count.fetch_add(1, std::memory_order_relaxed);
        total.fetch_add(ns, std::memory_order_relaxed);
        std::int64_t m = max.load(std::memory_order_relaxed);
        while (ns > m && !max.compare_exchange_weak(m, ns, std::memory_order_relaxed)) {
        }
    }
    timing_stats get() const noexcept {
        return {count.load(std::memory_order_relaxed),
                std::chrono::nanoseconds(total.load(std::memory_order_relaxed)),
                std::chrono::nanoseconds(max.load(std::memory_order_relaxed))};
    }
};

template <driver Driver, pool_clock Clock>
class pool_core final : public pool_view {
public:
    using connection_type = typename Driver::connection_type;
    using slot_type = slot<connection_type>;

    pool_core(Driver driver, pool_options options, Clock clock, worker_mode mode)
        : driver_(std::move(driver)),
          options_(validated(std::move(options))),
          clock_(std::move(clock)),
          id_(next_pool_id()),
          slot_count_(options_.max_size),
          slots_(new slot_type[slot_count_]),
          mode_(mode),
          jitter_state_(lifetime_jitter_seed() ^ id_) {
        init_asymmetric_fence();
        for (std::size_t i = 0; i < slot_count_; ++i) slots_[i].index = static_cast<std::uint32_t>(i);
        last_housekeeping_ = precise_now(clock_);
        if constexpr (subscribable_clock<Clock>)
            clock_subscription_ = clock_.subscribe([this] { on_clock_advanced(); });
        if (mode_ == worker_mode::thread) worker_ = std::thread([this] { worker_loop(); });
    }

    pool_core(const pool_core&) = delete;
    pool_core& operator=(const pool_core&) = delete;

    // ------------------------------------------------------------------ borrowing

    /// Finds a connection for `owner` or fails. On success the slot is leased and prepared.
    slot_type* acquire(owner_id owner, std::string_view label, const std::source_location& site,
                       std::error_code& ec, std::shared_ptr<const pool_diagnostics>* diagnostics,
                       std::exception_ptr* exception) {
        std::int64_t started = 0;
        if (slot_type* s = acquire_idle(owner, site, started)) [[likely]] {
            ec.clear();
            return s;
        }
        return acquire_waiting(owner, label, site, started, ec, diagnostics, exception);
    }

    /// The first half of acquire(): tells observers an acquisition starts and lends an idle
    /// connection if the pool may (no waiter is owed one). On nullptr the caller must go on
    /// with acquire_waiting(), passing `started` (set if a validation already took time).
    slot_type* acquire_idle(owner_id owner, const std::source_location& site, std::int64_t& started) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) [[unlikely]]
            outside_lock(obs)->on_acquire_start(*this, owner, site);
        if ((gate_.load(std::memory_order_relaxed) & (gate_closed | gate_fair)) == 0) [[likely]] {
            if (slot_type* s = borrow_idle(owner, site, started)) {
                if (obs) [[unlikely]]
                    outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(0));
                return s;
            }
        }
        return nullptr;
    }

    /// The second half of acquire(), after acquire_idle() returned nullptr: waits in the queue.
    slot_type* acquire_queued(owner_id owner, std::string_view label, const std::source_location& site,
                              std::int64_t started, std::error_code& ec,
                              std::shared_ptr<const pool_diagnostics>* diagnostics, std::exception_ptr* exception) {
        return acquire_waiting(owner, label, site, started, ec, diagnostics, exception);
    }

    /// Borrows an idle connection if one is ready now; never waits.
    slot_type* try_acquire(owner_id owner, const std::source_location& site) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) outside_lock(obs)->on_acquire_start(*this, owner, site);
        if (gate_.load(std::memory_order_relaxed) & (gate_closed | gate_fair)) return nullptr;
        std::int64_t started = 0;
        slot_type* s = borrow_idle(owner, site, started);
        if (s && obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(0));
        if (!s) request_work();
        return s;
    }

    /// The fast path of asynchronous acquisitions: as try_acquire(), but never runs driver code
    /// on the calling thread (an event loop): a connection that must be checked before it is lent
    /// is left to enqueue_async(), whose hand-off has the worker check it.
    slot_type* try_acquire_async(owner_id owner, const std::source_location& site) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) outside_lock(obs)->on_acquire_start(*this, owner, site);
        if (gate_.load(std::memory_order_relaxed) & (gate_closed | gate_fair)) return nullptr;
        std::int64_t started = 0;
        slot_type* s = borrow_idle(owner, site, started, /*checks_here=*/false);
        if (s && obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(0));
        return s;  // no request_work(): enqueue_async() follows a miss and asks for it
    }

    // ------------------------------------------------------------------ async waiters

    /// Queues an asynchronous waiter (already filled: owner, site, since, deadline). The pool
    /// serves it directly; `w.deliver()` is called under the pool's mutex once it was handed a
    /// checked slot or failed, possibly inside this call (a closed pool, a full queue, an idle
    /// connection). Every async waiter must end with complete_async() or abandon_async().
    void enqueue_async(waiter& w) {
        w.async = true;
        std::unique_lock lock(mutex_);
        ++async_outstanding_;
        // Refusals are delivered like any failure, so complete_async() builds their diagnostics,
        // tells observers and sets last_failure(), as for acquire().
        if (gate_.load(std::memory_order_relaxed) & gate_closed) {
            w.failure = make_error_code(errc::pool_closed);
            w.wake();
            return;
        }
        if (queue_.size() >= options_.max_pending) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            w.failure = make_error_code(errc::pending_limit);
            w.wake();
            return;
        }
        push_waiter_locked(w);
        if (needs_connection_locked()) request_work_locked();  // else the worker has nothing to do
        if (queue_.head() == &w) let_head_act_locked();
        if (w.done() || w.validating) return;
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) {
            w.block_reported = true;
            const wait_info info{w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since)};
            lock.unlock();
            outside_lock(obs)->on_block(*this, info);
        }
        return;
    }

    /// Fails a queued async waiter (its timer fired, or it was cancelled). No effect when it
    /// already has an outcome.
    void cancel_async(waiter& w, std::error_code ec) {
        std::lock_guard lock(mutex_);
        if (w.done() || w.cancelled) return;
        if (ec == errc::timeout) timeouts_.fetch_add(1, std::memory_order_relaxed);
        if (w.validating) {
            // The worker is checking a slot for it: it puts the slot back and wakes `w` once it
            // no longer touches it (the completion may free `w`).
            w.cancelled = true;
            w.failure = ec;
            return;
        }
        fail_locked(w, ec, nullptr);
    }

    /// Finishes an async waiter after deliver(), on the completion's thread: stamps the lease
    /// and tells observers, or builds the diagnostics of the failure.
    slot_type* complete_async(waiter& w, std::error_code& ec, std::shared_ptr<const pool_diagnostics>* diagnostics,
                              std::exception_ptr* exception) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (w.block_reported && obs) outside_lock(obs)->on_unblock(*this, {w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since)});
        slot_type* s = w.cancelled ? nullptr : static_cast<slot_type*>(w.handed);
        if (s) {
            stamp_lease(*s, w.owner, w.site, coarse_now(clock_));
            const std::int64_t waited = precise_now(clock_) - w.since;
            acquire_wait_.add(waited);
            if (obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(waited));
            ec.clear();
        } else {
            ec = w.failure;
            auto d = std::make_shared<pool_diagnostics>(diagnose(ec, w.owner, w.site, w.since));
            if (obs) explain_failure(*outside_lock(obs), *this, *d);
            if (obs) outside_lock(obs)->on_acquire_failed(*this, *d);
            if (exception) *exception = w.failure_exception;
            std::lock_guard lock(mutex_);
            last_failure_ = d;
            if (diagnostics) *diagnostics = std::move(d);
        }
        std::unique_lock lock(mutex_);
        drop_async_locked(lock);
        return s;
    }

    /// Forgets an async waiter whose completion will never run (its handler was destroyed
    /// with its execution context): a slot handed to it goes back to the pool.
    void abandon_async(waiter& w) noexcept {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (w.block_reported && obs)
            outside_lock(obs)->on_unblock(*this, {w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since)});
        std::unique_lock lock(mutex_);
        if (w.validating) {
            const auto job = std::find_if(check_queue_.begin(), check_queue_.end(),
                                          [&](const check_job& j) { return j.who == &w; });
            if (job != check_queue_.end()) {  // not being checked yet: take the job back
                slot_type& s = *job->slot;
                check_queue_.erase(job);
                w.validating = false;
                give_back_locked(s);
            } else {  // being checked: the worker puts the slot back; wait until it lets go of `w`
                w.cancelled = true;
                checked_.wait(lock, [&] { return !w.validating; });
            }
        }
        if (w.queued) leave_queue_locked(w);
        if (w.handed && !w.cancelled) give_back_locked(*static_cast<slot_type*>(w.handed));
        w.handed = nullptr;
        drop_async_locked(lock);
    }

    /// A slot that was leased to nobody in the end: idle again (or closed, if the pool is).
    void give_back_locked(slot_type& s) noexcept {
        if (gate_.load(std::memory_order_relaxed) & gate_closed) {
            s.state.store(slot_reserved, std::memory_order_relaxed);
            close_queue_.push_back({&s, close_reason::shutdown});
            worker_cv_.notify_all();
            return;
        }
        s.state.store(slot_idle, std::memory_order_release);
        serve_head_locked();
    }

    void drop_async_locked(std::unique_lock<std::mutex>& lock) noexcept {
        --async_outstanding_;
        if (!handle_alive_) finish_orphan(lock);
    }

    /// Fails async waiters whose slot the worker was going to check (the worker is stopping).
    void drop_check_jobs_locked() noexcept {
        while (!check_queue_.empty()) {
            const check_job job = check_queue_.front();
            check_queue_.pop_front();
            job.who->validating = false;
            job.slot->state.store(slot_reserved, std::memory_order_relaxed);
            close_queue_.push_back({job.slot, close_reason::shutdown});
            if (!job.who->cancelled) {
                job.who->cancelled = true;
                job.who->failure = make_error_code(errc::pool_closed);
            }
            job.who->wake();
        }
    }

    /// The pool clock's current time, ns.
    std::int64_t clock_now_ns() const noexcept { return precise_now(clock_); }

    /// Every observer hook is called as `outside_lock(obs)->on_...`: the one place that checks
    /// (debug builds) what observer.hpp promises, that hooks never run while this thread holds
    /// the pool's mutex (a hook that calls back into the pool would deadlock on its own thread).
    pool_observer* outside_lock(pool_observer* obs) const noexcept {
        assert(!detail::held_by_this_thread(mutex_) && "an observer hook was called under the pool's mutex");
        return obs;
    }

    // ------------------------------------------------------------------ returning

    void release(slot_type& s, bool invalidated) noexcept {
        const std::int64_t now = coarse_now(clock_);
        const std::int64_t held = std::max<std::int64_t>(0, now - s.acquired_at.load(std::memory_order_relaxed));
        s.usage_count.add(1);
        s.usage_total_ns.add(static_cast<std::uint64_t>(held));
        s.usage_max_ns.raise_to(static_cast<std::uint64_t>(held));
        if (pool_observer* obs = observer_.load(std::memory_order_acquire)) [[unlikely]]
            outside_lock(obs)->on_release(*this, lease_info_of(s), std::chrono::nanoseconds(held));

        return_scope announce(this);
        std::optional<close_reason> retire_for;
        if (invalidated || !driver_.reset(*s.connection))
            retire_for = close_reason::broken;
        else if (now >= s.expires_at)
            retire_for = close_reason::lifetime;
        else if (s.generation < evict_generation_.load(std::memory_order_relaxed))
            retire_for = close_reason::evicted;
        if (retire_for) [[unlikely]] {
            retire(s, *retire_for);
            return;
        }
        s.last_used.store(now, std::memory_order_relaxed);
        if (s.lease_seq.load(std::memory_order_relaxed) >= s.owed_at_seq.load(std::memory_order_relaxed)) [[unlikely]] {
            head_passed_over();
        }
        // The lease has ended. Once the slot is idle it may be claimed by the next borrower, who
        // stamps its owner only once it has it: holders() must not name this owner meanwhile, or
        // a task that asks again looks as if it held the connection (a false knot). (Cleared
        // here, not before reset: the store beside the state's is free on the hot path.)
        s.owner.store(0, std::memory_order_relaxed);
        s.state.store(slot_idle, std::memory_order_release);
        light_fence();
        if (gate_.load(std::memory_order_relaxed) != 0) [[unlikely]]
            after_return_slow();
    }

    // ------------------------------------------------------------------ control

    void close() {
        std::unique_lock lock(mutex_);
        if (gate_.load(std::memory_order_relaxed) & gate_closed) return;
        gate_.fetch_or(gate_closed, std::memory_order_seq_cst);
        lock.unlock();
        heavy_fence();
        lock.lock();
        while (waiter* w = queue_.head()) fail_locked(*w, make_error_code(errc::pool_closed), nullptr);
        for (std::size_t i = 0; i < slot_count_; ++i) {
            std::uint32_t expected = slot_idle;
            if (slots_[i].state.compare_exchange_strong(expected, slot_reserved, std::memory_order_acquire))
                close_queue_.push_back({&slots_[i], close_reason::shutdown});
        }
        worker_cv_.notify_all();
    }

    void soft_evict() {
        evict_generation_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(mutex_);
        retire_idle_locked([](const slot_type&) { return true; }, close_reason::evicted);
        worker_cv_.notify_all();
    }

    /// Called by the handle's destructor. Returns true when the caller must delete `this`
    /// now; false when outstanding leases will (the last one returned deletes it).
    bool shut_down() {
        {
            std::lock_guard lock(mutex_);
            observer_.store(nullptr, std::memory_order_release);
        }
        for (auto& o : observers_.all()) outside_lock(o.get())->on_detach(*this);
        close();
        if constexpr (subscribable_clock<Clock>) clock_.unsubscribe(clock_subscription_);
        {
            std::unique_lock lock(mutex_);
            worker_stop_ = true;
            worker_cv_.notify_all();
        }
        if (worker_.joinable()) worker_.join();
        std::unique_lock lock(mutex_);
        drop_check_jobs_locked();
        drain_close_queue(lock);
        waiters_gone_.wait(lock, [&] { return queue_.empty() && active_waiters_ == 0; });
        // Any slot still leased now is an outstanding lease: the last one returned frees the
        // engine (finish_orphan).
        handle_alive_ = false;
        drain_close_queue(lock);
        return claim_deletion(lock);
    }

    void add_observer(std::shared_ptr<pool_observer> o) {
        if (!o) return;
        pool_observer* raw = o.get();
        {
            std::lock_guard lock(mutex_);
            observer_.store(observers_.add(std::move(o)), std::memory_order_release);
        }
        outside_lock(raw)->on_attach(*this);
    }

    /// worker_mode::manual: does everything that is due now, synchronously, on this thread.
    void run_worker_once() {
        assert(mode_ == worker_mode::manual);
        std::unique_lock lock(mutex_);
        while (worker_step(lock)) {
        }
    }

    std::shared_ptr<const pool_diagnostics> last_failure() const {
        std::lock_guard lock(mutex_);
        return last_failure_;
    }

    Driver& driver() noexcept { return driver_; }
    const Clock& clock() const noexcept { return clock_; }

    // ------------------------------------------------------------------ pool_view

    std::uint64_t id() const noexcept override { return id_; }
    const std::string& name() const noexcept override { return options_.name; }
    const pool_options& options() const noexcept override { return options_; }
    std::chrono::nanoseconds now() const noexcept override {
        return std::chrono::nanoseconds(precise_now(clock_));
    }
    std::string target() const override { return describe_target(driver_); }

    pool_stats stats() const noexcept override {
        pool_stats st;
        std::uint64_t usage_max = 0;
        for (std::size_t i = 0; i < slot_count_; ++i) {
            const slot_type& s = slots_[i];
            switch (s.state.load(std::memory_order_relaxed)) {
            case slot_idle: ++st.idle; break;
            case slot_leased: ++st.active; break;
            case slot_reserved: ++st.total; break;
            case slot_creating: ++st.creating; break;
            default: break;
            }
            st.acquired += s.acquired.get();
            st.usage.count += s.usage_count.get();
            st.usage.total += std::chrono::nanoseconds(s.usage_total_ns.get());
            usage_max = std::max(usage_max, s.usage_max_ns.get());
        }
        st.usage.max = std::chrono::nanoseconds(usage_max);
        st.total += st.idle + st.active;
        st.pending = waiting_.load(std::memory_order_relaxed);
        st.max = options_.max_size;
        st.min = options_.min_idle;
        st.timeouts = timeouts_.load(std::memory_order_relaxed);
        st.rejected = rejected_.load(std::memory_order_relaxed);
        st.created = created_.load(std::memory_order_relaxed);
        st.connect_failures = connect_failures_.load(std::memory_order_relaxed);
        for (std::size_t r = 0; r < close_reason_count; ++r) st.closed[r] = closed_[r].load(std::memory_order_relaxed);
        st.leaks = leaks_.load(std::memory_order_relaxed);
        st.deadlocks = deadlocks_.load(std::memory_order_relaxed);
        st.nested_acquisitions = nested_.load(std::memory_order_relaxed);
        st.acquire_wait = acquire_wait_.get();
        st.acquire_wait.count = st.acquired;  // acquires that did not wait count as zero
        st.creation = creation_.get();
        return st;
    }

    std::vector<holder_info> holders() const override {
        std::vector<holder_info> out;
        const std::int64_t now = coarse_now(clock_);
        for (std::size_t i = 0; i < slot_count_; ++i) {
            const slot_type& s = slots_[i];
            if (s.state.load(std::memory_order_acquire) != slot_leased) continue;
            const owner_id o = s.owner.load(std::memory_order_acquire);
            if (o == 0) continue;  // being claimed, validated or handed over: nobody holds it yet
            out.push_back({o, owner_label(o), s.site.load(std::memory_order_relaxed),
                           std::chrono::nanoseconds(std::max<std::int64_t>(0, now - s.acquired_at.load(std::memory_order_relaxed)))});
        }
        return out;
    }

    std::vector<wait_info> waiters() const override {
        std::vector<wait_info> out;
        std::lock_guard lock(mutex_);
        queue_.for_each([&](const waiter& w) {
            out.push_back({w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since)});
        });
        return out;
    }

    bool has_room() const noexcept override {
        if (gate_.load(std::memory_order_relaxed) & gate_closed) return false;
        std::size_t open = 0;
        for (std::size_t i = 0; i < slot_count_; ++i) {
            switch (slots_[i].state.load(std::memory_order_relaxed)) {
            case slot_idle:
            case slot_creating: return true;
            case slot_empty: break;
            default: ++open; break;
            }
        }
        return open < slot_count_;
    }

    bool fail_waiter(owner_id owner, std::error_code ec, std::exception_ptr ex) override {
        std::lock_guard lock(mutex_);
        for (waiter* w = queue_.head(); w; w = w->next) {
            if (w->owner == owner) {
                fail_locked(*w, ec, std::move(ex));
                return true;
            }
        }
        return false;
    }

    void count_deadlock() noexcept override { deadlocks_.fetch_add(1, std::memory_order_relaxed); }
    void count_nested_acquisition() noexcept override { nested_.fetch_add(1, std::memory_order_relaxed); }

    lease_info lease_info_of(const slot_type& s) const noexcept {
        return {(std::uint64_t{s.index} << 40) | s.lease_seq.load(std::memory_order_relaxed),
                s.owner.load(std::memory_order_relaxed), s.site.load(std::memory_order_relaxed),
                std::chrono::nanoseconds(s.acquired_at.load(std::memory_order_relaxed))};
    }

private:
    struct close_job {
        slot_type* slot;
        close_reason why;
    };
    struct check_job {
        slot_type* slot;
        waiter* who;
    };

    // ------------------------------------------------------------------ borrow internals

    slot_type* borrow_idle(owner_id owner, const std::source_location& site, std::int64_t& started,
                           bool checks_here = true) {
        std::uint32_t i = borrow_hint;
        if (i >= slot_count_) i = 0;
        for (std::size_t tried = 0; tried < slot_count_; ++tried) {
            slot_type& s = slots_[i];
            if (++i == slot_count_) i = 0;
            if (s.state.load(std::memory_order_relaxed) != slot_idle) continue;
            std::uint32_t expected = slot_idle;
            if (!s.state.compare_exchange_strong(expected, slot_leased, std::memory_order_acquire,
                                                 std::memory_order_relaxed))
                continue;
            if (check_before_lending(s, owner, site, started, checks_here)) {
                borrow_hint = s.index;
                return &s;
            }
        }
        return nullptr;
    }

    /// Checks a slot just claimed for lending (lifetime, eviction, validation when idle past
    /// the bypass window) and stamps the lease. False when it was retired instead.
    bool check_before_lending(slot_type& s, owner_id owner, const std::source_location& site, std::int64_t& started,
                 bool checks_here = true) {
        std::int64_t now = coarse_now(clock_);
        if (now >= s.expires_at) [[unlikely]] {
            retire(s, close_reason::lifetime);
            return false;
        }
        if (s.generation < evict_generation_.load(std::memory_order_relaxed)) [[unlikely]] {
            retire(s, close_reason::evicted);
            return false;
        }
        const std::int64_t fresh = std::max(s.last_used.load(std::memory_order_relaxed),
                                            s.last_checked.load(std::memory_order_relaxed));
        if (now - fresh > bypass_ns_ || bypass_ns_ == 0) [[unlikely]] {
            if (!checks_here) {  // not on this thread: put it back for the worker-checked hand-off
                unclaim(s);
                return false;
            }
            if (started == 0) started = precise_now(clock_);
            if (!driver_.is_valid(*s.connection, options_.validation_timeout)) {
                retire(s, close_reason::broken);
                return false;
            }
            now = coarse_now(clock_);
            s.last_checked.store(now, std::memory_order_relaxed);
        }
        stamp_lease(s, owner, site, now);
        return true;
    }

    /// Puts back a slot just claimed from idle, untouched (a return without the reset).
    void unclaim(slot_type& s) noexcept {
        s.state.store(slot_idle, std::memory_order_release);
        light_fence();
        if (gate_.load(std::memory_order_relaxed) != 0) [[unlikely]]
            after_return_slow();
    }

    /// Records who holds the slot from now on.
    static void stamp_lease(slot_type& s, owner_id owner, const std::source_location& site, std::int64_t now) noexcept {
        // The owner last, with release: holders() that reads it (acquire) sees this lease's site
        // and time, not the previous lease's.
        s.site.store(site, std::memory_order_relaxed);
        s.acquired_at.store(now, std::memory_order_relaxed);
        s.owner.store(owner, std::memory_order_release);
        s.lease_seq.store(s.lease_seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        s.acquired.add(1);
    }

    /// True when a slot must be checked (lifetime, eviction, validation) before it is lent.
    bool needs_check(const slot_type& s, std::int64_t now) const noexcept {
        if (now >= s.expires_at || s.generation < evict_generation_.load(std::memory_order_relaxed)) return true;
        const std::int64_t fresh = std::max(s.last_used.load(std::memory_order_relaxed), s.last_checked.load(std::memory_order_relaxed));
        return now - fresh > bypass_ns_ || bypass_ns_ == 0;
    }

    /// Claims an idle slot for the head waiter (mutex held).
    slot_type* claim_idle_locked() noexcept {
        for (std::size_t i = 0; i < slot_count_; ++i) {
            slot_type& s = slots_[i];
            std::uint32_t expected = slot_idle;
            if (s.state.load(std::memory_order_relaxed) == slot_idle &&
                s.state.compare_exchange_strong(expected, slot_leased, std::memory_order_acquire))
                return &s;
        }
        return nullptr;
    }

    slot_type* acquire_waiting(owner_id owner, std::string_view label, const std::source_location& site,
                               std::int64_t started, std::error_code& ec,
                               std::shared_ptr<const pool_diagnostics>* diagnostics, std::exception_ptr* exception) {
        if (started == 0) started = precise_now(clock_);
        const std::int64_t deadline = add_ns(started, to_ns(options_.acquire_timeout));
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        for (;;) {
            sync_waiter w;
            w.owner = owner;
            w.owner_label = label;
            w.site = site;
            w.since = started;
            w.deadline = deadline;
            errc failed{};
            slot_type* s = wait_in_queue(w, obs, failed);
            if (s) {
                if (!check_before_lending(*s, owner, site, started)) continue;  // broken: retry in the time left
                const std::int64_t waited = precise_now(clock_) - started;
                acquire_wait_.add(waited);
                if (obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(waited));
                ec.clear();
                return s;
            }
            ec = w.failure ? w.failure : make_error_code(failed);
            auto d = std::make_shared<pool_diagnostics>(diagnose(ec, owner, site, started));
            if (obs) explain_failure(*outside_lock(obs), *this, *d);
            if (obs) outside_lock(obs)->on_acquire_failed(*this, *d);
            if (exception) *exception = w.failure_exception;
            {
                std::lock_guard lock(mutex_);
                last_failure_ = d;
            }
            if (diagnostics) *diagnostics = std::move(d);
            return nullptr;
        }
    }

    /// Queues `w` and waits until it is handed or claims a slot (returned, leased), or fails.
    slot_type* wait_in_queue(waiter& w, pool_observer* obs, errc& failed) {
        std::unique_lock lock(mutex_);
        if (gate_.load(std::memory_order_relaxed) & gate_closed) {
            failed = errc::pool_closed;
            return nullptr;
        }
        if (queue_.size() >= options_.max_pending) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            failed = errc::pending_limit;
            return nullptr;
        }
        push_waiter_locked(w);
        active_waiters_.fetch_add(1, std::memory_order_relaxed);
        request_work_locked();
        bool announced_block = false;
        slot_type* got = nullptr;
        for (;;) {
            if (w.handed) {
                got = static_cast<slot_type*>(w.handed);
                break;
            }
            if (w.failure) break;
            const bool woken = std::exchange(w.woken_by_return, false);
            if (may_claim_locked(w, woken)) {
                got = claim_idle_locked();
                if (!got) {
                    arm_wake_locked(lock);
                    if (w.handed || w.failure) continue;
                    if (may_claim_locked(w, woken)) got = claim_idle_locked();
                }
                if (got) {
                    leave_queue_locked(w);
                    break;
                }
            }
            if (!announced_block && obs) {
                announced_block = true;
                lock.unlock();
                try {
                    outside_lock(obs)->on_block(*this, {w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since),
                                          /*blocks_thread=*/true});
                } catch (...) {
                    // Observers must not throw; if one does, do not leave this stack frame queued.
                    lock.lock();
                    if (w.queued) leave_queue_locked(w);
                    if (w.handed) give_back_locked(*static_cast<slot_type*>(w.handed));
                    stop_waiting_locked();
                    throw;
                }
                lock.lock();
                continue;
            }
            const std::int64_t now = precise_now(clock_);
            if (now >= w.deadline) {
                leave_queue_locked(w);
                timeouts_.fetch_add(1, std::memory_order_relaxed);
                failed = errc::timeout;
                break;
            }
            std::int64_t wake_at = w.deadline;
            if (queue_.head() == &w && !head_owed_) {
                const std::int64_t starve_at = w.since + fair_after_ns;
                if (now >= starve_at) {
                    owe_head_locked();
                    continue;  // look again: from now on an idle connection is ours alone
                }
                wake_at = std::min(wake_at, starve_at);
            }
            if (w.woken_by_return) continue;  // a return woke us while the mutex was released above
            detail::wait_until(clock_, w.cv, lock, wake_at);
        }
        if (announced_block && obs) {
            lock.unlock();
            outside_lock(obs)->on_unblock(*this, {w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since)});
            lock.lock();
        }
        stop_waiting_locked();
        return got;
    }

    /// A synchronous waiter is done with the queue (mutex held).
    void stop_waiting_locked() noexcept {
        if (active_waiters_.fetch_sub(1, std::memory_order_relaxed) == 1 && queue_.empty()) waiters_gone_.notify_all();
    }

    /// The head may take an idle connection at any time; another waiter only when a return woke
    /// it, and not while the head is owed the next connection.
    bool may_claim_locked(const waiter& w, bool woken) const noexcept {
        return queue_.head() == &w || (woken && !head_owed_);
    }

    /// Makes every return from now on take the slow path, which wakes a sleeping waiter. Armed
    /// once for all waiters: the flag stays set until the queue empties, and once a heavy fence
    /// has followed its arming, every later return sees it (store-fence-load pairs with
    /// release(): either we see their slot or they see our flag). May release the mutex.
    void arm_wake_locked(std::unique_lock<std::mutex>& lock) {
        if ((gate_.load(std::memory_order_relaxed) & gate_sleepers) && wake_fenced_ == wake_armed_) return;
        gate_.fetch_or(gate_sleepers, std::memory_order_seq_cst);
        const std::uint64_t armed = ++wake_armed_;
        lock.unlock();
        heavy_fence();
        lock.lock();
        wake_fenced_ = std::max(wake_fenced_, armed);
    }

    void push_waiter_locked(waiter& w) noexcept {
        queue_.push_back(w);
        waiting_.store(queue_.size(), std::memory_order_relaxed);
        if (queue_.head() == &w) count_leases_past_head_locked();
    }

    /// Removes `w` from the queue; wakes the new head so it can act as head.
    void leave_queue_locked(waiter& w) noexcept {
        const bool was_head = queue_.head() == &w;
        queue_.remove(w);
        waiting_.store(queue_.size(), std::memory_order_relaxed);
        if (!was_head) return;
        if (head_owed_) {
            head_owed_ = false;
            gate_.fetch_and(~gate_fair, std::memory_order_relaxed);
        }
        count_leases_past_head_locked();
        if (queue_.empty())
            gate_.fetch_and(~gate_sleepers, std::memory_order_relaxed);
        else
            let_head_act_locked();
    }

    /// A new head is owed the connection returned after any slot has been lent
    /// `fair_after_leases` more times; with nobody waiting, nobody is owed one.
    void count_leases_past_head_locked() noexcept {
        const bool owed = !queue_.empty();
        for (std::size_t i = 0; i < slot_count_; ++i) {
            slot_type& s = slots_[i];
            s.owed_at_seq.store(owed ? s.lease_seq.load(std::memory_order_relaxed) + fair_after_leases
                                     : std::numeric_limits<std::uint64_t>::max(),
                                std::memory_order_relaxed);
        }
    }

    /// The head has been passed over long enough: the pool turns fair (nobody barges) and the
    /// next connection returned is handed to the head, until it is served or leaves.
    void owe_head_locked() noexcept {
        head_owed_ = true;
        gate_.fetch_or(gate_fair, std::memory_order_relaxed);
    }

    /// release() found a connection lent `fair_after_leases` times past the head.
    void head_passed_over() noexcept {
        std::lock_guard lock(mutex_);
        count_leases_past_head_locked();
        if (gate_.load(std::memory_order_relaxed) & gate_closed) return;
        if (queue_.head() && !queue_.head()->async && !head_owed_) owe_head_locked();
    }

    /// Lets the head waiter act: a thread is woken to run its claim loop; an async waiter is
    /// served here, or asks returners to come back through the slow path.
    void let_head_act_locked() noexcept {
        waiter* head = queue_.head();
        if (!head) return;
        if (!head->async) {
            head->wake();
            return;
        }
        slot_type* s = claim_idle_locked();
        // Armed, and fenced since the last arming: every return from then on comes through the
        // slow path, and every earlier one is visible to the claim above. Else arm and fence.
        const bool armed =
            (gate_.load(std::memory_order_relaxed) & gate_sleepers) && wake_fenced_ == wake_armed_;
        if (!s && !armed) {
            gate_.fetch_or(gate_sleepers, std::memory_order_seq_cst);
            heavy_fence();
            wake_fenced_ = ++wake_armed_;
            s = claim_idle_locked();
        }
        if (s) hand_locked(*head, *s);
    }

    void hand_locked(waiter& w, slot_type& s) noexcept {
        s.owner.store(0, std::memory_order_relaxed);
        if (w.async && needs_check(s, coarse_now(clock_))) {
            // Async callers never run driver code: the worker checks the slot first.
            w.validating = true;
            leave_queue_locked(w);
            check_queue_.push_back({&s, &w});
            worker_cv_.notify_all();
            return;
        }
        w.handed = &s;
        leave_queue_locked(w);
        w.wake();
    }

    void fail_locked(waiter& w, std::error_code ec, std::exception_ptr ex) noexcept {
        w.failure = ec;
        w.failure_exception = std::move(ex);
        leave_queue_locked(w);
        w.wake();
    }

    /// A return published an idle slot and then saw the gate set. When it woke a thread, it
    /// yields its CPU: the woken waiter can run now, while this thread holds no connection,
    /// instead of a time slice later.
    void after_return_slow() {
        std::unique_lock lock(mutex_);
        const std::uint32_t g = gate_.load(std::memory_order_relaxed);
        if (g & gate_closed) {
            retire_idle_locked([](const slot_type&) { return true; }, close_reason::shutdown);
            if (!handle_alive_) return finish_orphan(lock);
            worker_cv_.notify_all();
            return;
        }
        if (!serve_head_locked()) return;
        lock.unlock();
        std::this_thread::yield();
    }

    /// Serves the queue after a connection came back: hands it to the head when the head is
    /// owed it, serves an async head, or wakes the oldest sleeping waiter not yet woken (as a
    /// condition variable's notify_one, in arrival order) to come and take it. True when a
    /// thread was woken.
    bool serve_head_locked() noexcept {
        waiter* head = queue_.head();
        if (!head) return false;
        if (head_owed_) {
            slot_type* s = claim_idle_locked();
            if (!s) return false;
            const bool woke_thread = !head->async;
            hand_locked(*head, *s);
            return woke_thread;
        }
        if (!(gate_.load(std::memory_order_relaxed) & gate_sleepers)) return false;
        if (head->async) {
            let_head_act_locked();
            return false;
        }
        for (waiter* w = head; w; w = w->next) {
            if (w->async || w->woken_by_return) continue;
            w->woken_by_return = true;
            w->cv.notify_one();
            return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ retiring

    /// Takes `s` (owned by the caller: leased, reserved or just claimed) out of service and
    /// queues its connection to be closed by the worker.
    void retire(slot_type& s, close_reason why) noexcept {
        std::unique_lock lock(mutex_);
        s.owner.store(0, std::memory_order_relaxed);  // nobody holds a connection being closed
        s.state.store(slot_reserved, std::memory_order_relaxed);
        close_queue_.push_back({&s, why});
        if (!handle_alive_) return finish_orphan(lock);
        request_work_locked();
    }

    /// The pool handle is gone and its worker with it: close what was queued here, and free
    /// the engine once the last lease is back.
    void finish_orphan(std::unique_lock<std::mutex>& lock) noexcept {
        drain_close_queue(lock);
        if (claim_deletion(lock)) delete this;
    }

    /// True exactly once, for the thread that must free the engine: when no lease is out,
    /// nothing is being closed and the handle is gone. A return publishes its idle slot before
    /// it takes the mutex, so other threads may still be inside release() on this engine; they
    /// announce themselves and are waited for (they find the deletion claimed and leave).
    /// Unlocks `lock` when it returns true.
    bool claim_deletion(std::unique_lock<std::mutex>& lock) noexcept {
        if (!claim_deletion_locked()) return false;
        lock.unlock();
        wait_for_returns(this, &this_thread_returning);
        return true;
    }

    /// True exactly once: when no lease is out, nothing is being closed and the handle is gone.
    bool claim_deletion_locked() noexcept {
        if (handle_alive_ || deletion_claimed_ || draining_ != 0 || !close_queue_.empty() || async_outstanding_ != 0)
            return false;
        if (count_state(slot_leased) != 0 || count_state(slot_reserved) != 0) return false;
        deletion_claimed_ = true;
        return true;
    }

    template <class Pred>
    void retire_idle_locked(Pred&& pred, close_reason why) {
        for (std::size_t i = 0; i < slot_count_; ++i) {
            slot_type& s = slots_[i];
            if (s.state.load(std::memory_order_relaxed) != slot_idle || !pred(s)) continue;
            std::uint32_t expected = slot_idle;
            if (s.state.compare_exchange_strong(expected, slot_reserved, std::memory_order_acquire))
                close_queue_.push_back({&s, why});
        }
    }

    void close_connection(slot_type& s, close_reason why) noexcept {
        driver_.close(*s.connection);
        s.connection.reset();
        closed_[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
        s.state.store(slot_empty, std::memory_order_release);
        if (pool_observer* obs = observer_.load(std::memory_order_acquire)) outside_lock(obs)->on_connection_closed(*this, why);
    }

    void drain_close_queue(std::unique_lock<std::mutex>& lock) noexcept {
        while (!close_queue_.empty()) {
            close_job job = close_queue_.front();
            close_queue_.pop_front();
            ++draining_;
            lock.unlock();
            close_connection(*job.slot, job.why);
            lock.lock();
            --draining_;
        }
    }

    // ------------------------------------------------------------------ the worker

    void request_work() {
        std::lock_guard lock(mutex_);
        request_work_locked();
    }
    void request_work_locked() noexcept { worker_cv_.notify_all(); }

    std::size_t count_state(std::uint32_t state) const noexcept {
        std::size_t c = 0;
        for (std::size_t i = 0; i < slot_count_; ++i) c += slots_[i].state.load(std::memory_order_relaxed) == state;
        return c;
    }

    void worker_loop() {
        std::unique_lock lock(mutex_);
        while (!worker_stop_) {
            if (worker_step(lock)) continue;
            const std::int64_t due = next_due_locked();
            worker_cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        }
    }

    /// Does one piece of due work (mutex held on entry and exit; released around driver
    /// calls). Returns false when nothing was due.
    bool worker_step(std::unique_lock<std::mutex>& lock) {
        if (!close_queue_.empty()) {
            drain_close_queue(lock);
            return true;
        }
        if (!check_queue_.empty()) {
            check_for_async(lock);
            return true;
        }
        const std::int64_t now = precise_now(clock_);
        if (now - last_housekeeping_ >= to_ns(options_.housekeeping_interval) || now < last_housekeeping_ - leap_tolerance_ns) {
            housekeep_locked(lock, now);
            return true;
        }
        if (expire_idle_locked(now)) return true;
        if (keepalive_one(lock, now)) return true;
        if (report_leaks(lock, now)) return true;
        if (create_one(lock, now)) return true;
        return false;
    }

    /// When the worker must look again (steady clock ns): housekeeping, lifetimes, keepalives,
    /// leak thresholds, backoff, and the horizon for leases taken while it sleeps (worker_wake).
    std::int64_t next_due_locked() const noexcept {
        if constexpr (!std::same_as<Clock, std::chrono::steady_clock>) {
            // Manual clocks advance only when told: the subscription wakes us.
            return precise_now(std::chrono::steady_clock{}) + 3'600'000'000'000;
        }
        const bool leaks_on = options_.leak_detection_threshold.count() > 0;
        worker_wake wake(precise_now(clock_), last_housekeeping_,
                         {.housekeeping = to_ns(options_.housekeeping_interval),
                          .keepalive = to_ns(options_.keepalive_interval),
                          .leak = leaks_on ? to_ns(options_.leak_detection_threshold) : 0});
        for (std::size_t i = 0; i < slot_count_; ++i) {
            const slot_type& s = slots_[i];
            const auto st = s.state.load(std::memory_order_relaxed);
            if (st == slot_idle)
                wake.idle(s.expires_at, std::max(s.last_used.load(std::memory_order_relaxed),
                                                 s.last_checked.load(std::memory_order_relaxed)));
            else if (st == slot_leased && leaks_on &&
                     s.leak_reported_seq.load(std::memory_order_relaxed) != s.lease_seq.load(std::memory_order_relaxed))
                wake.unreported_lease(s.acquired_at.load(std::memory_order_relaxed));
        }
        if (needs_connection_locked() && next_connect_at_ > 0) wake.connect_retry(next_connect_at_);
        return wake.at();
    }

    bool needs_connection_locked() const noexcept {
        if (gate_.load(std::memory_order_relaxed) & gate_closed) return false;
        std::size_t open = 0, idle = 0, creating = 0;
        for (std::size_t i = 0; i < slot_count_; ++i) {
            switch (slots_[i].state.load(std::memory_order_relaxed)) {
            case slot_empty: break;
            case slot_idle: ++idle; ++open; break;
            case slot_creating: ++creating; break;
            default: ++open; break;
            }
        }
        if (open + creating >= slot_count_) return false;
        return idle + creating < options_.min_idle || queue_.size() > idle + creating;
    }

    bool create_one(std::unique_lock<std::mutex>& lock, std::int64_t now) {
        if (!needs_connection_locked() || now < next_connect_at_) return false;
        slot_type* s = nullptr;
        for (std::size_t i = 0; i < slot_count_ && !s; ++i) {
            std::uint32_t expected = slot_empty;
            if (slots_[i].state.compare_exchange_strong(expected, slot_creating, std::memory_order_acquire)) s = &slots_[i];
        }
        if (!s) return false;
        lock.unlock();
        const auto real_deadline = deadline_after<std::chrono::steady_clock>(std::chrono::steady_clock::now(), options_.acquire_timeout);
        const std::int64_t began = precise_now(clock_);
        std::string error;
        try {
            s->connection.emplace(driver_.connect(real_deadline));
        } catch (const std::exception& e) {
            error = e.what();
            if (error.empty()) error = "connect failed (no message)";
        } catch (...) {
            error = "connect failed with a non-standard exception";
        }
        const std::int64_t ended = precise_now(clock_);
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (!error.empty()) {
            connect_failures_.fetch_add(1, std::memory_order_relaxed);
            if (obs) outside_lock(obs)->on_connect_failed(*this, error);
            lock.lock();
            s->state.store(slot_empty, std::memory_order_release);
            last_connect_error_ = std::move(error);
            backoff_ns_ = backoff_ns_ == 0 ? backoff_min_ns : std::min(backoff_ns_ * 2, backoff_max_ns);
            next_connect_at_ = ended + backoff_ns_;
            return true;
        }
        creation_.add(ended - began);
        created_.fetch_add(1, std::memory_order_relaxed);
        if (obs) outside_lock(obs)->on_connection_created(*this, std::chrono::nanoseconds(ended - began));
        s->created_at = ended;
        s->expires_at = lifetime_end(ended);
        s->generation = evict_generation_.load(std::memory_order_relaxed);
        s->last_used.store(ended, std::memory_order_relaxed);
        s->last_checked.store(ended, std::memory_order_relaxed);
        lock.lock();
        last_connect_error_.clear();
        backoff_ns_ = 0;
        next_connect_at_ = 0;
        if (gate_.load(std::memory_order_relaxed) & gate_closed) {
            s->state.store(slot_reserved, std::memory_order_relaxed);
            close_queue_.push_back({s, close_reason::shutdown});
        } else if (waiter* head = queue_.head()) {
            // Opened for the waiters: the oldest gets it, nobody barges in.
            s->state.store(slot_leased, std::memory_order_release);
            hand_locked(*head, *s);
        } else {
            s->state.store(slot_idle, std::memory_order_release);
        }
        return true;
    }

    std::int64_t lifetime_end(std::int64_t created) noexcept {
        const std::int64_t life = to_ns(options_.max_lifetime);
        if (life == 0) return never;
        // Up to 2.5% less, so connections opened together do not all expire together.
        jitter_state_ ^= jitter_state_ << 13;
        jitter_state_ ^= jitter_state_ >> 7;
        jitter_state_ ^= jitter_state_ << 17;
        const std::int64_t jitter = static_cast<std::int64_t>(jitter_state_ % static_cast<std::uint64_t>(life / 40 + 1));
        return add_ns(created, life - jitter);
    }

    /// Retires idle connections past their lifetime, and past idle_timeout above min_idle.
    bool expire_idle_locked(std::int64_t now) {
        const std::size_t before = close_queue_.size();
        retire_idle_locked([&](const slot_type& s) { return now >= s.expires_at; }, close_reason::lifetime);
        if (options_.idle_timeout.count() > 0 && options_.min_idle < options_.max_size) {
            std::size_t idle = count_state(slot_idle);
            const std::int64_t limit = to_ns(options_.idle_timeout);
            retire_idle_locked(
                [&](const slot_type& s) {
                    if (idle <= options_.min_idle || now - s.last_used.load(std::memory_order_relaxed) < limit) return false;
                    --idle;
                    return true;
                },
                close_reason::idle);
        }
        return close_queue_.size() != before;
    }

    /// Checks a slot handed to an async waiter, then delivers it, or retires it and puts the
    /// waiter back at the front of the queue.
    void check_for_async(std::unique_lock<std::mutex>& lock) {
        const check_job job = check_queue_.front();
        check_queue_.pop_front();
        slot_type& s = *job.slot;
        waiter& w = *job.who;
        const std::int64_t now = precise_now(clock_);
        std::optional<close_reason> retire_for;
        if (now >= s.expires_at)
            retire_for = close_reason::lifetime;
        else if (s.generation < evict_generation_.load(std::memory_order_relaxed))
            retire_for = close_reason::evicted;
        if (!retire_for) {
            lock.unlock();
            const bool ok = driver_.is_valid(*s.connection, options_.validation_timeout);
            lock.lock();
            if (ok)
                s.last_checked.store(precise_now(clock_), std::memory_order_relaxed);
            else
                retire_for = close_reason::broken;
        }
        w.validating = false;
        checked_.notify_all();
        if (retire_for) {
            s.state.store(slot_reserved, std::memory_order_relaxed);
            close_queue_.push_back({&s, *retire_for});
        }
        if ((gate_.load(std::memory_order_relaxed) & gate_closed) && !w.cancelled) {
            // close() ran while we checked (it answers queued waiters only, and this one was
            // not queued): nothing will be served any more, so answer it here. Requeued, it
            // was never answered and the pool's destruction waited for it.
            w.cancelled = true;
            w.failure = make_error_code(errc::pool_closed);
        }
        if (w.cancelled) {
            if (!retire_for) give_back_locked(s);
            w.wake();
            return;
        }
        if (!retire_for) {
            w.handed = &s;
            w.wake();
            return;
        }
        queue_.push_front(w);  // it keeps its place
        waiting_.store(queue_.size(), std::memory_order_relaxed);
        let_head_act_locked();
    }

    /// Validates one idle connection whose keepalive is due.
    bool keepalive_one(std::unique_lock<std::mutex>& lock, std::int64_t now) {
        if (options_.keepalive_interval.count() == 0) return false;
        const std::int64_t interval = to_ns(options_.keepalive_interval);
        for (std::size_t i = 0; i < slot_count_; ++i) {
            slot_type& s = slots_[i];
            if (s.state.load(std::memory_order_relaxed) != slot_idle) continue;
            const std::int64_t fresh = std::max(s.last_used.load(std::memory_order_relaxed), s.last_checked.load(std::memory_order_relaxed));
            if (now - fresh < interval) continue;
            std::uint32_t expected = slot_idle;
            if (!s.state.compare_exchange_strong(expected, slot_reserved, std::memory_order_acquire)) continue;
            lock.unlock();
            const bool ok = driver_.is_valid(*s.connection, options_.validation_timeout);
            lock.lock();
            if (!ok) {
                close_queue_.push_back({&s, close_reason::broken});
            } else {
                s.last_checked.store(precise_now(clock_), std::memory_order_relaxed);
                s.state.store(slot_idle, std::memory_order_release);
                serve_head_locked();
            }
            return true;
        }
        return false;
    }

    bool report_leaks(std::unique_lock<std::mutex>& lock, std::int64_t now) {
        if (options_.leak_detection_threshold.count() == 0) return false;
        const std::int64_t threshold = to_ns(options_.leak_detection_threshold);
        for (std::size_t i = 0; i < slot_count_; ++i) {
            slot_type& s = slots_[i];
            if (s.state.load(std::memory_order_acquire) != slot_leased) continue;
            const std::uint64_t seq = s.lease_seq.load(std::memory_order_relaxed);
            if (s.leak_reported_seq.load(std::memory_order_relaxed) == seq) continue;
            if (s.owner.load(std::memory_order_acquire) == 0) continue;  // coming back, or not lent yet
            const std::int64_t age = now - s.acquired_at.load(std::memory_order_relaxed);
            if (age < threshold) continue;
            s.leak_reported_seq.store(seq, std::memory_order_relaxed);
            leaks_.fetch_add(1, std::memory_order_relaxed);
            const owner_id holder = s.owner.load(std::memory_order_relaxed);
            holder_info h{holder, owner_label(holder), s.site.load(std::memory_order_relaxed), std::chrono::nanoseconds(age)};
            if (pool_observer* obs = observer_.load(std::memory_order_acquire)) {
                lock.unlock();
                outside_lock(obs)->on_leak(*this, h);
                lock.lock();
            }
            return true;
        }
        return false;
    }

    /// Mutex held on entry and exit; released around the observer's on_clock_leap (observers
    /// never run under the pool's lock: one may call back into the pool).
    void housekeep_locked(std::unique_lock<std::mutex>& lock, std::int64_t now) {
        const std::int64_t interval = to_ns(options_.housekeeping_interval);
        const std::int64_t elapsed = now - last_housekeeping_;
        last_housekeeping_ = now;
        std::int64_t leap = 0;
        if (elapsed < -leap_tolerance_ns) {
            // Backward: ages and lifetimes measured so far are meaningless. Start afresh.
            leap = elapsed;
            evict_generation_.fetch_add(1, std::memory_order_relaxed);
            retire_idle_locked([](const slot_type&) { return true; }, close_reason::evicted);
        } else if (elapsed > interval + interval / 2 + leap_tolerance_ns) {
            leap = elapsed - interval;
        }
        if (leap == 0) return;
        if (pool_observer* obs = observer_.load(std::memory_order_acquire)) {
            lock.unlock();
            outside_lock(obs)->on_clock_leap(*this, std::chrono::nanoseconds(leap));
            lock.lock();
        }
    }

    void on_clock_advanced() {
        std::lock_guard lock(mutex_);
        queue_.for_each([](waiter& w) {
            if (!w.async) w.wake();
        });
        worker_cv_.notify_all();
    }

    // ------------------------------------------------------------------ diagnostics

    pool_diagnostics diagnose(std::error_code ec, owner_id owner, const std::source_location& site, std::int64_t started) const {
        pool_diagnostics d;
        d.pool_name = options_.name;
        d.code = ec;
        d.stats = stats();
        d.waited = std::chrono::nanoseconds(precise_now(clock_) - started);
        d.holders = holders();
        d.site = site;
        d.owner = owner;
        {
            std::lock_guard lock(mutex_);
            d.last_connect_error = last_connect_error_;
        }
        if (ec == errc::pool_closed)
            d.what = verdict::closed;
        else if (ec == errc::pending_limit)
            d.what = verdict::rejected;
        else if (ec == errc::deadlock)
            d.what = verdict::deadlocked;
        else if (d.stats.total < d.stats.max || !d.last_connect_error.empty())
            d.what = verdict::database_unreachable;
        else
            d.what = verdict::exhausted;
        if (d.what == verdict::database_unreachable) {
            const std::string target = describe_target(driver_);
            if (!target.empty()) d.detail = "target: " + target;
        }
        return d;
    }

    // ------------------------------------------------------------------ members

    Driver driver_;
    const pool_options options_;
    Clock clock_;
    const std::uint64_t id_;
    const std::size_t slot_count_;
    const std::unique_ptr<slot_type[]> slots_;
    const worker_mode mode_;
    const std::int64_t bypass_ns_ = to_ns(options_.alive_bypass_window);

    alignas(64) std::atomic<std::uint32_t> gate_{0};
    std::atomic<std::uint64_t> evict_generation_{0};
    std::atomic<pool_observer*> observer_{nullptr};

    alignas(64) mutable std::mutex mutex_;
    wait_queue queue_;
    std::atomic<std::size_t> waiting_{0};
    std::atomic<std::size_t> active_waiters_{0};
    std::condition_variable waiters_gone_;
    bool head_owed_ = false;  ///< the pool is fair: the next connection returned goes to the head
    // Armings of gate_sleepers, and the latest arming a completed heavy fence has followed
    // (a sleeping waiter fences after unlocking, so the two may differ for a while).
    std::uint64_t wake_armed_ = 0;
    std::uint64_t wake_fenced_ = 0;
    std::deque<close_job> close_queue_;
    std::deque<check_job> check_queue_;
    std::condition_variable checked_;  ///< the worker finished checking a slot for an async waiter
    std::size_t async_outstanding_ = 0;
    std::condition_variable worker_cv_;
    bool worker_stop_ = false;
    bool handle_alive_ = true;
    bool deletion_claimed_ = false;
    std::size_t draining_ = 0;
    std::thread worker_;
    std::string last_connect_error_;
    std::int64_t backoff_ns_ = 0;
    std::int64_t next_connect_at_ = 0;
    std::int64_t last_housekeeping_ = 0;
    std::uint64_t jitter_state_;
    std::uint64_t clock_subscription_ = 0;
    std::shared_ptr<const pool_diagnostics> last_failure_;
    observer_list observers_;

    std::atomic<std::uint64_t> timeouts_{0}, rejected_{0}, created_{0}, connect_failures_{0}, leaks_{0},
        deadlocks_{0}, nested_{0};
    std::atomic<std::uint64_t> closed_[close_reason_count]{};
    atomic_timing acquire_wait_, creation_;
};

}  // namespace detail
}  // namespace lifeguard
