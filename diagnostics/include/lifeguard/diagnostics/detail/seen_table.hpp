// A fixed-size set of 64-bit keys that readers probe without a lock (lockdep's "chain cache"
// idea): the detector asks "have I seen this nesting pair / pool-order edge before?" on every
// acquisition made while holding a lease, and only a miss goes to the slow path. Each entry
// carries a counter and a maximum, updated lock-free.
//
// Writers (insert) must be serialized by the caller; readers may run concurrently with them.
// Keys are never removed. When the table is full, insert fails and the caller keeps the entry
// in its own (locked) structure instead.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lifeguard::diagnostics::detail {

class seen_table {
public:
    static constexpr std::size_t npos = ~std::size_t{0};

    explicit seen_table(std::size_t capacity)
        : mask_(std::bit_ceil(std::max<std::size_t>(capacity, 16)) - 1),
          entries_(std::make_unique<entry[]>(mask_ + 1)) {}

    /// The index of `key`, or npos. Lock-free.
    std::size_t find(std::uint64_t key) const noexcept {
        key = fix(key);
        for (std::size_t i = 0, at = spread(key); i <= mask_; ++i, at = (at + 1) & mask_) {
            const std::uint64_t k = entries_[at].key.load(std::memory_order_acquire);
            if (k == key) return at;
            if (k == 0) return npos;
        }
        return npos;
    }

    /// Adds `key` (callers serialize inserts). Returns its index, or npos when full.
    std::size_t insert(std::uint64_t key) noexcept {
        key = fix(key);
        for (std::size_t i = 0, at = spread(key); i <= mask_; ++i, at = (at + 1) & mask_) {
            const std::uint64_t k = entries_[at].key.load(std::memory_order_relaxed);
            if (k == key) return at;
            if (k == 0) {
                if (used_ * 4 >= (mask_ + 1) * 3) return npos;  // keep probes short
                ++used_;
                entries_[at].key.store(key, std::memory_order_release);
                return at;
            }
        }
        return npos;
    }

    /// Forgets every key (callers serialize this with inserts). Readers running meanwhile may
    /// miss keys, which sends them to the slow path; counters are reset too.
    void clear() noexcept {
        for (std::size_t i = 0; i <= mask_; ++i) {
            entries_[i].key.store(0, std::memory_order_release);
            entries_[i].count.store(0, std::memory_order_relaxed);
            entries_[i].max.store(0, std::memory_order_relaxed);
        }
        used_ = 0;
    }

    /// Counts one more occurrence at `index` and raises its maximum to `value`; returns true
    /// when `value` is a new maximum.
    bool bump(std::size_t index, std::uint64_t value) noexcept {
        entry& e = entries_[index];
        e.count.fetch_add(1, std::memory_order_relaxed);
        std::uint64_t m = e.max.load(std::memory_order_relaxed);
        if (value <= m) [[likely]]
            return false;
        while (value > m && !e.max.compare_exchange_weak(m, value, std::memory_order_relaxed)) {
        }
        return value > m;
    }

    /// Counts `n` more occurrences at `index` (a batch counted elsewhere first).
    void add_count(std::size_t index, std::uint64_t n) const noexcept {
        entries_[index].count.fetch_add(n, std::memory_order_relaxed);
    }

    std::uint64_t count(std::size_t index) const noexcept {
        return entries_[index].count.load(std::memory_order_relaxed);
    }
    std::uint64_t max(std::size_t index) const noexcept {
        return entries_[index].max.load(std::memory_order_relaxed);
    }

private:
    struct entry {
        std::atomic<std::uint64_t> key{0};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> max{0};
    };
    static std::uint64_t fix(std::uint64_t key) noexcept { return key == 0 ? 1 : key; }
    std::size_t spread(std::uint64_t key) const noexcept {
        return static_cast<std::size_t>((key ^ (key >> 29)) * 0xBF58476D1CE4E5B9ull >> 7) & mask_;
    }

    std::size_t mask_;
    std::unique_ptr<entry[]> entries_;
    std::size_t used_ = 0;  // writers only
};

}  // namespace lifeguard::diagnostics::detail
