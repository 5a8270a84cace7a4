// The deadlock detector's engine: the pool hooks, the locks, the watchdog and the emitting of
// reports. What it watches for is decided below it, by parts that return reports instead of
// logging them:
//   knot_watch      live deadlocks, confirmed from the pools' own state; policies
//   nesting_watch   nested acquisition, blocking calls in nested scopes, Tn samples
//   order_watch     pool-order inversions
// and under them report_builder (all report text) and records (what they share). See
// detector.hpp for the contract.
//
// Locks, always taken in this order and never while calling user code:
//   registry_mutex_ (shared)  keeps pool views alive while we call them; on_detach takes it
//                             exclusively
//   action_mutex_             serializes confirming and acting on knots (one victim per knot)
//   table locks               the detector's own (history_, rate limit, all_, outage state) and
//                             each watch's: leaves, no pool calls under them, never two at once
// The fast path (acquire, return, no lease or a known pair held) takes none of them.
#include "lifeguard/diagnostics/detector.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "lifeguard/diagnostics/detail/owner_ledger.hpp"
#include "blocked_threads.hpp"
#include "knot_watch.hpp"
#include "nesting_watch.hpp"
#include "order_watch.hpp"
#include "records.hpp"
#include "report_builder.hpp"

namespace lifeguard::diagnostics {
namespace {

using namespace detail;

std::shared_ptr<spdlog::logger> default_logger() {
    return std::make_shared<spdlog::logger>("lifeguard.detector", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
}

void append(reports_to_emit& to, reports_to_emit&& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

class deadlock_detector::impl {
public:
    explicit impl(detector_options o)
        : options_(std::move(o)),
          logger_(options_.logger ? options_.logger : default_logger()),
          ledger_(options_.capacity),
          knots_(ledger_, blocked_, triggers_),
          nesting_(ledger_, blocked_, triggers_),
          tokens_(static_cast<double>(options_.max_logged_per_minute)),
          last_refill_(std::chrono::steady_clock::now()) {}

    ~impl() { stop_watchdog(); }

    void start_watchdog() {
        if (options_.watchdog_interval.count() <= 0) return;
        watchdog_ = std::thread([this] {
            std::unique_lock lock(watchdog_mutex_);
            while (!watchdog_stop_) {
                if (watchdog_cv_.wait_for(lock, options_.watchdog_interval, [this] { return watchdog_stop_; })) break;
                lock.unlock();
                check_now();
                lock.lock();
            }
        });
    }

    void stop_watchdog() {
        {
            std::lock_guard lock(watchdog_mutex_);
            watchdog_stop_ = true;
        }
        watchdog_cv_.notify_all();
        if (watchdog_.joinable()) watchdog_.join();
    }

    // ------------------------------------------------------------------ hooks: fast path

    void acquire_start(pool_view& pool, owner_id owner, const std::source_location& site) {
        if (owner == 0 || ledger_.empty(owner)) [[likely]]
            return;
        held_path(pool, owner, site);
    }

    void acquired(pool_view& pool, const lease_info& lease) {
        // Leases of ignored pools are recorded too (checking the policy here would cost every
        // borrow a call); the slow paths skip them.
        if (lease.owner == 0) return;
        if (!ledger_.add_parked(lease.owner, ledger_entry::lease_tag(lease.lease_id), key_of(pool),
                                lease.site)) [[unlikely]]
            return acquired_unparked(pool, lease);
        if (triggers_.any()) [[unlikely]]
            after_acquired(pool, lease.owner);
    }

    /// acquired() when the thread has no slot parked for the owner (its first borrow here, or
    /// a nested one): out of line, so that the common path saves no registers.
    [[gnu::noinline]] void acquired_unparked(pool_view& pool, const lease_info& lease) {
        ledger_.add(lease.owner, ledger_entry::lease_tag(lease.lease_id), key_of(pool), lease.site);
        if (triggers_.any()) [[unlikely]]
            after_acquired(pool, lease.owner);
    }

    void release(pool_view& pool, const lease_info& lease) {
        if (lease.owner != 0)
            ledger_.remove(lease.owner, ledger_entry::lease_tag(lease.lease_id), key_of(pool), true);
    }

    // ------------------------------------------------------------------ hooks: slow paths

    void attach(pool_view& pool) {
        auto rec = std::make_shared<pool_record>();
        rec->id = pool.id();
        rec->key = key_of(pool);
        rec->name = pool.name();
        rec->max_size = pool.options().max_size;
        rec->policy = pool.options().on_deadlock;
        rec->acquire_timeout = pool.options().acquire_timeout;
        rec->view = &pool;
        std::unique_lock reg(registry_mutex_);
        registry_.by_id[rec->id] = rec.get();
        registry_.by_key[rec->key] = rec.get();
        std::lock_guard tables(tables_);
        all_.push_back(std::move(rec));
    }

    void detach(pool_view& pool) {
        {
            std::unique_lock reg(registry_mutex_);
            const auto it = registry_.by_key.find(key_of(pool));
            if (it == registry_.by_key.end()) return;
            it->second->view = nullptr;
            nesting_.pool_detached();
            registry_.by_id.erase(it->second->id);
            registry_.by_key.erase(it);
            orders_.pool_detached();
        }
        ledger_.remove_pool(key_of(pool));
    }

    void block(pool_view& pool, const wait_info& w) {
        if (w.owner == 0 || pool.options().on_deadlock == deadlock_policy::ignore) return;
        if (ledger_.add(w.owner, ledger_entry::wait_tag(w.since.count()), key_of(pool), w.site)) triggers_.wait_added();
        if (w.blocks_thread && has_enclosing_owner(w.owner))
            if (const auto sighting = nesting_.enclosing_wait(pool, w)) record_nesting(pool, *sighting);
        reports_to_emit out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* rec = registry_.with_key(key_of(pool));
            if (!rec) return;
            out = nesting_.sample(*rec, pool, pool.stats());
            if (rec->failing.load(std::memory_order_relaxed)) outage(*rec, pool, out);
            if (knots_.suspects(registry_, w.owner)) confirm(w.owner, out);
        }
        emit(out);
    }

    void unblock(pool_view& pool, const wait_info& w) {
        if (w.owner == 0) return;
        if (ledger_.remove(w.owner, ledger_entry::wait_tag(w.since.count()), key_of(pool))) triggers_.wait_removed();
        std::vector<owner_id> resumed{w.owner};
        if (blocked_.any()) [[unlikely]] {
            const auto enclosing = nesting_.end_enclosing_wait(pool, w);
            resumed.insert(resumed.end(), enclosing.begin(), enclosing.end());
        }
        knots_.resumed(resumed);
    }

    std::optional<failure_explanation> explain_acquire_failure(const pool_diagnostics& d) {
        const std::shared_ptr<const report> rep = knots_.take_explanation(d.owner);
        if (!rep || (d.code != errc::timeout && d.code != errc::deadlock)) return std::nullopt;
        return failure_explanation{verdict::deadlocked, rep->to_string()};
    }

    void connection_created(pool_view& pool) {
        std::shared_lock reg(registry_mutex_);
        pool_record* rec = registry_.with_key(key_of(pool));
        if (!rec || !rec->failing.exchange(false, std::memory_order_relaxed)) return;
        std::lock_guard tables(tables_);
        rec->outage_reported = false;
        rec->last_connect_error.clear();
    }

    void connect_failed(pool_view& pool, std::string_view error) {
        reports_to_emit out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* rec = registry_.with_key(key_of(pool));
            if (!rec) return;
            {
                std::lock_guard tables(tables_);
                rec->last_connect_error = error;
            }
            rec->failing.store(true, std::memory_order_relaxed);
            if (pool.stats().pending > 0) outage(*rec, pool, out);
        }
        emit(out);
    }

    // ------------------------------------------------------------------ the watchdog

    void check_now() {
        reports_to_emit out;
        {
            std::shared_lock reg(registry_mutex_);
            std::lock_guard act(action_mutex_);
            const std::uint64_t started = knots_.untie_epoch();
            const pools_reading first = knots_.read_pools(registry_);
            for (const auto& p : first.pools) {
                append(out, nesting_.sample(p));
                if (p.record->failing.load(std::memory_order_relaxed) && p.stats.pending > 0)
                    outage(*p.record, *p.view, out);
            }
            append(out, knots_.act_on_all(registry_, first, started, nested_pairs_on_pools()));
        }
        emit(out);
    }

    // ------------------------------------------------------------------ queries

    std::vector<std::shared_ptr<const report>> recent() const {
        std::lock_guard tables(tables_);
        return {history_.begin(), history_.end()};
    }

    detector_stats stats() const noexcept {
        detector_stats s;
        s.deadlocks = knots_.deadlocks();
        s.nested_pairs = nesting_.pairs_seen();
        s.order_inversions = orders_.inversions();
        s.outages = outages_.load(std::memory_order_relaxed);
        s.failed_tasks = knots_.failed_tasks();
        s.healed_tasks = knots_.healed_tasks();
        s.confirmations = knots_.confirmations();
        s.unconfirmed = knots_.unconfirmed();
        s.suppressed = suppressed_total_.load(std::memory_order_relaxed);
        s.dropped = ledger_.dropped();
        return s;
    }

    diagnostics::snapshot snapshot() const {
        diagnostics::snapshot s;
        {
            std::lock_guard tables(tables_);
            for (const auto& rec : all_) {
                auto it = std::ranges::find(s.pools, rec->name, &snapshot::pool::name);
                if (it == s.pools.end()) {
                    s.pools.push_back({rec->name, rec->max_size, 0, 1, 0, {}});
                    it = s.pools.end() - 1;
                }
                it->max_size = std::max(it->max_size, rec->max_size);
                it->observed_tasks = std::max(it->observed_tasks, rec->usage.tasks());
                it->observed_connections_per_task = std::max(it->observed_connections_per_task, rec->usage.depth());
            }
        }
        for (auto& p : s.pools) p.safe_size = safe_pool_size(p.observed_tasks, p.observed_connections_per_task);
        nesting_.add_to(s);
        orders_.add_to(s);
        return s;
    }

private:
    nested_pairs_on nested_pairs_on_pools() const {
        return [this](const std::vector<pool_key>& pools) { return nesting_.pairs_on(pools); };
    }

    /// The fast check found no way out for `start`: the knot watch confirms and acts (registry
    /// lock held).
    void confirm(owner_id start, reports_to_emit& out) {
        std::lock_guard act(action_mutex_);
        append(out, knots_.confirm(registry_, start, nested_pairs_on_pools()));
    }

    /// A lease went to an owner while waits are in flight somewhere: if this owner still waits on
    /// another pool, the hand-off may have closed a knot.
    [[gnu::noinline]] void after_acquired(pool_view& pool, owner_id owner) {
        knots_.forget_explanation(owner);
        const std::uint64_t key = key_of(pool);
        std::size_t waits_here = 0;
        std::size_t waits_elsewhere = 0;
        ledger_.for_each(owner, [&](const ledger_entry& e) {
            if (e.is_wait()) (e.pool == key ? waits_here : waits_elsewhere) += 1;
            return false;
        });
        // One wait here may be this acquisition's own, not yet withdrawn.
        if (waits_elsewhere == 0 && waits_here < 2) return;
        reports_to_emit out;
        {
            std::shared_lock reg(registry_mutex_);
            if (knots_.suspects(registry_, owner)) confirm(owner, out);
        }
        emit(out);
    }

    /// The owner holds something (a lease, or a wait of another of its acquisitions): look for
    /// nesting on this pool and order edges from others.
    [[gnu::noinline]] void held_path(pool_view& pool, owner_id owner, const std::source_location& site) {
        const std::uint64_t key = key_of(pool);
        std::uint64_t same = 0;
        std::source_location outer;
        bool others = false;
        bool unseen_edges = false;  // an order edge from another pool held to this one is new
        ledger_.for_each(owner, [&](const ledger_entry& e) {
            if (e.is_wait()) return false;
            if (e.pool != key) {
                others = true;
                // Known edges are the rule: asked here, they cost no second pass over the ledger.
                if (orders_.unseen_edge(e.pool, key)) [[unlikely]]
                    unseen_edges = true;
            } else if (same++ == 0) {
                outer = e.site;
            }
            return false;
        });
        if (same == 0 && !others) return;
        if (!others && nesting_.count_repeat(pool, key, outer, site, same + 1)) [[likely]]
            return;
        if (pool.options().on_deadlock == deadlock_policy::ignore) return;
        if (same != 0)
            if (const auto sighting = nesting_.count(pool, key, outer, site, same + 1)) record_nesting(pool, *sighting);
        if (unseen_edges)
            ledger_.for_each(owner, [&](const ledger_entry& e) {
                if (!e.is_wait() && e.pool != key)
                    if (const auto edge = orders_.unseen_edge(e.pool, key)) [[unlikely]]
                        record_edge(e.pool, key, *edge, e.site, site);
                return false;
            });
    }

    [[gnu::noinline]] void record_nesting(pool_view& pool, const nesting_sighting& sighting) {
        reports_to_emit out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* rec = registry_.with_id(sighting.pool_id);
            if (!rec) return;
            out = nesting_.record(*rec, pool, sighting);
        }
        emit(out);
    }

    [[gnu::noinline]] void record_edge(std::uint64_t from, std::uint64_t to, std::uint64_t edge, const std::source_location& held_site,
                     const std::source_location& site) {
        reports_to_emit out;
        {
            std::shared_lock reg(registry_mutex_);
            if (auto r = orders_.add_edge(registry_, from, to, edge, held_site, site)) out.push_back(std::move(*r));
        }
        emit(out);
    }

    /// Waiters queue on a pool that cannot open connections (registry lock held).
    void outage(pool_record& rec, pool_view& pool, reports_to_emit& out) {
        if (rec.policy == deadlock_policy::ignore) return;
        pool_report summary = pool_summary(rec, pool.stats(), pool.has_room());
        {
            std::lock_guard tables(tables_);
            if (rec.outage_reported) return;
            rec.outage_reported = true;
            summary.last_connect_error = rec.last_connect_error;
        }
        std::vector<task_report> waiting;
        for (const auto& w : pool.waiters()) {
            task_report t;
            t.owner = w.owner;
            t.label = std::string(w.owner_label);
            t.waits_for = rec.name;
            t.wait_site = w.site;
            t.waiting = std::max(nanoseconds(0), pool.now() - w.since);
            waiting.push_back(std::move(t));
        }
        outages_.fetch_add(1, std::memory_order_relaxed);
        out.push_back({std::make_shared<const report>(outage_report(std::move(summary), std::move(waiting))),
                       spdlog::level::err, false});
    }

    // ------------------------------------------------------------------ output

    /// Logs (rate-limited), calls the callback and records each report. No lock held on entry.
    void emit(reports_to_emit& out) {
        for (auto& o : out) {
            bool log = true;
            std::uint64_t suppressed = 0;
            {
                std::lock_guard tables(tables_);
                history_.push_back(o.rep);
                while (history_.size() > std::max<std::size_t>(options_.history, 1)) history_.pop_front();
                if (options_.max_logged_per_minute != 0 && !o.abort) {
                    const auto now = std::chrono::steady_clock::now();
                    const double per_ns = static_cast<double>(options_.max_logged_per_minute) / 60e9;
                    tokens_ = std::min(static_cast<double>(options_.max_logged_per_minute),
                                       tokens_ + per_ns * static_cast<double>((now - last_refill_).count()));
                    last_refill_ = now;
                    if (tokens_ >= 1.0) {
                        tokens_ -= 1.0;
                        suppressed = std::exchange(suppressed_since_log_, 0);
                    } else {
                        log = false;
                        ++suppressed_since_log_;
                        suppressed_total_.fetch_add(1, std::memory_order_relaxed);
                    }
                }
            }
            if (log) {
                std::string text = o.rep->to_string();
                if (suppressed)
                    text += "\n  (" + std::to_string(suppressed) + " earlier reports were not logged: rate limit)";
                logger_->log(o.level, "{}", text);
            }
            if (options_.on_report) options_.on_report(*o.rep);
            if (o.abort) {
                logger_->flush();
                std::abort();
            }
        }
    }

    // ------------------------------------------------------------------ members

    const detector_options options_;
    const std::shared_ptr<spdlog::logger> logger_;

    // Hot path: lock-free.
    owner_ledger ledger_;
    after_acquire_triggers triggers_;
    blocked_threads blocked_;  // threads blocked in nested scopes

    knot_watch knots_;
    nesting_watch nesting_;
    order_watch orders_;

    mutable std::shared_mutex registry_mutex_;
    pool_registry registry_;

    std::mutex action_mutex_;

    mutable std::mutex tables_;
    std::vector<std::shared_ptr<pool_record>> all_;  // every pool ever attached
    std::deque<std::shared_ptr<const report>> history_;
    double tokens_;
    std::chrono::steady_clock::time_point last_refill_;
    std::uint64_t suppressed_since_log_ = 0;

    std::atomic<std::uint64_t> outages_{0}, suppressed_total_{0};

    std::mutex watchdog_mutex_;
    std::condition_variable watchdog_cv_;
    bool watchdog_stop_ = false;
    std::thread watchdog_;
};

// ---------------------------------------------------------------------- the public face

deadlock_detector::deadlock_detector(detector_options options) : impl_(std::make_unique<impl>(std::move(options))) {
    impl_->start_watchdog();
}

deadlock_detector::~deadlock_detector() { impl_->stop_watchdog(); }

void deadlock_detector::check_now() { impl_->check_now(); }
std::vector<std::shared_ptr<const report>> deadlock_detector::recent_reports() const { return impl_->recent(); }
detector_stats deadlock_detector::stats() const noexcept { return impl_->stats(); }
snapshot deadlock_detector::snapshot() const { return impl_->snapshot(); }

void deadlock_detector::on_attach(pool_view& pool) { impl_->attach(pool); }
void deadlock_detector::on_detach(pool_view& pool) { impl_->detach(pool); }
void deadlock_detector::on_acquire_start(pool_view& pool, owner_id owner, const std::source_location& site) {
    impl_->acquire_start(pool, owner, site);
}
void deadlock_detector::on_block(pool_view& pool, const wait_info& waiter) { impl_->block(pool, waiter); }
void deadlock_detector::on_unblock(pool_view& pool, const wait_info& waiter) { impl_->unblock(pool, waiter); }
void deadlock_detector::on_acquired(pool_view& pool, const lease_info& lease, std::chrono::nanoseconds) {
    impl_->acquired(pool, lease);
}
void deadlock_detector::on_release(pool_view& pool, const lease_info& lease, std::chrono::nanoseconds) {
    impl_->release(pool, lease);
}
std::optional<failure_explanation> deadlock_detector::explain_acquire_failure(pool_view&, const pool_diagnostics& d) {
    return impl_->explain_acquire_failure(d);
}
void deadlock_detector::on_connection_created(pool_view& pool, std::chrono::nanoseconds) {
    impl_->connection_created(pool);
}
void deadlock_detector::on_connect_failed(pool_view& pool, std::string_view error) {
    impl_->connect_failed(pool, error);
}

}  // namespace lifeguard::diagnostics
