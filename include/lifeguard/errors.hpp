// Error codes of the pool (`errc` with its own category) and the diagnostic object that
// explains a failed acquire: counters, the last connection error, the holders and a verdict.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "lifeguard/owner.hpp"
#include "lifeguard/stats.hpp"

namespace lifeguard {

enum class errc {
    timeout = 1,    ///< no connection became available within acquire_timeout
    pool_closed,    ///< the pool was closed before or while waiting
    pending_limit,  ///< max_pending callers were already waiting
    deadlock,       ///< a deadlock detector failed this waiter to break a knot
};

const std::error_category& pool_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), pool_category()};
}

/// What best explains a failed acquire.
enum class verdict {
    exhausted,             ///< every connection is leased and the holders are busy
    database_unreachable,  ///< the pool could not open connections (see last_connect_error)
    deadlocked,            ///< the holders are themselves waiting: nobody can release
    closed,                ///< the pool was closed
    rejected,              ///< the wait queue was full (max_pending)
};

std::string_view to_string(verdict v) noexcept;

/// A call site as every error, log and report prints it: "login.cpp:42 login()" (file name
/// without directories; function name without return type, parameters, template arguments or
/// anonymous namespaces, and at most its last two qualifiers, e.g. "repo::save()").
/// "unknown site" when empty.
std::string describe_site(const std::source_location& site);

/// A task as every error, log and report names it: "task 7", or "login 17 (task 7)" when its
/// owner_scope has a label.
std::string describe_owner(owner_id id, std::string_view label);

/// One lease that was out when the diagnostics were taken.
struct holder_info {
    owner_id owner = 0;
    std::string owner_label;  ///< the owner_scope's label, empty for a thread
    std::source_location site;
    std::chrono::nanoseconds age{0};
};

/// Why an acquire failed. Carried by `pool_error`; also filled for the error_code overloads
/// (ask the pool for `last_failure()`).
struct pool_diagnostics {
    std::string pool_name;
    std::error_code code;
    verdict what = verdict::exhausted;
    pool_stats stats;
    std::chrono::nanoseconds waited{0};
    std::string last_connect_error;  ///< empty when the last attempt succeeded
    std::vector<holder_info> holders;
    std::source_location site;     ///< where the failed acquire was called
    owner_id owner = 0;            ///< who was acquiring
    std::string detail;            ///< extra text, e.g. a deadlock report, appended to the message

    /// One line: "pool 'x': timed out after 30000 ms — exhausted: 10/10 in use, 20 waiting, ..."
    std::string summary() const;
    /// The summary followed by the holders and the detail, one item per line.
    std::string to_string() const;
};

/// Thrown by the throwing acquire overloads.
class pool_error : public std::system_error {
public:
    explicit pool_error(std::shared_ptr<const pool_diagnostics> d)
        : std::system_error(d->code, d->summary()), diagnostics_(std::move(d)) {}

    const pool_diagnostics& diagnostics() const noexcept { return *diagnostics_; }

private:
    std::shared_ptr<const pool_diagnostics> diagnostics_;
};

/// Thrown by pool construction when an option is out of range; the message names the field,
/// the value and the rule.
class options_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

}  // namespace lifeguard

template <>
struct std::is_error_code_enum<lifeguard::errc> : std::true_type {};
