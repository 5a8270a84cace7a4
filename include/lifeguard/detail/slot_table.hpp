// The pool's slots, and every scan over them, written once.
//
// A slot_table is the bag: a fixed array of slots, one per connection the pool may open. It
// moves slots between states by CAS (whoever moves a slot out of `idle` owns its connection
// until it publishes a new state), counts them, and answers the per-connection questions the
// engine asks (must this one be retired before it is lent or kept?). It takes no locks, calls
// no driver and reads no clock: callers pass `now`. The engine (pool_core.hpp) decides when to
// call it; housekeeper.hpp decides which idle slots are due for what.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "lifeguard/close_reason.hpp"
#include "lifeguard/detail/slot.hpp"

namespace lifeguard::detail {

/// How many slots are in each state, from one scan (racy while others borrow: a snapshot).
struct slot_census {
    std::size_t empty = 0;
    std::size_t creating = 0;
    std::size_t idle = 0;
    std::size_t leased = 0;
    std::size_t held_by_pool = 0;

    /// Slots with an open connection.
    std::size_t open() const noexcept { return idle + leased + held_by_pool; }
    /// Connections a waiter could be served from without a return, with at most `max_size`
    /// open: idle, being opened, and empty slots while there is room to open one.
    std::size_t spare_within(std::size_t max_size) const noexcept {
        const std::size_t counted = open() + creating;
        const std::size_t room = counted < max_size ? max_size - counted : 0;
        return idle + creating + (empty < room ? empty : room);
    }
};

/// Why a connection must be retired instead of being lent or kept, if it must: its lifetime
/// ended at or before `now`, or it was opened before the latest eviction.
template <class Connection>
std::optional<close_reason> retirement_due(const slot<Connection>& s, std::int64_t now,
                                           std::uint64_t evict_generation) noexcept {
    if (now >= s.expires_at) return close_reason::lifetime;
    if (s.generation < evict_generation) return close_reason::evicted;
    return std::nullopt;
}

template <class Connection>
class slot_table {
public:
    using slot_type = slot<Connection>;

    explicit slot_table(std::size_t count) : count_(count), slots_(new slot_type[count]) {
        for (std::size_t i = 0; i < count_; ++i) slots_[i].index = static_cast<std::uint32_t>(i);
    }

    std::size_t size() const noexcept { return count_; }
    slot_type& operator[](std::size_t i) noexcept { return slots_[i]; }
    const slot_type& operator[](std::size_t i) const noexcept { return slots_[i]; }
    slot_type* begin() noexcept { return slots_.get(); }
    slot_type* end() noexcept { return slots_.get() + count_; }
    const slot_type* begin() const noexcept { return slots_.get(); }
    const slot_type* end() const noexcept { return slots_.get() + count_; }

    /// Moves `s` from `from` to `to` if it is in `from` now; true when this caller did.
    /// Sequentially consistent (on x86 the same instruction as acquire): admission counts the
    /// spare slots after its own claim, and of two claims made at once, at least one counter
    /// then sees the other's (has_spare).
    static bool take(slot_type& s, std::uint32_t from, std::uint32_t to) noexcept {
        if (s.state.load(std::memory_order_relaxed) != from) return false;
        std::uint32_t expected = from;
        return s.state.compare_exchange_strong(expected, to, std::memory_order_seq_cst, std::memory_order_relaxed);
    }

    /// Admission's cheap check (admission.hpp), right after `taken` was claimed: true when at
    /// least `wanted` other slots are spare (idle, being opened, or, when `empty_is_spare`,
    /// empty: a connection may be opened there). Scans onward from `taken`, stopping as soon as
    /// it found enough.
    bool has_spare(const slot_type& taken, std::size_t wanted, bool empty_is_spare) const noexcept {
        std::size_t found = 0;
        std::size_t i = taken.index;
        for (std::size_t seen = 1; seen < count_ && found < wanted; ++seen) {
            if (++i == count_) i = 0;
            const std::uint32_t st = slots_[i].state.load(std::memory_order_seq_cst);
            found += st == slot_idle || st == slot_creating || (empty_is_spare && st == slot_empty);
        }
        return found >= wanted;
    }

    /// True when `s` is one of this table's slots.
    bool contains(const slot_type& s) const noexcept { return &s >= begin() && &s < end(); }

    /// The first slot (from index 0) moved from `from` to `to`, or nullptr.
    slot_type* take_any(std::uint32_t from, std::uint32_t to) noexcept {
        for (slot_type& s : *this)
            if (take(s, from, to)) return &s;
        return nullptr;
    }

    /// Moves every idle slot for which `pred(slot)` holds to held_by_pool and passes it to
    /// `taken(slot)`. `pred` may keep a count (it is asked once per idle slot, in index order).
    template <class Pred, class Taken>
    void take_idle_if(Pred&& pred, Taken&& taken) {
        for (slot_type& s : *this) {
            if (s.state.load(std::memory_order_relaxed) != slot_idle || !pred(s)) continue;
            if (take(s, slot_idle, slot_held_by_pool)) taken(s);
        }
    }

    slot_census census() const noexcept {
        slot_census c;
        for (const slot_type& s : *this) {
            switch (s.state.load(std::memory_order_relaxed)) {
            case slot_empty: ++c.empty; break;
            case slot_creating: ++c.creating; break;
            case slot_idle: ++c.idle; break;
            case slot_leased: ++c.leased; break;
            default: ++c.held_by_pool; break;
            }
        }
        return c;
    }

    /// The fairness bound (hand_off.hpp): with a waiter at the head, each slot's return makes
    /// the head owed once that slot has been lent `leases` more times; with nobody waiting, never.
    void owe_head_after(std::optional<std::uint64_t> leases) noexcept {
        for (slot_type& s : *this)
            s.owed_at_seq.store(leases ? s.lease_seq.load(std::memory_order_relaxed) + *leases
                                       : std::numeric_limits<std::uint64_t>::max(),
                                std::memory_order_relaxed);
    }

private:
    const std::size_t count_;
    const std::unique_ptr<slot_type[]> slots_;
};

}  // namespace lifeguard::detail
