// The pool engine behind basic_pool: borrowing, returning, waiting, the worker, and the
// engine's lifetime.
//
// Parts. This file is the engine: it owns the mutex, the driver calls, the observers, the
// async protocol and the engine's lifetime, and it carries out what three decision units
// decide. Each of them calls only downward, takes `now` instead of reading a clock, and is
// unit-tested alone (tests/core/*_test.cpp of the same name):
//  - slot_table.hpp: the bag. Slots, their states and every scan over them (claims, census,
//    the fairness bound), and whether a connection must be retired before it is lent.
//  - hand_off.hpp: who is served next. The FIFO queue, who may claim, when the head is owed,
//    whom a return wakes. It answers "hand the slot to the head" or "wake this thread".
//  - housekeeper.hpp: what the worker must do, and when. Idle expiry, lifetime and jitter,
//    keepalive, leaks, refill, connect backoff, clock leaps, the next wake-up (worker_wake.hpp).
//
// Cost model. Borrowing an idle connection is a CAS on its slot plus a load of the process tick
// word (a timestamp, see tick_clock.hpp); returning one is a tick-word load, a release store
// and a compiler barrier (see fence.hpp). Neither takes the mutex, allocates or makes a system
// call while nobody waits. The mutex guards the wait queue and the worker's bookkeeping;
// callers take it only when they must wait, or when a return finds a `slow_path_` bit set
// (waiters to wake, fairness hand-off, closed pool). While the only bit set is slow_sleepers,
// a return takes it only if some queued waiter is unserved (hand_off::unserved(): not yet
// woken, or async), which it reads after a seq_cst fence: with 8 threads on one connection,
// most returns find every sleeper already woken, and taking the mutex for nothing made the
// woken threads and the returner queue on it (bench/core pool 1, 8 threads, the builds run
// alternately: 239 -> 189 ns a pair, medians of three rounds; SOCI 153).
//
// What the hot path keeps beyond bench/core's best-case `reference` pool (one CAS, one store:
// 5.3 ns a pair against lifeguard's 12.2 ns, one thread, same process): per borrow, the
// observer pointer and slow-path word loads, the lifetime / eviction / freshness compares
// (about 1.7 ns), and the lease stamp (site, acquired_at, owner, lease_seq: what leak reports,
// pool errors and the detector read; about 0.6 ns; lease_seq doubles as the acquire count);
// per return, the usage counters (count, total, max held), the driver's reset, the same
// compares, last_used, the fairness check (lease_seq against owed_at_seq) and the owner
// cleared beside the idle store (about 2.7 ns together). Measured by removing each in turn, not
// guessed: clearing the owner in a store of its own, before the reset, cost 3.5 ns of the pair;
// inlining release() into the caller made the pair slower (14.7 ns), not faster. The check
// whether an async lease leaves its reset to the worker (slot::reset_by_worker) costs about
// 0.4 ns of the pair (12.0 → 12.4 ns, medians, the two builds run alternately).
//
// Hand-off policy. Waiters are queued FIFO. Callers that are running and do not wait may take an
// idle connection first ("barging"): that keeps connections busy instead of parked while a
// sleeping waiter is scheduled. While anyone waits (and for `sleepers_linger_returns` returns
// after the queue empties, so that the next waiter need not fence again), every return takes the
// slow path and wakes the oldest waiter that no return has woken yet (a condition variable's
// notify_one, but in arrival order); then the returning thread yields its CPU, so that the woken
// thread runs now, while the returner holds no connection, rather than a time slice later (0.1-4
// ms here under load); an async waiter has no thread to wake, so when it is the oldest not yet
// served (behind threads woken for earlier returns) it is handed the connection. A woken waiter,
// like the head, takes any idle connection; if a running caller took it first, it sleeps until a
// return wakes it again. Barging is bounded twice over:
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

#include "lifeguard/detail/admission.hpp"
#include "lifeguard/detail/clock.hpp"
#include "lifeguard/detail/fence.hpp"
#include "lifeguard/detail/first_connection.hpp"
#include "lifeguard/detail/hand_off.hpp"
#include "lifeguard/detail/health_window.hpp"
#include "lifeguard/detail/housekeeper.hpp"
#include "lifeguard/detail/live_options.hpp"
#include "lifeguard/detail/lock_check.hpp"
#include "lifeguard/detail/observer_list.hpp"
#include "lifeguard/detail/return_guard.hpp"
#include "lifeguard/detail/slot_table.hpp"
#include "lifeguard/detail/thread_counter.hpp"
#include "lifeguard/detail/waiter.hpp"
#include "lifeguard/driver.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/health.hpp"
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

// slow_path_ bits: any set bit sends returns (and, for closed/fair, borrows) to the slow path.
inline constexpr std::uint32_t slow_closed = 1;
inline constexpr std::uint32_t slow_fair = 2;       // the head is owed the next return: no barging
inline constexpr std::uint32_t slow_sleepers = 4;   // waiters sleep: returns come to wake one
inline constexpr std::uint32_t slow_suspended = 8;  // suspend(): nobody is lent a connection
inline constexpr std::uint32_t slow_surplus = 16;   // max_size shrank: returns retire what is above it
/// The bits that stop borrowing on the fast path.
inline constexpr std::uint32_t slow_no_borrow = slow_closed | slow_fair | slow_suspended;

/// How many returns may find the queue empty before slow_sleepers is cleared. Arming the bit
/// costs a heavy fence (a membarrier: an interrupt to every CPU), keeping it costs each return
/// the mutex. When the queue empties for a moment between waiters, as with 8 threads on one
/// connection, clearing it at once re-arms it (and fences again) a moment later: bench/core
/// pool 1, 8 threads, made 223K membarriers a run and 204 ns a pair; lingering 64 returns made
/// 5K and 153 ns, with pool 2's tails unchanged (1,024 returns: 167 ns).
inline constexpr std::uint32_t sleepers_linger_returns = 64;

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
    using table_type = slot_table<connection_type>;

    pool_core(Driver driver, pool_options options, Clock clock, worker_mode mode)
        : driver_(std::move(driver)),
          options_(options),
          clock_(std::move(clock)),
          id_(next_pool_id()),
          slots_(opts().max_size_ceiling),
          emergency_slots_(opts().on_deadlock == deadlock_policy::heal ? opts().max_overflow : 0),
          mode_(mode),
          upkeep_(upkeep_settings::from(opts()), lifetime_jitter_seed() ^ id_) {
        init_asymmetric_fence();
        upkeep_.start(precise_now(clock_));
        if (opts().initialization_fail_timeout.count() >= 0) adopt_first_connection();
        if constexpr (subscribable_clock<Clock>)
            clock_subscription_ = clock_.subscribe([this] { on_clock_advanced(); });
        if (mode_ == worker_mode::thread) worker_ = std::thread([this] { worker_loop(); });
    }

    pool_core(const pool_core&) = delete;
    pool_core& operator=(const pool_core&) = delete;

    // ------------------------------------------------------------------ borrowing

    /// Finds a connection for `owner` or fails. On success the slot is leased and prepared.
    /// `deadline` (pool clock, ns): when to give up; unset, acquire_timeout after the start.
    slot_type* acquire(owner_id owner, std::string_view label, const std::source_location& site,
                       std::error_code& ec, std::shared_ptr<const pool_diagnostics>* diagnostics,
                       std::exception_ptr* exception, std::optional<std::int64_t> deadline = std::nullopt) {
        std::int64_t started = 0;
        if (slot_type* s = acquire_idle(owner, site, started)) [[likely]] {
            ec.clear();
            return s;
        }
        return acquire_waiting(owner, label, site, started, ec, diagnostics, exception, deadline);
    }

    /// The first half of acquire(): tells observers an acquisition starts and lends an idle
    /// connection if the pool may (no waiter is owed one). On nullptr the caller must go on
    /// with acquire_waiting(), passing `started` (set if a validation already took time).
    slot_type* acquire_idle(owner_id owner, const std::source_location& site, std::int64_t& started) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) [[unlikely]]
            outside_lock(obs)->on_acquire_start(*this, owner, site);
        if ((slow_path_.load(std::memory_order_relaxed) & slow_no_borrow) == 0) [[likely]] {
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
                              std::shared_ptr<const pool_diagnostics>* diagnostics, std::exception_ptr* exception,
                              std::optional<std::int64_t> deadline = std::nullopt) {
        return acquire_waiting(owner, label, site, started, ec, diagnostics, exception, deadline);
    }

    /// Borrows an idle connection if one is ready now; never waits.
    slot_type* try_acquire(owner_id owner, const std::source_location& site) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) outside_lock(obs)->on_acquire_start(*this, owner, site);
        if (slow_path_.load(std::memory_order_relaxed) & slow_no_borrow) return nullptr;
        std::int64_t started = 0;
        slot_type* s = borrow_idle(owner, site, started);
        if (!s && claim_.load(std::memory_order_relaxed) > 1) s = borrow_admitted(owner, site, started);
        if (s && obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(0));
        if (!s) request_work();
        return s;
    }

    /// try_acquire() near exhaustion under admission: the full check (who holds what), under
    /// the mutex, for a caller that does not wait.
    slot_type* borrow_admitted(owner_id owner, const std::source_location& site, std::int64_t& started) {
        sync_waiter w;
        w.owner = owner;
        w.chain = &current_owner_slot;
        slot_type* s = nullptr;
        {
            std::lock_guard lock(mutex_);
            s = claim_for_locked(w);
        }
        if (s && !check_before_lending(*s, owner, site, started)) return nullptr;
        return s;
    }

    /// The fast path of asynchronous acquisitions: as try_acquire(), but never runs driver code
    /// on the calling thread (an event loop): a connection that must be checked before it is lent
    /// is left to enqueue_async(), whose hand-off has the worker check it.
    slot_type* try_acquire_async(owner_id owner, const std::source_location& site) {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) outside_lock(obs)->on_acquire_start(*this, owner, site);
        if (slow_path_.load(std::memory_order_relaxed) & slow_no_borrow) return nullptr;
        std::int64_t started = 0;
        slot_type* s = borrow_idle(owner, site, started, /*checks_here=*/false);
        if (s) s->reset_by_worker = true;  // its return must not make a round trip on the loop either
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
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) {
            w.failure = make_error_code(errc::pool_closed);
            w.wake();
            return;
        }
        if (hand_off_.size() >= opts().max_pending) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            w.failure = make_error_code(errc::pending_limit);
            w.wake();
            return;
        }
        const bool is_head = join_queue_locked(w);
        if (wants_connection_locked()) request_work_locked();  // else the worker has nothing to do
        if (is_head) let_head_act_locked();
        if (w.done() || w.validating) return;
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (obs) {
            w.block_reported = true;
            const wait_info info = wait_info_of(w);
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
        if (ec == errc::timeout) {
            timeouts_.fetch_add(1, std::memory_order_relaxed);
            const std::int64_t now = precise_now(clock_);
            health_.queued(now, now - w.since, true);
        }
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
        if (w.block_reported && obs) outside_lock(obs)->on_unblock(*this, wait_info_of(w));
        slot_type* s = w.cancelled ? nullptr : static_cast<slot_type*>(w.handed);
        if (s) {
            stamp_lease(*s, w.owner, w.site, coarse_now(clock_));
            s->reset_by_worker = true;
            const std::int64_t ended = precise_now(clock_);
            const std::int64_t waited = ended - w.since;
            acquire_wait_.add(waited);
            health_.queued(ended, waited, false);
            if (obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(waited));
            ec.clear();
        } else {
            ec = w.failure;
            report_failure(obs, ec, w, diagnostics, exception);
        }
        std::unique_lock lock(mutex_);
        drop_async_locked(lock);
        return s;
    }

    /// Forgets an async waiter whose completion will never run (its handler was destroyed
    /// with its execution context): a slot handed to it goes back to the pool.
    void abandon_async(waiter& w) noexcept {
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (w.block_reported && obs) outside_lock(obs)->on_unblock(*this, wait_info_of(w));
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

    /// A slot the pool holds (opened, kept alive, reset, or leased to nobody in the end) goes
    /// back into service: idle, and the queue served; or closed, when the pool is closed or
    /// max_size shrank below what is open (retire_instead_of_idle_locked).
    void give_back_locked(slot_type& s) noexcept {
        if (retire_instead_of_idle_locked(s)) return;
        s.state.store(slot_idle, std::memory_order_release);
        serve_queue_locked();
    }

    /// `s` (owned by the caller, counted as open or being opened) was about to become idle:
    /// queues it to be closed instead when the pool is closed (shutdown) or when it would stay
    /// open above max_size (evicted: reconfigure() shrank the pool while the worker opened,
    /// checked or reset it, so no return would come to retire it). True when it did.
    bool retire_instead_of_idle_locked(slot_type& s) noexcept {
        const std::uint32_t bits = slow_path_.load(std::memory_order_relaxed);
        if (bits & slow_closed) {
            queue_close_locked(s, close_reason::shutdown);
        } else if ((bits & slow_surplus) && surplus_locked() > 0) {
            queue_close_locked(s, close_reason::evicted);
            retire_surplus_locked();  // clears slow_surplus once nothing is above max_size
        } else {
            return false;
        }
        request_work_locked();
        return true;
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
            queue_close_locked(*job.slot, close_reason::shutdown);
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
        if (s.reset_by_worker) [[unlikely]] {
            // An async lease: its reset goes to the worker unless the driver says it needs no
            // round trip (driver.hpp's reset_is_local), then it is reset here, like any return.
            if (!lifeguard::reset_is_local(driver_, *s.connection)) return defer_reset(s, invalidated, now);
            s.reset_by_worker = false;
        }
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
        if (slow_path_.load(std::memory_order_relaxed) != 0) [[unlikely]]
            after_return_slow();
    }

    // ------------------------------------------------------------------ control

    void close() {
        std::unique_lock lock(mutex_);
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) return;
        slow_path_.fetch_or(slow_closed, std::memory_order_seq_cst);
        lock.unlock();
        heavy_fence();
        lock.lock();
        while (waiter* w = hand_off_.head()) fail_locked(*w, make_error_code(errc::pool_closed), nullptr);
        emergency_jobs_.clear();  // their members were just failed
        retire_idle_locked([](const slot_type&) { return true; }, close_reason::shutdown);
        worker_cv_.notify_all();
    }

    void soft_evict() {
        evict_generation_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(mutex_);
        retire_idle_locked([](const slot_type&) { return true; }, close_reason::evicted);
        worker_cv_.notify_all();
    }

    /// Lends nothing until resume(): acquisitions wait (and time out) as when all connections
    /// are leased. Once this returns, no acquisition starting later is lent a connection (the
    /// flag is fenced like close()'s). Leases are not interrupted. Idempotent.
    void suspend() {
        std::unique_lock lock(mutex_);
        if (slow_path_.load(std::memory_order_relaxed) & (slow_closed | slow_suspended)) return;
        slow_path_.fetch_or(slow_suspended, std::memory_order_seq_cst);
        lock.unlock();
        heavy_fence();
    }

    /// Ends suspend(): the waiters are served in the order they came, idle connections first,
    /// then as the worker opens more. Idempotent.
    void resume() {
        std::lock_guard lock(mutex_);
        if (!(slow_path_.load(std::memory_order_relaxed) & slow_suspended)) return;
        slow_path_.fetch_and(~slow_suspended, std::memory_order_seq_cst);
        serve_in_order_locked();
    }

    /// Applies `change` (validated like the constructor's options; options_error and no change
    /// when it fails). A lower max_size retires connections above it: idle ones now, leased ones
    /// as they come back, and one the worker is opening, keeping alive or resetting when it is
    /// done (retire_instead_of_idle_locked). A higher one opens connections for the waiters now.
    void reconfigure(const pool_settings& change) {
        std::unique_lock lock(mutex_);
        const pool_options& next = options_.apply(change);
        upkeep_.apply(upkeep_settings::from(next));
        if (retire_surplus_locked() > 0) {
            // Leased connections above max_size: their returns must see the flag (fenced as in
            // arm_wake_locked), and any return that came back before it did is retired here.
            slow_path_.fetch_or(slow_surplus, std::memory_order_seq_cst);
            lock.unlock();
            heavy_fence();
            lock.lock();
            retire_surplus_locked();
        }
        serve_in_order_locked();
        worker_cv_.notify_all();
    }

    /// The readiness snapshot of health.hpp: connectivity, saturation over the last `window`,
    /// and a verdict. Never takes the pool's mutex.
    pool_health health(std::chrono::nanoseconds window) const {
        pool_health h;
        const pool_options& o = opts();
        const pool_stats st = stats();
        h.pool_name = o.name;
        const std::uint32_t bits = slow_path_.load(std::memory_order_relaxed);
        h.closed = (bits & slow_closed) != 0;
        h.suspended = (bits & slow_suspended) != 0;
        h.open = st.total;
        h.idle = st.idle;
        h.active = st.active;
        h.max_size = st.max;
        h.pending = st.pending;
        health_.fill(h, precise_now(clock_), to_ns(window));
        judge(h, to_ns(o.acquire_timeout));
        return h;
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
        drop_reset_jobs_locked();
        drain_close_queue(lock);
        waiters_gone_.wait(lock, [&] { return hand_off_.empty() && active_waiters_ == 0; });
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
    /// How many times the engine asked its worker to look for work (tests: a caller that waits
    /// for a connection the pool may not open must not wake the worker).
    std::uint64_t work_requests() const {
        std::lock_guard lock(mutex_);
        return work_requests_;
    }
    /// How many times a waiter armed slow_sleepers, each with a heavy fence (tests: the bit
    /// lingers after the queue empties, so a caller that waits soon after arms nothing).
    std::uint64_t wake_armings() const {
        std::lock_guard lock(mutex_);
        return wake_armed_;
    }

    // ------------------------------------------------------------------ pool_view

    std::uint64_t id() const noexcept override { return id_; }
    const std::string& name() const noexcept override { return opts().name; }
    /// The options in force now (a version that stays valid for the pool's life).
    const pool_options& options() const noexcept override { return opts(); }
    std::chrono::nanoseconds now() const noexcept override {
        return std::chrono::nanoseconds(precise_now(clock_));
    }
    std::string target() const override { return describe_target(driver_); }

    pool_stats stats() const noexcept override {
        pool_stats st;
        const slot_census census = slots_.census();
        st.idle = census.idle;
        st.active = census.leased;
        st.creating = census.creating;
        st.total = census.open();
        std::uint64_t usage_max = 0;
        for (const slot_type& s : slots_) {
            st.acquired += s.lease_seq.load(std::memory_order_relaxed);  // every lease stamped is an acquire
            st.usage.count += s.usage_count.get();
            st.usage.total += std::chrono::nanoseconds(s.usage_total_ns.get());
            usage_max = std::max(usage_max, s.usage_max_ns.get());
        }
        st.usage.max = std::chrono::nanoseconds(usage_max);
        st.emergency = emergency_slots_.census().leased;
        st.pending = waiting_.load(std::memory_order_relaxed);
        const pool_options& o = opts();
        st.max = o.max_size;
        st.min = o.min_idle;
        st.suspended = (slow_path_.load(std::memory_order_relaxed) & slow_suspended) != 0;
        st.claim = claim_.load(std::memory_order_relaxed);
        st.emergency_lent = emergency_lent_.load(std::memory_order_relaxed);
        st.emergency_failed = emergency_failed_.load(std::memory_order_relaxed);
        st.worker_resets = worker_resets_.load(std::memory_order_relaxed);
        st.timeouts = timeouts_.load(std::memory_order_relaxed);
        st.rejected = rejected_.load(std::memory_order_relaxed);
        st.created = created_.load(std::memory_order_relaxed);
        st.connect_failures = connect_failures_.load(std::memory_order_relaxed);
        for (std::size_t r = 0; r < close_reason_count; ++r) st.closed[r] = closed_[r].load(std::memory_order_relaxed);
        st.leaks = leaks_.load(std::memory_order_relaxed);
        st.deadlocks = deadlocks_.load(std::memory_order_relaxed);
        st.nested_acquisitions = nested_.read();
        st.acquire_wait = acquire_wait_.get();
        st.acquire_wait.count = st.acquired;  // acquires that did not wait count as zero
        st.creation = creation_.get();
        return st;
    }

    std::vector<holder_info> holders() const override {
        std::vector<holder_info> out;
        const std::int64_t now = coarse_now(clock_);
        auto add = [&](const slot_type& s) {
            if (s.state.load(std::memory_order_acquire) != slot_leased) return;
            const owner_id o = s.owner.load(std::memory_order_acquire);
            if (o == 0) return;  // being claimed, validated or handed over: nobody holds it yet
            out.push_back({o, owner_label(o), s.site.load(std::memory_order_relaxed),
                           std::chrono::nanoseconds(std::max<std::int64_t>(0, now - s.acquired_at.load(std::memory_order_relaxed)))});
        };
        for (const slot_type& s : slots_) add(s);
        for (const slot_type& s : emergency_slots_) add(s);
        return out;
    }

    std::vector<wait_info> waiters() const override {
        std::vector<wait_info> out;
        std::lock_guard lock(mutex_);
        hand_off_.for_each([&](const waiter& w) { out.push_back(wait_info_of(w)); });
        return out;
    }

    bool has_room() const noexcept override {
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) return false;
        const slot_census c = slots_.census();
        return c.idle + c.creating > 0 || c.open() < opts().max_size;
    }

    bool fail_waiter(owner_id owner, std::error_code ec, std::exception_ptr ex) override {
        std::lock_guard lock(mutex_);
        waiter* w = queued_waiter_locked(owner);
        if (w) fail_locked(*w, ec, std::move(ex));
        return w != nullptr;
    }

    heal_outcome heal_waiter(owner_id owner, std::error_code ec, std::exception_ptr ex) override {
        std::lock_guard lock(mutex_);
        waiter* w = queued_waiter_locked(owner);
        if (!w) return heal_outcome::not_waiting;
        emergency_job job{owner, ec, std::move(ex)};
        if ((slow_path_.load(std::memory_order_relaxed) & slow_closed) || emergency_in_use_locked() >= emergency_slots_.size()) {
            fail_member_locked(*w, job);
            return heal_outcome::failed;
        }
        emergency_jobs_.push_back(std::move(job));
        worker_cv_.notify_all();
        return heal_outcome::lending;
    }

    void raise_claim(std::size_t depth) noexcept override {
        if (opts().on_deadlock != deadlock_policy::heal) return;
        depth = std::min(depth, opts().max_size);
        std::size_t claim = claim_.load(std::memory_order_relaxed);
        while (depth > claim && !claim_.compare_exchange_weak(claim, depth, std::memory_order_relaxed)) {
        }
        if (depth <= claim) return;
        claim_rose_.store(true, std::memory_order_relaxed);
        // Waiters queued before the claim rose were ranked without it: a nested request may sit
        // behind first requests that admission now refuses.
        std::lock_guard lock(mutex_);
        hand_off_.for_each([&](waiter& w) { w.holds = holdings_locked(w); });
        if (!hand_off_.rank_by_holds()) return;
        if (slow_path_.load(std::memory_order_relaxed) & slow_fair) slow_path_.fetch_and(~slow_fair, std::memory_order_relaxed);
        restart_fairness_count_locked();
        let_head_act_locked();
    }

    void count_deadlock() noexcept override { deadlocks_.fetch_add(1, std::memory_order_relaxed); }
    void count_nested_acquisition() noexcept override { nested_.add(); }

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
    struct emergency_job {
        owner_id owner;
        std::error_code failure;           ///< what the member is failed with if none can be lent
        std::exception_ptr exception;
    };

    // ------------------------------------------------------------------ borrow internals

    slot_type* borrow_idle(owner_id owner, const std::source_location& site, std::int64_t& started,
                           bool checks_here = true) {
        const std::size_t count = slots_.size();
        std::uint32_t i = borrow_hint;
        if (i >= count) i = 0;
        for (std::size_t tried = 0; tried < count; ++tried) {
            slot_type& s = slots_[i];
            if (++i == count) i = 0;
            if (!table_type::take(s, slot_idle, slot_leased)) continue;
            if (const std::size_t claim = claim_.load(std::memory_order_relaxed);
                claim > 1 && !slots_.has_spare(s, claim - 1, opts().max_size == count)) {
                // Near exhaustion under admission: who holds what decides, under the mutex.
                unclaim(s);
                return nullptr;
            }
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
        if (const auto why = retirement_due(s, now, evict_generation_.load(std::memory_order_relaxed))) [[unlikely]] {
            retire(s, *why);
            return false;
        }
        if (must_validate(s, now)) [[unlikely]] {
            if (!checks_here) {  // not on this thread: put it back for the worker-checked hand-off
                unclaim(s);
                return false;
            }
            if (started == 0) started = precise_now(clock_);
            if (!driver_.is_valid(*s.connection, opts().validation_timeout)) {
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
        if (slow_path_.load(std::memory_order_relaxed) != 0) [[unlikely]]
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
    }

    /// True when a connection idle since its last use or check must be validated before it is
    /// lent (idle past the alive-bypass window, or the window is 0: always).
    bool must_validate(const slot_type& s, std::int64_t now) const noexcept {
        return now - s.last_active() > bypass_ns_ || bypass_ns_ == 0;
    }

    /// True when a slot must be checked (lifetime, eviction, validation) before it is lent.
    bool needs_check(const slot_type& s, std::int64_t now) const noexcept {
        return retirement_due(s, now, evict_generation_.load(std::memory_order_relaxed)) || must_validate(s, now);
    }

    /// Claims an idle slot (mutex held); none while suspended.
    slot_type* claim_idle_locked() noexcept {
        if (slow_path_.load(std::memory_order_relaxed) & slow_suspended) return nullptr;
        return slots_.take_any(slot_idle, slot_leased);
    }

    /// The head waiter, or nullptr when nobody waits or the pool is suspended (mutex held).
    waiter* head_to_serve_locked() const noexcept {
        if (slow_path_.load(std::memory_order_relaxed) & slow_suspended) return nullptr;
        return hand_off_.head();
    }

    /// Hands idle connections to the waiters, oldest first, and has the worker open more if
    /// they are still wanted (resume(), a larger max_size).
    void serve_in_order_locked() noexcept {
        while (waiter* head = head_to_serve_locked()) {
            slot_type* s = claim_for_locked(*head);
            if (!s) break;
            give_to_waiter_locked(*head, *s);
        }
        let_head_act_locked();
        if (wants_connection_locked()) request_work_locked();
    }

    /// Retires idle connections while more are open (or being opened) than max_size; returns
    /// how many are still above it once those close (leases that must come back first).
    std::size_t retire_surplus_locked() {
        std::size_t surplus = surplus_locked();
        retire_idle_locked(
            [&](const slot_type&) {
                if (surplus == 0) return false;
                --surplus;
                return true;
            },
            close_reason::evicted);
        if (surplus == 0) slow_path_.fetch_and(~slow_surplus, std::memory_order_relaxed);
        if (!close_queue_.empty()) worker_cv_.notify_all();
        return surplus;
    }

    /// How many connections are open or being opened beyond max_size, not counting those
    /// queued to be closed or closing (mutex held; a scan). Only a shrink makes it non-zero
    /// (the worker opens none beyond max_size), and slow_surplus is set while it is.
    std::size_t surplus_locked() const noexcept {
        const slot_census c = slots_.census();
        const std::size_t leaving = close_queue_.size() + draining_;
        const std::size_t counted = c.open() + c.creating;
        const std::size_t max = opts().max_size;
        return counted > leaving + max ? counted - leaving - max : 0;
    }

    /// The options in force now.
    const pool_options& opts() const noexcept { return options_.current(); }

    /// initialization_fail_timeout >= 0: opens the first connection on the constructing thread
    /// (first_connection.hpp; throws startup_error) and puts it in the first slot, idle.
    void adopt_first_connection() {
        const std::int64_t began = precise_now(clock_);
        slot_type& s = slots_[0];
        s.connection.emplace(open_first_connection(driver_, clock_, opts()));
        const std::int64_t now = precise_now(clock_);
        creation_.add(now - began);
        created_.fetch_add(1, std::memory_order_relaxed);
        health_.connect_succeeded(now);
        s.created_at = now;
        s.generation = evict_generation_.load(std::memory_order_relaxed);
        s.last_used.store(now, std::memory_order_relaxed);
        s.last_checked.store(now, std::memory_order_relaxed);
        s.expires_at = upkeep_.lifetime_end(now);
        s.state.store(slot_idle, std::memory_order_release);
    }

    /// Claims an idle slot for `w` if admission grants it one (mutex held).
    slot_type* claim_for_locked(const waiter& w) noexcept {
        slot_type* s = claim_idle_locked();
        if (s && !admits_locked(w, *s)) {
            s->state.store(slot_idle, std::memory_order_release);  // it waits; the slot stays for others
            return nullptr;
        }
        return s;
    }

    // ------------------------------------------------------------------ admission

    /// May `w` be granted `granted`, just claimed for it (leased, no owner yet)? The banker's
    /// check of admission.hpp on the pool's claim (mutex held): who holds what is read from the
    /// slots' owner stamps, and a blocked thread is one task with the owners of all the scopes
    /// its call is nested in. A lease whose owner is not stamped yet (its borrower is about to
    /// run) counts as a task of its own, and so does each scope of a task that is running: both
    /// make the answer stricter only while someone runs, who will give back or ask again.
    bool admits_locked(const waiter& w, const slot_type& granted) noexcept {
        const std::size_t claim = claim_.load(std::memory_order_relaxed);
        if (claim <= 1) return true;
        std::atomic_thread_fence(std::memory_order_seq_cst);  // count after the claim (slot_table::has_spare)
        const std::size_t spare = slots_.census().spare_within(opts().max_size);
        if (obviously_safe(claim, spare, 0)) return true;
        const std::size_t mine = holdings_locked(w);
        if (obviously_safe(claim, spare, mine)) return true;
        // The task of each lease: the waiter whose thread acts for its owner, else the owner.
        task_of_lease_.clear();
        for (const slot_type& s : slots_) {
            if (&s == &granted || s.state.load(std::memory_order_relaxed) != slot_leased) continue;
            const owner_id o = s.owner.load(std::memory_order_relaxed);
            if (is_own(w, o)) continue;
            std::uintptr_t task = o == 0 ? reinterpret_cast<std::uintptr_t>(&s) : o;  // unstamped: alone
            if (o != 0)
                for (const waiter* q = hand_off_.head(); q; q = q->next)
                    if (is_own(*q, o)) {
                        task = reinterpret_cast<std::uintptr_t>(q);
                        break;
                    }
            task_of_lease_.push_back(task);
        }
        std::ranges::sort(task_of_lease_);
        std::vector<std::size_t>& per_task = per_task_holdings_;
        per_task.clear();
        for (std::size_t i = 0; i < task_of_lease_.size(); ++i) {
            if (i != 0 && task_of_lease_[i] == task_of_lease_[i - 1])
                ++per_task.back();
            else
                per_task.push_back(1);
        }
        return admits(claim, spare, mine, per_task, claim_rose_.load(std::memory_order_relaxed));
    }

    /// True when a lease stamped `o` belongs to `w`'s task: its owner, or (a blocking caller)
    /// the owner of a scope its call is nested in.
    static bool is_own(const waiter& w, owner_id o) noexcept {
        if (o == 0) return false;
        return o == w.owner || (w.chain && acts_for(w.chain, o));
    }

    /// How many connections of this pool `w`'s task holds (mutex held; a scan).
    std::size_t holdings_locked(const waiter& w) const noexcept {
        std::size_t n = 0;
        auto count = [&](const slot_type& s) {
            n += s.state.load(std::memory_order_relaxed) == slot_leased && is_own(w, s.owner.load(std::memory_order_relaxed));
        };
        for (const slot_type& s : slots_) count(s);
        for (const slot_type& s : emergency_slots_) count(s);
        return n;
    }

    slot_type* acquire_waiting(owner_id owner, std::string_view label, const std::source_location& site,
                               std::int64_t started, std::error_code& ec,
                               std::shared_ptr<const pool_diagnostics>* diagnostics, std::exception_ptr* exception,
                               std::optional<std::int64_t> given_deadline) {
        if (started == 0) started = precise_now(clock_);
        const std::int64_t deadline = given_deadline ? *given_deadline : add_ns(started, to_ns(opts().acquire_timeout));
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        for (;;) {
            sync_waiter w;
            w.owner = owner;
            w.owner_label = label;
            w.site = site;
            w.since = started;
            w.deadline = deadline;
            w.chain = &current_owner_slot;  // this thread waits for the owners of its enclosing scopes too
            errc failed{};
            slot_type* s = wait_in_queue(w, obs, failed);
            if (s) {
                if (w.fresh)  // an emergency connection, just opened for it
                    stamp_lease(*s, owner, site, coarse_now(clock_));
                else if (!check_before_lending(*s, owner, site, started))
                    continue;  // broken: retry in the time left
                const std::int64_t ended = precise_now(clock_);
                const std::int64_t waited = ended - started;
                acquire_wait_.add(waited);
                health_.queued(ended, waited, false);
                if (obs) outside_lock(obs)->on_acquired(*this, lease_info_of(*s), std::chrono::nanoseconds(waited));
                ec.clear();
                return s;
            }
            ec = w.failure ? w.failure : make_error_code(failed);
            report_failure(obs, ec, w, diagnostics, exception);
            return nullptr;
        }
    }

    /// Queues `w` and waits until it is handed or claims a slot (returned, leased), or fails.
    slot_type* wait_in_queue(waiter& w, pool_observer* obs, errc& failed) {
        std::unique_lock lock(mutex_);
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) {
            failed = errc::pool_closed;
            return nullptr;
        }
        if (hand_off_.size() >= opts().max_pending) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            failed = errc::pending_limit;
            return nullptr;
        }
        join_queue_locked(w);
        active_waiters_.fetch_add(1, std::memory_order_relaxed);
        // Only when the pool may open a connection for it; else waking the worker costs a
        // context switch on a loaded machine for nothing (bench/core: p99.9 wait 36 -> 17 us at
        // 8 threads on 2 cores).
        if (wants_connection_locked()) request_work_locked();
        bool announced_block = false;
        slot_type* got = nullptr;
        for (;;) {
            if (w.handed) {
                got = static_cast<slot_type*>(w.handed);
                break;
            }
            if (w.failure) break;
            const bool woken = hand_off_.take_wake(w);
            if (woken) publish_queue_locked();  // before the claim below: see return_needs_nobody()
            if (hand_off_.may_claim(w, woken)) {
                got = claim_for_locked(w);
                if (!got) {
                    arm_wake_locked(lock);
                    if (w.handed || w.failure) continue;
                    if (hand_off_.may_claim(w, woken)) got = claim_for_locked(w);
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
                    wait_info info = wait_info_of(w);
                    info.blocks_thread = true;
                    outside_lock(obs)->on_block(*this, info);
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
                health_.queued(now, now - w.since, true);
                failed = errc::timeout;
                break;
            }
            const wait_plan plan = hand_off_.plan_wait(w, now);
            if (plan.owe_now) {
                turn_fair_locked();
                continue;  // look again: from now on an idle connection is ours alone
            }
            if (w.woken_by_return) continue;  // a return woke us while the mutex was released above
            detail::wait_until(clock_, w.cv, lock, plan.wake_at);
        }
        if (announced_block && obs) {
            lock.unlock();
            outside_lock(obs)->on_unblock(*this, wait_info_of(w));
            lock.lock();
        }
        stop_waiting_locked();
        return got;
    }

    /// A synchronous waiter is done with the queue (mutex held).
    void stop_waiting_locked() noexcept {
        if (active_waiters_.fetch_sub(1, std::memory_order_relaxed) == 1 && hand_off_.empty()) waiters_gone_.notify_all();
    }

    /// Makes every return from now on take the slow path, which wakes a sleeping waiter. Armed once for
    /// all waiters: the flag stays set until the queue has stayed empty for `sleepers_linger_returns`
    /// returns, and once a heavy fence has followed its arming, every later return sees it
    /// (store-fence-load pairs with release(): either we see their slot or they see our flag). May
    /// release the mutex.
    void arm_wake_locked(std::unique_lock<std::mutex>& lock) {
        if (sleepers_armed_locked()) return;
        slow_path_.fetch_or(slow_sleepers, std::memory_order_seq_cst);
        const std::uint64_t armed = ++wake_armed_;
        lock.unlock();
        heavy_fence();
        lock.lock();
        wake_fenced_ = std::max(wake_fenced_, armed);
    }

    /// Queues `w` (mutex held); true when it became the head, whose fairness count starts now.
    bool join_queue_locked(waiter& w) noexcept {
        if (claim_.load(std::memory_order_relaxed) > 1) w.holds = holdings_locked(w);
        const bool is_head = hand_off_.join(w);
        publish_queue_locked();
        // A nested request went before an owed head: the pool is no longer owed to anyone.
        if ((slow_path_.load(std::memory_order_relaxed) & slow_fair) && !hand_off_.head_owed())
            slow_path_.fetch_and(~slow_fair, std::memory_order_relaxed);
        if (is_head) restart_fairness_count_locked();
        return is_head;
    }

    /// Removes `w` from the queue; wakes the new head so it can act as head.
    void leave_queue_locked(waiter& w) noexcept {
        const departure d = hand_off_.leave(w);
        publish_queue_locked();
        if (!d.was_head) return;
        if (d.was_owed) slow_path_.fetch_and(~slow_fair, std::memory_order_relaxed);
        restart_fairness_count_locked();
        if (d.now_empty)
            returns_since_queue_emptied_.store(0, std::memory_order_relaxed);  // slow_sleepers lingers
        else
            let_head_act_locked();
    }

    /// The queue is empty and returns still come through the slow path, in case another caller
    /// waits soon (then it need not arm and fence again): counts this return and clears
    /// slow_sleepers after `sleepers_linger_returns` of them. True when there was nobody to
    /// serve (mutex held).
    bool sleepers_linger_locked() noexcept {
        if (!hand_off_.empty()) return false;
        if (!(slow_path_.load(std::memory_order_relaxed) & slow_sleepers)) return false;
        if (!count_lingering_return()) slow_path_.fetch_and(~slow_sleepers, std::memory_order_relaxed);
        return true;
    }

    /// Counts a return made while the queue is empty and slow_sleepers lingers: true while the
    /// bit should linger on (fewer than `sleepers_linger_returns` such returns so far).
    bool count_lingering_return() noexcept {
        const std::uint32_t count = returns_since_queue_emptied_.fetch_add(1, std::memory_order_relaxed) + 1;
        return count < sleepers_linger_returns;
    }

    /// A return that found only slow_sleepers set, without the mutex: true when it has nothing
    /// to do. Nothing is, when every queued waiter is a thread a return has already woken (it
    /// will come and claim), and, while the queue is empty, the bit is still to linger. The
    /// fence pairs with publish_queue_locked()'s: either this return sees a waiter that became
    /// unserved, or that waiter's next claim sees the slot this return published.
    bool return_needs_nobody() noexcept {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (unserved_.load(std::memory_order_relaxed) != 0) return false;
        if (waiting_.load(std::memory_order_relaxed) != 0) return true;
        return count_lingering_return();
    }

    /// Publishes the queue's counts for readers without the mutex (mutex held), then fences:
    /// the stores come before this thread's next look at the slots (see return_needs_nobody()).
    void publish_queue_locked() noexcept {
        waiting_.store(hand_off_.size(), std::memory_order_relaxed);
        unserved_.store(hand_off_.unserved(), std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }

    /// A new head is owed the connection returned after any slot has been lent
    /// `fair_after_leases` more times; with nobody waiting, nobody is owed one.
    void restart_fairness_count_locked() noexcept {
        slots_.owe_head_after(hand_off_.empty() ? std::nullopt : std::optional<std::uint64_t>(fair_after_leases));
    }

    /// The head has been passed over long enough: the pool turns fair (nobody barges) and the
    /// next connection returned is handed to the head, until it is served or leaves.
    void turn_fair_locked() noexcept {
        hand_off_.owe_head();
        slow_path_.fetch_or(slow_fair, std::memory_order_relaxed);
    }

    /// release() found a connection lent `fair_after_leases` times past the head.
    void head_passed_over() noexcept {
        std::lock_guard lock(mutex_);
        head_passed_over_locked();
    }
    void head_passed_over_locked() noexcept {
        restart_fairness_count_locked();
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) return;
        if (hand_off_.passed_over()) turn_fair_locked();
    }

    /// Lets the head waiter act: a thread is woken to run its claim loop; an async waiter is
    /// served here, or asks returners to come back through the slow path.
    void let_head_act_locked() noexcept {
        waiter* head = hand_off_.head();
        if (!head) return;
        if (!head->async) {
            head->wake();
            return;
        }
        slot_type* s = claim_for_locked(*head);
        // Armed, and fenced since the last arming: every return from then on comes through the
        // slow path, and every earlier one is visible to the claim above. Else arm and fence.
        if (!s && !sleepers_armed_locked()) {
            slow_path_.fetch_or(slow_sleepers, std::memory_order_seq_cst);
            heavy_fence();
            wake_fenced_ = ++wake_armed_;
            s = claim_for_locked(*head);
        }
        if (s) give_to_waiter_locked(*head, *s);
    }

    /// Returns come through the slow path (to wake a sleeper), and a heavy fence has followed
    /// the latest arming: every return from now on sees the flag.
    bool sleepers_armed_locked() const noexcept {
        return (slow_path_.load(std::memory_order_relaxed) & slow_sleepers) && wake_fenced_ == wake_armed_;
    }

    /// Gives the leased slot `s` to `w`: delivered at once, or first checked by the worker when
    /// `w` is asynchronous and `s` needs a check (async callers never run driver code).
    void give_to_waiter_locked(waiter& w, slot_type& s) noexcept {
        s.owner.store(0, std::memory_order_relaxed);
        if (w.async && !w.fresh && needs_check(s, coarse_now(clock_))) {
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

    /// A return published an idle slot and then saw a slow-path bit. When it woke a thread, it
    /// yields its CPU: the woken waiter can run now, while this thread holds no connection,
    /// instead of a time slice later.
    void after_return_slow() {
        if (slow_path_.load(std::memory_order_relaxed) == slow_sleepers && return_needs_nobody()) return;
        std::unique_lock lock(mutex_);
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) {
            retire_idle_locked([](const slot_type&) { return true; }, close_reason::shutdown);
            if (!handle_alive_) return finish_orphan(lock);
            worker_cv_.notify_all();
            return;
        }
        if (slow_path_.load(std::memory_order_relaxed) & slow_surplus) retire_surplus_locked();
        if (slow_path_.load(std::memory_order_relaxed) & slow_suspended) return;  // resume() serves
        if (sleepers_linger_locked()) return;
        if (!serve_queue_locked()) return;
        lock.unlock();
        std::this_thread::yield();
    }

    /// Serves the queue after a connection became idle, as hand_off decides: hands it to an
    /// owed head, serves an async head, or goes to the oldest waiter no return has served yet:
    /// a sleeping thread is woken to come and take it, an async waiter is handed it. True when
    /// a thread was woken.
    bool serve_queue_locked() noexcept {
        const bool sleepers = slow_path_.load(std::memory_order_relaxed) & slow_sleepers;
        const serve_decision next = hand_off_.after_return(sleepers);
        switch (next.step) {
        case serve_step::nothing: return false;
        case serve_step::hand_to_head: {
            slot_type* s = claim_for_locked(*next.who);
            if (!s) return false;
            const bool wakes_thread = !next.who->async;
            give_to_waiter_locked(*next.who, *s);
            return wakes_thread;
        }
        case serve_step::let_async_head_act: let_head_act_locked(); return false;
        case serve_step::hand_to_async:
            // Behind threads woken for earlier returns: this return's connection is its.
            if (slot_type* s = claim_for_locked(*next.who)) give_to_waiter_locked(*next.who, *s);
            return false;
        case serve_step::wake_thread:
            publish_queue_locked();
            next.who->cv.notify_one();
            return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ retiring

    /// Takes `s` (owned by the caller: leased, held by the pool or just claimed) out of service
    /// and queues its connection to be closed by the worker.
    void retire(slot_type& s, close_reason why) noexcept {
        std::unique_lock lock(mutex_);
        s.owner.store(0, std::memory_order_relaxed);  // nobody holds a connection being closed
        queue_close_locked(s, why);
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
        const slot_census c = slots_.census();
        const slot_census e = emergency_slots_.census();
        if (c.leased + e.leased != 0 || c.held_by_pool + e.held_by_pool != 0 || e.creating != 0) return false;
        deletion_claimed_ = true;
        return true;
    }

    /// Queues the connection of `s` (which the caller owns) to be closed by the worker.
    void queue_close_locked(slot_type& s, close_reason why) {
        if (emergency_slots_.contains(s)) why = close_reason::emergency;  // back from untying a knot
        s.state.store(slot_held_by_pool, std::memory_order_relaxed);
        close_queue_.push_back({&s, why});
    }

    /// Takes every idle slot for which `pred` holds out of service, to be closed for `why`.
    template <class Pred>
    void retire_idle_locked(Pred&& pred, close_reason why) {
        slots_.take_idle_if(pred, [&](slot_type& s) { close_queue_.push_back({&s, why}); });
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

    // ------------------------------------------------------------------ resets on the worker

    /// Returns a lease made by async_acquire whose reset needs a round trip (a ROLLBACK, DISCARD
    /// ALL; or a driver that cannot tell): it runs on the worker, not here (an event loop).
    /// Until it has, the pool holds the slot.
    /// A connection that is to be closed anyway (invalidated, closed pool) is not reset.
    /// Its idle time counts from `returned`, as for any return.
    void defer_reset(slot_type& s, bool invalidated, std::int64_t returned) noexcept {
        s.reset_by_worker = false;
        s.last_used.store(returned, std::memory_order_relaxed);
        std::unique_lock lock(mutex_);
        s.owner.store(0, std::memory_order_relaxed);  // the lease has ended
        if (invalidated || (slow_path_.load(std::memory_order_relaxed) & slow_closed)) {
            queue_close_locked(s, invalidated ? close_reason::broken : close_reason::shutdown);
            if (!handle_alive_) return finish_orphan(lock);
            request_work_locked();
            return;
        }
        s.state.store(slot_held_by_pool, std::memory_order_relaxed);
        reset_queue_.push_back(&s);
        request_work_locked();
    }

    /// Resets the oldest deferred return, then finishes it as release() would: retired if
    /// broken, expired or evicted, else idle, and the queue served in order.
    void finish_deferred_reset(std::unique_lock<std::mutex>& lock) {
        slot_type& s = *reset_queue_.front();
        reset_queue_.pop_front();
        std::optional<close_reason> retire_for;
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) {
            retire_for = close_reason::shutdown;  // closed while it waited: no point resetting it
        } else {
            lock.unlock();
            const bool ok = driver_.reset(*s.connection);
            worker_resets_.fetch_add(1, std::memory_order_relaxed);
            lock.lock();
            retire_for = ok ? retirement_due(s, coarse_now(clock_), evict_generation_.load(std::memory_order_relaxed))
                            : std::optional<close_reason>(close_reason::broken);
        }
        if (retire_for) return queue_close_locked(s, *retire_for);  // the worker closes it next
        if (s.lease_seq.load(std::memory_order_relaxed) >= s.owed_at_seq.load(std::memory_order_relaxed))
            head_passed_over_locked();
        give_back_locked(s);  // idle, and the queue served (or closed, if the pool closed meanwhile)
    }

    /// The worker has stopped: deferred resets nobody will run close their connections.
    void drop_reset_jobs_locked() noexcept {
        for (slot_type* s : reset_queue_) queue_close_locked(*s, close_reason::shutdown);
        reset_queue_.clear();
    }

    // ------------------------------------------------------------------ the worker

    void request_work() {
        std::lock_guard lock(mutex_);
        request_work_locked();
    }
    void request_work_locked() noexcept {
        ++work_requests_;
        worker_cv_.notify_all();
    }

    void worker_loop() {
        std::unique_lock lock(mutex_);
        while (!worker_stop_) {
            if (worker_step(lock)) continue;
            const std::int64_t due = next_due_locked();
            worker_cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        }
    }

    /// Does one piece of due work (mutex held on entry and exit; released around driver and
    /// observer calls). Returns false when nothing was due. What is due is the housekeeper's
    /// decision; carrying it out is the engine's.
    bool worker_step(std::unique_lock<std::mutex>& lock) {
        if (!close_queue_.empty()) {  // first: an emergency connection that came back frees its slot
            drain_close_queue(lock);
            return true;
        }
        if (!emergency_jobs_.empty()) {
            open_emergency(lock);
            return true;
        }
        if (!reset_queue_.empty()) {
            finish_deferred_reset(lock);
            return true;
        }
        if (!check_queue_.empty()) {
            check_for_async(lock);
            return true;
        }
        const std::int64_t now = precise_now(clock_);
        if (upkeep_.pass_due(now)) {
            housekeep_locked(lock, now);
            return true;
        }
        if (upkeep_.take_idle_retirements(slots_, now, [&](slot_type& s, close_reason why) { close_queue_.push_back({&s, why}); }))
            return true;
        if (slot_type* s = upkeep_.take_keepalive_due(slots_, now)) {
            keep_alive(lock, *s);
            return true;
        }
        if (const auto leak = upkeep_.find_leak(slots_, now); leak.slot) {
            report_leak(lock, *leak.slot, leak.age);
            return true;
        }
        if (upkeep_.may_connect(now, connection_need_locked())) return create_one(lock);
        return false;
    }

    /// When the worker must look again (steady clock ns).
    std::int64_t next_due_locked() const noexcept {
        if constexpr (!std::same_as<Clock, std::chrono::steady_clock>) {
            // Manual clocks advance only when told: the subscription wakes us.
            return precise_now(std::chrono::steady_clock{}) + 3'600'000'000'000;
        }
        return upkeep_.next_wake(slots_, precise_now(clock_), connection_need_locked());
    }

    /// Whether the worker should open a connection, and for whom (the backoff depends on it).
    connect_need connection_need_locked() const noexcept {
        if (slow_path_.load(std::memory_order_relaxed) & slow_closed) return connect_need::none;
        return upkeep_.connection_need(slots_.census(), hand_off_.size());
    }
    bool wants_connection_locked() const noexcept { return connection_need_locked() != connect_need::none; }

    /// Opens a connection in `s` (claimed as creating by the caller; mutex not held), counts it
    /// and tells observers. Returns the driver's error, empty on success; `ended` is when the
    /// attempt ended (pool clock).
    std::string open_connection(slot_type& s, std::int64_t& ended) {
        const auto real_deadline = deadline_after<std::chrono::steady_clock>(std::chrono::steady_clock::now(), opts().acquire_timeout);
        const std::int64_t began = precise_now(clock_);
        std::string error;
        try {
            s.connection.emplace(driver_.connect(real_deadline));
        } catch (const std::exception& e) {
            error = e.what();
            if (error.empty()) error = "connect failed (no message)";
        } catch (...) {
            error = "connect failed with a non-standard exception";
        }
        ended = precise_now(clock_);
        pool_observer* obs = observer_.load(std::memory_order_acquire);
        if (!error.empty()) {
            connect_failures_.fetch_add(1, std::memory_order_relaxed);
            if (obs) outside_lock(obs)->on_connect_failed(*this, error);
            return error;
        }
        creation_.add(ended - began);
        created_.fetch_add(1, std::memory_order_relaxed);
        if (obs) outside_lock(obs)->on_connection_created(*this, std::chrono::nanoseconds(ended - began));
        s.created_at = ended;
        s.generation = evict_generation_.load(std::memory_order_relaxed);
        s.last_used.store(ended, std::memory_order_relaxed);
        s.last_checked.store(ended, std::memory_order_relaxed);
        return error;
    }

    /// Opens a connection in an empty slot (mutex released around the driver's connect).
    bool create_one(std::unique_lock<std::mutex>& lock) {
        slot_type* s = slots_.take_any(slot_empty, slot_creating);
        if (!s) return false;
        lock.unlock();
        std::int64_t ended = 0;
        std::string error = open_connection(*s, ended);
        lock.lock();
        if (!error.empty()) {
            s->state.store(slot_empty, std::memory_order_release);
            health_.connect_failed(ended, error);
            last_connect_error_ = std::move(error);
            upkeep_.connect_failed(ended);
            return true;
        }
        s->expires_at = upkeep_.lifetime_end(ended);
        last_connect_error_.clear();
        upkeep_.connect_succeeded();
        health_.connect_succeeded(ended);
        if (retire_instead_of_idle_locked(*s)) return true;  // closed, or max_size shrank meanwhile
        if (waiter* head = head_to_serve_locked()) {
            // Opened for the waiters: the first in line gets it (if admission lets it), nobody barges in.
            s->state.store(slot_leased, std::memory_order_release);
            if (admits_locked(*head, *s)) {
                give_to_waiter_locked(*head, *s);
                return true;
            }
        }
        s->state.store(slot_idle, std::memory_order_release);
        return true;
    }

    // ------------------------------------------------------------------ healing (on_deadlock heal)

    /// Opens the emergency connection a knot member was promised (heal_waiter) and lends it to
    /// that member, unchecked and past any admission: it is the way out of the knot. When it
    /// cannot be opened, or the member stopped waiting, the member is failed as it would have
    /// been under fail_fast / the connection is closed.
    void open_emergency(std::unique_lock<std::mutex>& lock) {
        emergency_job job = std::move(emergency_jobs_.front());
        emergency_jobs_.pop_front();
        slot_type* s = emergency_slots_.take_any(slot_empty, slot_creating);
        std::string error = "all max_overflow emergency connections are open";
        std::int64_t ended = 0;
        if (s) {
            lock.unlock();
            error = open_connection(*s, ended);
            lock.lock();
        }
        waiter* w = queued_waiter_locked(job.owner);
        if (!error.empty()) {
            if (s) s->state.store(slot_empty, std::memory_order_release);
            if (w) fail_member_locked(*w, job);
            return;
        }
        s->generation = 0;  // older than every eviction: retired when it comes back
        if (!w || (slow_path_.load(std::memory_order_relaxed) & slow_closed)) {
            queue_close_locked(*s, close_reason::emergency);
            return;
        }
        emergency_lent_.fetch_add(1, std::memory_order_relaxed);
        s->state.store(slot_leased, std::memory_order_release);
        w->fresh = true;
        give_to_waiter_locked(*w, *s);
    }

    /// A knot member could not be lent an emergency connection: it is failed (mutex held).
    void fail_member_locked(waiter& w, emergency_job& job) noexcept {
        emergency_failed_.fetch_add(1, std::memory_order_relaxed);
        fail_locked(w, job.failure, std::move(job.exception));
    }

    /// The oldest queued waiter of `owner`, or nullptr (mutex held).
    waiter* queued_waiter_locked(owner_id owner) const noexcept {
        for (waiter* w = hand_off_.head(); w; w = w->next)
            if (w->owner == owner) return w;
        return nullptr;
    }

    /// Emergency connections lent, being opened or promised (one that came back and waits to
    /// be closed is not: the worker closes it before it opens the next).
    std::size_t emergency_in_use_locked() const noexcept {
        const slot_census c = emergency_slots_.census();
        return c.leased + c.creating + emergency_jobs_.size();
    }

    /// Checks a slot handed to an async waiter, then delivers it, or retires it and puts the
    /// waiter back at the front of the queue.
    void check_for_async(std::unique_lock<std::mutex>& lock) {
        const check_job job = check_queue_.front();
        check_queue_.pop_front();
        slot_type& s = *job.slot;
        waiter& w = *job.who;
        std::optional<close_reason> retire_for =
            retirement_due(s, precise_now(clock_), evict_generation_.load(std::memory_order_relaxed));
        if (!retire_for) {
            lock.unlock();
            const bool ok = driver_.is_valid(*s.connection, opts().validation_timeout);
            lock.lock();
            if (ok)
                s.last_checked.store(precise_now(clock_), std::memory_order_relaxed);
            else
                retire_for = close_reason::broken;
        }
        w.validating = false;
        checked_.notify_all();
        if (retire_for) queue_close_locked(s, *retire_for);
        if ((slow_path_.load(std::memory_order_relaxed) & slow_closed) && !w.cancelled) {
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
        hand_off_.rejoin_first(w);  // it keeps its place
        publish_queue_locked();
        let_head_act_locked();
    }

    /// Validates `s`, an idle connection whose keepalive was due (taken by the housekeeper).
    void keep_alive(std::unique_lock<std::mutex>& lock, slot_type& s) {
        lock.unlock();
        const bool ok = driver_.is_valid(*s.connection, opts().validation_timeout);
        lock.lock();
        if (!ok) {
            close_queue_.push_back({&s, close_reason::broken});
            return;
        }
        s.last_checked.store(precise_now(clock_), std::memory_order_relaxed);
        give_back_locked(s);  // idle and the queue served, or closed (closed pool, above max_size)
    }

    /// Counts a lease held past the leak threshold and tells observers (outside the lock).
    void report_leak(std::unique_lock<std::mutex>& lock, const slot_type& s, std::int64_t age) {
        leaks_.fetch_add(1, std::memory_order_relaxed);
        const owner_id holder = s.owner.load(std::memory_order_relaxed);
        holder_info h{holder, owner_label(holder), s.site.load(std::memory_order_relaxed), std::chrono::nanoseconds(age)};
        if (pool_observer* obs = observer_.load(std::memory_order_acquire)) {
            lock.unlock();
            outside_lock(obs)->on_leak(*this, h);
            lock.lock();
        }
    }

    /// Mutex held on entry and exit; released around the observer's on_clock_leap (observers
    /// never run under the pool's lock: one may call back into the pool).
    void housekeep_locked(std::unique_lock<std::mutex>& lock, std::int64_t now) {
        const clock_leap leap = upkeep_.run_pass(now);
        if (leap.backward) {
            // Ages and lifetimes measured so far are meaningless. Start afresh.
            evict_generation_.fetch_add(1, std::memory_order_relaxed);
            retire_idle_locked([](const slot_type&) { return true; }, close_reason::evicted);
        }
        if (leap.by == 0) return;
        if (pool_observer* obs = observer_.load(std::memory_order_acquire)) {
            lock.unlock();
            outside_lock(obs)->on_clock_leap(*this, std::chrono::nanoseconds(leap.by));
            lock.lock();
        }
    }

    void on_clock_advanced() {
        std::lock_guard lock(mutex_);
        hand_off_.for_each([](waiter& w) {
            if (!w.async) w.wake();
        });
        worker_cv_.notify_all();
    }

    // ------------------------------------------------------------------ diagnostics

    pool_diagnostics diagnose(std::error_code ec, owner_id owner, const std::source_location& site, std::int64_t started) const {
        pool_diagnostics d;
        d.pool_name = opts().name;
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

    /// An acquisition by waiter `w` failed with `ec`: builds its diagnostics, tells observers,
    /// records it as last_failure() and hands it (and the failure's exception) to the caller.
    void report_failure(pool_observer* obs, std::error_code ec, const waiter& w,
                        std::shared_ptr<const pool_diagnostics>* diagnostics, std::exception_ptr* exception) {
        auto d = std::make_shared<pool_diagnostics>(diagnose(ec, w.owner, w.site, w.since));
        // One owner of the verdict: an observer that knows why (the detector: a knot) says so
        // before any observer is told of the failure, so all of them see the same verdict.
        if (obs) explain_failure(*outside_lock(obs), *this, *d);
        if (obs) outside_lock(obs)->on_acquire_failed(*this, *d);
        if (exception) *exception = w.failure_exception;
        {
            std::lock_guard lock(mutex_);
            last_failure_ = d;
        }
        if (diagnostics) *diagnostics = std::move(d);
    }

    /// What observers are told about a waiter (blocks_thread is set by on_block's caller).
    static wait_info wait_info_of(const waiter& w) {
        return {w.owner, std::string(w.owner_label), w.site, std::chrono::nanoseconds(w.since)};
    }

    // ------------------------------------------------------------------ members

    Driver driver_;
    live_options options_;  ///< read through opts(); reconfigure() publishes new versions
    Clock clock_;
    const std::uint64_t id_;
    table_type slots_;
    table_type emergency_slots_;  ///< on_deadlock heal: max_overflow slots beyond max_size
    const worker_mode mode_;
    const std::int64_t bypass_ns_ = to_ns(opts().alive_bypass_window);

    alignas(64) std::atomic<std::uint32_t> slow_path_{0};
    std::atomic<std::uint64_t> evict_generation_{1};  ///< from 1: emergency connections are generation 0
    std::atomic<pool_observer*> observer_{nullptr};
    /// The claim admission goes by: max_nesting, or what heal learned; <= 1: no admission.
    std::atomic<std::size_t> claim_{opts().max_nesting};
    std::atomic<bool> claim_rose_{false};  ///< heal raised the claim: states may be unsafe already

    alignas(64) mutable std::mutex mutex_;
    housekeeper<connection_type> upkeep_;  ///< what the worker must do, and when
    hand_off hand_off_;                     ///< the wait queue, and who is served next
    std::atomic<std::size_t> waiting_{0};   ///< hand_off_.size(), for readers without the mutex
    std::atomic<std::size_t> unserved_{0};  ///< hand_off_.unserved(), likewise
    std::atomic<std::size_t> active_waiters_{0};
    std::condition_variable waiters_gone_;
    // Armings of slow_sleepers, and the latest arming a completed heavy fence has followed
    // (a sleeping waiter fences after unlocking, so the two may differ for a while).
    std::uint64_t wake_armed_ = 0;
    std::uint64_t wake_fenced_ = 0;
    std::atomic<std::uint32_t> returns_since_queue_emptied_{0};  ///< while slow_sleepers lingers
    std::uint64_t work_requests_ = 0;  ///< request_work_locked() calls (mutex held)
    std::deque<close_job> close_queue_;
    std::deque<emergency_job> emergency_jobs_;  ///< knot members promised an emergency connection
    std::vector<std::uintptr_t> task_of_lease_;  ///< admission's scratch (mutex held)
    std::vector<std::size_t> per_task_holdings_;
    std::deque<check_job> check_queue_;
    std::deque<slot_type*> reset_queue_;  ///< async leases returned, to be reset by the worker
    std::condition_variable checked_;  ///< the worker finished checking a slot for an async waiter
    std::size_t async_outstanding_ = 0;
    std::condition_variable worker_cv_;
    bool worker_stop_ = false;
    bool handle_alive_ = true;
    bool deletion_claimed_ = false;
    std::size_t draining_ = 0;
    std::thread worker_;
    std::string last_connect_error_;
    std::uint64_t clock_subscription_ = 0;
    std::shared_ptr<const pool_diagnostics> last_failure_;
    observer_list observers_;

    std::atomic<std::uint64_t> timeouts_{0}, rejected_{0}, created_{0}, connect_failures_{0}, leaks_{0},
        deadlocks_{0}, emergency_lent_{0}, emergency_failed_{0}, worker_resets_{0};
    thread_counter nested_;  ///< the detector counts every nested borrow: no locked add (see there)
    std::atomic<std::uint64_t> closed_[close_reason_count]{};
    atomic_timing acquire_wait_, creation_;
    health_window health_;  ///< connect attempts and queued acquires, for health()
};

}  // namespace detail
}  // namespace lifeguard
