// The detector's record of what each owner holds and waits for, keyed by owner (not by
// thread), so a lease released on another thread, an owner that hops threads, or two owners
// taking turns on one thread are all seen correctly.
//
// Layout: an open-addressing table of buckets, 8 owner keys to a 64-byte line, homed by a hash
// of the owner id; the entries' payload (tag, pool, site) lives in a parallel array. Asking
// "does this owner hold anything?" reads one cache line. When a bucket is full, entries spill
// into the following buckets (at most `max_probe`) and the home bucket counts them, so lookups
// probe further only when something spilled. When everything is full the entry is dropped and
// counted: the detector then sees less (nesting may go unnoticed), but knots are judged from the
// pools' own holders and waiters, never from this table alone. No lock, no allocation.
//
// Cost. Claiming a free slot takes one CAS. To keep that off the common path (a task borrowing
// and returning again and again on one thread), a thread that removes an owner's last entry from
// its home bucket may *park* the slot: the key stays reserved for that owner, marked parked, so
// readers and other writers treat it as taken but empty. Only the parking thread touches a
// parked slot: it re-uses it for the same owner with plain stores, or frees it when it parks
// another one (each thread parks at most one slot per ledger) or exits.
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
    static constexpr std::size_t slots_per_bucket = 8;
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
        if (spill_[home].load(std::memory_order_acquire) == 0) [[likely]]
            return true;
        for (std::size_t i = 1; i < max_probe; ++i)
            if (bucket_has((home + i) & mask_, owner)) return false;
        return true;
    }

    /// Calls f(const ledger_entry&) for each entry of `owner`; stops early when f returns true.
    template <class F>
    void for_each(owner_id owner, F&& f) const {
        probe(owner, [&](std::size_t b, std::size_t s, bool) {
            const payload& p = payloads_[b * slots_per_bucket + s];
            const std::uint64_t tag = p.tag.load(std::memory_order_acquire);
            if (tag == 0) return false;  // being added
            const ledger_entry e{tag, p.pool.load(std::memory_order_relaxed), p.site.load(std::memory_order_relaxed)};
            // Seqlock-style re-check: the slot may have been freed and reused while we read it.
            std::atomic_thread_fence(std::memory_order_acquire);
            if (buckets_[b].keys[s].load(std::memory_order_relaxed) != owner ||
                p.tag.load(std::memory_order_relaxed) != tag)
                return false;
            return static_cast<bool>(f(e));
        });
    }

    /// Adds an entry for `owner`. False when the table is full (counted in dropped()).
    bool add(owner_id owner, const ledger_entry& entry) noexcept;

    /// Removes the entry of `owner` with this tag and pool. With `park`, the calling thread
    /// keeps the slot for the owner's next add (see above). False when there is none.
    bool remove(owner_id owner, std::uint64_t tag, std::uint64_t pool, bool park = false) noexcept;

    /// Removes every entry of `pool` (the pool is going away). Returns how many it removed.
    std::size_t remove_pool(std::uint64_t pool) noexcept;

    /// Entries that did not fit since construction.
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::size_t capacity() const noexcept { return (mask_ + 1) * slots_per_bucket; }

    struct parking;  // implementation: frees a thread's parked slot when the thread exits

private:
    static constexpr owner_id parked_bit = owner_id{1} << 63;  // owner ids never get this high

    struct alignas(64) bucket {
        std::atomic<owner_id> keys[slots_per_bucket];
    };
    struct payload {
        std::atomic<std::uint64_t> tag{0};
        std::atomic<std::uint64_t> pool{0};
        std::atomic<std::source_location> site{std::source_location{}};
    };
    std::size_t home_of(owner_id owner) const noexcept {
        // Owner ids are sequential: Fibonacci hashing spreads neighbours over the table.
        return static_cast<std::size_t>((owner * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    bool bucket_has(std::size_t b, owner_id owner) const noexcept {
        // Written out so that the eight loads issue together (no loop, no early exit).
        const auto& k = buckets_[b].keys;
        constexpr auto acq = std::memory_order_acquire;
        static_assert(slots_per_bucket == 8);
        return ((k[0].load(acq) == owner) | (k[1].load(acq) == owner) | (k[2].load(acq) == owner) |
                (k[3].load(acq) == owner) | (k[4].load(acq) == owner) | (k[5].load(acq) == owner) |
                (k[6].load(acq) == owner) | (k[7].load(acq) == owner)) != 0;
    }
    /// Calls f(bucket, slot, spilled) for every slot keyed by `owner` until f returns true.
    template <class F>
    bool probe(owner_id owner, F&& f) const {
        const std::size_t home = home_of(owner);
        const std::size_t depth = spill_[home].load(std::memory_order_acquire) == 0 ? 1 : max_probe;
        for (std::size_t i = 0; i < depth; ++i) {
            const std::size_t b = (home + i) & mask_;
            for (std::size_t s = 0; s < slots_per_bucket; ++s)
                if (buckets_[b].keys[s].load(std::memory_order_acquire) == owner && f(b, s, i != 0)) return true;
        }
        return false;
    }
    void publish(std::size_t slot, const ledger_entry& entry) noexcept {
        payload& p = payloads_[slot];
        p.pool.store(entry.pool, std::memory_order_relaxed);
        p.site.store(entry.site, std::memory_order_relaxed);
        p.tag.store(entry.tag, std::memory_order_release);
    }
    void unpark(std::size_t slot) noexcept;
    static void drop_foreign_parking() noexcept;

    const std::uint64_t id_;  // process-unique, so a thread's parking never outlives its ledger
    std::size_t mask_;
    unsigned shift_;
    std::unique_ptr<bucket[]> buckets_;
    std::unique_ptr<payload[]> payloads_;
    std::unique_ptr<std::atomic<std::uint32_t>[]> spill_;
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace lifeguard::diagnostics::detail
