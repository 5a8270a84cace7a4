// Pool options: a plain aggregate with a default on every member, validated once when a pool
// is made. Designated initializers read best:
//     lifeguard::pool_options{.name = "orders", .max_size = 20, .min_idle = 5}
#pragma once

#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace lifeguard {

using namespace std::chrono_literals;

/// What an attached deadlock detector does when it finds a deadlock on this pool.
enum class deadlock_policy {
    ignore,     ///< detect nothing for this pool
    report,     ///< log, count, call the report callback; waiters keep waiting
    /// report, then untie the knot without failing anyone: lend one knot member an emergency
    /// connection beyond max_size (at most max_overflow at once, closed when it comes back) and
    /// learn the claim (max_nesting) from it, so that admission keeps the knot from forming
    /// again. When no emergency connection can be opened, fail one member as fail_fast does.
    /// A knot across pools is failed as under fail_fast.
    heal,
    fail_fast,  ///< report, then fail a knot member that holds a lease with errc::deadlock
    abort,      ///< report, then std::abort() (for tests and fail-loudly environments)
};

/// "ignore", "report", "heal", "fail_fast" or "abort": the option's name for it, in logs, reports and
/// errors; "unknown" for a value outside the enum.
std::string_view to_string(deadlock_policy policy) noexcept;

/// A duration option set to `forever` never runs out. Per option: acquire_timeout waits (and
/// opens a connection) without a deadline; idle_timeout and max_lifetime never retire;
/// keepalive_interval and leak_detection_threshold are off; alive_bypass_window never validates
/// on borrow; validation_timeout and housekeeping_interval reject it (at most 1 h).
/// `std::chrono::milliseconds::max()` is the same value. Any duration too long to count in
/// nanoseconds (about 292 years) behaves like forever.
inline constexpr std::chrono::milliseconds forever = std::chrono::milliseconds::max();

struct pool_options {
    /// Shown in logs, metrics and reports. Default: "pool-N" (N counts pools in this process).
    /// Must be printable ASCII without spaces or quotes, at most 64 characters.
    std::string name{};

    /// Most connections open at once (idle + leased + being validated). Default 10;
    /// 1 <= max_size <= 100000.
    std::size_t max_size = 10;

    /// The highest max_size reconfigure() may set later: the pool allocates this many slots
    /// once, when it is made (a slot is a few cache lines). Default (same_as_max_size): max_size,
    /// so max_size can be lowered and raised back but not beyond. max_size <= max_size_ceiling
    /// <= 100000.
    std::size_t max_size_ceiling = same_as_max_size;

    /// Idle connections the worker keeps ready. Default: same as max_size (a fixed-size pool,
    /// as HikariCP recommends). 0 <= min_idle <= max_size.
    std::size_t min_idle = same_as_max_size;

    /// How long acquire() waits before failing with errc::timeout. Default 30 s; >= 250 ms;
    /// forever = wait until a connection comes (or the pool closes). Also the deadline for
    /// opening one connection (none when forever).
    std::chrono::milliseconds acquire_timeout = 30s;

    /// Upper bound on one validation (is_valid). Default (follows_acquire_timeout): half of
    /// acquire_timeout, at most 5 s (HikariCP's default, reached from acquire_timeout = 10 s on),
    /// so any acquire_timeout gives a valid pool. Set: >= 250 ms, < acquire_timeout, <= 1 h.
    std::chrono::milliseconds validation_timeout = follows_acquire_timeout;

    /// Idle connections above min_idle are closed after this long. Default 10 min; 0 or
    /// forever = never; otherwise >= 10 s. No effect when min_idle == max_size, and none beyond
    /// max_lifetime (which retires connections first). Checked at least every
    /// housekeeping_interval.
    std::chrono::milliseconds idle_timeout = 10min;

    /// Connections are retired after this long (each gets up to 2.5% less, so they do not all
    /// expire together). Default 30 min; 0 or forever = never; otherwise >= 30 s.
    std::chrono::milliseconds max_lifetime = 30min;

    /// Idle connections are validated this often in the background. Default 2 min; 0 or
    /// forever = off; otherwise >= 30 s (a connection retired by max_lifetime first is never
    /// kept alive).
    std::chrono::milliseconds keepalive_interval = 2min;

    /// A lease held longer than this is reported once as a possible leak (never reclaimed).
    /// Default 0 = off (forever is off too); otherwise >= 2 s.
    std::chrono::milliseconds leak_detection_threshold = 0ms;

    /// A connection idle for less than this is lent without validation. Default 500 ms;
    /// 0 = validate on every borrow; forever = never validate on borrow; >= 0.
    std::chrono::milliseconds alive_bypass_window = 500ms;

    /// Most callers allowed to wait at once; one more is refused at once with
    /// errc::pending_limit. Default unbounded; >= 1.
    std::size_t max_pending = unbounded;

    /// How often the worker retires idle connections above min_idle and checks for clock
    /// leaps (lifetimes, keepalives, leaks and refills are scheduled on their own). Default
    /// 30 s; 100 ms <= housekeeping_interval <= 1 h (forever is rejected: idle_timeout would
    /// never be applied).
    std::chrono::milliseconds housekeeping_interval = 30s;

    /// What an attached deadlock detector does on this pool. Default report.
    deadlock_policy on_deadlock = deadlock_policy::report;

    /// The claim: the most connections of this pool one task holds at once (a transaction that
    /// asks for an id generator's connection holds 2). Declared (>= 2), the pool admits a
    /// request only when every task holding connections can still get up to this many and
    /// finish (deadlock avoidance, see admission.hpp); then no task can deadlock on this pool
    /// alone. Default 0 = not declared: no admission, unless on_deadlock is heal, which learns
    /// it from the nesting an attached detector sees. 1 = no task nests (no admission).
    /// 0 <= max_nesting <= max_size.
    std::size_t max_nesting = 0;

    /// on_deadlock = heal: how many emergency connections beyond max_size may be open at once
    /// (each lent to a member of a knot, closed when it comes back). Default 1; 0 = heal fails a
    /// member instead; 0 <= max_overflow <= max_size.
    std::size_t max_overflow = 1;

    /// Whether the constructor must see a first connection open (HikariCP's
    /// initializationFailTimeout). > 0: it opens and validates one on the constructing thread,
    /// retrying (backoff 10 ms doubling to 1 s) for up to this long, then throws startup_error
    /// carrying the driver's last error (no attempt starts after the budget; one started near its
    /// end gets at least 1 s, or acquire_timeout if shorter); 0: one attempt, thrown at once if it
    /// fails; negative (the default, starts_without_waiting, today's behaviour where HikariCP's
    /// default is 1 ms): it starts at once and the worker connects in the background. The
    /// connection opened is kept, idle. At most 1 h (forever is rejected: a constructor that may
    /// never return is a hang, not a start).
    std::chrono::milliseconds initialization_fail_timeout = starts_without_waiting;

    static constexpr std::size_t same_as_max_size = std::numeric_limits<std::size_t>::max();
    static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();
    /// validation_timeout's "not set": validated() replaces it by min(5 s, acquire_timeout / 2).
    static constexpr std::chrono::milliseconds follows_acquire_timeout = std::chrono::milliseconds::min();
    /// initialization_fail_timeout's default: any negative value means the same.
    static constexpr std::chrono::milliseconds starts_without_waiting = std::chrono::milliseconds(-1);
};

/// The options a live pool may change (HikariConfigMXBean's set): basic_pool::reconfigure()
/// applies the fields that are set and keeps the others. Each is checked by the same rules as
/// at construction. Defaults follow their option: a pool made with min_idle (or
/// validation_timeout) left at its default keeps following max_size (acquire_timeout).
struct pool_settings {
    /// At most max_size_ceiling. Shrinking retires connections above it as they come back
    /// (idle ones at once), never interrupting a lease; growing opens connections for waiters
    /// at once.
    std::optional<std::size_t> max_size{};
    std::optional<std::size_t> min_idle{};
    /// Applies to acquisitions and connection attempts that start from now on.
    std::optional<std::chrono::milliseconds> acquire_timeout{};
    std::optional<std::chrono::milliseconds> idle_timeout{};
    /// Applies to connections opened from now on (as in HikariCP); open ones keep the lifetime
    /// they were given (soft_evict() retires them all).
    std::optional<std::chrono::milliseconds> max_lifetime{};
    /// Applies to leases that have not been reported yet, from the next housekeeping look.
    std::optional<std::chrono::milliseconds> leak_detection_threshold{};
};

/// What a pool made with `requested` (and now running with `current`, validated) asks for once
/// `change` is applied: `requested` with the set fields replaced, the name and max_size_ceiling
/// pinned to `current`'s. Options left at their default keep following theirs. Pass the result
/// to validated(), which checks it like a new pool's options. Throws options_error for a
/// max_size above max_size_ceiling.
pool_options with_settings(pool_options requested, const pool_options& current, const pool_settings& change);

/// A duration option as people read it: "forever", or "N ms".
std::string duration_text(std::chrono::milliseconds d);

/// Checks every option and fills the defaults (name, min_idle, validation_timeout). Throws
/// `options_error` naming the first bad field, its value and the rule. Called by the pool's
/// constructor.
pool_options validated(pool_options options);

}  // namespace lifeguard
