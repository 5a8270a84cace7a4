// What the deadlock detector tells you: a structured report (for callbacks, tests and tools)
// with a text rendering that reads like a story: which tasks hold which connections, acquired
// where and how long ago, what they wait for and where, what size the pool would need, and
// what to do about it.
//
// Four kinds:
//   deadlock            a live knot: tasks hold every connection of some pools and each waits for
//                       one of those pools; nobody can release anything (it will not heal)
//   nested_acquisition  a task acquired from a pool while holding a lease of the same pool: a
//                       potential deadlock once Tn tasks do it at once and the pool has fewer
//                       than Tn x (Cm - 1) + 1 connections; reported even when nothing blocks
//   order_inversion     pools were acquired in both orders (A then B, B then A): a potential
//                       deadlock, reported the first time the cycle appears
//   outage              waiters queue on a pool that cannot open connections: not a deadlock
#pragma once

#include <chrono>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "lifeguard/errors.hpp"
#include "lifeguard/options.hpp"
#include "lifeguard/owner.hpp"
#include "lifeguard/stats.hpp"

namespace lifeguard::diagnostics {

enum class report_kind { deadlock, nested_acquisition, order_inversion, outage };

std::string_view to_string(report_kind kind) noexcept;

using lifeguard::describe_site;  // one text for a call site, the core's (errors.hpp)

/// `Tn x (Cm - 1) + 1`: the pool size that rules out a same-pool deadlock when up to `tasks`
/// tasks each hold up to `depth` leases of the pool at once (HikariCP's formula). Saturates
/// instead of overflowing; 0 when either input is 0 (unknown).
std::uint64_t safe_pool_size(std::uint64_t tasks, std::uint64_t depth) noexcept;

/// A pool as the report saw it.
struct pool_report {
    std::uint64_t id = 0;
    std::string name;
    pool_stats stats;  ///< the gauges and counters when the report was made
    std::chrono::milliseconds acquire_timeout{0};
    deadlock_policy policy = deadlock_policy::report;
    bool has_room = false;            ///< an idle connection, room to open one, or one being opened
    std::string last_connect_error;   ///< outage reports: the driver's last error
    std::uint64_t observed_tasks = 0;        ///< Tn: most distinct tasks seen holding or waiting at once
    std::uint64_t connections_per_task = 0;  ///< Cm: most leases of this pool one task held or asked for
    std::uint64_t safe_size = 0;             ///< safe_pool_size(Tn, Cm) when Cm >= 2, else 0
};

/// A lease held by a task in the report.
struct lease_report {
    std::string pool;
    std::source_location site;       ///< where it was acquired
    std::chrono::nanoseconds age{0};  ///< how long it has been held
};

/// A task (owner) in the report.
struct task_report {
    owner_id owner = 0;
    std::string label;                ///< the owner_scope's label; empty for a thread
    std::vector<lease_report> holds;  ///< every lease it holds in the pools the detector watches
    std::string waits_for;            ///< the pool it waits on; empty when it runs
    std::source_location wait_site;   ///< where it waits
    std::chrono::nanoseconds waiting{0};
};

/// A nested acquisition: `inner_site` acquired from `pool` while the task held a lease of it
/// acquired at `outer_site`.
struct nested_report {
    std::string pool;
    std::source_location outer_site;
    std::source_location inner_site;
    std::uint64_t depth = 0;      ///< Cm: leases of the pool the task held, counting this one
    std::uint64_t tasks = 0;      ///< Tn observed on the pool
    std::uint64_t count = 0;      ///< how often this pair has been seen (< 16 per running thread may be late)
    std::uint64_t max_size = 0;
    std::uint64_t safe_size = 0;  ///< safe_pool_size(tasks, depth)
};

/// One edge of the pool-order graph: `to` acquired at `site` while holding `from` (acquired at
/// `held_site`).
struct order_edge_report {
    std::string from;
    std::string to;
    std::source_location held_site;
    std::source_location site;
};

struct report {
    report_kind kind = report_kind::deadlock;
    std::vector<pool_report> pools;
    /// deadlock: the knot's members (each holds a lease of a knot pool and waits).
    std::vector<task_report> members;
    /// deadlock: tasks waiting on the knot's pools that hold none of their leases.
    std::vector<task_report> behind;
    /// nested_acquisition: the pair; deadlock: the pairs seen on the knot's pools.
    std::vector<nested_report> nested;
    /// order_inversion: the cycle, the edge that closed it last.
    std::vector<order_edge_report> cycle;
    std::string hint;
    /// What the detector did ("reported", "failed task 18 with deadlock_error", ...).
    std::string action;
    owner_id victim = 0;  ///< fail_fast: the task that was failed
    owner_id lent_to = 0; ///< heal: the task lent an emergency connection

    /// One line: what happened.
    std::string headline() const;
    /// The whole story, one item per line, no trailing newline.
    std::string to_string() const;
};

}  // namespace lifeguard::diagnostics
