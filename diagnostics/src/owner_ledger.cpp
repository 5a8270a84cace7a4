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

// The slot this thread keeps parked: trivially constructible and destructible, so reading it
// costs a plain thread-local access (no lazy-initialization wrapper on the hot path).
struct parked_slot {
    std::uint64_t ledger;  // id of the ledger, 0 = nothing parked
    owner_id owner;
    std::size_t slot;
    bool exit_hook;  // exit_guard registered for this thread
};
constinit thread_local parked_slot parked{0, 0, 0, false};

}  // namespace

struct owner_ledger::parking {
    // Frees the slot this thread still has parked when it exits, if its ledger is alive.
    ~parking() {
        if (parked.ledger == 0) return;
        std::lock_guard lock(live_mutex);
        const auto it = live_ledgers().find(parked.ledger);
        if (it != live_ledgers().end()) it->second->unpark(parked.slot);
        parked.ledger = 0;
    }
};

namespace {
thread_local owner_ledger::parking exit_guard;  // first touched when a thread first parks
}

owner_ledger::owner_ledger(std::size_t capacity) : id_(next_ledger_id.fetch_add(1, std::memory_order_relaxed)) {
    const std::size_t buckets = std::bit_ceil(std::max<std::size_t>(capacity / slots_per_bucket, 2 * max_probe));
    mask_ = buckets - 1;
    shift_ = static_cast<unsigned>(64 - std::countr_zero(buckets));
    buckets_ = std::make_unique<bucket[]>(buckets);
    payloads_ = std::make_unique<payload[]>(buckets * slots_per_bucket);
    spill_ = std::make_unique<std::atomic<std::uint32_t>[]>(buckets);
    for (std::size_t b = 0; b < buckets; ++b) {
        for (auto& k : buckets_[b].keys) k.store(0, std::memory_order_relaxed);
        spill_[b].store(0, std::memory_order_relaxed);
    }
    std::lock_guard lock(live_mutex);
    live_ledgers().emplace(id_, this);
}

owner_ledger::~owner_ledger() {
    std::lock_guard lock(live_mutex);
    live_ledgers().erase(id_);
}

bool owner_ledger::add(owner_id owner, const ledger_entry& entry) noexcept {
    if (parked.ledger == id_ && parked.owner == owner) [[likely]] {
        // Our own parked slot, reserved for this owner: re-use it without a CAS.
        const std::size_t slot = parked.slot;
        parked.ledger = 0;
        publish(slot, entry);
        buckets_[slot / slots_per_bucket].keys[slot % slots_per_bucket].store(owner, std::memory_order_release);
        return true;
    }
    const std::size_t home = home_of(owner);
    for (std::size_t i = 0; i < max_probe; ++i) {
        const std::size_t b = (home + i) & mask_;
        if (i == 1) spill_[home].fetch_add(1, std::memory_order_acq_rel);  // before it can be found
        for (std::size_t s = 0; s < slots_per_bucket; ++s) {
            auto& key = buckets_[b].keys[s];
            if (key.load(std::memory_order_relaxed) != 0) continue;
            owner_id expected = 0;
            if (!key.compare_exchange_strong(expected, owner, std::memory_order_acquire, std::memory_order_relaxed))
                continue;
            publish(b * slots_per_bucket + s, entry);
            return true;
        }
    }
    spill_[home].fetch_sub(1, std::memory_order_acq_rel);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool owner_ledger::remove(owner_id owner, std::uint64_t tag, std::uint64_t pool, bool park) noexcept {
    const std::size_t home = home_of(owner);
    return probe(owner, [&](std::size_t b, std::size_t s, bool spilled) {
        payload& p = payloads_[b * slots_per_bucket + s];
        if (p.tag.load(std::memory_order_relaxed) != tag || p.pool.load(std::memory_order_relaxed) != pool)
            return false;
        p.tag.store(0, std::memory_order_relaxed);
        auto& key = buckets_[b].keys[s];
        if (park && !spilled) {
            if (parked.ledger == id_)
                unpark(parked.slot);  // one parked slot per thread
            else if (parked.ledger != 0) [[unlikely]]
                drop_foreign_parking();
            if (!parked.exit_hook) [[unlikely]] {
                parked.exit_hook = true;
                [[maybe_unused]] owner_ledger::parking* touch = &exit_guard;  // registers its destructor
            }
            key.store(owner | parked_bit, std::memory_order_release);
            parked = {id_, owner, b * slots_per_bucket + s, true};
            return true;
        }
        key.store(0, std::memory_order_release);
        if (spilled) spill_[home].fetch_sub(1, std::memory_order_acq_rel);
        return true;
    });
}

void owner_ledger::drop_foreign_parking() noexcept {
    // This thread's parked slot is in another ledger (another detector, perhaps destroyed).
    std::lock_guard lock(live_mutex);
    const auto it = live_ledgers().find(parked.ledger);
    if (it != live_ledgers().end()) it->second->unpark(parked.slot);
    parked.ledger = 0;
}

void owner_ledger::unpark(std::size_t slot) noexcept {
    buckets_[slot / slots_per_bucket].keys[slot % slots_per_bucket].store(0, std::memory_order_release);
}

std::size_t owner_ledger::remove_pool(std::uint64_t pool) noexcept {
    std::size_t removed = 0;
    for (std::size_t b = 0; b <= mask_; ++b) {
        for (std::size_t s = 0; s < slots_per_bucket; ++s) {
            auto& key = buckets_[b].keys[s];
            const owner_id owner = key.load(std::memory_order_acquire);
            if (owner == 0 || (owner & parked_bit)) continue;
            payload& p = payloads_[b * slots_per_bucket + s];
            std::uint64_t tag = p.tag.load(std::memory_order_acquire);
            if (tag == 0 || p.pool.load(std::memory_order_relaxed) != pool) continue;
            // A CAS, so that a release racing with the pool's detach frees the slot only once.
            if (!p.tag.compare_exchange_strong(tag, 0, std::memory_order_acq_rel)) continue;
            key.store(0, std::memory_order_release);
            if (b != home_of(owner)) spill_[home_of(owner)].fetch_sub(1, std::memory_order_acq_rel);
            ++removed;
        }
    }
    return removed;
}

}  // namespace lifeguard::diagnostics::detail
