// The nesting watch: acquisitions from a pool by a task that already holds one of its leases
// (each pair of call sites reported once, and again when Tn grows past what the pool can take),
// acquisitions that block inside a nested owner_scope, and the Tn samples of each pool. It
// returns the reports; the detector logs them.
//
// Hot path: a thread repeating the pair it nested last costs a few compares and a plain
// increment (nest_cache below, inline in the caller); a known pair one lock-free probe. Everything
// else runs with the detector's registry lock held (shared) and the watch's own leaf lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <source_location>
#include <unordered_map>
#include <vector>

#include "lifeguard/diagnostics/detail/owner_ledger.hpp"
#include "lifeguard/diagnostics/detail/seen_table.hpp"
#include "lifeguard/diagnostics/snapshot.hpp"
#include "blocked_threads.hpp"
#include "records.hpp"

namespace lifeguard::diagnostics::detail {

/// A pair the fast path could not count: first seen, or seen deeper than before.
struct nesting_sighting {
    std::uint64_t pool_id = 0;
    std::uint64_t key = 0;  ///< the pair's key in the seen table
    std::source_location outer, inner;
    std::uint64_t depth = 0;
    bool unseen = false;  ///< not in the seen table yet
};

/// The nesting pair this thread saw last (the "chain cache" one level closer than the seen
/// table): a repeat of it costs a few compares and a plain increment, no hash, no probe and no
/// read-modify-write. Its occurrences are added to the seen table's counter in batches of
/// `nest_batch`, when the thread moves to another pair, when it exits, and when it reads the
/// counters itself (snapshot, reports), so other threads may see a pair's count lag by less than
/// `nest_batch` per thread still running. Trivially constructible and destructible: reading it
/// costs a plain thread-local access.
struct nest_cache {
    std::uint64_t watch;         ///< uid of the nesting watch, 0 = empty
    std::uint64_t epoch;         ///< its pool epoch when filled (a detach may free the pool's address)
    std::uint64_t pool;          ///< key_of(pool)
    std::uint64_t outer, inner;  ///< site keys
    std::uint64_t depth;         ///< a depth the seen table already holds for the pair (Cm so far)
    std::size_t index;           ///< the pair's entry in the seen table
    std::uint64_t pending;       ///< occurrences not yet added to its counter
    bool exit_hook;              ///< nest_exit (nesting_watch.cpp) registered for this thread
};
constinit inline thread_local nest_cache this_thread_nest{0, 0, 0, 0, 0, 0, 0, 0, false};
inline constexpr std::uint64_t nest_batch = 16;

class nesting_watch {
public:
    nesting_watch(owner_ledger& ledger, blocked_threads& blocked, after_acquire_triggers& triggers);
    ~nesting_watch();
    nesting_watch(const nesting_watch&) = delete;
    nesting_watch& operator=(const nesting_watch&) = delete;

    /// Counts the acquisition when it repeats the pair this thread nested last, no deeper: true
    /// then. `address` is key_of(pool).
    /// Inline, with the cache in this header: out of line in nesting_watch.cpp it cost a nested
    /// borrow + return 1.2 ns more (bench/detector nested/on 33.5 -> 32.3 ns, medians of three
    /// alternating rounds of both builds).
    bool count_repeat(pool_view& pool, std::uint64_t address, const std::source_location& outer,
                      const std::source_location& inner, std::uint64_t depth) noexcept {
        nest_cache& c = this_thread_nest;
        if (c.watch != uid_ || c.pool != address || c.outer != site_key(outer) || c.inner != site_key(inner) ||
            depth > c.depth || c.epoch != pool_epoch_.load(std::memory_order_relaxed)) [[unlikely]]
            return false;
        pool.count_nested_acquisition();
        if (++c.pending == nest_batch) {
            seen_pairs_.add_count(c.index, c.pending);
            c.pending = 0;
        }
        return true;
    }

    /// Counts a nested acquisition at `depth` (leases of the pool held, counting this one). A
    /// sighting means the pair needs record() under the registry lock.
    std::optional<nesting_sighting> count(pool_view& pool, std::uint64_t address, const std::source_location& outer,
                                          const std::source_location& inner, std::uint64_t depth);

    /// Records a sighting of a pair of `rec`'s pool; reports it when first seen or when it became
    /// unsafe. Registry lock held.
    reports_to_emit record(pool_record& rec, pool_view& pool, const nesting_sighting& s);

    /// Samples Tn and Cm from the pool's holders and waiters; when Tn grows, the pool's pairs
    /// that became unsafe are reported. Registry lock held.
    /// Samples `pool` as of one moment (see read_at_one_moment in the .cpp).
    reports_to_emit sample(pool_record& rec, pool_view& pool, const pool_stats& stats);
    reports_to_emit sample(pool_record& rec, const std::vector<holder_info>& holders, const std::vector<wait_info>& waiters,
                           const pool_stats& stats);
    /// The same from a reading of the pool.
    reports_to_emit sample(const pool_reading& pool);

    /// A blocking call in a nested scope: the enclosing owners that hold something wait on the
    /// pool too, for as long as the call does (their waits go into the ledger). `w.owner` != 0.
    std::optional<nesting_sighting> enclosing_wait(pool_view& pool, const wait_info& w);
    /// Its end: the enclosing owners that waited with it.
    std::vector<owner_id> end_enclosing_wait(pool_view& pool, const wait_info& w);

    /// The pairs seen on these pools, for a knot's report.
    std::vector<nested_report> pairs_on(const std::vector<pool_key>& pool_ids) const;

    /// Adds the pairs to a snapshot whose pools are filled in already.
    void add_to(diagnostics::snapshot& s) const;

    /// A pool detached: cached pairs of its address go stale.
    void pool_detached() noexcept { pool_epoch_.fetch_add(1, std::memory_order_relaxed); }

    std::uint64_t pairs_seen() const noexcept { return pairs_seen_.load(std::memory_order_relaxed); }

private:
    reports_to_emit sample_tally(pool_record& rec, const task_tally& tally, const pool_stats& stats);
    nested_report nested_of(const pair_record& pr) const;
    std::uint64_t pair_depth(const pair_record& pr) const;
    std::uint64_t pair_count(const pair_record& pr) const;
    void flush_own_count() const noexcept;

    owner_ledger& ledger_;
    blocked_threads& blocked_;
    after_acquire_triggers& triggers_;
    seen_table seen_pairs_;
    const std::uint64_t uid_;
    std::atomic<std::uint64_t> pool_epoch_{0};  // bumped when a pool detaches
    std::atomic<std::uint64_t> pairs_seen_{0};

    mutable std::mutex tables_;
    std::unordered_map<std::uint64_t, pair_record> pairs_;
};

}  // namespace lifeguard::diagnostics::detail
