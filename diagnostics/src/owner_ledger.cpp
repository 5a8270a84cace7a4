// The owner ledger's out-of-line members and the per-thread parking of one slot; see
// detail/owner_ledger.hpp for the design.
#include "lifeguard/diagnostics/detail/owner_ledger.hpp"

#include <bit>
#include <mutex>
#include <unordered_map>

namespace lifeguard::diagnostics::detail {
namespace {

std::atomic<std::uint64_t> next_ledger_id{1};

// Ledgers alive now, so that a thread exiting with a parked slot frees it only if its ledger is
// still there. Touched when a ledger is made or destroyed and when a parking thread exits.
std::mutex live_mutex;
std::unordered_map<std::uint64_t, owner_ledger*>& live_ledgers() {
    static auto* ledgers = new std::unordered_map<std::uint64_t, owner_ledger*>();  // never destroyed:
    return *ledgers;  // threads may exit after static destruction began
}

}  // namespace

struct owner_ledger::parking {
    // Frees the slot this thread still has parked when it exits, if its ledger is alive.
    ~parking() {
        if (lane.ledger == 0 || lane.tag != 0) return;  // nothing parked
        std::lock_guard lock(live_mutex);
        const auto it = live_ledgers().find(lane.ledger);
        if (it != live_ledgers().end()) it->second->unpark(lane.slot);
        lane.ledger = 0;
    }
};

namespace {
thread_local owner_ledger::parking exit_guard;  // first touched when a thread first parks
}

owner_ledger::owner_ledger(std::size_t capacity)
    : id_(next_ledger_id.fetch_add(1, std::memory_order_relaxed)) {
    const std::size_t buckets = std::bit_ceil(
        std::max<std::size_t>((capacity + slots_per_bucket - 1) / slots_per_bucket, 2 * max_probe));
    mask_ = buckets - 1;
    buckets_ = std::make_unique<bucket[]>(buckets);
    payloads_ = std::make_unique<payload[]>(buckets * stride);
    for (std::size_t b = 0; b < buckets; ++b) {
        for (auto& k : buckets_[b].keys) k.store(0, std::memory_order_relaxed);
        buckets_[b].spill.store(0, std::memory_order_relaxed);
    }
    std::lock_guard lock(live_mutex);
    live_ledgers().emplace(id_, this);
}

owner_ledger::~owner_ledger() {
    std::lock_guard lock(live_mutex);
    live_ledgers().erase(id_);
}

bool owner_ledger::add_slow(owner_id owner, std::uint64_t tag, std::uint64_t pool,
                            std::source_location site) noexcept {
    const std::size_t home = home_of(owner);
    for (std::size_t i = 0; i < max_probe; ++i) {
        const std::size_t b = (home + i) & mask_;
        if (i == 1) buckets_[home].spill.fetch_add(1, std::memory_order_acq_rel);  // before it can be found
        for (std::size_t s = 0; s < slots_per_bucket; ++s) {
            auto& key = buckets_[b].keys[s];
            if (key.load(std::memory_order_relaxed) != 0) continue;
            owner_id expected = 0;
            if (!key.compare_exchange_strong(expected, owner, std::memory_order_acquire,
                                             std::memory_order_relaxed))
                continue;
            const std::size_t slot = b * stride + s;
            publish(slot, tag, pool, site);
            // Remember the slot for the remove, unless the lane keeps a parked slot (which only
            // this thread can free) or the entry spilled (its removal must count the spill).
            ledger_lane& l = lane;
            if (i == 0 && (l.ledger == 0 || l.tag != 0)) l = {id_, owner, slot, tag, pool, l.exit_hook};
            return true;
        }
    }
    buckets_[home].spill.fetch_sub(1, std::memory_order_acq_rel);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool owner_ledger::remove_slow(owner_id owner, std::uint64_t tag, std::uint64_t pool, bool park) noexcept {
    const std::size_t home = home_of(owner);
    return probe(owner, [&](std::size_t b, std::size_t s, bool spilled) {
        payload& p = payloads_[b * stride + s];
        if (p.tag.load(std::memory_order_relaxed) != tag || p.pool.load(std::memory_order_relaxed) != pool)
            return false;
        p.tag.store(0, std::memory_order_relaxed);
        if (park && !spilled) {
            park_slot(owner, b * stride + s);
            return true;
        }
        buckets_[b].keys[s].store(0, std::memory_order_release);
        if (spilled) buckets_[home].spill.fetch_sub(1, std::memory_order_acq_rel);
        return true;
    });
}

void owner_ledger::park_slot(owner_id owner, std::size_t slot) noexcept {
    ledger_lane& l = lane;
    if (l.ledger != 0 && l.tag == 0) {  // one parked slot per thread: free the previous one
        if (l.ledger == id_)
            unpark(l.slot);
        else [[unlikely]]
            drop_foreign_parking();
    }
    if (!l.exit_hook) [[unlikely]]
        register_exit_hook();
    key_at(slot).store(owner | parked_bit, std::memory_order_release);
    l = {id_, owner, slot, 0, 0, true};
}

void owner_ledger::register_exit_hook() noexcept {
    lane.exit_hook = true;
    [[maybe_unused]] owner_ledger::parking* touch = &exit_guard;  // registers its destructor
}

void owner_ledger::drop_foreign_parking() noexcept {
    // This thread's parked slot is in another ledger (another detector, perhaps destroyed).
    std::lock_guard lock(live_mutex);
    const auto it = live_ledgers().find(lane.ledger);
    if (it != live_ledgers().end()) it->second->unpark(lane.slot);
    lane.ledger = 0;
}

void owner_ledger::unpark(std::size_t slot) noexcept {
    key_at(slot).store(0, std::memory_order_release);
}

std::size_t owner_ledger::remove_pool(std::uint64_t pool) noexcept {
    std::size_t removed = 0;
    for (std::size_t b = 0; b <= mask_; ++b) {
        for (std::size_t s = 0; s < slots_per_bucket; ++s) {
            auto& key = buckets_[b].keys[s];
            const owner_id owner = key.load(std::memory_order_acquire);
            if (owner == 0 || (owner & parked_bit)) continue;
            payload& p = payloads_[b * stride + s];
            std::uint64_t tag = p.tag.load(std::memory_order_acquire);
            if (tag == 0 || p.pool.load(std::memory_order_relaxed) != pool) continue;
            // A CAS, so that a release racing with the pool's detach frees the slot only once.
            if (!p.tag.compare_exchange_strong(tag, 0, std::memory_order_acq_rel)) continue;
            key.store(0, std::memory_order_release);
            if (b != home_of(owner)) buckets_[home_of(owner)].spill.fetch_sub(1, std::memory_order_acq_rel);
            ++removed;
        }
    }
    return removed;
}

}  // namespace lifeguard::diagnostics::detail
