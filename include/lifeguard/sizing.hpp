// Pool sizing formulas: the deadlock-free minimum, the throughput size and the fleet budget.
// Everything here is constexpr and overflow-checked: a result that does not fit in std::size_t
// is reported as sizing_error::overflow, never wrapped. The `poolsize` CLI and the deadlock
// detector's "safe size" both come from these functions, so they always agree.
//
// The formulas are HikariCP's (wiki, "About Pool Sizing"):
//   deadlock-free minimum  Tn x (Cm - 1) + 1   Tn = tasks that may hold connections at once,
//                                              Cm = most connections one task holds at once.
//                          With one connection fewer, all Tn tasks can each hold Cm - 1
//                          connections while waiting for one more: nobody can finish.
//   throughput size        cores x 2 + effective_spindles   (of the database server; spindles
//                          are 0 when the active data set is cached)
//   fleet budget           instances x max_size <= server max_connections - reserved
//
// Cost: a few integer operations; no allocation, no exceptions, usable in constant expressions.
#pragma once

#include <cstddef>
#include <limits>
#include <string_view>

namespace lifeguard {

/// Why a sizing formula has no answer.
enum class sizing_error {
    none = 0,
    zero_tasks,                   ///< tasks (Tn) must be at least 1
    zero_connections_per_task,    ///< connections per task (Cm) must be at least 1
    zero_cores,                   ///< the database server has at least one core
    zero_instances,               ///< a fleet has at least one instance
    zero_server_max_connections,  ///< the server accepts at least one connection
    reserved_exceeds_server,      ///< reserved >= max_connections leaves no connection to pools
    overflow,                     ///< the result does not fit in std::size_t
};

/// A short English description, e.g. for an error message.
constexpr std::string_view to_string(sizing_error e) noexcept {
    switch (e) {
        case sizing_error::none:
            return "no error";
        case sizing_error::zero_tasks:
            return "tasks must be at least 1";
        case sizing_error::zero_connections_per_task:
            return "connections per task must be at least 1";
        case sizing_error::zero_cores:
            return "cores must be at least 1";
        case sizing_error::zero_instances:
            return "instances must be at least 1";
        case sizing_error::zero_server_max_connections:
            return "server max_connections must be at least 1";
        case sizing_error::reserved_exceeds_server:
            return "reserved connections must be fewer than the server's max_connections";
        case sizing_error::overflow:
            return "the result is too large (overflow)";
    }
    return "unknown sizing error";
}

/// A value or the reason there is none. `value` is meaningful only when ok().
template <class T>
struct sizing_result {
    T value{};
    sizing_error error = sizing_error::none;

    constexpr bool ok() const noexcept { return error == sizing_error::none; }
    constexpr explicit operator bool() const noexcept { return ok(); }
};

namespace detail {

constexpr bool mul_overflows(std::size_t a, std::size_t b) noexcept {
    return a != 0 && b > std::numeric_limits<std::size_t>::max() / a;
}

constexpr bool add_overflows(std::size_t a, std::size_t b) noexcept {
    return b > std::numeric_limits<std::size_t>::max() - a;
}

}  // namespace detail

/// The smallest pool that cannot deadlock when `tasks` tasks each hold up to
/// `connections_per_task` connections at once: Tn x (Cm - 1) + 1. With Cm = 1 it is 1 for any Tn
/// (no task waits while holding). Errors: zero_tasks, zero_connections_per_task, overflow.
/// This is the minimum that avoids pool-locking, not a size tuned for throughput.
constexpr sizing_result<std::size_t> deadlock_free_minimum(std::size_t tasks,
                                                           std::size_t connections_per_task) noexcept {
    if (tasks == 0) return {0, sizing_error::zero_tasks};
    if (connections_per_task == 0) return {0, sizing_error::zero_connections_per_task};
    const std::size_t extra = connections_per_task - 1;
    if (detail::mul_overflows(tasks, extra)) return {0, sizing_error::overflow};
    const std::size_t held = tasks * extra;
    if (detail::add_overflows(held, 1)) return {0, sizing_error::overflow};
    return {held + 1, sizing_error::none};
}

/// Connections the database server can keep busy: cores x 2 + effective_spindles (count
/// physical cores, not hyper-threads; spindles are 0 when the active data set is cached).
/// Errors: zero_cores, overflow.
constexpr sizing_result<std::size_t> throughput_size(std::size_t cores,
                                                     std::size_t effective_spindles) noexcept {
    if (cores == 0) return {0, sizing_error::zero_cores};
    if (detail::mul_overflows(cores, 2)) return {0, sizing_error::overflow};
    if (detail::add_overflows(cores * 2, effective_spindles)) return {0, sizing_error::overflow};
    return {cores * 2 + effective_spindles, sizing_error::none};
}

/// What a fleet of identical instances may open on one server.
struct fleet_budget {
    std::size_t available = 0;     ///< server max_connections - reserved
    std::size_t per_instance = 0;  ///< available / instances, rounded down
};

/// The share of `server_max_connections - reserved` each of `instances` instances may use.
/// `reserved` counts connections pools can never have (PostgreSQL's
/// superuser_reserved_connections + reserved_connections, admin and replication headroom).
/// Errors: zero_server_max_connections, reserved_exceeds_server (PostgreSQL itself refuses
/// reserved >= max_connections), zero_instances. Never overflows.
constexpr sizing_result<fleet_budget> server_budget(std::size_t server_max_connections, std::size_t reserved,
                                                    std::size_t instances) noexcept {
    if (server_max_connections == 0) return {{}, sizing_error::zero_server_max_connections};
    if (reserved >= server_max_connections) return {{}, sizing_error::reserved_exceeds_server};
    if (instances == 0) return {{}, sizing_error::zero_instances};
    const std::size_t available = server_max_connections - reserved;
    return {{available, available / instances}, sizing_error::none};
}

/// Connections the whole fleet may open: instances x max_size. Errors: overflow.
constexpr sizing_result<std::size_t> fleet_demand(std::size_t instances, std::size_t max_size) noexcept {
    if (detail::mul_overflows(instances, max_size)) return {0, sizing_error::overflow};
    return {instances * max_size, sizing_error::none};
}

/// Whether every instance may open `max_size` connections within the budget, i.e.
/// instances x max_size <= available. Exact even where instances x max_size would overflow.
constexpr bool fleet_fits(const fleet_budget& budget, std::size_t max_size) noexcept {
    return max_size <= budget.per_instance;
}

/// Inputs of one pool's recommendation. Designated initializers read best:
///     lifeguard::recommend_size({.tasks = 50, .connections_per_task = 2, .cores = 1, .effective_spindles =
///     1})
struct sizing_inputs {
    std::size_t tasks = 0;                 ///< Tn; >= 1
    std::size_t connections_per_task = 1;  ///< Cm; >= 1
    std::size_t cores = 0;                 ///< the database server's physical cores; >= 1
    std::size_t effective_spindles = 0;    ///< the database server's; 0 when the data is cached
};

/// One pool's sizes: max_size is large enough never to deadlock and at least the throughput
/// size; min_idle keeps the throughput size warm (the pool grows beyond it only when tasks nest).
struct size_recommendation {
    std::size_t deadlock_free_minimum = 0;
    std::size_t throughput_size = 0;
    std::size_t max_size = 0;  ///< max(deadlock_free_minimum, throughput_size)
    std::size_t min_idle = 0;  ///< min(throughput_size, max_size)
};

/// Combines deadlock_free_minimum() and throughput_size(); fails with the first error of either.
constexpr sizing_result<size_recommendation> recommend_size(const sizing_inputs& in) noexcept {
    const auto minimum = deadlock_free_minimum(in.tasks, in.connections_per_task);
    if (!minimum) return {{}, minimum.error};
    const auto throughput = throughput_size(in.cores, in.effective_spindles);
    if (!throughput) return {{}, throughput.error};
    const std::size_t max_size = minimum.value > throughput.value ? minimum.value : throughput.value;
    const std::size_t min_idle = throughput.value < max_size ? throughput.value : max_size;
    return {{minimum.value, throughput.value, max_size, min_idle}, sizing_error::none};
}

}  // namespace lifeguard
