#include "blocked_threads.hpp"

#include <algorithm>

namespace lifeguard::diagnostics::detail {
namespace {
auto same_wait(owner_id waiter, std::uint64_t pool, std::int64_t since) {
    return [=](const blocked_thread& b) { return b.waiter == waiter && b.pool == pool && b.since == since; };
}
}  // namespace

void blocked_threads::add(blocked_thread b) {
    std::lock_guard lock(mutex_);
    all_.push_back(std::move(b));
    count_.store(all_.size(), std::memory_order_relaxed);
}

std::optional<blocked_thread> blocked_threads::remove(owner_id waiter, std::uint64_t pool, std::int64_t since) {
    std::lock_guard lock(mutex_);
    const auto it = std::ranges::find_if(all_, same_wait(waiter, pool, since));
    if (it == all_.end()) return std::nullopt;
    blocked_thread b = std::move(*it);
    all_.erase(it);
    count_.store(all_.size(), std::memory_order_relaxed);
    return b;
}

std::vector<owner_id> blocked_threads::enclosing(owner_id waiter, std::uint64_t pool, std::int64_t since) const {
    std::lock_guard lock(mutex_);
    const auto it = std::ranges::find_if(all_, same_wait(waiter, pool, since));
    return it == all_.end() ? std::vector<owner_id>{} : it->enclosing;
}

}  // namespace lifeguard::diagnostics::detail
