// The operation behind lifeguard::async_acquire (lifeguard/asio.hpp): one heap object per
// asynchronous acquisition. It is the engine's wait-queue node (a detail::waiter), and it owns
// the user's handler, the work count on the handler's executor and the per-waiter timer.
//
// Ending. Exactly one of two things ends an operation, decided under its mutex (`finished_`):
//   - the completion, posted to the handler's executor by deliver() (the engine handed it a
//     checked connection or failed it) or by the initiation (fast path). It finishes
//     with the engine (complete_async), then calls the handler. Never inline: always posted.
//   - abandon(), when the completion or the timer wait is destroyed without having run: the
//     handler's execution context is being destroyed. The connection or the queue place goes
//     back (abandon_async) and the handler is destroyed uncalled, as Asio does with the
//     handlers of a destroyed context.
// The timeout (the timer wait, or the manual clock's subscription) only calls cancel_async, and
// only while the operation is not finished, so it never reaches an engine that may be gone.
//
// Lifetime. Reference counted: the initiating call, the engine (from enqueue_async until the
// posted completion, or abandon, lets go) and the timer wait each hold one reference. The last
// reference may be dropped after the handler ran (by the initiating thread, or by the cancelled
// timer wait), when the user may already have destroyed the execution context: so whatever
// belongs to that context (the timer, the work count, the executor, the handler) is destroyed by
// the completion or abandon(), never by the destructor.
//
// Locks, in order: the manual clock's mutex → the op's mutex → the pool's mutex → Asio's
// internal mutexes. deliver() runs under the pool's mutex and takes no lock of ours.
#pragma once

// clang-format off
#include "lifeguard/detail/asio_prelude.hpp"  // first: see the GCC 12 note there
// clang-format on

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <system_error>
#include <type_traits>

#include "lifeguard/detail/asio_error.hpp"
#include "lifeguard/detail/saturating_time.hpp"
#include "lifeguard/detail/waiter.hpp"
#include "lifeguard/errors.hpp"
#include "lifeguard/owner.hpp"

namespace lifeguard::detail {

/// Keeps an executor's context from running out of work while an operation waits. Asio 1.18's
/// executor_work_guard takes only Networking-TS executors; standard executors (any_io_executor,
/// strands of them) count work while a copy preferring outstanding_work.tracked is alive.
template <class Executor>
auto track_work(const Executor& ex) {
    if constexpr (boost::asio::execution::is_executor<Executor>::value)
        return boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked);
    else
        return boost::asio::executor_work_guard<Executor>(ex);
}

/// The timer's executor: the handler's when it is an I/O executor (so a destroyed context takes
/// the timer wait with it), else the system executor (use_future's executor is not one).
template <class Executor>
boost::asio::any_io_executor timer_executor(const Executor& ex) {
    if constexpr (std::is_constructible_v<boost::asio::any_io_executor, const Executor&>)
        return boost::asio::any_io_executor(ex);
    else
        return boost::asio::any_io_executor(boost::asio::system_executor());
}

template <class Pool, class Handler>
class async_acquire_op final : public waiter {
public:
    using core_type = typename Pool::core_type;
    using slot_type = typename core_type::slot_type;
    using lease_type = typename Pool::lease_type;
    using clock_type = typename Pool::clock_type;
    using executor_type = boost::asio::associated_executor_t<Handler, boost::asio::system_executor>;

    /// Starts an acquisition. Throws only when memory runs out before the operation is queued
    /// (the handler is then destroyed uncalled, and a connection it was lent goes back); once it
    /// is queued, running out of memory terminates, as it does in deliver().
    static void start(core_type& core, Handler handler, owner_id who, std::string label,
                      const std::source_location& where, std::exception_ptr* failure_out,
                      std::optional<std::chrono::nanoseconds> timeout) {
        auto* op = new async_acquire_op(core, std::move(handler), who, std::move(label), where, failure_out, timeout);
        struct initiation_reference {
            async_acquire_op* op;
            ~initiation_reference() { op->release(); }
        } hold{op};
        op->run();
    }

    async_acquire_op(const async_acquire_op&) = delete;
    async_acquire_op& operator=(const async_acquire_op&) = delete;

private:
    // The manual clock of the unit tests moves only when told: an Asio timer cannot follow it, so
    // the operation subscribes to its advances (as the engine's blocking waiters do).
    static constexpr bool asio_timed = std::same_as<clock_type, std::chrono::steady_clock>;
    using work_type = decltype(track_work(std::declval<const executor_type&>()));

    async_acquire_op(core_type& core, Handler&& handler, owner_id who, std::string label,
                     const std::source_location& where, std::exception_ptr* failure_out,
                     std::optional<std::chrono::nanoseconds> timeout)
        : core_(&core),
          handler_(std::in_place, std::move(handler)),
          executor_(std::in_place,
                    boost::asio::get_associated_executor(*handler_, boost::asio::system_executor())),
          work_(std::in_place, track_work(*executor_)),
          label_(std::move(label)),
          failure_out_(failure_out),
          timeout_ns_(timeout ? to_ns(*timeout) : to_ns(core.options().acquire_timeout)) {
        owner = who;
        owner_label = label_;
        site = where;
    }
    ~async_acquire_op() = default;

    /// Posts a completion; it carries one reference (taken here unless `transfer`). If posting
    /// throws, the completion's destructor abandons the operation.
    void post_completion(bool transfer) {
        if (!transfer) refs_.fetch_add(1, std::memory_order_relaxed);
        boost::asio::post(*executor_, completion{this});
    }

    void run() {
        // Never runs driver code here (an event loop): a connection that must be checked before
        // it is lent goes through the queue, whose hand-off has the worker check it.
        if (slot_type* s = core_->try_acquire_async(owner, site)) {
            fast_ = s;
            post_completion(false);
            return;
        }
        since = core_->clock_now_ns();
        deadline = add_ns(since, timeout_ns_);
        if constexpr (!asio_timed) subscription_ = clock().subscribe([this] { on_clock_advanced(); });
        refs_.fetch_add(1, std::memory_order_relaxed);  // the engine's, handed on by deliver()
        core_->enqueue_async(*this);  // refusals (closed, queue full) are delivered as failures
        arm();
    }

    /// Starts the timeout of a queued operation.
    void arm() noexcept {
        std::lock_guard lock(mutex_);
        enqueued_ = true;
        // Already served (often inside enqueue_async, when a connection was idle): the posted
        // completion needs no timer, and it is what a destroyed context would drop.
        if (finished_ || delivered_.load(std::memory_order_relaxed)) return;
        timer_.emplace(timer_executor(*executor_));
        if constexpr (asio_timed) {
            timer_->expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)));
        } else {
            // Never fires: it is there so that destroying the context abandons the operation.
            timer_->expires_at(std::chrono::steady_clock::time_point::max());
            if (core_->clock_now_ns() >= deadline) core_->cancel_async(*this, make_error_code(errc::timeout));
        }
        refs_.fetch_add(1, std::memory_order_relaxed);
        timer_->async_wait(wait_handler{this});
    }

    /// Called by the engine under its mutex: handed a checked connection, or failed.
    void deliver() noexcept override {
        delivered_.store(true, std::memory_order_relaxed);  // read after abandon_async (pool mutex)
        post_completion(true);                              // noexcept here: out of memory terminates
    }

    void on_timer(const boost::system::error_code& ec) {
        if (ec == boost::asio::error::operation_aborted) return;
        std::lock_guard lock(mutex_);
        if (!finished_) core_->cancel_async(*this, make_error_code(errc::timeout));
    }

    void on_clock_advanced() {
        std::lock_guard lock(mutex_);
        if (enqueued_ && !finished_ && core_->clock_now_ns() >= deadline)
            core_->cancel_async(*this, make_error_code(errc::timeout));
    }

    /// The posted completion: on the handler's executor.
    void complete() {
        bool abandoned;
        {
            std::lock_guard lock(mutex_);
            abandoned = finished_;  // its context is being destroyed
            finished_ = true;
            timer_.reset();  // cancels the wait, if any
        }
        if (abandoned) return release();
        unsubscribe();
        boost::system::error_code ec;
        lease_type lease;
        if (fast_) {
            lease = Pool::make_lease(*core_, fast_);
        } else {
            std::error_code failed;
            std::shared_ptr<const pool_diagnostics> diagnostics;
            std::exception_ptr exception;
            if (slot_type* s = core_->complete_async(*this, failed, &diagnostics, &exception)) {
                lease = Pool::make_lease(*core_, s);
            } else {
                ec = to_boost(failed);
                note_failure(std::move(diagnostics), std::move(exception));
            }
        }
        // As Asio's own operations do: let go of everything before the upcall (see "Lifetime").
        Handler handler(std::move(*handler_));
        let_go_of_context();
        release();
        std::move(handler)(ec, std::move(lease));
    }

    /// The completion or the timer wait was destroyed uncalled: the context is going away.
    void abandon() noexcept {
        {
            std::lock_guard lock(mutex_);
            if (finished_) return;
            finished_ = true;
            timer_.reset();
        }
        unsubscribe();
        if (fast_) {
            lease_type back = Pool::make_lease(*core_, fast_);  // returned right here
        } else {
            core_->abandon_async(*this);
            // Not delivered: no completion will ever carry the engine's reference.
            if (!delivered_.load(std::memory_order_relaxed)) release();
        }
        let_go_of_context();  // the handler is destroyed uncalled
    }

    /// Destroys what belongs to the handler's execution context. Only after `finished_` is set
    /// (deliver() and the timer no longer use them).
    void let_go_of_context() noexcept {
        work_.reset();
        handler_.reset();
        executor_.reset();
    }

    /// What the throwing acquire() would have thrown, for callers that asked for it.
    void note_failure(std::shared_ptr<const pool_diagnostics> diagnostics, std::exception_ptr exception) {
        if (!failure_out_) return;
        *failure_out_ =
            exception ? std::move(exception) : std::make_exception_ptr(pool_error(std::move(diagnostics)));
    }

    clock_type& clock() noexcept { return const_cast<clock_type&>(core_->clock()); }
    void unsubscribe() {
        if constexpr (!asio_timed) {
            if (subscription_ != 0) clock().unsubscribe(std::exchange(subscription_, 0));
        }
    }

    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// Move-only holders of one reference each. Destroyed without having been called means the
    /// executor's context dropped them: abandon.
    struct completion {
        async_acquire_op* op;
        explicit completion(async_acquire_op* o) noexcept : op(o) {}
        completion(completion&& other) noexcept : op(std::exchange(other.op, nullptr)) {}
        completion& operator=(completion&&) = delete;
        ~completion() {
            if (op) {
                op->abandon();
                op->release();
            }
        }
        void operator()() { std::exchange(op, nullptr)->complete(); }
    };

    struct wait_handler {
        async_acquire_op* op;
        explicit wait_handler(async_acquire_op* o) noexcept : op(o) {}
        wait_handler(wait_handler&& other) noexcept : op(std::exchange(other.op, nullptr)) {}
        wait_handler& operator=(wait_handler&&) = delete;
        ~wait_handler() {
            if (op) {
                op->abandon();
                op->release();
            }
        }
        void operator()(const boost::system::error_code& ec) {
            async_acquire_op* o = std::exchange(op, nullptr);
            o->on_timer(ec);
            o->release();
        }
    };

    core_type* const core_;
    std::optional<Handler> handler_;
    std::optional<executor_type> executor_;
    std::optional<work_type> work_;
    std::optional<boost::asio::steady_timer> timer_;  // made when the operation has to wait
    const std::string label_;
    std::exception_ptr* const failure_out_;
    const std::int64_t timeout_ns_;  ///< how long it may wait

    std::atomic<int> refs_{1};
    std::atomic<bool> delivered_{false};
    std::mutex mutex_;
    bool finished_ = false;  // guarded by mutex_
    bool enqueued_ = false;  // guarded by mutex_ (so is timer_)

    // Written before anything else can see the operation (or before the completion is posted).
    slot_type* fast_ = nullptr;
    std::uint64_t subscription_ = 0;
};

/// The initiation handed to async_initiate: use_awaitable stores it and runs it when awaited.
template <class Pool>
struct initiate_async_acquire {
    typename Pool::core_type* core;

    template <class Handler>
    void operator()(Handler&& handler, owner_id owner, std::string label, std::source_location site,
                    std::exception_ptr* failure_out, std::optional<std::chrono::nanoseconds> timeout) const {
        async_acquire_op<Pool, std::decay_t<Handler>>::start(*core, std::forward<Handler>(handler), owner,
                                                             std::move(label), site, failure_out, timeout);
    }
};

}  // namespace lifeguard::detail
