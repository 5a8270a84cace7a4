#include "task_tally.hpp"

#include <algorithm>
#include <unordered_map>

namespace lifeguard::diagnostics::detail {

task_tally tally_tasks(const std::vector<owner_id>& holders, const std::vector<tally_wait>& waits) {
    // Each owner counts as the task of the first blocked thread that acts for it (as its waiter
    // or an enclosing owner), else as itself.
    std::unordered_map<owner_id, owner_id> task_of;
    for (const auto& w : waits) {
        task_of.try_emplace(w.owner, w.owner);
        const owner_id task = task_of[w.owner];
        for (owner_id e : w.enclosing) task_of.try_emplace(e, task);
    }
    const auto task = [&](owner_id o) {
        const auto it = task_of.find(o);
        return it == task_of.end() ? o : it->second;
    };
    std::unordered_map<owner_id, std::uint64_t> held;
    for (owner_id h : holders) ++held[h];

    task_tally t;
    std::vector<owner_id> tasks;
    tasks.reserve(holders.size() + waits.size());
    for (owner_id h : holders) tasks.push_back(task(h));
    for (const auto& w : waits) {
        tasks.push_back(task(w.owner));
        std::uint64_t holds = held.contains(w.owner) ? held[w.owner] : 0;
        for (owner_id e : w.enclosing)
            if (e != w.owner && held.contains(e)) holds += held[e];
        t.depth = std::max(t.depth, holds + 1);
    }
    std::ranges::sort(tasks);
    t.tasks = static_cast<std::uint64_t>(std::ranges::distance(tasks.begin(), std::unique(tasks.begin(), tasks.end())));
    return t;
}

}  // namespace lifeguard::diagnostics::detail
