// The registry of per-thread return announcements; see lifeguard/detail/return_guard.hpp.
#include "lifeguard/detail/return_guard.hpp"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace lifeguard::detail {
namespace {

struct registry {
    std::mutex mutex;
    std::vector<return_announcement*> threads;
};

registry& the_registry() {
    static registry* r = new registry;  // never destroyed: threads may exit after main
    return *r;
}

/// Lives as long as its thread: takes the thread's word out of the registry at thread exit.
struct registration {
    registration() {
        auto& r = the_registry();
        std::lock_guard lock(r.mutex);
        r.threads.push_back(&this_thread_returning);
        this_thread_announces = true;
    }
    ~registration() {
        auto& r = the_registry();
        std::lock_guard lock(r.mutex);
        r.threads.erase(std::remove(r.threads.begin(), r.threads.end(), &this_thread_returning), r.threads.end());
        this_thread_announces = false;
    }
};

}  // namespace

void register_return_announcement() noexcept {
    thread_local registration registered;  // constructed on this thread's first call
    (void)registered;
}

void wait_for_returns(const void* pool, const return_announcement* except) noexcept {
    auto& r = the_registry();
    std::unique_lock lock(r.mutex);
    for (;;) {
        const bool busy = std::any_of(r.threads.begin(), r.threads.end(), [&](return_announcement* a) {
            return a != except && a->pool.load(std::memory_order_acquire) == pool;
        });
        if (!busy) return;
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
    }
}

}  // namespace lifeguard::detail
