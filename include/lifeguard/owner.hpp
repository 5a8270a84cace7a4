// Owners: who holds a lease. An owner is a *task* (a request, a coroutine), not a thread.
//
// A synchronous caller's owner is its thread's own id unless an `owner_scope` on that thread
// makes the current request its own owner. Asynchronous acquisitions pass an explicit owner.
// Ids come from one process-wide counter and are never reused, so two owners never alias.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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
struct owner_slot {
    owner_id id = 0;
    const std::string* label = nullptr;       // set by owner_scope; nullptr means "thread"
    const owner_slot* enclosing = nullptr;    // the slot of the scope this one is nested in
                                              // (nullptr: the thread's own slot, no scope)
};
inline thread_local owner_slot current_owner_slot;
inline thread_local owner_id thread_owner_id = 0;

/// True when `id` is `slot`'s owner or that of a slot it is nested in.
inline bool acts_for(const owner_slot* slot, owner_id id) noexcept {
    for (; slot; slot = slot->enclosing)
        if (slot->id == id) return true;
    return false;
}

/// What diagnostics know of live owner_scopes: each thread's chain of scopes, readable from
/// other threads. Diagnostics ask rarely (who holds, what label, how many threads act for a
/// task); scopes open and close once per request on every thread. So a scope touches only its
/// own thread's record (an uncontended flag, no allocation, no process-wide lock), and a
/// question walks every thread's chain. (A process-wide map under one mutex made each scope
/// cost ~60 ns and serialised every request in the process on that mutex.)
struct thread_scopes {
    std::atomic<bool> busy{false};  ///< held while this thread changes its chain or one reads it
    owner_slot* head = &current_owner_slot;

    void lock() noexcept {
        while (busy.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
    }
    void unlock() noexcept { busy.store(false, std::memory_order_release); }

    struct registry {
        std::mutex mutex;
        std::vector<thread_scopes*> threads;
        static registry& instance() {
            static registry* r = new registry;  // outlives thread-exit destructors
            return *r;
        }
    };
    thread_scopes() {
        auto& r = registry::instance();
        std::lock_guard lock(r.mutex);
        r.threads.push_back(this);
    }
    ~thread_scopes() {
        auto& r = registry::instance();
        std::lock_guard lock(r.mutex);
        std::erase(r.threads, this);
    }
    thread_scopes(const thread_scopes&) = delete;
    thread_scopes& operator=(const thread_scopes&) = delete;

    /// Calls f(const owner_slot&) for each scope-made slot of each thread's chain, innermost
    /// first, with that thread's chain held still; f returns true to go on to the next thread.
    template <class F>
    static void visit(F&& f) {
        auto& r = registry::instance();
        std::lock_guard lock(r.mutex);
        for (thread_scopes* t : r.threads) {
            t->lock();
            for (const owner_slot* s = t->head; s->enclosing; s = s->enclosing)
                if (!f(*s)) break;
            t->unlock();
        }
    }
};
inline thread_local thread_scopes this_thread_scopes;
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

/// The label of a live owner_scope acting for `id` (its outermost labelled one), or an empty
/// string. Walks every thread's scopes: for diagnostics, not for hot paths.
inline std::string owner_label(owner_id id) {
    std::string label;
    detail::thread_scopes::visit([&](const detail::owner_slot& s) {
        if (s.id == id && s.label) label = *s.label;  // keep going: the outermost one names the task
        return true;
    });
    return label;
}

/// How many threads have an owner_scope acting for `id` now; 0 when none does (a thread's own
/// owner, or an owner passed explicitly to async acquisitions: one task, one line of work).
/// Walks every thread's scopes: for diagnostics, not for hot paths.
inline std::size_t owner_threads(owner_id id) {
    std::size_t n = 0;
    detail::thread_scopes::visit([&](const detail::owner_slot& s) {
        if (s.id != id) return true;
        ++n;
        return false;  // this thread counts once, however many of its scopes act for `id`
    });
    return n;
}

/// Calls f(owner_id) for each owner of a scope enclosing the current one on this thread,
/// innermost first, ending with the thread's own owner if it has one: when this thread blocks,
/// those tasks wait too. Owners equal to the current one are skipped.
template <class F>
void for_each_enclosing_owner(F&& f) {
    const detail::owner_slot& current = detail::current_owner_slot;
    for (const detail::owner_slot* s = current.enclosing; s; s = s->enclosing)
        if (s->id != 0 && s->id != current.id) f(s->id);
}

/// True when the current thread acts for `id` inside a scope nested in another owner's.
inline bool has_enclosing_owner(owner_id id) noexcept {
    const detail::owner_slot& current = detail::current_owner_slot;
    return current.id == id && current.enclosing != nullptr;
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
        auto& chain = detail::this_thread_scopes;
        chain.lock();
        detail::current_owner_slot = {id, label_.empty() ? nullptr : &label_, &saved_};
        chain.unlock();
    }

    owner_scope(const owner_scope&) = delete;
    owner_scope& operator=(const owner_scope&) = delete;

    ~owner_scope() {
        auto& chain = detail::this_thread_scopes;
        chain.lock();
        detail::current_owner_slot = saved_;
        chain.unlock();
    }

    owner_id id() const noexcept { return id_; }
    std::string_view label() const noexcept { return label_; }

private:
    detail::owner_slot saved_;
    owner_id id_;
    std::string label_;
};

}  // namespace lifeguard
