// Tn and Cm over one pool at one moment, counted in one place: Tn is the number of distinct
// tasks holding or waiting, Cm the most connections one waiting task would hold once served.
// A thread blocked inside nested owner_scopes is one task: its waiter and the owners of the
// scopes around the call count once, and their leases add up.
#pragma once

#include <cstdint>
#include <vector>

#include "lifeguard/owner.hpp"

namespace lifeguard::diagnostics::detail {

struct tally_wait {
    owner_id owner = 0;
    std::vector<owner_id> enclosing;  ///< owners of the scopes around the call (empty: none)
};

struct task_tally {
    std::uint64_t tasks = 0;  ///< Tn
    std::uint64_t depth = 1;  ///< Cm: leases held by the most loaded waiting task, plus the one it asks for
};

/// `holders` has one entry per lease out (an owner may repeat); `waits` one per queued waiter.
task_tally tally_tasks(const std::vector<owner_id>& holders, const std::vector<tally_wait>& waits);

}  // namespace lifeguard::diagnostics::detail
