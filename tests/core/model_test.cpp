// A randomized model test of the pool engine. Each sequence makes a manual-mode pool over the
// fake driver and the manual clock, with options drawn from a seed, and drives it with a long
// random list of steps (acquire, release, invalidate, async and blocking waits, timeouts,
// connect and validation faults, clock advances and leaps, soft evict, worker passes, close).
// After every step a naive reference model, kept here, checks what must always hold:
//  - never more than max_size connections open; no connection lent twice, lent after it was
//    closed, closed while lent, or lost (open = held + idle after a worker pass);
//  - every waiter is answered by its deadline; queued waiters are served oldest first; nobody
//    waits while a connection idles;
//  - a worker pass with working connects refills to min_idle (or max_size);
//  - idle expiry closes only connections idle past idle_timeout, and only above min_idle;
//    every close has a reason that holds (broken, lifetime, evicted, shutdown);
//  - after close and destruction, every connection opened was closed exactly once.
// A failing sequence is shrunk (shortest failing prefix, then steps dropped one by one) and
// printed as a replay: its seed, its options and its steps.
//
// Environment: LIFEGUARD_MODEL_SEED=S runs only seed S (a replay, printing its steps);
// LIFEGUARD_MODEL_SEQUENCES=N runs N sequences (default 3000) from LIFEGUARD_MODEL_FIRST_SEED
// (default 1). A seed names the same sequence wherever the C++ library is the same (libstdc++'s
// distributions draw the options and steps).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"
#include "support/manual_clock.hpp"

namespace lifeguard::testing {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

// ---------------------------------------------------------------- the steps

enum class op {
    try_acquire,      // borrow an idle connection, never wait
    wait_async,       // queue an asynchronous waiter
    release,          // give back held lease arg % held
    release_invalid,  // give back held lease arg % held, invalidated
    advance,          // move the clock arg ns forward (time out async waiters past their deadline)
    leap_forward,     // move the clock far forward (a suspended machine)
    leap_backward,    // move the clock arg ns backward
    housekeep,        // run the worker: everything due now
    fail_connects,    // the next arg connects fail
    refuse_connects,  // every connect fails until allow_connects
    allow_connects,
    break_connection,  // open connection arg % open fails validation and reset from now on
    soft_evict,
    blocking_acquire,  // acquire() on a helper thread; arg picks how the wait is resolved
    close,
};

constexpr const char* op_name(op o) {
    switch (o) {
        case op::try_acquire:
            return "try_acquire";
        case op::wait_async:
            return "wait_async";
        case op::release:
            return "release";
        case op::release_invalid:
            return "release_invalidated";
        case op::advance:
            return "advance_ns";
        case op::leap_forward:
            return "leap_forward_ns";
        case op::leap_backward:
            return "leap_backward_ns";
        case op::housekeep:
            return "housekeep";
        case op::fail_connects:
            return "fail_next_connects";
        case op::refuse_connects:
            return "refuse_connects";
        case op::allow_connects:
            return "allow_connects";
        case op::break_connection:
            return "break_connection";
        case op::soft_evict:
            return "soft_evict";
        case op::blocking_acquire:
            return "blocking_acquire";
        case op::close:
            return "close";
    }
    return "?";
}

struct step {
    op what;
    std::uint64_t arg = 0;
};

struct model_case {
    std::uint64_t seed = 0;
    pool_options options;
    std::vector<step> steps;
    bool hand_written = false;  // a fixed regression case, not generated from its seed
};

std::string describe_options(const pool_options& o) {
    std::ostringstream out;
    out << "max_size=" << o.max_size << " min_idle=" << o.min_idle
        << " acquire_timeout=" << o.acquire_timeout.count() << "ms idle_timeout=" << o.idle_timeout.count()
        << "ms max_lifetime=" << o.max_lifetime.count()
        << "ms keepalive_interval=" << o.keepalive_interval.count()
        << "ms alive_bypass_window=" << duration_text(o.alive_bypass_window)
        << " housekeeping_interval=" << o.housekeeping_interval.count() << "ms max_pending="
        << (o.max_pending == pool_options::unbounded ? std::string("unbounded")
                                                     : std::to_string(o.max_pending));
    return out.str();
}

std::string describe_steps(const std::vector<step>& steps) {
    std::ostringstream out;
    for (std::size_t i = 0; i < steps.size(); ++i)
        out << "  " << i + 1 << ". " << op_name(steps[i].what) << " " << steps[i].arg << "\n";
    return out.str();
}

template <class T>
T pick(std::mt19937_64& rng, std::initializer_list<T> choices) {
    return *(choices.begin() + std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng));
}

model_case make_case(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    model_case c;
    c.seed = seed;
    auto& o = c.options;
    o.name = "model";
    o.max_size = std::uniform_int_distribution<std::size_t>(1, 4)(rng);
    o.min_idle = std::uniform_int_distribution<std::size_t>(0, o.max_size)(rng);
    o.acquire_timeout = pick(rng, {250ms, 1000ms, 5000ms});
    o.idle_timeout = pick(rng, {0ms, 10'000ms, 40'000ms});
    o.max_lifetime = pick(rng, {0ms, 30'000ms, 90'000ms});
    o.keepalive_interval = pick(rng, {0ms, 30'000ms});
    o.alive_bypass_window = pick(rng, {0ms, 500ms, forever});
    o.housekeeping_interval = pick(rng, {100ms, 1000ms, 30'000ms});
    o.max_pending = pick(rng, {pool_options::unbounded, std::size_t{1}, std::size_t{3}});

    struct weighted {
        op what;
        int weight;
    };
    static constexpr weighted table[] = {
        {op::try_acquire, 14},  {op::wait_async, 12},      {op::release, 14},       {op::release_invalid, 4},
        {op::advance, 12},      {op::leap_forward, 2},     {op::leap_backward, 2},  {op::housekeep, 14},
        {op::fail_connects, 4}, {op::refuse_connects, 2},  {op::allow_connects, 3}, {op::break_connection, 4},
        {op::soft_evict, 2},    {op::blocking_acquire, 5}, {op::close, 1},
    };
    int total = 0;
    for (const auto& w : table) total += w.weight;
    const std::size_t length = std::uniform_int_distribution<std::size_t>(20, 90)(rng);
    for (std::size_t i = 0; i < length; ++i) {
        int r = std::uniform_int_distribution<int>(0, total - 1)(rng);
        op what = op::housekeep;
        for (const auto& w : table) {
            if (r < w.weight) {
                what = w.what;
                break;
            }
            r -= w.weight;
        }
        std::uint64_t arg = rng();
        if (what == op::advance)  // mostly short steps, sometimes past every timeout
            arg = rng() % 4 ? rng() % 1'500'000'000 : rng() % 45'000'000'000;
        else if (what == op::leap_forward)
            arg = 60'000'000'000 + rng() % 600'000'000'000;
        else if (what == op::leap_backward)
            arg = 200'000'000 + rng() % 10'000'000'000;
        else if (what == op::fail_connects)
            arg = 1 + rng() % 3;
        else if (what == op::release || what == op::release_invalid || what == op::break_connection ||
                 what == op::blocking_acquire)
            arg = rng() % 64;
        else
            arg = 0;
        c.steps.push_back({what, arg});
    }
    return c;
}

// ---------------------------------------------------------------- what the model tracks

/// What the model knows about each connection the driver opened.
struct connection_record {
    std::int64_t opened_at = 0;
    std::int64_t last_used = 0;     // opened or last given back
    std::uint64_t evict_epoch = 0;  // soft evicts and backward leaps before it was opened
    std::uint64_t soft_epoch = 0;   // soft evicts before it was opened
    bool invalidated = false;
};

/// Shared by the tracking driver, the observer and the model: connection identities and the
/// violations found where the engine calls us (those places must not throw).
struct ledger {
    std::mutex mutex;
    manual_clock clock;
    pool_options options;
    std::map<std::uint64_t, connection_record> open;
    std::set<std::uint64_t> ever_opened, closed, held, broken;
    std::uint64_t last_closed = 0;
    connection_record last_closed_record;
    std::uint64_t evict_epoch = 0, soft_epoch = 0;
    std::int64_t latest = 0;  // the latest the clock has been (it may leap backward)
    bool pool_closed = false;
    int blocked = 0;  // on_block calls (helper threads wait for these)
    std::condition_variable changed;
    std::vector<std::string> violations;

    void violation(std::string what) { violations.push_back(std::move(what)); }
};

/// The fake driver, plus the identity of every connection opened and closed.
class tracking_driver {
public:
    using connection_type = fake_connection;

    tracking_driver(fake_driver inner, std::shared_ptr<ledger> l)
        : inner_(std::move(inner)), ledger_(std::move(l)) {}

    fake_connection connect(std::chrono::steady_clock::time_point deadline) {
        fake_connection c = inner_.connect(deadline);
        std::lock_guard lock(ledger_->mutex);
        const std::int64_t now = ledger_->clock.now().time_since_epoch().count();
        if (!ledger_->ever_opened.insert(c.id).second)
            ledger_->violation("the driver opened connection " + std::to_string(c.id) + " twice");
        ledger_->open[c.id] = {now, now, ledger_->evict_epoch, ledger_->soft_epoch, false};
        if (ledger_->open.size() > ledger_->options.max_size)
            ledger_->violation(std::to_string(ledger_->open.size()) + " connections open, max_size is " +
                               std::to_string(ledger_->options.max_size));
        return c;
    }
    bool is_valid(fake_connection& c, std::chrono::milliseconds t) { return inner_.is_valid(c, t); }
    bool reset(fake_connection& c) { return inner_.reset(c); }
    void close(fake_connection& c) noexcept {
        {
            std::lock_guard lock(ledger_->mutex);
            if (!ledger_->open.contains(c.id))
                ledger_->violation("connection " + std::to_string(c.id) + " closed twice");
            if (ledger_->held.contains(c.id))
                ledger_->violation("connection " + std::to_string(c.id) + " closed while lent");
            ledger_->last_closed = c.id;
            ledger_->closed.insert(c.id);
            if (auto it = ledger_->open.find(c.id); it != ledger_->open.end()) {
                ledger_->last_closed_record = it->second;
                ledger_->open.erase(it);
            }
        }
        inner_.close(c);
    }
    std::string describe() const { return inner_.describe(); }

    fake_driver& inner() { return inner_; }

private:
    fake_driver inner_;
    std::shared_ptr<ledger> ledger_;
};

using model_pool = basic_pool<tracking_driver, manual_clock>;

/// Checks each close's reason against the model (the engine calls it just after driver close).
class close_checker final : public pool_observer {
public:
    explicit close_checker(std::shared_ptr<ledger> l) : ledger_(std::move(l)) {}

    void on_connection_closed(pool_view& pool, close_reason why) override {
        const pool_stats st = pool.stats();
        std::lock_guard lock(ledger_->mutex);
        // The engine closes a connection, then tells observers: this is the one just closed.
        const std::uint64_t id = ledger_->last_closed;
        const connection_record rec = ledger_->last_closed_record;
        // The engine decided to retire it at some time up to the latest the clock has been.
        const std::int64_t now = std::max(ledger_->latest, ledger_->clock.now().time_since_epoch().count());
        const auto& o = ledger_->options;
        const std::string who =
            "connection " + std::to_string(id) + " closed as " + std::string(to_string(why));
        switch (why) {
            case close_reason::idle:
                if (now - rec.last_used < detail::to_ns(o.idle_timeout) || o.idle_timeout.count() == 0)
                    ledger_->violation(who + " after " + std::to_string(now - rec.last_used) +
                                       " ns idle (idle_timeout " + std::to_string(o.idle_timeout.count()) +
                                       " ms)");
                if (st.idle < o.min_idle)
                    ledger_->violation(who + ", leaving " + std::to_string(st.idle) +
                                       " idle, below min_idle " + std::to_string(o.min_idle));
                break;
            case close_reason::lifetime: {
                const std::int64_t life = detail::to_ns(o.max_lifetime);
                if (life == 0 || now - rec.opened_at < life - life / 40)
                    ledger_->violation(who + " at age " + std::to_string(now - rec.opened_at) +
                                       " ns (max_lifetime " + std::to_string(o.max_lifetime.count()) +
                                       " ms)");
                break;
            }
            case close_reason::broken:
                if (!rec.invalidated && !ledger_->broken.contains(id))
                    ledger_->violation(who + ", but it was neither invalidated nor broken");
                break;
            case close_reason::evicted:
                if (rec.evict_epoch == ledger_->evict_epoch)
                    ledger_->violation(who + ", but no soft evict or backward leap came after it opened");
                break;
            case close_reason::shutdown:
                if (!ledger_->pool_closed) ledger_->violation(who + ", but the pool is open");
                break;
        }
    }
    void on_block(pool_view&, const wait_info&) override {
        std::lock_guard lock(ledger_->mutex);
        ++ledger_->blocked;
        ledger_->changed.notify_all();
    }

private:
    std::shared_ptr<ledger> ledger_;
};

struct model_failure {
    std::size_t step = 0;  // 1-based; 0 = after the last step (closing and destroying)
    std::string what;
};

/// An asynchronous waiter: the engine serves it under its mutex and calls deliver().
struct model_waiter;
using waiter_list = std::vector<std::unique_ptr<model_waiter>>;

struct model_waiter final : detail::waiter {
    model_waiter(waiter_list& all, std::shared_ptr<ledger> l) : all_(all), ledger_(std::move(l)) {}
    bool delivered = false;
    bool completed = false;
    bool timed_out = false;    // its timer fired: the model cancelled it with errc::timeout
    bool was_checked = false;  // was handed a slot to check; a failed check puts it back in front
    std::size_t number = 0;

private:
    void deliver() noexcept override {
        delivered = true;
        if (!handed || cancelled) return;
        // The pool's mutex is held: the other waiters' queue links are stable.
        for (std::size_t i = 0; i < number; ++i)
            if (all_[i]->queued && !all_[i]->was_checked) {
                std::lock_guard lock(ledger_->mutex);
                ledger_->violation("async waiter " + std::to_string(number) +
                                   " was served while older waiter " + std::to_string(i) +
                                   " still queued (not FIFO)");
            }
    }
    waiter_list& all_;
    std::shared_ptr<ledger> ledger_;
};

// ---------------------------------------------------------------- one run

class model_run {
public:
    explicit model_run(const model_case& c) : case_(c), ledger_(std::make_shared<ledger>()) {
        ledger_->options = validated(c.options);
        options_ = ledger_->options;
        clock_ = ledger_->clock;
        pool_ = std::make_unique<model_pool>(tracking_driver(fake_, ledger_), c.options, clock_,
                                             worker_mode::manual);
        pool_->add_observer(std::make_shared<close_checker>(ledger_));
    }

    model_run(const model_run&) = delete;
    model_run& operator=(const model_run&) = delete;
    /// After a violation the pool is still up: take it down in order (waiters outlive it).
    ~model_run() {
        if (pool_) finish();
    }

    /// Runs `steps`, then closes and destroys the pool; returns the first violation.
    std::optional<model_failure> run(const std::vector<step>& steps) {
        for (std::size_t i = 0; i < steps.size(); ++i) {
            current_ = steps[i];
            do_step(steps[i]);
            complete_delivered();
            note_connect_failures();
            check_invariants(steps[i].what == op::housekeep);
            if (auto v = take_violation()) return model_failure{i + 1, *v};
        }
        finish();
        if (auto v = take_violation()) return model_failure{0, *v};
        return std::nullopt;
    }

private:
    struct held_lease {
        model_pool::lease_type lease;
        std::uint64_t id;
    };

    std::int64_t now() const { return clock_.now().time_since_epoch().count(); }
    std::string at() const {
        return std::string(" (at ") + op_name(current_.what) + " " + std::to_string(current_.arg) + ")";
    }
    void violation(std::string what) {
        std::lock_guard lock(ledger_->mutex);
        ledger_->violation(std::move(what) + at());
    }
    std::optional<std::string> take_violation() {
        std::lock_guard lock(ledger_->mutex);
        if (ledger_->violations.empty()) return std::nullopt;
        return ledger_->violations.front();
    }

    bool connects_work() {
        return fake_.with([](auto& s) { return !s.refuse_connects && s.fail_next_connects == 0; });
    }
    int connect_failures() {
        return fake_.with([](auto& s) { return s.connect_failures; });
    }

    /// A lease the pool just lent: check it is a live connection nobody holds, then hold it.
    void take(model_pool::lease_type lease, const char* how) {
        const std::uint64_t id = lease->id;
        std::lock_guard lock(ledger_->mutex);
        const auto it = ledger_->open.find(id);
        if (it == ledger_->open.end()) {
            ledger_->violation(std::string(how) + " lent connection " + std::to_string(id) +
                               ", which is not open" + at());
        } else {
            const connection_record& rec = it->second;
            const std::int64_t life = detail::to_ns(options_.max_lifetime);
            if (rec.soft_epoch != ledger_->soft_epoch)
                ledger_->violation(std::string(how) + " lent connection " + std::to_string(id) +
                                   ", opened before a soft evict" + at());
            if (life != 0 && now() - rec.opened_at >= life)
                ledger_->violation(std::string(how) + " lent connection " + std::to_string(id) +
                                   " past its max_lifetime" + at());
            if (options_.alive_bypass_window.count() == 0 && ledger_->broken.contains(id))
                ledger_->violation(std::string(how) + " lent broken connection " + std::to_string(id) +
                                   " although every borrow validates" + at());
        }
        if (!ledger_->held.insert(id).second)
            ledger_->violation(std::string(how) + " lent connection " + std::to_string(id) +
                               ", which is already lent" + at());
        held_.push_back({std::move(lease), id});
    }

    void give_back(std::size_t index, bool invalidate) {
        if (held_.empty()) return;
        held_lease h = std::move(held_[index % held_.size()]);
        held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(index % held_.size()));
        {
            std::lock_guard lock(ledger_->mutex);
            ledger_->held.erase(h.id);
            auto it = ledger_->open.find(h.id);
            if (it != ledger_->open.end()) {
                it->second.last_used = now();
                it->second.invalidated = invalidate;
            }
        }
        if (invalidate) h.lease.invalidate();
        h.lease.release();
    }

    void wait_async() {
        std::size_t queued = 0;
        for (const auto& w : waiters_) queued += w->queued;
        auto w = std::make_unique<model_waiter>(waiters_, ledger_);
        w->number = waiters_.size();
        w->owner = 1000 + w->number;
        w->owner_label = "model waiter";
        w->since = now();
        w->deadline = detail::add_ns(w->since, detail::to_ns(options_.acquire_timeout));
        model_waiter& ref = *w;
        waiters_.push_back(std::move(w));
        pool_->core().enqueue_async(ref);
        if (ledger_->pool_closed && ref.failure != errc::pool_closed)
            violation("an async waiter on a closed pool was not refused with pool_closed");
        if (!ledger_->pool_closed && queued >= options_.max_pending && ref.failure != errc::pending_limit)
            violation("an async waiter beyond max_pending (" + std::to_string(queued) +
                      " queued) was not refused");
        if (ref.failure == errc::pending_limit && queued < options_.max_pending)
            violation("an async waiter was refused with pending_limit while only " + std::to_string(queued) +
                      " were queued");
    }

    void advance(nanoseconds d) {
        clock_.advance(d);
        {
            std::lock_guard lock(ledger_->mutex);
            ledger_->latest = std::max(ledger_->latest, now());
        }
        time_out_async();
    }

    /// Async waiters past their deadline are failed with timeout, as their timer would.
    void time_out_async() {
        for (auto& w : waiters_)
            if (!w->delivered && !w->timed_out && now() >= w->deadline) {
                w->timed_out = true;
                pool_->core().cancel_async(*w, make_error_code(errc::timeout));
            }
    }

    void complete_delivered() {
        for (auto& w : waiters_) {
            if (!w->delivered || w->completed) continue;
            w->completed = true;
            std::error_code ec;
            std::shared_ptr<const pool_diagnostics> diagnostics;
            std::exception_ptr exception;
            auto* slot = pool_->core().complete_async(*w, ec, &diagnostics, &exception);
            if (slot) {
                take(model_pool::make_lease(pool_->core(), slot), "an async hand-off");
            } else if (ec != errc::timeout && ec != errc::pool_closed && ec != errc::pending_limit) {
                violation("async waiter " + std::to_string(w->number) +
                          " failed with an unexpected error: " + ec.message());
            } else if (ec == errc::timeout && !w->timed_out) {
                violation("async waiter " + std::to_string(w->number) +
                          " failed with timeout before its timer fired");
            }
        }
    }

    /// Failed connects back off (up to backoff_max_ns): note when the latest one was seen.
    void note_connect_failures() {
        const int failures = connect_failures();
        if (failures != failures_seen_) last_connect_failure_ = now();
        failures_seen_ = failures;
    }

    void housekeep() {
        note_connect_failures();
        const bool refill_expected =
            connects_work() && !ledger_->pool_closed &&
            (last_connect_failure_ < 0 || now() - last_connect_failure_ >= detail::backoff_max_ns);
        pool_->run_worker_once();
        complete_delivered();
        const int failures_before = failures_seen_;
        note_connect_failures();
        if (!refill_expected || failures_seen_ != failures_before) return;
        const pool_stats st = pool_->stats();
        std::size_t queued = 0;
        for (const auto& w : waiters_) queued += w->queued;
        if (st.total < options_.max_size && (st.idle < options_.min_idle || queued > 0))
            violation("after a worker pass with working connects: " + std::to_string(st.total) +
                      " open (max_size " + std::to_string(options_.max_size) + "), " +
                      std::to_string(st.idle) + " idle (min_idle " + std::to_string(options_.min_idle) +
                      "), " + std::to_string(queued) + " waiters queued");
    }

    void break_connection(std::uint64_t arg) {
        std::lock_guard lock(ledger_->mutex);
        if (ledger_->open.empty()) return;
        auto it = ledger_->open.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(arg % ledger_->open.size()));
        const std::uint64_t id = it->first;
        ledger_->broken.insert(id);
        fake_.with([&](auto& s) { s.broken.insert(id); });
    }

    void do_step(const step& s) {
        switch (s.what) {
            case op::try_acquire:
                if (auto l = pool_->try_acquire()) {
                    if (ledger_->pool_closed) violation("try_acquire lent a connection from a closed pool");
                    take(std::move(*l), "try_acquire");
                }
                break;
            case op::wait_async:
                wait_async();
                break;
            case op::release:
                give_back(s.arg, false);
                break;
            case op::release_invalid:
                give_back(s.arg, true);
                break;
            case op::advance:
            case op::leap_forward:
                advance(nanoseconds(s.arg));
                break;
            case op::leap_backward: {
                std::lock_guard lock(ledger_->mutex);
                ++ledger_->evict_epoch;
            }
                clock_.advance(-nanoseconds(s.arg));
                break;
            case op::housekeep:
                housekeep();
                break;
            case op::fail_connects:
                fake_.with([&](auto& st) { st.fail_next_connects = static_cast<int>(s.arg); });
                break;
            case op::refuse_connects:
                fake_.with([](auto& st) { st.refuse_connects = true; });
                break;
            case op::allow_connects:
                fake_.with([](auto& st) {
                    st.refuse_connects = false;
                    st.fail_next_connects = 0;
                });
                break;
            case op::break_connection:
                break_connection(s.arg);
                break;
            case op::soft_evict: {
                std::lock_guard lock(ledger_->mutex);
                ++ledger_->evict_epoch;
                ++ledger_->soft_epoch;
            }
                pool_->soft_evict();
                break;
            case op::blocking_acquire:
                blocking_acquire(s.arg);
                break;
            case op::close:
                {
                    std::lock_guard lock(ledger_->mutex);
                    ledger_->pool_closed = true;
                }
                pool_->close();
                for (const auto& w : waiters_)
                    if (w->queued)
                        violation("async waiter " + std::to_string(w->number) +
                                  " still queued after close()");
                break;
        }
    }

    // ------------------------------------------------------------ a blocking acquire

    struct helper_outcome {
        bool done = false;
        model_pool::lease_type lease;
        std::error_code ec;
    };

    /// acquire() on a helper thread while async waiters are queued would race them for
    /// connections: then the step is a try_acquire.
    void blocking_acquire(std::uint64_t arg) {
        for (const auto& w : waiters_)
            if (w->queued || w->validating) return do_step({op::try_acquire, 0});
        std::mt19937_64 choices(arg);
        helper_outcome out;
        int blocked_seen = 0;
        {
            std::lock_guard lock(ledger_->mutex);
            blocked_seen = ledger_->blocked;
        }
        const std::int64_t started = now();
        std::thread helper([&] {
            std::error_code ec;
            auto lease = pool_->acquire(ec);
            std::lock_guard lock(ledger_->mutex);
            out.lease = std::move(lease);
            out.ec = ec;
            out.done = true;
            ledger_->changed.notify_all();
        });
        // Each round: wait until the helper is done or blocks (again), then resolve the wait.
        for (int round = 0;; ++round) {
            if (!wait_for_helper(out, blocked_seen)) {  // the helper cannot be joined: report and stop
                std::fprintf(stderr,
                             "model violation, seed %llu: a blocking acquire was never answered%s\n  "
                             "options: %s\n  steps:\n%s",
                             static_cast<unsigned long long>(case_.seed), at().c_str(),
                             describe_options(case_.options).c_str(), describe_steps(case_.steps).c_str());
                std::abort();
            }
            if (out.done) break;
            bool answer_coming = false;
            while (!answer_coming) answer_coming = resolve_wait(choices(), round >= 3, started);
        }
        helper.join();
        if (out.lease) {
            if (ledger_->pool_closed)
                violation("a blocking acquire was lent a connection from a closed pool");
            take(std::move(out.lease), "a blocking acquire");
        } else if (out.ec == errc::timeout) {
            const auto d = pool_->last_failure();
            if (!d || d->waited < options_.acquire_timeout)
                violation("a blocking acquire timed out after " + std::to_string(d ? d->waited.count() : -1) +
                          " ns (acquire_timeout " + std::to_string(options_.acquire_timeout.count()) +
                          " ms)");
        } else if (out.ec == errc::pool_closed) {
            if (!ledger_->pool_closed)
                violation("a blocking acquire failed with pool_closed on an open pool");
        } else {
            violation("a blocking acquire failed with an unexpected error: " + out.ec.message());
        }
    }

    /// Waits until the helper is done or has blocked once more. False if it never does (a hang).
    bool wait_for_helper(helper_outcome& out, int& blocked_seen) {
        std::unique_lock lock(ledger_->mutex);
        // A hang guard only (the engine never answered): no timing is asserted.
        const bool ok =
            ledger_->changed.wait_for(lock, 20s, [&] { return out.done || ledger_->blocked > blocked_seen; });
        blocked_seen = ledger_->blocked;
        return ok;
    }

    /// Acts once on a blocked helper; true when that action answers it (the helper will be
    /// done, or block again after a retry), so the caller must wait for it.
    bool resolve_wait(std::uint64_t choice, bool must_end, std::int64_t started) {
        std::uint64_t how = must_end ? 2 : choice % 5;
        const std::int64_t deadline = detail::add_ns(started, detail::to_ns(options_.acquire_timeout));
        // After a return or a worker pass the helper has an answer coming when it was handed a
        // connection (it left the queue) or one idles for it to take (it was woken to claim it);
        // not when the connection was retired, or none could be opened.
        const auto answer_coming = [&] { return pool_->stats().idle > 0 || pool_->view().waiters().empty(); };
        if (how == 0 && !held_.empty()) {  // give one back
            give_back(choice / 5, false);
            return answer_coming();
        }
        if (how == 4 && now() < deadline - 1) {  // part of its time passes: it must keep waiting
            advance(nanoseconds((deadline - now()) * static_cast<std::int64_t>(choice / 5 % 100) / 100));
            return false;
        }
        if (how == 1) {  // the worker opens one for the waiter, when it may
            pool_->run_worker_once();
            return answer_coming();
        }
        if (how == 3 && current_.arg % 8 == 0) {  // close the pool under the waiter
            do_step({op::close, 0});
            return true;
        }
        // Run out its time: the deadline is acquire_timeout after it started.
        advance(nanoseconds(std::max<std::int64_t>(0, deadline - now()) + 1'000'000));
        return true;
    }

    // ------------------------------------------------------------ after every step

    void check_invariants(bool after_worker) {
        const pool_stats st = pool_->stats();
        if (st.total > options_.max_size)
            violation("stats report " + std::to_string(st.total) + " open, max_size is " +
                      std::to_string(options_.max_size));
        std::size_t validating = 0, queued = 0;
        for (const auto& w : waiters_) {
            validating += w->validating;
            w->was_checked = w->was_checked || w->validating;
            queued += w->queued;
            if (!w->delivered && !w->validating && now() >= w->deadline)
                violation("async waiter " + std::to_string(w->number) + " is unanswered past its deadline");
        }
        if (queued > 0 && st.idle > 0 && !ledger_->pool_closed)
            violation(std::to_string(queued) + " waiters queued while " + std::to_string(st.idle) +
                      " connections idle");
        if (st.active != held_.size() + validating)
            violation("stats report " + std::to_string(st.active) + " active, the model holds " +
                      std::to_string(held_.size()) + " and " + std::to_string(validating) +
                      " are being checked for waiters");
        std::lock_guard lock(ledger_->mutex);
        for (const auto& h : held_)
            if (!ledger_->open.contains(h.id))
                ledger_->violation("held connection " + std::to_string(h.id) + " is not open" + at());
        if (after_worker) check_idle_after_worker(st);
        if (after_worker && ledger_->open.size() != held_.size() + st.idle)
            ledger_->violation("after a worker pass " + std::to_string(ledger_->open.size()) +
                               " connections are open, but " + std::to_string(held_.size()) +
                               " are held and " + std::to_string(st.idle) + " idle (lost)" + at());
    }

    /// After a worker pass (ledger locked): what idles was due no retirement, and what is past
    /// idle_timeout idles only because the pool is at min_idle.
    void check_idle_after_worker(const pool_stats& st) {
        const std::int64_t life = detail::to_ns(options_.max_lifetime);
        const std::int64_t idle_limit = detail::to_ns(options_.idle_timeout);
        const bool idle_expiry = idle_limit > 0 && options_.min_idle < options_.max_size;
        std::size_t idle_expired = 0;
        for (const auto& [id, rec] : ledger_->open) {
            if (ledger_->held.contains(id)) continue;
            const std::string who = "after a worker pass idle connection " + std::to_string(id);
            if (rec.soft_epoch != ledger_->soft_epoch)
                ledger_->violation(who + " from before a soft evict is still open" + at());
            if (life > 0 && now() - rec.opened_at >= life)
                ledger_->violation(who + " is " + std::to_string(now() - rec.opened_at) +
                                   " ns old, past max_lifetime" + at());
            if (idle_expiry && now() - rec.last_used >= idle_limit) ++idle_expired;
        }
        if (idle_expired > 0 && st.idle > options_.min_idle && !ledger_->pool_closed)
            ledger_->violation("after a worker pass " + std::to_string(idle_expired) +
                               " connections idle past idle_timeout stay open with " +
                               std::to_string(st.idle) + " idle, above min_idle " +
                               std::to_string(options_.min_idle) + at());
    }

    /// Gives everything back, closes and destroys the pool: every connection closes, once.
    void finish() {
        current_ = {op::close, 0};
        while (!held_.empty()) give_back(0, false);
        {
            std::lock_guard lock(ledger_->mutex);
            ledger_->pool_closed = true;
        }
        pool_->close();
        pool_->run_worker_once();
        complete_delivered();
        while (!held_.empty()) give_back(0, false);
        for (auto& w : waiters_) {
            if (w->delivered) continue;
            violation("async waiter " + std::to_string(w->number) + " never answered after close()");
            pool_->core().abandon_async(*w);
        }
        pool_.reset();
        std::lock_guard lock(ledger_->mutex);
        if (!ledger_->open.empty())
            ledger_->violation(std::to_string(ledger_->open.size()) +
                               " connections still open after the pool was destroyed (leak)");
        if (ledger_->closed != ledger_->ever_opened)
            ledger_->violation("the driver opened " + std::to_string(ledger_->ever_opened.size()) +
                               " connections and closed " + std::to_string(ledger_->closed.size()));
        const int open = fake_.with([](auto& s) { return s.open; });
        if (open != 0)
            ledger_->violation("the fake driver counts " + std::to_string(open) +
                               " connections open at the end");
    }

    const model_case& case_;
    std::shared_ptr<ledger> ledger_;
    pool_options options_;
    manual_clock clock_;
    fake_driver fake_;
    std::unique_ptr<model_pool> pool_;
    std::vector<held_lease> held_;
    waiter_list waiters_;
    std::int64_t last_connect_failure_ = -1;
    int failures_seen_ = 0;
    step current_{op::housekeep, 0};
};

std::optional<model_failure> run_case(const model_case& c, const std::vector<step>& steps) {
    return model_run(c).run(steps);
}

/// The shortest failing prefix, then every step that can go dropped (repeated until none can).
std::vector<step> shrink(const model_case& c, std::vector<step> steps, model_failure& failure) {
    if (failure.step > 0) steps.resize(failure.step);
    for (bool dropped = true; dropped;) {
        dropped = false;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            std::vector<step> fewer = steps;
            fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
            if (auto f = run_case(c, fewer)) {
                steps = std::move(fewer);
                if (f->step > 0) steps.resize(f->step);
                failure = *f;
                dropped = true;
                --i;
            }
        }
    }
    return steps;
}

std::string replay_text(const model_case& c, const std::vector<step>& steps, const model_failure& f) {
    std::ostringstream out;
    out << "model violation, seed " << c.seed
        << (c.hand_written ? std::string(" (a fixed case)")
                           : " (replay: LIFEGUARD_MODEL_SEED=" + std::to_string(c.seed) + ")")
        << "\n"
        << "  options: " << describe_options(c.options) << "\n"
        << "  "
        << (f.step > 0 ? "after step " + std::to_string(f.step)
                       : std::string("when closing and destroying the pool"))
        << ": " << f.what << "\n"
        << "  minimal steps (" << steps.size() << " of " << c.steps.size() << "):\n"
        << describe_steps(steps);
    return out.str();
}

std::optional<std::uint64_t> env_number(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (*end != '\0') {
        ADD_FAILURE() << name << "=" << v << " is not a number";
        return std::nullopt;
    }
    return n;
}

/// Runs one seed; on a violation, fails the test with its minimal replay.
bool check_seed(std::uint64_t seed) {
    const model_case c = make_case(seed);
    auto failure = run_case(c, c.steps);
    if (!failure) return true;
    const std::vector<step> minimal = shrink(c, c.steps, *failure);
    ADD_FAILURE() << replay_text(c, minimal, *failure);
    return false;
}

// Found by the model (seed 224, shrunk): max_size 1, every borrow validates. The async waiter
// is handed the idle connection, which the worker must check first; the pool is closed; the
// connection breaks; the worker's check fails. It put the waiter back in the closed pool's
// queue, where nothing answered it (not close(), which had run; with a worker thread the
// pool's destructor then waited for that queue to empty). Now: pool_closed.
TEST(PoolModelFoundBugs, AsyncWaiterWhoseCheckFailsAfterCloseIsAnswered) {
    model_case c;
    c.seed = 224;
    c.options = {.name = "model",
                 .max_size = 1,
                 .min_idle = 1,
                 .acquire_timeout = 5000ms,
                 .idle_timeout = 10'000ms,
                 .max_lifetime = 0ms,
                 .keepalive_interval = 30'000ms,
                 .alive_bypass_window = 0ms,
                 .housekeeping_interval = 100ms};
    c.steps = {{op::housekeep, 0}, {op::wait_async, 0}, {op::close, 0}, {op::break_connection, 0}};
    c.hand_written = true;
    if (auto f = run_case(c, c.steps)) ADD_FAILURE() << replay_text(c, c.steps, *f);
}

TEST(PoolModel, RandomSequencesKeepEveryInvariant) {
    if (const auto seed = env_number("LIFEGUARD_MODEL_SEED")) {
        const model_case c = make_case(*seed);
        std::printf("seed %llu\n  options: %s\n  steps:\n%s", static_cast<unsigned long long>(*seed),
                    describe_options(c.options).c_str(), describe_steps(c.steps).c_str());
        check_seed(*seed);
        return;
    }
    const std::uint64_t first = env_number("LIFEGUARD_MODEL_FIRST_SEED").value_or(1);
    const std::uint64_t count = env_number("LIFEGUARD_MODEL_SEQUENCES").value_or(3000);
    int failed = 0;
    for (std::uint64_t seed = first; seed < first + count && failed < 3; ++seed) failed += !check_seed(seed);
}

}  // namespace
}  // namespace lifeguard::testing
