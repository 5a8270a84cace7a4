// Making and reading entries of the detector's owner ledger in its tests.
#pragma once

#include <cstdint>
#include <source_location>
#include <vector>

#include "lifeguard/diagnostics/detail/owner_ledger.hpp"

namespace lifeguard::testing {

// Every entry `ledger` holds for `owner`, in the order for_each visits them.
inline std::vector<diagnostics::detail::ledger_entry> ledger_entries(
    const diagnostics::detail::owner_ledger& ledger, owner_id owner) {
    std::vector<diagnostics::detail::ledger_entry> out;
    ledger.for_each(owner, [&](const diagnostics::detail::ledger_entry& e) {
        out.push_back(e);
        return false;
    });
    return out;
}

// The entry of a lease of connection `id` from pool `pool`.
inline diagnostics::detail::ledger_entry lease_entry(std::uint64_t id, std::uint64_t pool) {
    return {diagnostics::detail::ledger_entry::lease_tag(id), pool, std::source_location::current()};
}

}  // namespace lifeguard::testing
