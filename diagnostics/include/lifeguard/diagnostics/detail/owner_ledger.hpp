// The detector's record of what each owner holds and waits for, keyed by owner (not by
// thread), so a lease released on another thread, an owner that hops threads, or two owners
// taking turns on one thread are all seen correctly.
//
// Layout: an open-addressing table of buckets, 7 owner keys to a 64-byte line, homed by a hash
// of the owner id; the entries' payload (tag, pool, site) lives in a parallel array. Asking
// "does this owner hold anything?" reads one cache line. When a bucket is full, entries spill
// into the following buckets (at most `max_probe`) and the home bucket counts them, so lookups
// probe further only when something spilled. When everything is full the entry is dropped and
// counted: the detector then sees less (nesting may go unnoticed), but knots are judged from the
// pools' own holders and waiters, never from this table alone. No lock, no allocation.
//
// Cost. Claiming a free slot takes one CAS. To keep that off the common path (a task borrowing
// and returning again and again on one thread), each thread keeps one *lane* per process: the
// slot it last added to or removed from in its owner's home bucket. A thread that removes an
// entry from the home bucket may *park* the slot: the key stays reserved for that owner, marked
// parked, so readers and other writers treat it as taken but empty. Only the parking thread
// touches a parked slot: it re-uses it for the same owner with plain stores, or frees it when it
// parks another one or exits. When the lane holds an entry this thread added, removing that entry
// goes straight to its slot (checked against owner, tag and pool) instead of probing. So a
// borrow + return by a task holding nothing is a scan of one cache line, a few plain stores and
// no read-modify-write, and all of it inline in the caller.
//
// Concurrency: any thread may add, remove and read. When two threads act for one owner at
// once, a reader may miss an entry being added at that moment, which only makes the detector
// see less.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>

#include "lifeguard/owner.hpp"

namespace lifeguard::diagnostics::detail {

/// One thing an owner has: a lease it holds, or a wait it is in.
struct ledger_entry {
    static constexpr std::uint64_t wait_bit = std::uint64_t{1} << 63;

    std::uint64_t tag;   ///< lease: lease_id + 1; wait: wait_bit | since (ns)
    std::uint64_t pool;  ///< the pool's id
    std::source_location site;

    bool is_wait() const noexcept { return (tag & wait_bit) != 0; }
    static std::uint64_t lease_tag(std::uint64_t lease_id) noexcept { return (lease_id + 1) & ~wait_bit; }
    static std::uint64_t wait_tag(std::int64_t since_ns) noexcept {
        return wait_bit | (static_cast<std::uint64_t>(since_ns) & ~wait_bit);
    }
};

class owner_ledger {
public:
    static constexpr std::size_t slots_per_bucket = 7;
    static constexpr std::size_t max_probe = 16;

    /// Room for at least `capacity` entries (rounded up to a power of two of buckets).
    explicit owner_ledger(std::size_t capacity);
    ~owner_ledger();

    owner_ledger(const owner_ledger&) = delete;
    owner_ledger& operator=(const owner_ledger&) = delete;

    /// True when `owner` has no entry. A scan of one cache line when nothing spilled.
    bool empty(owner_id owner) const noexcept {
        const std::size_t home = home_of(owner);
        if (bucket_has(home, owner)) return false;
        if (buckets_[home].spill.load(std::memory_order_acquire) == 0) [[likely]]
            return true;
        return none_beyond(home, owner);
    }

    /// Calls f(const ledger_entry&) for each entry of `owner`; stops early when f returns true.
    template <class F>
    void for_each(owner_id owner, F&& f) const {
        // The arrays' addresses in locals (here and in probe()): the acquire loads would
        // otherwise make the compiler reload the members at every key. With the keys' loop
        // unrolled, a nested borrow + return cost 2 ns less (bench/detector nested/on 32.9 ->
        // 30.8 ns, medians of three alternating rounds of both builds).
        const bucket* const buckets = buckets_.get();
        const payload* const payloads = payloads_.get();
        probe(owner, [&](std::size_t b, std::size_t s, bool) {
            const payload& p = payloads[b * stride + s];
            const std::uint64_t tag = p.tag.load(std::memory_order_acquire);
            if (tag == 0) return false;  // being added
            const ledger_entry e{tag, p.pool.load(std::memory_order_relaxed),
                                 p.site.load(std::memory_order_relaxed)};
            // Seqlock-style re-check: the slot may have been freed and reused while we read it.
            std::atomic_thread_fence(std::memory_order_acquire);
            if (buckets[b].keys[s].load(std::memory_order_relaxed) != owner ||
                p.tag.load(std::memory_order_relaxed) != tag)
                return false;
            return static_cast<bool>(f(e));
        });
    }

    /// Adds an entry for `owner`. False when the table is full (counted in dropped()).
    bool add(owner_id owner, const ledger_entry& entry) noexcept {
        return add(owner, entry.tag, entry.pool, entry.site);
    }
    bool add(owner_id owner, std::uint64_t tag, std::uint64_t pool, std::source_location site) noexcept {
        return add_parked(owner, tag, pool, site) || add_slow(owner, tag, pool, site);
    }

    /// add() when this thread has a slot parked for `owner` (plain stores, no CAS); false, having
    /// done nothing, when it has none. Lets a caller keep add()'s other path out of line.
    bool add_parked(owner_id owner, std::uint64_t tag, std::uint64_t pool,
                    std::source_location site) noexcept {
        // Scalars, not an entry, all the way down: an entry built in memory and read back whole
        // costs a store-forwarding stall here.
        ledger_lane& l = lane;
        if (l.ledger != id_ || l.owner != owner || l.tag != 0) return false;
        publish(l.slot, tag, pool, site);
        key_at(l.slot).store(owner, std::memory_order_release);
        l.tag = tag;
        l.pool = pool;
        return true;
    }

    /// Removes the entry of `owner` with this tag and pool. With `park`, the calling thread
    /// keeps the slot for the owner's next add (see above). False when there is none.
    bool remove(owner_id owner, std::uint64_t tag, std::uint64_t pool, bool park = false) noexcept {
        ledger_lane& l = lane;
        if (l.ledger == id_ && l.tag == tag) [[likely]] {
            // The entry this thread added last: its slot is known (it may have been removed by
            // another thread since, and the slot re-used: check owner, tag and pool there).
            payload& p = payloads_[l.slot];
            auto& key = key_at(l.slot);
            if (key.load(std::memory_order_relaxed) == owner &&
                p.tag.load(std::memory_order_relaxed) == tag &&
                p.pool.load(std::memory_order_relaxed) == pool) [[likely]] {
                p.tag.store(0, std::memory_order_relaxed);
                if (park) {
                    key.store(owner | parked_bit, std::memory_order_release);
                    l.tag = 0;
                    if (!l.exit_hook) [[unlikely]]
                        register_exit_hook();
                } else {
                    key.store(0, std::memory_order_release);
                    l.ledger = 0;
                }
                return true;
            }
            l.ledger = 0;  // a stale hint, not a parked slot: nothing to free
        }
        return remove_slow(owner, tag, pool, park);
    }

    /// Removes every entry of `pool` (the pool is going away). Returns how many it removed.
    std::size_t remove_pool(std::uint64_t pool) noexcept;

    /// Entries that did not fit since construction.
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::size_t capacity() const noexcept { return (mask_ + 1) * slots_per_bucket; }

    struct parking;  // implementation: frees a thread's parked slot when the thread exits

private:
    /// A thread's lane (see above): trivially constructible and destructible, so reading it
    /// costs a plain thread-local access (no lazy-initialization wrapper on the hot path).
    struct ledger_lane {
        std::uint64_t ledger;  ///< id of the ledger, 0 = nothing
        owner_id owner;
        std::size_t slot;
        std::uint64_t tag;   ///< 0: the slot is parked; else the entry this thread added there
        std::uint64_t pool;  ///< ... and its pool
        bool exit_hook;      ///< the exit guard is registered for this thread
    };
    static constinit inline thread_local ledger_lane lane{0, 0, 0, 0, 0, false};

    static constexpr owner_id parked_bit = owner_id{1} << 63;  // owner ids never get this high

    // Seven keys and the count of entries homed here that spilled further: one cache line
    // answers "does this owner hold anything?". Slot numbers keep a stride of 8 (shifts, not a
    // division by 7); the payload array has one unused entry per bucket.
    static constexpr std::size_t stride = 8;
    struct alignas(64) bucket {
        std::atomic<owner_id> keys[slots_per_bucket];
        std::atomic<std::uint64_t> spill;
    };
    static_assert(sizeof(bucket) == 64);
    struct payload {
        std::atomic<std::uint64_t> tag{0};
        std::atomic<std::uint64_t> pool{0};
        std::atomic<std::source_location> site{std::source_location{}};
    };
    std::size_t home_of(owner_id owner) const noexcept {
        // Owner ids come from one process-wide counter: consecutive ids already land in
        // consecutive buckets, so the low bits are the hash (no multiply on the hot path).
        return static_cast<std::size_t>(owner) & mask_;
    }
    /// True when no bucket after `home` in its neighbourhood holds `owner` (out of line: the
    /// hot path only gets here when something spilled).
    [[gnu::noinline]] bool none_beyond(std::size_t home, owner_id owner) const noexcept {
        for (std::size_t i = 1; i < max_probe; ++i)
            if (bucket_has((home + i) & mask_, owner)) return false;
        return true;
    }
    bool bucket_has(std::size_t b, owner_id owner) const noexcept {
        // A compare-and-branch per key (one fused instruction each, and predicted: the usual
        // answer is "no"), rather than gathering eight compares, which costs more instructions
        // and registers than the loads it saves.
        const auto& k = buckets_[b].keys;
#pragma GCC unroll 7
        for (std::size_t s = 0; s < slots_per_bucket; ++s)
            if (k[s].load(std::memory_order_acquire) == owner) return true;
        return false;
    }
    /// Calls f(bucket, slot, spilled) for every slot keyed by `owner` until f returns true.
    template <class F>
    bool probe(owner_id owner, F&& f) const {
        const bucket* const buckets = buckets_.get();
        const std::size_t mask = mask_;
        const std::size_t home = static_cast<std::size_t>(owner) & mask;  // home_of(), from the local
        const std::size_t depth = buckets[home].spill.load(std::memory_order_acquire) == 0 ? 1 : max_probe;
        for (std::size_t i = 0; i < depth; ++i) {
            const std::size_t b = (home + i) & mask;
            const auto& k = buckets[b].keys;
#pragma GCC unroll 7
            for (std::size_t s = 0; s < slots_per_bucket; ++s)
                if (k[s].load(std::memory_order_acquire) == owner && f(b, s, i != 0)) return true;
        }
        return false;
    }
    void publish(std::size_t slot, std::uint64_t tag, std::uint64_t pool,
                 std::source_location site) noexcept {
        payload& p = payloads_[slot];
        p.pool.store(pool, std::memory_order_relaxed);
        p.site.store(site, std::memory_order_relaxed);
        p.tag.store(tag, std::memory_order_release);
    }
    std::atomic<owner_id>& key_at(std::size_t slot) const noexcept {
        return buckets_[slot / stride].keys[slot % stride];
    }
    bool add_slow(owner_id owner, std::uint64_t tag, std::uint64_t pool, std::source_location site) noexcept;
    bool remove_slow(owner_id owner, std::uint64_t tag, std::uint64_t pool, bool park) noexcept;
    /// Makes `slot` (in the home bucket of `owner`) this thread's parked slot, freeing the one it
    /// parked before.
    void park_slot(owner_id owner, std::size_t slot) noexcept;
    void unpark(std::size_t slot) noexcept;
    static void drop_foreign_parking() noexcept;
    /// Makes sure this thread frees its parked slot when it exits.
    static void register_exit_hook() noexcept;

    const std::uint64_t id_;  // process-unique, so a thread's parking never outlives its ledger
    std::size_t mask_;
    std::unique_ptr<bucket[]> buckets_;
    std::unique_ptr<payload[]> payloads_;
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace lifeguard::diagnostics::detail
