#include "blocked_threads.hpp"

#include <algorithm>

namespace lifeguard::diagnostics::detail {
namespace {
auto same_wait(owner_id waiter, std::uint64_t pool, std::int64_t since) {
    return [=](const blocked_thread& b) { return b.waiter == waiter && b.pool == pool && b.since == since; };
}
}  // namespace

std::optional<blocked_thread> blocked_threads::remove(owner_id waiter, std::uint64_t pool, std::int64_t since) {
    const auto it = std::ranges::find_if(all_, same_wait(waiter, pool, since));
    if (it == all_.end()) return std::nullopt;
    blocked_thread b = std::move(*it);
    all_.erase(it);
    return b;
}

const std::vector<owner_id>* blocked_threads::enclosing(owner_id waiter, std::uint64_t pool, std::int64_t since) const {
    const auto it = std::ranges::find_if(all_, same_wait(waiter, pool, since));
    return it == all_.end() ? nullptr : &it->enclosing;
}

}  // namespace lifeguard::diagnostics::detail
