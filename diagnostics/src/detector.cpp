// The deadlock detector: hot-path bookkeeping in a lock-free ledger, knot checks on the
// blocking path confirmed from the pools' own state, nesting and order tracking with
// first-seen caches, policies, reports and the watchdog. See detector.hpp for the contract.
//
// Locks, always taken in this order and never while calling user code:
//   registry_mutex_ (shared)  keeps pool views alive while we call them; on_detach takes it
//                             exclusively
//   action_mutex_             serializes confirming and acting on knots (one victim per knot)
//   data_mutex_               the detector's own tables; a leaf: no pool calls under it
// The fast path (acquire, return, no lease or a known pair held) takes none of them.
#include "lifeguard/diagnostics/detector.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "lifeguard/diagnostics/detail/owner_ledger.hpp"
#include "lifeguard/diagnostics/detail/seen_table.hpp"
#include "lifeguard/diagnostics/wait_graph.hpp"
#include "blocked_threads.hpp"
#include "quoted.hpp"
#include "task_tally.hpp"

namespace lifeguard::diagnostics {
namespace {

using detail::blocked_thread;
using detail::ledger_entry;
using detail::owner_ledger;
using detail::seen_table;
using nanoseconds = std::chrono::nanoseconds;

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t x = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

/// Identifies a call site cheaply: where std::source_location is one pointer to a per-site
/// constant (libstdc++, libc++), that pointer; else a hash of its fields.
std::uint64_t site_key(const std::source_location& s) noexcept {
    if constexpr (sizeof(std::source_location) == sizeof(std::uint64_t) &&
                  std::is_trivially_copyable_v<std::source_location>) {
        return std::bit_cast<std::uint64_t>(s);
    } else {
        return mix(mix(reinterpret_cast<std::uintptr_t>(s.file_name()), reinterpret_cast<std::uintptr_t>(s.function_name())),
                   (std::uint64_t{s.line()} << 32) | s.column());
    }
}

int severity(deadlock_policy p) noexcept {
    switch (p) {
    case deadlock_policy::ignore: return 0;
    case deadlock_policy::report: return 1;
    case deadlock_policy::fail_fast: return 2;
    case deadlock_policy::abort: return 3;
    }
    return 1;
}

void raise_to(std::atomic<std::uint64_t>& a, std::uint64_t v) noexcept {
    std::uint64_t cur = a.load(std::memory_order_relaxed);
    while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

/// The ledger's key for a pool: its view's address. Unique while the pool is attached (its
/// entries are purged when it detaches) and free to compute, unlike the virtual id().
std::uint64_t key_of(const pool_view& pool) noexcept { return reinterpret_cast<std::uintptr_t>(&pool); }

/// What the detector knows about one pool it watches (or watched).
struct pool_record {
    std::uint64_t id = 0;
    std::uint64_t key = 0;  // key_of(view) while attached
    std::string name;
    std::uint64_t max_size = 0;
    deadlock_policy policy = deadlock_policy::report;
    std::chrono::milliseconds acquire_timeout{0};
    pool_view* view = nullptr;  // null once detached; guarded by registry_mutex_
    std::atomic<std::uint64_t> observed_tasks{0};
    std::atomic<std::uint64_t> observed_depth{1};
    std::atomic<bool> failing{false};
    // Guarded by data_mutex_.
    std::string last_connect_error;
    bool outage_reported = false;
};

/// A nested-acquisition pair (pool, outer site, inner site).
struct pair_record {
    std::uint64_t pool_id = 0;
    std::string pool_name;
    std::source_location outer, inner;
    std::size_t seen = seen_table::npos;  // counters live in the seen table when it had room
    std::uint64_t count = 0, depth = 0;   // ... else here
    bool reported_unsafe = false;
};

/// An edge of the pool-order graph.
struct edge_record {
    std::uint64_t from = 0, to = 0;
    std::string from_name, to_name;
    std::source_location held_site, site;
};

/// A pool's state read from the pool itself (truth, as opposed to the ledger's hints).
struct pool_truth {
    pool_record* record = nullptr;
    pool_view* view = nullptr;
    pool_stats stats;
    bool has_room = false;
    nanoseconds now{0};
    struct holder {
        owner_id owner;
        std::source_location site;
        nanoseconds age;
        friend bool operator==(const holder& a, const holder& b) { return a.owner == b.owner && a.site.line() == b.site.line() && a.site.file_name() == b.site.file_name(); }
    };
    struct waiter {
        owner_id owner;
        std::string label;
        std::source_location site;
        nanoseconds since;
        owner_id through = 0;              ///< waits because this owner's call blocked its thread
        std::vector<owner_id> enclosing;   ///< (a queued waiter) owners whose scopes enclose the call
        friend bool operator==(const waiter& a, const waiter& b) {
            return a.owner == b.owner && a.since == b.since && a.through == b.through;
        }
    };
    std::vector<holder> holders;
    std::vector<waiter> waiters;
};

struct truth {
    std::vector<pool_truth> pools;
    wait_state state;

    const pool_truth* find(pool_key id) const {
        for (const auto& p : pools)
            if (p.record->id == id) return &p;
        return nullptr;
    }
};

/// A report waiting to be logged and handed to the callback once the locks are released.
struct outgoing {
    std::shared_ptr<const report> rep;
    spdlog::level::level_enum level = spdlog::level::err;
    bool abort = false;
};

std::shared_ptr<spdlog::logger> default_logger() {
    return std::make_shared<spdlog::logger>("lifeguard.detector", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
}

/// The nesting pair this thread saw last (the "chain cache" one level closer than the seen
/// table): a repeat of it costs a few compares and a plain increment, no hash, no probe and no
/// read-modify-write. Its occurrences are added to the seen table's counter in batches of
/// `nest_batch`, when the thread moves to another pair, when it exits, and when it reads the
/// counters itself (snapshot, reports), so other threads may see a pair's count lag by less than
/// `nest_batch` per thread still running. Trivially constructible and destructible: reading it
/// costs a plain thread-local access.
struct nest_cache {
    std::uint64_t detector;      ///< uid of the detector, 0 = empty
    std::uint64_t epoch;         ///< its pool epoch when filled (a detach may free the pool's address)
    std::uint64_t pool;          ///< key_of(pool)
    std::uint64_t outer, inner;  ///< site keys
    std::uint64_t depth;         ///< a depth the seen table already holds for the pair (Cm so far)
    std::size_t index;           ///< the pair's entry in the seen table
    std::uint64_t pending;       ///< occurrences not yet added to its counter
    bool exit_hook;              ///< nest_exit registered for this thread
};
constinit thread_local nest_cache nest{0, 0, 0, 0, 0, 0, 0, 0, false};
constexpr std::uint64_t nest_batch = 16;

/// Detectors alive now (by uid), so that a thread exiting with pending counts adds them only to a
/// detector that still exists. Touched when a detector is made or destroyed and when such a thread
/// exits or moves to another detector's pair.
std::mutex detectors_mutex;
std::atomic<std::uint64_t> next_detector_uid{1};
std::unordered_map<std::uint64_t, const seen_table*>& live_detectors() {
    static auto* m = new std::unordered_map<std::uint64_t, const seen_table*>();  // never destroyed:
    return *m;  // threads may exit after static destruction began
}

/// Adds the thread's pending count to the pair's counter if its detector still exists.
void flush_foreign_nest() noexcept {
    if (nest.pending == 0 || nest.detector == 0) return;
    std::lock_guard lock(detectors_mutex);
    const auto it = live_detectors().find(nest.detector);
    if (it != live_detectors().end()) it->second->add_count(nest.index, nest.pending);
    nest.pending = 0;
}

struct nest_exit {
    ~nest_exit() { flush_foreign_nest(); }
};
thread_local nest_exit nest_exit_guard;  // first touched when a thread first caches a pair

}  // namespace

class deadlock_detector::impl {
public:
    explicit impl(detector_options o)
        : options_(std::move(o)),
          logger_(options_.logger ? options_.logger : default_logger()),
          ledger_(options_.capacity),
          seen_pairs_(1024),
          seen_edges_(1024),
          tokens_(static_cast<double>(options_.max_logged_per_minute)),
          last_refill_(std::chrono::steady_clock::now()) {
        std::lock_guard lock(detectors_mutex);
        live_detectors().emplace(uid_, &seen_pairs_);
    }

    ~impl() {
        stop_watchdog();
        std::lock_guard lock(detectors_mutex);
        live_detectors().erase(uid_);
    }

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
        if (attention_.load(std::memory_order_relaxed) != 0) [[unlikely]]
            after_acquired(pool, lease.owner);
    }

    /// acquired() when the thread has no slot parked for the owner (its first borrow here, or
    /// a nested one): out of line, so that the common path saves no registers.
    [[gnu::noinline]] void acquired_unparked(pool_view& pool, const lease_info& lease) {
        ledger_.add(lease.owner, ledger_entry::lease_tag(lease.lease_id), key_of(pool), lease.site);
        if (attention_.load(std::memory_order_relaxed) != 0) [[unlikely]]
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
        live_[rec->id] = rec.get();
        by_key_[rec->key] = rec.get();
        std::lock_guard data(data_mutex_);
        all_.push_back(std::move(rec));
    }

    void detach(pool_view& pool) {
        {
            std::unique_lock reg(registry_mutex_);
            const auto it = by_key_.find(key_of(pool));
            if (it == by_key_.end()) return;
            it->second->view = nullptr;
            pool_epoch_.fetch_add(1, std::memory_order_relaxed);  // nest caches of its address go stale
            live_.erase(it->second->id);
            by_key_.erase(it);
            // Edges are cached by pool address, which a new pool may reuse: forget them all
            // (the slow path re-learns the ones it already knows by id).
            std::lock_guard data(data_mutex_);
            seen_edges_.clear();
        }
        ledger_.remove_pool(key_of(pool));
    }

    void block(pool_view& pool, const wait_info& w) {
        if (w.owner == 0 || pool.options().on_deadlock == deadlock_policy::ignore) return;
        if (ledger_.add(w.owner, ledger_entry::wait_tag(w.since.count()), key_of(pool), w.site))
            attention_.fetch_add(1, std::memory_order_relaxed);
        if (w.blocks_thread && has_enclosing_owner(w.owner)) enclosing_wait(pool, w);
        std::vector<outgoing> out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* rec = at(key_of(pool));
            if (!rec) return;
            sample_tasks(*rec, pool.holders(), pool.waiters(), pool.stats(), out);
            if (rec->failing.load(std::memory_order_relaxed)) outage(*rec, pool, out);
            live_graph g(*this);
            if (find_knot(g, w.owner)) confirm_and_act(w.owner, out);
        }
        emit(out);
    }

    void unblock(pool_view& pool, const wait_info& w) {
        if (w.owner == 0) return;
        if (ledger_.remove(w.owner, ledger_entry::wait_tag(w.since.count()), key_of(pool)))
            attention_.fetch_sub(1, std::memory_order_relaxed);
        std::vector<owner_id> resumed{w.owner};
        if (nested_blocked_.load(std::memory_order_relaxed) != 0) [[unlikely]]
            end_enclosing_wait(pool, w, resumed);
        if (active_count_.load(std::memory_order_relaxed) == 0) return;
        // A member that stops waiting unties its knot: it may be reported again if it re-forms.
        std::lock_guard data(data_mutex_);
        untie_if([&](const std::vector<owner_id>& members) {
            return std::ranges::any_of(resumed, [&](owner_id o) { return std::ranges::binary_search(members, o); });
        });
    }

    /// A blocking call in a nested scope: the enclosing owners that hold something wait on this
    /// pool too, for as long as the call does. An acquisition in a nested scope that does not
    /// block is another task's (a coroutine resumed on this thread); one that blocks keeps the
    /// enclosing tasks from releasing anything, so it is their nesting too.
    void enclosing_wait(pool_view& pool, const wait_info& w) {
        blocked_thread b{w.owner, pool.id(), w.since.count(), {}};
        const std::uint64_t id = key_of(pool);
        std::uint64_t same = 0;
        std::source_location outer;
        const auto count_same = [&](const ledger_entry& e) {
            if (!e.is_wait() && e.pool == id && same++ == 0) outer = e.site;
            return false;
        };
        ledger_.for_each(w.owner, count_same);
        for_each_enclosing_owner([&](owner_id e) {
            if (ledger_.empty(e) || std::ranges::find(b.enclosing, e) != b.enclosing.end()) return;
            b.enclosing.push_back(e);
            ledger_.for_each(e, count_same);
            if (ledger_.add(e, ledger_entry::wait_tag(w.since.count()), id, w.site))
                attention_.fetch_add(1, std::memory_order_relaxed);
        });
        if (b.enclosing.empty()) return;
        {
            std::lock_guard data(data_mutex_);
            blocked_.add(std::move(b));
            nested_blocked_.fetch_add(1, std::memory_order_relaxed);
        }
        if (same != 0) nested_fast(pool, id, outer, w.site, same + 1);  // Tn sees one request
    }

    void end_enclosing_wait(pool_view& pool, const wait_info& w, std::vector<owner_id>& resumed) {
        std::optional<blocked_thread> b;
        {
            std::lock_guard data(data_mutex_);
            b = blocked_.remove(w.owner, pool.id(), w.since.count());
        }
        if (!b) return;
        nested_blocked_.fetch_sub(1, std::memory_order_relaxed);
        for (owner_id e : b->enclosing) {
            if (ledger_.remove(e, ledger_entry::wait_tag(w.since.count()), key_of(pool)))
                attention_.fetch_sub(1, std::memory_order_relaxed);
            resumed.push_back(e);
        }
    }

    void acquire_failed(pool_view&, pool_diagnostics& d) {
        if (d.owner == 0 || reports_pending() == 0) return;
        std::shared_ptr<const report> rep;
        {
            std::lock_guard data(data_mutex_);
            const auto it = owner_reports_.find(d.owner);
            if (it == owner_reports_.end()) return;
            rep = std::move(it->second);
            owner_reports_.erase(it);
            reports_changed(owner_reports_.size() + 1);
        }
        if (d.code != errc::timeout && d.code != errc::deadlock) return;
        d.what = verdict::deadlocked;
        if (!d.detail.empty()) d.detail += '\n';
        d.detail += rep->to_string();
    }

    void connection_created(pool_view& pool) {
        std::shared_lock reg(registry_mutex_);
        pool_record* rec = at(key_of(pool));
        if (!rec || !rec->failing.exchange(false, std::memory_order_relaxed)) return;
        std::lock_guard data(data_mutex_);
        rec->outage_reported = false;
        rec->last_connect_error.clear();
    }

    void connect_failed(pool_view& pool, std::string_view error) {
        std::vector<outgoing> out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* rec = at(key_of(pool));
            if (!rec) return;
            {
                std::lock_guard data(data_mutex_);
                rec->last_connect_error = error;
            }
            rec->failing.store(true, std::memory_order_relaxed);
            if (pool.stats().pending > 0) outage(*rec, pool, out);
        }
        emit(out);
    }

    // ------------------------------------------------------------------ the watchdog

    void check_now() {
        std::vector<outgoing> out;
        {
            std::shared_lock reg(registry_mutex_);
            std::lock_guard act(action_mutex_);
            const std::uint64_t started = untie_epoch();
            truth t1 = take_truth();
            for (auto& p : t1.pools) {
                std::vector<holder_info> hs;
                for (const auto& h : p.holders) hs.push_back({h.owner, {}, h.site, h.age});
                std::vector<wait_info> ws;
                for (const auto& w : p.waiters)
                    if (w.through == 0) ws.push_back({w.owner, {}, w.site, w.since});
                sample_tasks(*p.record, hs, ws, p.stats, out);
                if (p.record->failing.load(std::memory_order_relaxed) && p.stats.pending > 0)
                    outage(*p.record, *p.view, out);
            }
            const knot dead1 = find_deadlocked(t1.state);
            std::vector<knot> found;
            if (!dead1.owners.empty()) {
                truth t2 = take_truth();
                const knot dead2 = find_deadlocked(t2.state);
                const auto parts1 = split_knots(t1.state, dead1);
                for (const auto& k : split_knots(t2.state, dead2)) {
                    if (std::ranges::find(parts1, k) == parts1.end() || !stable(t1, t2, k.pools)) continue;
                    found.push_back(k);
                    handle_knot(k, t2, 0, started, out);
                }
            }
            // Forget knots that no longer exist, so that they are reported again if they re-form.
            std::lock_guard data(data_mutex_);
            untie_if([&](const std::vector<owner_id>& members) {
                return std::ranges::none_of(found, [&](const knot& k) { return std::ranges::includes(k.owners, members); });
            });
        }
        emit(out);
    }

    // ------------------------------------------------------------------ queries

    std::vector<std::shared_ptr<const report>> recent() const {
        std::lock_guard data(data_mutex_);
        return {history_.begin(), history_.end()};
    }

    detector_stats stats() const noexcept {
        detector_stats s;
        s.deadlocks = deadlocks_.load(std::memory_order_relaxed);
        s.nested_pairs = nested_pairs_.load(std::memory_order_relaxed);
        s.order_inversions = order_inversions_.load(std::memory_order_relaxed);
        s.outages = outages_.load(std::memory_order_relaxed);
        s.failed_tasks = failed_tasks_.load(std::memory_order_relaxed);
        s.confirmations = confirmations_.load(std::memory_order_relaxed);
        s.unconfirmed = unconfirmed_.load(std::memory_order_relaxed);
        s.suppressed = suppressed_total_.load(std::memory_order_relaxed);
        s.dropped = ledger_.dropped();
        return s;
    }

    diagnostics::snapshot snapshot() const {
        flush_own_nest();
        diagnostics::snapshot s;
        std::lock_guard data(data_mutex_);
        for (const auto& rec : all_) {
            auto it = std::ranges::find(s.pools, rec->name, &snapshot::pool::name);
            if (it == s.pools.end()) {
                s.pools.push_back({rec->name, rec->max_size, 0, 1, 0, {}});
                it = s.pools.end() - 1;
            }
            it->max_size = std::max(it->max_size, rec->max_size);
            it->observed_tasks = std::max(it->observed_tasks, rec->observed_tasks.load(std::memory_order_relaxed));
            it->observed_connections_per_task =
                std::max(it->observed_connections_per_task, rec->observed_depth.load(std::memory_order_relaxed));
        }
        for (auto& p : s.pools) p.safe_size = safe_pool_size(p.observed_tasks, p.observed_connections_per_task);
        for (const auto& [key, pr] : pairs_) {
            auto it = std::ranges::find(s.pools, pr.pool_name, &snapshot::pool::name);
            if (it == s.pools.end()) continue;
            snapshot::nested_pair n{describe_site(pr.outer), describe_site(pr.inner), pair_depth(pr), it->observed_tasks,
                                    pair_count(pr)};
            auto same = std::ranges::find_if(it->nested, [&](const auto& x) {
                return x.outer_site == n.outer_site && x.inner_site == n.inner_site;
            });
            if (same == it->nested.end()) {
                it->nested.push_back(std::move(n));
            } else {
                same->depth = std::max(same->depth, n.depth);
                same->count += n.count;
            }
        }
        for (const auto& [key, e] : edges_) {
            snapshot::order_edge oe{e.from_name, e.to_name, describe_site(e.site)};
            if (std::ranges::find(s.order_edges, oe) == s.order_edges.end()) s.order_edges.push_back(std::move(oe));
        }
        return s;
    }

private:
    // ------------------------------------------------------------------ lazy graph for the fast check

    /// find_knot over the live pools: holders and room from the pools, waits from the ledger
    /// (hints: whatever it concludes is confirmed from the pools before anyone acts).
    class live_graph {
    public:
        explicit live_graph(impl& d) : d_(d) {}

        bool room(pool_key p) {
            pool_record* rec = d_.at(p);
            if (!rec || rec->policy == deadlock_policy::ignore) return true;  // not watched: assume it may serve
            if (rec->view->has_room()) return true;
            // Connections out but not with a holder (being handed over, validated or closed)
            // will come back: they count as room.
            return rec->view->stats().total > holders(p).size();
        }

        const std::vector<owner_id>& holders(pool_key p) {
            auto [it, fresh] = holders_.try_emplace(p);
            if (fresh)
                if (pool_record* rec = d_.at(p))
                    for (const auto& h : rec->view->holders()) it->second.push_back(h.owner);
            return it->second;
        }

        /// Empty when `o` runs: it waits nowhere, or one of its threads is not waiting.
        const std::vector<pool_key>& waits(owner_id o) {
            auto [it, fresh] = waits_.try_emplace(o);
            if (!fresh) return it->second;
            std::size_t blocked = 0;  // one wait entry per blocked thread or async acquisition
            d_.ledger_.for_each(o, [&](const ledger_entry& e) {
                if (!e.is_wait()) return false;
                ++blocked;
                if (std::ranges::find(it->second, e.pool) == it->second.end()) it->second.push_back(e.pool);
                return false;
            });
            if (blocked != 0 && blocked < owner_threads(o)) it->second.clear();
            return it->second;
        }

    private:
        impl& d_;
        std::unordered_map<pool_key, std::vector<owner_id>> holders_;
        std::unordered_map<owner_id, std::vector<pool_key>> waits_;
    };

    pool_record* live(std::uint64_t id) const {
        const auto it = live_.find(id);
        return it == live_.end() ? nullptr : it->second;
    }
    pool_record* at(std::uint64_t key) const {
        const auto it = by_key_.find(key);
        return it == by_key_.end() ? nullptr : it->second;
    }

    // ------------------------------------------------------------------ truth and confirmation

    /// Reads every watched pool (registry lock held).
    truth take_truth() const {
        truth t;
        for (const auto& [id, rec] : live_) {
            if (rec->policy == deadlock_policy::ignore) continue;
            pool_truth p;
            p.record = rec;
            p.view = rec->view;
            p.stats = rec->view->stats();
            p.has_room = rec->view->has_room();
            for (const auto& h : rec->view->holders()) p.holders.push_back({h.owner, h.site, h.age});
            for (const auto& w : rec->view->waiters())
                p.waiters.push_back({w.owner, std::string(w.owner_label), w.site, w.since});
            p.now = rec->view->now();
            t.pools.push_back(std::move(p));
        }
        if (nested_blocked_.load(std::memory_order_relaxed) != 0) add_enclosing_waits(t);
        // A task with a thread that is not waiting runs (two threads acting for one task).
        std::unordered_map<owner_id, std::size_t> blocked;
        for (const auto& p : t.pools)
            for (const auto& w : p.waiters) ++blocked[w.owner];
        std::unordered_set<owner_id> running;
        for (const auto& [o, n] : blocked)
            if (n < owner_threads(o)) running.insert(o);
        for (const auto& p : t.pools) {
            wait_state::pool_node node{p.record->id, p.has_room || p.stats.total > p.holders.size(), {}};
            for (const auto& h : p.holders) node.holders.push_back(h.owner);
            t.state.pools.push_back(std::move(node));
            for (const auto& w : p.waiters)
                if (!running.contains(w.owner)) t.state.waits.push_back({w.owner, p.record->id});
        }
        return t;
    }

    /// Adds, for each queued waiter blocked in a nested scope, the enclosing owners as waiting
    /// on the same pool "through" it.
    void add_enclosing_waits(truth& t) const {
        std::lock_guard data(data_mutex_);
        for (auto& p : t.pools) {
            const std::size_t queued = p.waiters.size();
            for (std::size_t i = 0; i < queued; ++i) {
                const auto* enclosing = blocked_.enclosing(p.waiters[i].owner, p.record->id, p.waiters[i].since.count());
                if (!enclosing) continue;
                p.waiters[i].enclosing = *enclosing;
                for (owner_id e : *enclosing) {
                    const pool_truth::waiter& w = p.waiters[i];
                    p.waiters.push_back({e, owner_label(e), w.site, w.since, w.owner, {}});
                }
            }
        }
    }

    /// Tn and Cm of one pool in a truth.
    static detail::task_tally tally_of(const pool_truth& p) {
        std::vector<owner_id> holders;
        for (const auto& h : p.holders) holders.push_back(h.owner);
        std::vector<detail::tally_wait> waits;
        for (const auto& w : p.waiters)
            if (w.through == 0) waits.push_back({w.owner, w.enclosing});
        return detail::tally_tasks(holders, waits);
    }

    /// True when nothing moved in `pools` between the two readings: then both saw the state
    /// of one instant, and a knot in it is real (knots never untie by themselves).
    static bool stable(const truth& a, const truth& b, const std::vector<pool_key>& pools) {
        for (pool_key id : pools) {
            const pool_truth* x = a.find(id);
            const pool_truth* y = b.find(id);
            if (!x || !y) return false;
            if (x->stats.acquired != y->stats.acquired || x->stats.timeouts != y->stats.timeouts ||
                x->stats.created != y->stats.created || x->stats.connect_failures != y->stats.connect_failures ||
                x->has_room || y->has_room || x->stats.total != y->stats.total)
                return false;
            if (!std::ranges::is_permutation(x->holders, y->holders) || x->waiters != y->waiters) return false;
        }
        return true;
    }

    /// The fast check found no sink from `start`: read the pools twice and act if the knot is
    /// real. Registry lock held.
    void confirm_and_act(owner_id start, std::vector<outgoing>& out) {
        std::lock_guard act(action_mutex_);
        confirmations_.fetch_add(1, std::memory_order_relaxed);
        const std::uint64_t started = untie_epoch();
        truth t1 = take_truth();
        wait_state_graph g1(t1.state);
        const auto k1 = find_knot(g1, start);
        if (!k1) {
            unconfirmed_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        truth t2 = take_truth();
        wait_state_graph g2(t2.state);
        const auto k2 = find_knot(g2, start);
        if (!k2 || *k1 != *k2 || !stable(t1, t2, k2->pools)) {
            unconfirmed_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        handle_knot(*k2, t2, start, started, out);
    }

    std::uint64_t untie_epoch() const {
        std::lock_guard data(data_mutex_);
        return untie_epoch_;
    }

    /// Unties the active knots whose members match (data lock held), remembering when, so that a
    /// confirmation that read the pools before that moment does not report or fail it again.
    template <class Pred>
    void untie_if(Pred&& pred) {
        bool any = false;
        for (auto it = active_.begin(); it != active_.end();) {
            if (!pred(it->second)) {
                ++it;
                continue;
            }
            if (!any) ++untie_epoch_;
            any = true;
            untied_[it->first] = untie_epoch_;
            it = active_.erase(it);
        }
        active_count_.store(active_.size(), std::memory_order_relaxed);
        if (untied_.size() > 1024)
            std::erase_if(untied_, [&](const auto& kv) { return kv.second + 512 < untie_epoch_; });
    }

    // ------------------------------------------------------------------ acting on a knot

    /// A confirmed knot (registry and action locks held): report it once while it lasts and
    /// apply the strongest policy of its pools.
    void handle_knot(const knot& k, const truth& t, owner_id prefer, std::uint64_t started, std::vector<outgoing>& out) {
        wait_state_graph g(t.state);
        const knot_roles roles = roles_of(g, k);
        if (roles.members.empty()) return;  // only a closed pool can look like this

        deadlock_policy policy = deadlock_policy::ignore;
        for (pool_key p : k.pools)
            if (const pool_truth* pt = t.find(p); pt && severity(pt->record->policy) > severity(policy))
                policy = pt->record->policy;
        if (policy == deadlock_policy::ignore) return;

        std::uint64_t key = 0x6c6966656775ull;
        for (owner_id o : roles.members) key = mix(key, o);
        for (pool_key p : k.pools) key = mix(key, p);

        // Everyone waiting on the knot's pools is explained by it.
        std::vector<owner_id> explained;
        for (pool_key p : k.pools)
            if (const pool_truth* pt = t.find(p))
                for (const auto& w : pt->waiters) explained.push_back(w.owner);

        {
            std::lock_guard data(data_mutex_);
            if (const auto it = active_.find(key); it != active_.end()) {
                remember_explained(explained, active_reports_[key]);
                return;
            }
            // Untied since we began reading the pools: what we saw is already over.
            if (const auto it = untied_.find(key); it != untied_.end() && it->second > started) return;
        }

        report rep = knot_report(k, roles, t);
        for (pool_key p : k.pools)
            if (const pool_truth* pt = t.find(p)) pt->view->count_deadlock();
        {
            // Active before anyone is failed: the victim's unblock may run at once and must
            // find it (and untie it).
            std::lock_guard data(data_mutex_);
            active_[key] = roles.members;
            active_count_.store(active_.size(), std::memory_order_relaxed);
        }

        rep.action = policy_action(policy, rep);
        if (policy == deadlock_policy::fail_fast) fail_a_member(rep, roles, t, k, prefer);

        auto shared = std::make_shared<const report>(std::move(rep));
        {
            std::lock_guard data(data_mutex_);
            active_reports_[key] = shared;
            std::erase(explained, shared->victim);  // its failure has had (or will get) its own copy
            remember_explained(explained, shared);
            if (active_reports_.size() > 4 * active_.size() + 64)
                std::erase_if(active_reports_, [&](const auto& kv) { return !active_.contains(kv.first); });
        }
        deadlocks_.fetch_add(1, std::memory_order_relaxed);
        out.push_back({std::move(shared), policy == deadlock_policy::abort ? spdlog::level::critical : spdlog::level::err,
                       policy == deadlock_policy::abort});
    }

    void remember_explained(const std::vector<owner_id>& owners, const std::shared_ptr<const report>& rep) {
        if (!rep) return;
        const std::size_t before = owner_reports_.size();
        for (owner_id o : owners) owner_reports_[o] = rep;
        reports_changed(before);
    }

    /// Owners with a report waiting for their timeout (a hint, read without the data lock).
    std::size_t reports_pending() const noexcept {
        return static_cast<std::size_t>(attention_.load(std::memory_order_relaxed) >> 32);
    }

    /// owner_reports_ went from `before` entries to its size now (data lock held).
    void reports_changed(std::size_t before) noexcept {
        const std::uint64_t delta =
            static_cast<std::uint64_t>(owner_reports_.size()) - before;  // may wrap: fine
        attention_.fetch_add(delta << 32, std::memory_order_relaxed);
    }

    static std::string policy_action(deadlock_policy policy, const report& rep) {
        switch (policy) {
        case deadlock_policy::report: {
            std::chrono::milliseconds timeout{0};
            for (const auto& p : rep.pools) timeout = std::max(timeout, p.acquire_timeout);
            return "reported (policy report): the tasks keep waiting until their acquire_timeout (" +
                   duration_text(timeout) + ")";
        }
        case deadlock_policy::fail_fast: return "fail_fast: no member could be failed (they stopped waiting)";
        case deadlock_policy::abort: return "aborting the process (policy abort)";
        case deadlock_policy::ignore: break;
        }
        return {};
    }

    /// fail_fast: throws deadlock_error into one member that holds a lease, so that unwinding
    /// returns it. The preferred owner (the one whose check found the knot) goes first, then the
    /// member that has waited least.
    void fail_a_member(report& rep, const knot_roles& roles, const truth& t, const knot& k, owner_id prefer) {
        struct candidate {
            owner_id owner;
            const pool_truth* pool;
            const pool_truth::waiter* wait;
        };
        std::vector<candidate> candidates;
        for (owner_id m : roles.members)
            for (pool_key p : k.pools)
                if (const pool_truth* pt = t.find(p))
                    for (const auto& w : pt->waiters)
                        if (w.owner == m) candidates.push_back({m, pt, &w});
        std::ranges::sort(candidates, [&](const candidate& a, const candidate& b) {
            if ((a.owner == prefer) != (b.owner == prefer)) return a.owner == prefer;
            return (a.pool->now - a.wait->since) < (b.pool->now - b.wait->since);
        });
        for (const auto& c : candidates) {
            // A member waiting through a nested scope's call is failed by failing that call.
            const owner_id target = c.wait->through != 0 ? c.wait->through : c.owner;
            report attempt = rep;
            attempt.victim = target;
            attempt.action = "failed task " + std::to_string(target) + " (waiting for " + in_quotes(c.pool->record->name) +
                             " at " + describe_site(c.wait->site) +
                             (target != c.owner ? ", inside task " + std::to_string(c.owner) : std::string()) +
                             ") with deadlock_error (policy fail_fast); the leases it holds go back as it unwinds";
            auto shared = std::make_shared<const report>(attempt);
            auto d = std::make_shared<pool_diagnostics>();
            d->pool_name = c.pool->record->name;
            d->code = make_error_code(errc::deadlock);
            d->what = verdict::deadlocked;
            d->stats = c.pool->stats;
            d->waited = c.pool->now - c.wait->since;
            for (const auto& h : c.pool->holders) d->holders.push_back({h.owner, {}, h.site, h.age});
            d->site = c.wait->site;
            d->owner = target;
            d->detail = shared->to_string();
            auto ex = std::make_exception_ptr(deadlock_error(std::move(d), shared));
            {
                // Before the victim wakes: its on_acquire_failed looks for this.
                std::lock_guard data(data_mutex_);
                remember_explained({target}, shared);
            }
            if (c.pool->view->fail_waiter(target, make_error_code(errc::deadlock), std::move(ex))) {
                rep = std::move(attempt);
                failed_tasks_.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            std::lock_guard data(data_mutex_);
            if (owner_reports_.erase(target)) reports_changed(owner_reports_.size() + 1);
        }
    }

    report knot_report(const knot& k, const knot_roles& roles, const truth& t) {
        report rep;
        rep.kind = report_kind::deadlock;
        bool nested = false, across = false;
        for (pool_key p : k.pools) {
            const pool_truth* pt = t.find(p);
            if (!pt) continue;
            pool_report pr = pool_summary(*pt);
            const detail::task_tally tally = tally_of(*pt);
            const std::uint64_t depth = tally.depth;
            raise_to(pt->record->observed_tasks, tally.tasks);
            raise_to(pt->record->observed_depth, depth);
            pr.observed_tasks = pt->record->observed_tasks.load(std::memory_order_relaxed);
            pr.connections_per_task = pt->record->observed_depth.load(std::memory_order_relaxed);
            pr.safe_size = pr.connections_per_task >= 2 ? safe_pool_size(pr.observed_tasks, pr.connections_per_task) : 0;
            nested = nested || depth >= 2;
            rep.pools.push_back(std::move(pr));
        }
        for (owner_id m : roles.members) {
            task_report tr = task_of(m, t, k.pools);
            for (const auto& l : tr.holds)
                if (!tr.waits_for.empty() && l.pool != tr.waits_for) across = true;
            rep.members.push_back(std::move(tr));
        }
        // Behind: everyone waiting on the knot's pools without holding any of their leases.
        for (pool_key p : k.pools)
            if (const pool_truth* pt = t.find(p))
                for (const auto& w : pt->waiters)
                    if (!std::ranges::binary_search(roles.members, w.owner) &&
                        std::ranges::none_of(rep.behind, [&](const task_report& b) { return b.owner == w.owner; }))
                        rep.behind.push_back(task_of(w.owner, t, k.pools));
        {
            std::lock_guard data(data_mutex_);
            for (pool_key p : k.pools)
                for (const auto& [key, pr] : pairs_)
                    if (pr.pool_id == p) rep.nested.push_back(nested_of(pr));
        }
        rep.hint = knot_hint(rep, nested, across);
        return rep;
    }

    /// A task as the truth shows it: what it holds in every watched pool, what it waits for
    /// (a knot pool first).
    static task_report task_of(owner_id o, const truth& t, const std::vector<pool_key>& knot_pools) {
        task_report tr;
        tr.owner = o;
        const pool_truth::waiter* wait = nullptr;
        const pool_truth* wait_pool = nullptr;
        for (const auto& p : t.pools) {
            for (const auto& h : p.holders)
                if (h.owner == o) tr.holds.push_back({p.record->name, h.site, h.age});
            for (const auto& w : p.waiters) {
                if (w.owner != o) continue;
                if (tr.label.empty()) tr.label = w.label;
                const bool in_knot = std::ranges::binary_search(knot_pools, p.record->id);
                if (!wait || (in_knot && !std::ranges::binary_search(knot_pools, wait_pool->record->id))) {
                    wait = &w;
                    wait_pool = &p;
                }
            }
        }
        if (wait) {
            tr.waits_for = wait_pool->record->name;
            tr.wait_site = wait->site;
            tr.waiting = std::max(nanoseconds(0), wait_pool->now - wait->since);
        }
        return tr;
    }

    static std::string knot_hint(const report& rep, bool nested, bool across) {
        std::string hint;
        if (nested) {
            for (const auto& p : rep.pools) {
                if (p.connections_per_task < 2) continue;
                hint += in_quotes(p.name) + " needs at least Tn x (Cm - 1) + 1 = " + std::to_string(p.observed_tasks) +
                        " x " + std::to_string(p.connections_per_task - 1) + " + 1 = " + std::to_string(p.safe_size) +
                        " connections (max_size is " + std::to_string(p.stats.max) + "); ";
            }
            hint += "or give the nested work its own pool, or do not acquire a second connection while holding one "
                    "(e.g. an id generator that needs its own transaction)";
        }
        if (across) {
            if (!hint.empty()) hint += "; ";
            std::vector<std::pair<std::uint64_t, std::string>> pools;
            for (const auto& p : rep.pools) pools.emplace_back(p.id, p.name);
            hint += one_order_hint(std::move(pools));
        }
        if (!hint.empty()) hint += "; ";
        hint += "one more connection in any of these pools would untie this knot, but only a safe size or a code "
                "change keeps it from forming again";
        return hint;
    }

    /// The advice for pools taken in opposite orders, the same for a knot and for an order
    /// inversion of the same pools: one order for all, the order the pools were made in.
    static std::string one_order_hint(std::vector<std::pair<std::uint64_t, std::string>> pools) {
        std::ranges::sort(pools);
        pools.erase(std::unique(pools.begin(), pools.end()), pools.end());
        std::string hint = "acquire pools in one order everywhere";
        if (pools.size() >= 2) hint += " (e.g. always " + in_quotes(pools[0].second) + " before " + in_quotes(pools[1].second) + ")";
        return hint + ", or return one connection before acquiring from another pool";
    }

    static pool_report pool_summary(const pool_truth& p) {
        pool_report r;
        r.id = p.record->id;
        r.name = p.record->name;
        r.stats = p.stats;
        r.acquire_timeout = p.record->acquire_timeout;
        r.policy = p.record->policy;
        r.has_room = p.has_room;
        r.observed_tasks = p.record->observed_tasks.load(std::memory_order_relaxed);
        r.connections_per_task = p.record->observed_depth.load(std::memory_order_relaxed);
        r.safe_size = r.connections_per_task >= 2 ? safe_pool_size(r.observed_tasks, r.connections_per_task) : 0;
        return r;
    }

    static pool_report pool_summary(const pool_record& rec, const pool_stats& st, bool has_room) {
        pool_report r;
        r.id = rec.id;
        r.name = rec.name;
        r.stats = st;
        r.acquire_timeout = rec.acquire_timeout;
        r.policy = rec.policy;
        r.has_room = has_room;
        r.observed_tasks = rec.observed_tasks.load(std::memory_order_relaxed);
        r.connections_per_task = rec.observed_depth.load(std::memory_order_relaxed);
        r.safe_size = r.connections_per_task >= 2 ? safe_pool_size(r.observed_tasks, r.connections_per_task) : 0;
        return r;
    }

    // ------------------------------------------------------------------ nesting and order

    /// The owner holds something: look for nesting on this pool and order edges from others.
    /// The owner holds something (a lease, or a wait of another of its acquisitions).
    [[gnu::noinline]] void held_path(pool_view& pool, owner_id owner, const std::source_location& site) {
        const std::uint64_t id = key_of(pool);
        std::uint64_t same = 0;
        std::source_location outer;
        bool others = false;
        ledger_.for_each(owner, [&](const ledger_entry& e) {
            if (e.is_wait()) return false;
            if (e.pool != id)
                others = true;
            else if (same++ == 0)
                outer = e.site;
            return false;
        });
        if (same == 0 && !others) return;
        if (!others) {
            // The pair this thread nested last, no deeper than the seen table knows: count it.
            nest_cache& c = nest;
            if (c.detector == uid_ && c.pool == id && c.outer == site_key(outer) &&
                c.inner == site_key(site) && same + 1 <= c.depth &&
                c.epoch == pool_epoch_.load(std::memory_order_relaxed)) [[likely]] {
                pool.count_nested_acquisition();
                if (++c.pending == nest_batch) {
                    seen_pairs_.add_count(c.index, c.pending);
                    c.pending = 0;
                }
                return;
            }
        }
        if (pool.options().on_deadlock == deadlock_policy::ignore) return;
        if (same != 0) nested_fast(pool, id, outer, site, same + 1);
        if (others)
            ledger_.for_each(owner, [&](const ledger_entry& e) {
                if (!e.is_wait() && e.pool != id) edge_fast(e.pool, id, e.site, site);
                return false;
            });
    }

    void nested_fast(pool_view& pool, std::uint64_t address, const std::source_location& outer,
                     const std::source_location& inner, std::uint64_t depth) {
        const std::uint64_t epoch = pool_epoch_.load(std::memory_order_relaxed);
        const std::uint64_t id = pool.id();
        pool.count_nested_acquisition();
        const std::uint64_t key = mix(mix(id, site_key(outer)), site_key(inner));
        const std::size_t at = seen_pairs_.find(key);
        if (at == seen_table::npos || seen_pairs_.bump(at, depth)) {
            nested_slow(pool, id, key, outer, inner, depth, at == seen_table::npos);
            return;
        }
        // A known pair, no deeper than before: cache it for this thread's next occurrences.
        flush_own_nest();
        if (nest.detector != 0 && nest.pending != 0) flush_foreign_nest();
        if (!nest.exit_hook) {
            nest.exit_hook = true;
            [[maybe_unused]] nest_exit* touch = &nest_exit_guard;  // registers its destructor
        }
        nest = {uid_, epoch, address, site_key(outer), site_key(inner), seen_pairs_.max(at), at, 0, true};
    }

    /// Adds this thread's pending count of a pair of this detector to the seen table.
    void flush_own_nest() const noexcept {
        if (nest.detector != uid_ || nest.pending == 0) return;
        seen_pairs_.add_count(nest.index, nest.pending);
        nest.pending = 0;
    }

    void nested_slow(pool_view& pool, std::uint64_t id, std::uint64_t key, const std::source_location& outer,
                     const std::source_location& inner, std::uint64_t depth, bool unseen) {
        std::vector<outgoing> out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* rec = live(id);
            if (!rec) return;
            const pool_stats st = pool.stats();
            const bool room = pool.has_room();
            raise_to(rec->observed_depth, depth);
            sample_tasks(*rec, pool.holders(), pool.waiters(), st, out);
            std::lock_guard data(data_mutex_);
            auto [it, fresh] = pairs_.try_emplace(key);
            pair_record& pr = it->second;
            if (fresh) {
                pr.pool_id = id;
                pr.pool_name = rec->name;
                pr.outer = outer;
                pr.inner = inner;
                pr.seen = seen_pairs_.insert(key);
                nested_pairs_.fetch_add(1, std::memory_order_relaxed);
            }
            if (pr.seen == seen_table::npos) {
                ++pr.count;
                pr.depth = std::max(pr.depth, depth);
            } else if (unseen) {
                seen_pairs_.bump(pr.seen, depth);  // this occurrence, not counted by the fast path
            }
            const bool unsafe = safe_pool_size(rec->observed_tasks.load(std::memory_order_relaxed), pair_depth(pr)) > rec->max_size;
            if (fresh || (unsafe && !pr.reported_unsafe)) {
                pr.reported_unsafe = unsafe;
                out.push_back(nested_report_of(*rec, pr, st, room));
            }
        }
        emit(out);
    }

    outgoing nested_report_of(const pool_record& rec, const pair_record& pr, const pool_stats& st, bool has_room) {
        report rep;
        rep.kind = report_kind::nested_acquisition;
        rep.pools.push_back(pool_summary(rec, st, has_room));
        nested_report n = nested_of(pr);
        rep.nested.push_back(n);
        const bool unsafe = n.safe_size > n.max_size;
        if (unsafe) {
            rep.hint = in_quotes(rec.name) + " has max_size " + std::to_string(n.max_size) + " but " + std::to_string(n.tasks) +
                       " tasks doing this at once need Tn x (Cm - 1) + 1 = " + std::to_string(n.safe_size) +
                       ": make the pool at least that big, give the nested work its own pool, or do not acquire "
                       "while holding";
        } else {
            const std::uint64_t most = n.depth >= 2 ? (n.max_size - 1) / (n.depth - 1) : 0;
            rep.hint = "safe for the " + std::to_string(n.tasks) + " tasks seen at once so far: with max_size " +
                       std::to_string(n.max_size) + " it can deadlock once more than " + std::to_string(most) +
                       " tasks do this at once";
        }
        rep.action = "reported once for this pair of call sites";
        return {std::make_shared<const report>(std::move(rep)), unsafe ? spdlog::level::warn : spdlog::level::info, false};
    }

    nested_report nested_of(const pair_record& pr) const {
        flush_own_nest();
        nested_report n;
        n.pool = pr.pool_name;
        n.outer_site = pr.outer;
        n.inner_site = pr.inner;
        n.depth = pair_depth(pr);
        n.count = pair_count(pr);
        for (const auto& rec : all_)
            if (rec->id == pr.pool_id) {
                n.tasks = rec->observed_tasks.load(std::memory_order_relaxed);
                n.max_size = rec->max_size;
            }
        n.safe_size = safe_pool_size(n.tasks, n.depth);
        return n;
    }

    std::uint64_t pair_depth(const pair_record& pr) const {
        return pr.seen == seen_table::npos ? pr.depth : seen_pairs_.max(pr.seen);
    }
    std::uint64_t pair_count(const pair_record& pr) const {
        return pr.seen == seen_table::npos ? pr.count : seen_pairs_.count(pr.seen);
    }

    /// Tn: distinct tasks holding or waiting on a pool now. When it grows, pairs of the pool
    /// that become unsafe are reported again (registry lock held, data lock not).
    void sample_tasks(pool_record& rec, const std::vector<holder_info>& holders, const std::vector<wait_info>& waiters,
                      const pool_stats& st, std::vector<outgoing>& out) {
        std::vector<owner_id> holding;
        holding.reserve(holders.size());
        for (const auto& h : holders) holding.push_back(h.owner);
        std::vector<detail::tally_wait> waits;
        waits.reserve(waiters.size());
        {
            std::unique_lock data(data_mutex_, std::defer_lock);
            if (nested_blocked_.load(std::memory_order_relaxed) != 0) data.lock();
            for (const auto& w : waiters) {
                const auto* enclosing = data.owns_lock() ? blocked_.enclosing(w.owner, rec.id, w.since.count()) : nullptr;
                waits.push_back({w.owner, enclosing ? *enclosing : std::vector<owner_id>{}});
            }
        }
        const detail::task_tally tally = detail::tally_tasks(holding, waits);
        raise_to(rec.observed_depth, tally.depth);
        const std::uint64_t n = tally.tasks;
        if (n <= rec.observed_tasks.load(std::memory_order_relaxed)) return;
        raise_to(rec.observed_tasks, n);
        std::lock_guard data(data_mutex_);
        for (auto& [key, pr] : pairs_) {
            if (pr.pool_id != rec.id || pr.reported_unsafe) continue;
            if (safe_pool_size(n, pair_depth(pr)) <= rec.max_size) continue;
            pr.reported_unsafe = true;
            out.push_back(nested_report_of(rec, pr, st, false));
        }
    }

    void edge_fast(std::uint64_t from, std::uint64_t to, const std::source_location& held_site,
                   const std::source_location& site) {
        const std::uint64_t key = mix(from, to);
        if (seen_edges_.find(key) != seen_table::npos) [[likely]]
            return;
        edge_slow(from, to, key, held_site, site);
    }

    void edge_slow(std::uint64_t from, std::uint64_t to, std::uint64_t key, const std::source_location& held_site,
                   const std::source_location& site) {
        std::vector<outgoing> out;
        {
            std::shared_lock reg(registry_mutex_);
            pool_record* a = at(from);
            pool_record* b = at(to);
            if (!a || !b) return;
            const std::uint64_t by_id = mix(a->id, b->id);
            std::vector<edge_record> cycle;
            {
                std::lock_guard data(data_mutex_);
                // When the table is full the edge is still kept in edges_; the fast path then
                // keeps coming here, which costs a lock, not correctness.
                seen_edges_.insert(key);
                if (a->policy == deadlock_policy::ignore || edges_.contains(by_id)) return;
                edges_[by_id] = {a->id, b->id, a->name, b->name, held_site, site};
                adjacency_[a->id].push_back(b->id);
                cycle = path(b->id, a->id);
                if (!cycle.empty()) cycle.push_back(edges_[by_id]);
            }
            if (cycle.empty()) return;
            report rep;
            rep.kind = report_kind::order_inversion;
            for (const auto& e : cycle) {
                rep.cycle.push_back({e.from_name, e.to_name, e.held_site, e.site});
                if (pool_record* r = live(e.from); r && std::ranges::none_of(rep.pools, [&](const pool_report& p) { return p.id == r->id; }))
                    rep.pools.push_back(pool_summary(*r, r->view->stats(), r->view->has_room()));
            }
            std::vector<std::pair<std::uint64_t, std::string>> pools;
            for (const auto& e : cycle) pools.emplace_back(e.from, e.from_name);
            rep.hint = one_order_hint(std::move(pools)) + "; two tasks taking these paths at once can deadlock";
            rep.action = "reported once for this cycle";
            order_inversions_.fetch_add(1, std::memory_order_relaxed);
            out.push_back({std::make_shared<const report>(std::move(rep)), spdlog::level::err, false});
        }
        emit(out);
    }

    /// Edges of a path from `a` to `b` in the pool-order graph (data lock held), or empty.
    std::vector<edge_record> path(std::uint64_t a, std::uint64_t b) {
        std::unordered_map<std::uint64_t, std::uint64_t> parent{{a, a}};
        std::deque<std::uint64_t> queue{a};
        while (!queue.empty()) {
            const std::uint64_t x = queue.front();
            queue.pop_front();
            if (x == b) break;
            const auto it = adjacency_.find(x);
            if (it == adjacency_.end()) continue;
            for (std::uint64_t y : it->second)
                if (parent.try_emplace(y, x).second) queue.push_back(y);
        }
        if (!parent.contains(b) || a == b) return {};
        std::vector<edge_record> edges;
        for (std::uint64_t x = b; x != a; x = parent[x]) edges.push_back(edges_[mix(parent[x], x)]);
        std::ranges::reverse(edges);
        return edges;
    }

    // ------------------------------------------------------------------ outages

    /// Waiters queue on a pool that cannot open connections (registry lock held).
    void outage(pool_record& rec, pool_view& pool, std::vector<outgoing>& out) {
        if (rec.policy == deadlock_policy::ignore) return;
        report rep;
        rep.kind = report_kind::outage;
        rep.pools.push_back(pool_summary(rec, pool.stats(), pool.has_room()));
        {
            std::lock_guard data(data_mutex_);
            if (rec.outage_reported) return;
            rec.outage_reported = true;
            rep.pools.back().last_connect_error = rec.last_connect_error;
        }
        for (const auto& w : pool.waiters()) {
            task_report t;
            t.owner = w.owner;
            t.label = std::string(w.owner_label);
            t.waits_for = rec.name;
            t.wait_site = w.site;
            t.waiting = std::max(nanoseconds(0), pool.now() - w.since);
            rep.behind.push_back(std::move(t));
        }
        rep.hint = "the database does not accept connections (see the error); waiters fail after acquire_timeout unless "
                   "it comes back. Check the server, the network and the credentials; more connections will not help";
        rep.action = "reported once until a connection opens again";
        outages_.fetch_add(1, std::memory_order_relaxed);
        out.push_back({std::make_shared<const report>(std::move(rep)), spdlog::level::err, false});
    }

    // ------------------------------------------------------------------ hand-off

    /// A lease went to an owner while waits are in flight somewhere: if this owner still waits on
    /// another pool, the hand-off may have closed a knot.
    void after_acquired(pool_view& pool, owner_id owner) {
        if (reports_pending() != 0) {
            std::lock_guard data(data_mutex_);
            if (owner_reports_.erase(owner)) reports_changed(owner_reports_.size() + 1);
        }
        const std::uint64_t id = key_of(pool);
        std::size_t waits_here = 0;
        std::size_t waits_elsewhere = 0;
        ledger_.for_each(owner, [&](const ledger_entry& e) {
            if (e.is_wait()) (e.pool == id ? waits_here : waits_elsewhere) += 1;
            return false;
        });
        // One wait here may be this acquisition's own, not yet withdrawn.
        if (waits_elsewhere == 0 && waits_here < 2) return;
        std::vector<outgoing> out;
        {
            std::shared_lock reg(registry_mutex_);
            live_graph g(*this);
            if (find_knot(g, owner)) confirm_and_act(owner, out);
        }
        emit(out);
    }

    // ------------------------------------------------------------------ output

    /// Logs (rate-limited), calls the callback and records each report. No lock held on entry.
    void emit(std::vector<outgoing>& out) {
        for (auto& o : out) {
            bool log = true;
            std::uint64_t suppressed = 0;
            {
                std::lock_guard data(data_mutex_);
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
    seen_table seen_pairs_;
    seen_table seen_edges_;
    const std::uint64_t uid_ = next_detector_uid.fetch_add(1, std::memory_order_relaxed);
    // What makes an acquisition look further than its own entry: waits in flight (low 32 bits)
    // and owners with a report waiting for their timeout (high 32 bits). One load on the hot path.
    alignas(64) std::atomic<std::uint64_t> attention_{0};
    std::atomic<std::uint64_t> pool_epoch_{0};  // bumped when a pool detaches (see nest_cache)
    std::atomic<std::size_t> active_count_{0};

    mutable std::shared_mutex registry_mutex_;
    std::unordered_map<std::uint64_t, pool_record*> live_;    // by pool id
    std::unordered_map<std::uint64_t, pool_record*> by_key_;  // by key_of(view)

    std::mutex action_mutex_;

    mutable std::mutex data_mutex_;
    std::vector<std::shared_ptr<pool_record>> all_;  // every pool ever attached
    std::unordered_map<std::uint64_t, pair_record> pairs_;
    std::unordered_map<std::uint64_t, edge_record> edges_;
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> adjacency_;
    std::unordered_map<std::uint64_t, std::vector<owner_id>> active_;  // knot key -> members (sorted)
    std::unordered_map<std::uint64_t, std::shared_ptr<const report>> active_reports_;
    std::unordered_map<std::uint64_t, std::uint64_t> untied_;  // knot key -> untie_epoch_ when untied
    std::uint64_t untie_epoch_ = 0;
    std::unordered_map<owner_id, std::shared_ptr<const report>> owner_reports_;
    detail::blocked_threads blocked_;  // threads blocked in nested scopes
    std::atomic<std::size_t> nested_blocked_{0};  // how many (read without the lock)
    std::deque<std::shared_ptr<const report>> history_;
    double tokens_;
    std::chrono::steady_clock::time_point last_refill_;
    std::uint64_t suppressed_since_log_ = 0;

    std::atomic<std::uint64_t> deadlocks_{0}, nested_pairs_{0}, order_inversions_{0}, outages_{0}, failed_tasks_{0},
        confirmations_{0}, unconfirmed_{0}, suppressed_total_{0};

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
void deadlock_detector::on_acquire_failed(pool_view& pool, pool_diagnostics& diagnostics) {
    impl_->acquire_failed(pool, diagnostics);
}
void deadlock_detector::on_connection_created(pool_view& pool, std::chrono::nanoseconds) {
    impl_->connection_created(pool);
}
void deadlock_detector::on_connect_failed(pool_view& pool, std::string_view error) {
    impl_->connect_failed(pool, error);
}

}  // namespace lifeguard::diagnostics
