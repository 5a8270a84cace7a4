#include "nesting_watch.hpp"

#include <algorithm>

#include "report_builder.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

/// Watches alive now (by uid), so that a thread exiting with pending counts adds them only to a
/// watch that still exists. Touched when a watch is made or destroyed and when such a thread
/// exits or moves to another watch's pair.
std::mutex watches_mutex;
std::atomic<std::uint64_t> next_watch_uid{1};
std::unordered_map<std::uint64_t, const seen_table*>& live_watches() {
    static auto* m = new std::unordered_map<std::uint64_t, const seen_table*>();  // never destroyed:
    return *m;  // threads may exit after static destruction began
}

/// Adds the thread's pending count to the pair's counter if its watch still exists.
void flush_foreign_count() noexcept {
    if (this_thread_nest.pending == 0 || this_thread_nest.watch == 0) return;
    std::lock_guard lock(watches_mutex);
    const auto it = live_watches().find(this_thread_nest.watch);
    if (it != live_watches().end()) it->second->add_count(this_thread_nest.index, this_thread_nest.pending);
    this_thread_nest.pending = 0;
}

struct nest_exit {
    ~nest_exit() { flush_foreign_count(); }
};
thread_local nest_exit nest_exit_guard;  // first touched when a thread first caches a pair

}  // namespace

nesting_watch::nesting_watch(owner_ledger& ledger, blocked_threads& blocked, after_acquire_triggers& triggers)
    : ledger_(ledger), blocked_(blocked), triggers_(triggers), seen_pairs_(1024),
      uid_(next_watch_uid.fetch_add(1, std::memory_order_relaxed)) {
    std::lock_guard lock(watches_mutex);
    live_watches().emplace(uid_, &seen_pairs_);
}

nesting_watch::~nesting_watch() {
    std::lock_guard lock(watches_mutex);
    live_watches().erase(uid_);
}

std::optional<nesting_sighting> nesting_watch::count(pool_view& pool, std::uint64_t address,
                                                     const std::source_location& outer,
                                                     const std::source_location& inner, std::uint64_t depth) {
    const std::uint64_t epoch = pool_epoch_.load(std::memory_order_relaxed);
    const std::uint64_t id = pool.id();
    pool.count_nested_acquisition();
    const std::uint64_t key = mix(mix(id, site_key(outer)), site_key(inner));
    const std::size_t at = seen_pairs_.find(key);
    if (at == seen_table::npos || seen_pairs_.bump(at, depth))
        return nesting_sighting{id, key, outer, inner, depth, at == seen_table::npos};
    // A known pair, no deeper than before: cache it for this thread's next occurrences.
    flush_own_count();
    if (this_thread_nest.watch != 0 && this_thread_nest.pending != 0) flush_foreign_count();
    if (!this_thread_nest.exit_hook) {
        this_thread_nest.exit_hook = true;
        [[maybe_unused]] nest_exit* touch = &nest_exit_guard;  // registers its destructor
    }
    this_thread_nest = {uid_, epoch, address, site_key(outer), site_key(inner), seen_pairs_.max(at), at, 0, true};
    return std::nullopt;
}

/// Adds this thread's pending count of a pair of this watch to the seen table.
void nesting_watch::flush_own_count() const noexcept {
    if (this_thread_nest.watch != uid_ || this_thread_nest.pending == 0) return;
    seen_pairs_.add_count(this_thread_nest.index, this_thread_nest.pending);
    this_thread_nest.pending = 0;
}

reports_to_emit nesting_watch::record(pool_record& rec, pool_view& pool, const nesting_sighting& s) {
    const pool_stats st = pool.stats();
    const bool room = pool.has_room();
    rec.usage.observe_depth(s.depth);
    pool.raise_claim(s.depth);  // under heal, admission learns the claim from here
    reports_to_emit out = sample(rec, pool, st);
    std::lock_guard lock(tables_);
    auto [it, fresh] = pairs_.try_emplace(s.key);
    pair_record& pr = it->second;
    if (fresh) {
        pr.pool_id = s.pool_id;
        pr.pool = &rec;
        pr.pool_name = rec.name;
        pr.outer = s.outer;
        pr.inner = s.inner;
        pr.seen = seen_pairs_.insert(s.key);
        pairs_seen_.fetch_add(1, std::memory_order_relaxed);
    }
    if (pr.seen == seen_table::npos) {
        ++pr.count;
        pr.depth = std::max(pr.depth, s.depth);
    } else if (s.unseen) {
        seen_pairs_.bump(pr.seen, s.depth);  // this occurrence, not counted by the fast path
    }
    const bool unsafe = safe_pool_size(rec.usage.tasks(), pair_depth(pr)) > rec.max_size;
    if (fresh || (unsafe && !pr.reported_unsafe)) {
        pr.reported_unsafe = unsafe;
        const nested_report n = nested_of(pr);
        out.push_back({std::make_shared<const report>(nested_acquisition_report(pool_summary(rec, st, room), n)),
                       is_unsafe(n) ? spdlog::level::warn : spdlog::level::info, false});
    }
    return out;
}

namespace {

bool same_waits(const std::vector<wait_info>& a, const std::vector<wait_info>& b) {
    return std::ranges::equal(a, b, [](const wait_info& x, const wait_info& y) {
        return x.owner == y.owner && x.since == y.since;
    });
}

struct moment {
    std::vector<holder_info> holders;
    std::vector<wait_info> waiters;
};

/// The holders and waiters of `pool` as of one moment. Read apart, they race: a waiter served
/// between the two reads shows up waiting *and* holding its new lease, and a task that
/// released and asked again shows up holding its old lease while it waits; either way one
/// lease too many, a false Cm (3 for a workload that nests 2 deep, seen in the load-test lab).
/// So the waiters are read before and after the holders, and the reading is kept only when
/// both agree: each waiter in it waited throughout the holders' read, so what it holds is
/// what it held while waiting. Under constant churn the holders alone are reported.
moment read_at_one_moment(pool_view& pool) {
    for (int attempt = 0; attempt < 4; ++attempt) {
        std::vector<wait_info> before = pool.waiters();
        std::vector<holder_info> holders = pool.holders();
        if (same_waits(before, pool.waiters())) return {std::move(holders), std::move(before)};
    }
    return {pool.holders(), {}};
}

}  // namespace

reports_to_emit nesting_watch::sample(pool_record& rec, pool_view& pool, const pool_stats& stats) {
    const moment m = read_at_one_moment(pool);
    return sample(rec, m.holders, m.waiters, stats);
}

reports_to_emit nesting_watch::sample(pool_record& rec, const std::vector<holder_info>& holders,
                                      const std::vector<wait_info>& waiters, const pool_stats& stats) {
    std::vector<owner_id> holding;
    holding.reserve(holders.size());
    for (const auto& h : holders) holding.push_back(h.owner);
    std::vector<tally_wait> waits;
    waits.reserve(waiters.size());
    const bool nested_calls = blocked_.any();
    for (const auto& w : waiters)
        waits.push_back({w.owner, nested_calls ? blocked_.enclosing(w.owner, rec.id, w.since.count()) : std::vector<owner_id>{}});
    return sample_tally(rec, tally_tasks(holding, waits), stats);
}

reports_to_emit nesting_watch::sample(const pool_reading& pool) {
    return sample_tally(*pool.record, tally_of(pool), pool.stats);
}

reports_to_emit nesting_watch::sample_tally(pool_record& rec, const task_tally& tally, const pool_stats& stats) {
    reports_to_emit out;
    if (!rec.usage.observe(tally)) return out;
    const std::uint64_t tasks = rec.usage.tasks();
    std::lock_guard lock(tables_);
    for (auto& [key, pr] : pairs_) {
        if (pr.pool_id != rec.id || pr.reported_unsafe) continue;
        if (safe_pool_size(tasks, pair_depth(pr)) <= rec.max_size) continue;
        pr.reported_unsafe = true;
        const nested_report n = nested_of(pr);
        out.push_back({std::make_shared<const report>(nested_acquisition_report(pool_summary(rec, stats, false), n)),
                       is_unsafe(n) ? spdlog::level::warn : spdlog::level::info, false});
    }
    return out;
}

std::optional<nesting_sighting> nesting_watch::enclosing_wait(pool_view& pool, const wait_info& w) {
    // An acquisition in a nested scope that does not block is another task's (a coroutine
    // resumed on this thread); one that blocks keeps the enclosing tasks from releasing
    // anything, so it is their nesting too.
    blocked_thread b{w.owner, pool.id(), w.since.count(), {}};
    const std::uint64_t key = key_of(pool);
    std::uint64_t same = 0;
    std::source_location outer;
    const auto count_same = [&](const ledger_entry& e) {
        if (!e.is_wait() && e.pool == key && same++ == 0) outer = e.site;
        return false;
    };
    ledger_.for_each(w.owner, count_same);
    for_each_enclosing_owner([&](owner_id e) {
        if (ledger_.empty(e) || std::ranges::find(b.enclosing, e) != b.enclosing.end()) return;
        b.enclosing.push_back(e);
        ledger_.for_each(e, count_same);
        if (ledger_.add(e, ledger_entry::wait_tag(w.since.count()), key, w.site)) triggers_.wait_added();
    });
    if (b.enclosing.empty()) return std::nullopt;
    blocked_.add(std::move(b));
    if (same == 0) return std::nullopt;
    return count(pool, key, outer, w.site, same + 1);  // Tn sees one request
}

std::vector<owner_id> nesting_watch::end_enclosing_wait(pool_view& pool, const wait_info& w) {
    std::optional<blocked_thread> b = blocked_.remove(w.owner, pool.id(), w.since.count());
    if (!b) return {};
    for (owner_id e : b->enclosing)
        if (ledger_.remove(e, ledger_entry::wait_tag(w.since.count()), key_of(pool))) triggers_.wait_removed();
    return std::move(b->enclosing);
}

std::vector<nested_report> nesting_watch::pairs_on(const std::vector<pool_key>& pool_ids) const {
    std::vector<nested_report> out;
    std::lock_guard lock(tables_);
    for (pool_key p : pool_ids)
        for (const auto& [key, pr] : pairs_)
            if (pr.pool_id == p) out.push_back(nested_of(pr));
    return out;
}

void nesting_watch::add_to(diagnostics::snapshot& s) const {
    flush_own_count();
    std::lock_guard lock(tables_);
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
}

/// (tables lock held)
nested_report nesting_watch::nested_of(const pair_record& pr) const {
    flush_own_count();
    nested_report n;
    n.pool = pr.pool_name;
    n.outer_site = pr.outer;
    n.inner_site = pr.inner;
    n.depth = pair_depth(pr);
    n.count = pair_count(pr);
    n.tasks = pr.pool->usage.tasks();
    n.max_size = pr.pool->max_size;
    n.safe_size = safe_pool_size(n.tasks, n.depth);
    return n;
}

std::uint64_t nesting_watch::pair_depth(const pair_record& pr) const {
    return pr.seen == seen_table::npos ? pr.depth : seen_pairs_.max(pr.seen);
}
std::uint64_t nesting_watch::pair_count(const pair_record& pr) const {
    return pr.seen == seen_table::npos ? pr.count : seen_pairs_.count(pr.seen);
}

}  // namespace lifeguard::diagnostics::detail
