// Every report the detector makes, built from what its watches found: the pools' summaries, the
// tasks, the hints and the action texts. Pure: no locks, no pool calls, no logging; the same
// inputs give the same report (tests/detector/report_builder_test.cpp holds the exact texts).
#pragma once

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lifeguard/diagnostics/report.hpp"
#include "lifeguard/diagnostics/wait_graph.hpp"
#include "records.hpp"

namespace lifeguard::diagnostics::detail {

/// A pool as a report shows it: its record (with Tn, Cm and the safe size) and its state now.
pool_report pool_summary(const pool_record& rec, const pool_stats& stats, bool has_room);
pool_report pool_summary(const pool_reading& pool);

/// A task as the reading shows it: what it holds in every pool read, what it waits for (a pool
/// of `knot_pools` first).
task_report task_in(owner_id owner, const pools_reading& reading, const std::vector<pool_key>& knot_pools);

/// A confirmed knot. `nested_now`: some knot pool has a waiting task that holds one of its
/// leases already; `nested` the pairs seen on the knot's pools. No action text yet.
report knot_report(const knot& k, const knot_roles& roles, const pools_reading& reading, bool nested_now,
                   std::vector<nested_report> nested);

/// What the detector does about a knot under `policy` (before any member is failed).
std::string policy_action(deadlock_policy policy, const report& rep);

/// fail_fast: the action once `target` has been failed while waiting for `pool` at `site`
/// (`member` is the knot member it acts for, when it waits through a nested scope's call).
/// Tasks are named by their label when `rep` lists them with one.
std::string victim_action(const report& rep, owner_id target, owner_id member, const std::string& pool,
                          const std::source_location& site, std::string_view why = "policy fail_fast");
/// heal: what was done for the member lent an emergency connection.
std::string healing_action(const report& rep, owner_id target, owner_id member, const std::string& pool,
                           const std::source_location& site, const pool_options& options, std::uint64_t claim);

/// The diagnostics the failed call of a fail_fast victim carries.
pool_diagnostics victim_diagnostics(const pool_reading& pool, const pool_reading::waiter& wait, owner_id target,
                                    const report& rep);

/// A nested-acquisition pair first seen, or become unsafe as Tn grew.
report nested_acquisition_report(const pool_report& pool, const nested_report& pair);

/// True when the pair needs a bigger pool than it has (logged as a warning, else info).
inline bool is_unsafe(const nested_report& pair) noexcept { return pair.safe_size > pair.max_size; }

/// A cycle in the pool-order graph, the edge that closed it last; `pools` the live pools on it.
report order_inversion_report(const std::vector<edge_record>& cycle, std::vector<pool_report> pools);

/// Waiters queue on a pool that cannot open connections.
report outage_report(pool_report pool, std::vector<task_report> waiting);

/// The advice for pools taken in opposite orders, the same for a knot and for an order
/// inversion of the same pools: one order for all, the order the pools were made in (by id).
std::string one_order_hint(std::vector<std::pair<std::uint64_t, std::string>> pools);

}  // namespace lifeguard::diagnostics::detail
