// Owners: who holds a lease. An owner is a *task* (a request, a coroutine), not a thread.
//
// A synchronous caller's owner is its thread's own id unless an `owner_scope` on that thread
// makes the current request its own owner. Asynchronous acquisitions pass an explicit owner.
// Ids come from one process-wide counter and are never reused, so two owners never alias.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace lifeguard {

/// Identifies a task that can hold leases. 0 means "no owner".
using owner_id = std::uint64_t;

/// Returns a fresh owner id, never returned before in this process.
/// Thread-safety: safe from any thread. Cost: one relaxed atomic increment.
inline owner_id new_owner_id() noexcept {
    static std::atomic<owner_id> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

namespace detail {
/// Labels of live owner_scopes by owner id, for diagnostics that name holders. Touched once
/// per labelled scope (not per acquire).
struct label_registry {
    std::mutex mutex;
    std::unordered_map<owner_id, std::string> labels;
    static label_registry& instance() {
        static label_registry* r = new label_registry;  // outlives thread-exit destructors
        return *r;
    }
};

struct owner_slot {
    owner_id id = 0;
    const std::string* label = nullptr;  // set by owner_scope; nullptr means "thread"
};
inline thread_local owner_slot current_owner_slot;
inline thread_local owner_id thread_owner_id = 0;
}  // namespace detail

/// The owner the calling thread acts for: the innermost `owner_scope`, else the thread itself.
/// Cost: a thread-local read (first call on a thread also draws the thread's id).
inline owner_id current_owner() noexcept {
    auto& slot = detail::current_owner_slot;
    if (slot.id != 0) [[likely]]
        return slot.id;
    slot.id = detail::thread_owner_id = new_owner_id();
    return slot.id;
}

/// The label of the current owner's scope, or an empty view when the owner is the thread.
inline std::string_view current_owner_label() noexcept {
    const auto* label = detail::current_owner_slot.label;
    return label ? std::string_view(*label) : std::string_view();
}

/// The label of a live owner_scope acting for `id`, or an empty string.
inline std::string owner_label(owner_id id) {
    auto& r = detail::label_registry::instance();
    std::lock_guard lock(r.mutex);
    auto it = r.labels.find(id);
    return it == r.labels.end() ? std::string() : it->second;
}

/// Makes a request (or any unit of work) its own owner on this thread for the scope's lifetime.
/// Scopes nest; destroying one restores the previous owner. Not movable: it must die on the
/// thread that made it.
class owner_scope {
public:
    /// A new owner with an optional label shown in reports ("login 17").
    explicit owner_scope(std::string label = {}) : owner_scope(new_owner_id(), std::move(label)) {}

    /// Acts for an existing owner (e.g. a task resumed on another thread).
    explicit owner_scope(owner_id id, std::string label = {})
        : saved_(detail::current_owner_slot), id_(id), label_(std::move(label)) {
        detail::current_owner_slot = {id, label_.empty() ? nullptr : &label_};
        if (!label_.empty()) {
            auto& r = detail::label_registry::instance();
            std::lock_guard lock(r.mutex);
            registered_ = r.labels.try_emplace(id, label_).second;
        }
    }

    owner_scope(const owner_scope&) = delete;
    owner_scope& operator=(const owner_scope&) = delete;

    ~owner_scope() {
        detail::current_owner_slot = saved_;
        if (registered_) {
            auto& r = detail::label_registry::instance();
            std::lock_guard lock(r.mutex);
            r.labels.erase(id_);
        }
    }

    owner_id id() const noexcept { return id_; }
    std::string_view label() const noexcept { return label_; }

private:
    detail::owner_slot saved_;
    owner_id id_;
    std::string label_;
    bool registered_ = false;  ///< the outermost labelled scope of this owner owns the entry
};

}  // namespace lifeguard
