// The PostgreSQL driver (libpq) for lifeguard pools, and a small exec helper for tests and
// examples.
//
//     lifeguard::pool<lifeguard::postgres::driver> pool{
//         lifeguard::postgres::driver{"host=/run/postgresql dbname=app"}};
//     auto lease = pool.acquire();
//     auto rows = lifeguard::postgres::exec(lease, "SELECT id FROM t WHERE name = $1", {"x"});
//
// Names. `lifeguard::postgres::driver`, `::options`, `::connection`, `::error`, `::result`,
// `::row` and `::exec` are the spelling to write; they are the same entities as the older
// `lifeguard::postgres_driver`, `postgres_options`, ... and `lifeguard::exec`, which keep
// working. The driver takes a conninfo string (`driver{"dbname=app"}`) or the full options
// (`driver{{.conninfo = "dbname=app", .query_timeout = 2s}}`).
//
// Session state. A connection goes back to the pool with its transaction rolled back (unless
// it is idle) and, *when its session may have been changed*, with `reset_query` (default
// DISCARD ALL) run on it. The connection tracks that "may be dirty" bit so the common return
// costs no round trip:
//   - exec() marks it for anything that is not a plain query or transaction control: SET (but
//     not SET LOCAL / SET TRANSACTION, which end with the transaction), PREPARE, LISTEN,
//     CREATE TEMP..., DECLARE, LOAD, and queries that call set_config() or take session
//     advisory locks;
//   - native_handle() marks it, because anything may be done through the raw PGconn*;
//   - mark_dirty() lets a caller say so explicitly.
// DISCARD ALL is accepted by PgBouncer in transaction pooling (it runs as its own
// transaction); there, session state cannot be relied on anyway.
//
// Session setup. read_only, transaction_isolation, search_path and init_sql are applied on
// every new connection before it is first lent (one set_config() round trip, then one per
// init_sql statement), and applied again right after every reset_query: DISCARD ALL returns
// the session to the server's defaults and the setup puts the driver's on top, so a setting
// made by init_sql is in force on every lease, also after a lease that changed it. A clean
// return (nothing marked dirty) costs no round trip for this either. Setup statements do not
// mark the session dirty.
//
// Broken connections. SQLSTATE class 08 and 57P0x, a lost connection (PQstatus BAD, which is
// how an idle backend killed by pg_terminate_backend first shows, with no SQLSTATE) and a
// statement that ran out of time all mark the connection broken; reset() then refuses it, so
// the pool closes it instead of lending it again. The lease overload of exec() also
// invalidates the lease at once.
//
// Timeouts. connect() honours its deadline (non-blocking connect, polled); is_valid() sends an
// empty query and waits at most its timeout even if the server never answers; reset() waits
// at most `reset_timeout`; exec() at most `query_timeout` when set.
//
// Passwords never leave the driver: describe() and conninfo_settings() omit them and every
// error text is scrubbed of the conninfo's password.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

// libpq's handle, forward-declared so that this header does not pull in libpq-fe.h.
struct pg_conn;
typedef struct pg_conn PGconn;  // NOLINT(modernize-use-using): must match libpq-fe.h

namespace lifeguard {

/// The isolation level new transactions get (default_transaction_isolation).
enum class postgres_isolation {
    server_default,
    read_uncommitted,
    read_committed,
    repeatable_read,
    serializable
};

struct postgres_options {
    /// libpq connection string or URI ("host=... dbname=..." or "postgresql://...").
    std::string conninfo;
    /// Run on return when the session may have been changed (see the header comment); the
    /// session setup below is applied again after it. Not blank, no NUL byte, at most 1 MiB.
    std::string reset_query = "DISCARD ALL";

    // Session setup: applied on every new connection before it is first lent, and again after
    // every reset_query, so it holds on every lease (see "Session setup" above). A failing step
    // fails the connect and the connection is closed.

    /// true: transactions are read-only (default_transaction_read_only = on); false: the
    /// server's default. Default false.
    bool read_only = false;
    /// default_transaction_isolation; server_default leaves the server's. Default server_default.
    postgres_isolation transaction_isolation = postgres_isolation::server_default;
    /// search_path (the schemas unqualified names resolve in, e.g. "app, public"); empty = the
    /// server's. No NUL byte, at most 1 MiB. Default empty.
    std::string search_path{};
    /// false: exec() opens a transaction (BEGIN) before a statement run outside one, so work is
    /// kept only by an explicit COMMIT; the rollback on return discards the rest. A connection's
    /// own set_auto_commit() holds until it is returned. Default true (libpq's behaviour).
    bool auto_commit = true;
    /// Statements run in order after the settings above (HikariCP connectionInitSql), e.g.
    /// "SET statement_timeout = '5s'". Each: not blank, no NUL byte, at most 1 MiB. Default none.
    std::vector<std::string> init_sql{};

    /// The liveness check (HikariCP connectionTestQuery); empty = an empty query, the cheapest
    /// round trip. A query that fails or outlives the validation timeout makes the connection
    /// count as broken. If set: not blank, no NUL byte, at most 1 MiB. Default empty.
    std::string validation_query{};
    /// Upper bound for the rollback, reset_query and session setup run on return; > 0, at most
    /// 1 h. Default 5 s.
    std::chrono::milliseconds reset_timeout{5000};
    /// Upper bound for one exec(); 0 (or milliseconds::max()) = wait as long as the statement
    /// runs; not negative. A statement that runs out of time leaves the connection broken (it
    /// is closed, not reused). Default 0.
    std::chrono::milliseconds query_timeout{0};
};

/// A failed statement, connect or validation. what() never contains a password.
class postgres_error : public std::runtime_error {
public:
    postgres_error(const std::string& message, std::string sqlstate, bool broken)
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)), broken_(broken) {}

    /// The five-character SQLSTATE, or empty when the server sent none (lost connection,
    /// timeout, client-side failure).
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    /// True when the connection can no longer be used (lost, terminated, timed out).
    bool broken() const noexcept { return broken_; }

private:
    std::string sqlstate_;
    bool broken_;
};

/// True for SQLSTATEs that mean the connection is gone: class 08 and 57P01..57P04.
bool postgres_sqlstate_is_broken(std::string_view sqlstate) noexcept;

/// One open libpq connection; move-only, closes itself when destroyed.
class postgres_connection {
public:
    postgres_connection() = default;
    ~postgres_connection();
    postgres_connection(postgres_connection&& other) noexcept;
    postgres_connection& operator=(postgres_connection&& other) noexcept;
    postgres_connection(const postgres_connection&) = delete;
    postgres_connection& operator=(const postgres_connection&) = delete;

    /// The raw libpq handle. Marks the session dirty (it will be reset on return).
    PGconn* native_handle() noexcept {
        dirty_ = true;
        return conn_;
    }
    /// Declares that the session was changed (SET, temp tables, ...) so return resets it.
    void mark_dirty() noexcept { dirty_ = true; }
    bool session_dirty() const noexcept { return dirty_; }
    /// True once a statement or check found the connection unusable.
    bool broken() const noexcept { return broken_; }
    void mark_broken() noexcept { broken_ = true; }
    /// Upper bound for one exec() on this connection (starts as postgres_options::query_timeout);
    /// 0 = none.
    std::chrono::milliseconds query_timeout() const noexcept { return query_timeout_; }
    void set_query_timeout(std::chrono::milliseconds t) noexcept { query_timeout_ = t; }
    /// Whether exec() runs statements outside a transaction as they are (true) or opens one
    /// first (false). Starts as postgres_options::auto_commit; reset() restores that.
    bool auto_commit() const noexcept { return auto_commit_; }
    void set_auto_commit(bool on) noexcept { auto_commit_ = on; }
    /// The backend's process id (for pg_terminate_backend in tests), 0 when closed.
    int backend_pid() const noexcept;
    explicit operator bool() const noexcept { return conn_ != nullptr; }

private:
    friend class postgres_driver;
    friend struct postgres_access;
    PGconn* conn_ = nullptr;
    bool dirty_ = false;
    bool broken_ = false;
    std::chrono::milliseconds query_timeout_{0};
    bool auto_commit_ = true;
    std::string secret_;  // the password, only to scrub it from error texts
};

/// The driver: satisfies `lifeguard::driver`. Immutable after construction, so one instance
/// serves the pool's worker and all callers concurrently.
class postgres_driver {
public:
    using connection_type = postgres_connection;

    /// Throws postgres_error when the conninfo cannot be parsed or an option is invalid (naming
    /// the option, its value and the rule).
    explicit postgres_driver(postgres_options options);

    /// The same with only a conninfo string or URI: `postgres_driver{"host=... dbname=..."}`.
    /// Throws postgres_error for a null `const char*`.
    template <class Conninfo>
    requires(std::convertible_to<const Conninfo&, std::string_view> &&
             !std::same_as<Conninfo, std::nullptr_t>)
    explicit postgres_driver(const Conninfo& conninfo)
        : postgres_driver(postgres_options{.conninfo = conninfo_text(conninfo)}) {}

    /// Opens a connection and applies the session setup before `deadline`, or throws
    /// postgres_error (a failed setup step names the option; the connection is closed).
    postgres_connection connect(std::chrono::steady_clock::time_point deadline) const;
    /// True when the connection answers validation_query (by default an empty query) within
    /// `timeout`; otherwise the connection is marked broken. Never throws.
    bool is_valid(postgres_connection& c, std::chrono::milliseconds timeout) const noexcept;
    /// Rolls back unless idle, restores auto_commit, runs reset_query and the session setup if
    /// the session may be dirty; false when the connection cannot be reused (broken,
    /// transaction status unknown or active, timeout, a failed setup step).
    bool reset(postgres_connection& c) const noexcept;
    /// True when reset() needs no round trip: the connection is open and not broken, no
    /// transaction is open (PQtransactionStatus is PQTRANS_IDLE) and its session is not marked
    /// dirty (see "Session state"). Reads libpq's state only, no I/O. A lease from async_acquire
    /// for which this holds is reset by the thread that returns it, not by the pool's worker.
    bool reset_is_local(const postgres_connection& c) const noexcept;
    void close(postgres_connection& c) const noexcept;

    /// "postgres host:port/dbname user=name", never the password.
    std::string describe() const;
    const postgres_options& options() const noexcept { return options_; }
    /// The keywords the conninfo sets, in libpq's order, without libpq's defaults; a non-empty
    /// password shows as "***". For tools that say where they connect, or read a setting such
    /// as connect_timeout (connect() itself obeys only its deadline).
    const std::vector<std::pair<std::string, std::string>>& conninfo_settings() const noexcept {
        return settings_;
    }

private:
    template <class Conninfo>
    static std::string conninfo_text(const Conninfo& conninfo) {
        if constexpr (std::is_pointer_v<Conninfo>) {
            if (conninfo == nullptr)
                throw postgres_error("postgres: invalid conninfo: a null pointer", "", false);
        }
        return std::string(std::string_view(conninfo));
    }

    // Applies read_only, transaction_isolation, search_path and init_sql before `deadline`.
    void apply_session_setup(postgres_connection& c, std::chrono::steady_clock::time_point deadline) const;

    postgres_options options_;
    // The typed session options as one "SELECT set_config($1, $2, false), ..." and its
    // parameters; empty when none is set.
    std::string settings_sql_;
    std::vector<std::optional<std::string>> settings_params_;
    std::string secret_;
    std::string description_;
    std::vector<std::pair<std::string, std::string>> settings_;
};

/// A NULL column is std::nullopt.
using postgres_row = std::vector<std::optional<std::string>>;

struct postgres_result {
    std::vector<std::string> columns;
    std::vector<postgres_row> rows;
    std::uint64_t affected = 0;  ///< rows affected by INSERT/UPDATE/DELETE (0 otherwise)

    /// The value at (row, column), throwing std::out_of_range if absent or NULL.
    const std::string& value(std::size_t row = 0, std::size_t column = 0) const;
};

/// Runs `sql` (one or more statements when `params` is empty; exactly one with $1.. params)
/// and returns the last statement's rows as text. Throws postgres_error; a broken error marks
/// the connection broken. Marks the session dirty per the rule in the header comment.
postgres_result exec(postgres_connection& c, std::string_view sql,
                     const std::vector<std::optional<std::string>>& params = {});

/// The same through a pool lease: a broken error also invalidates the lease (the pool closes
/// the connection instead of lending it again) before it propagates.
template <class Lease>
requires requires(Lease& l) {
    { *l } -> std::same_as<postgres_connection&>;
    l.invalidate();
}
postgres_result exec(Lease& lease, std::string_view sql,
                     const std::vector<std::optional<std::string>>& params = {}) {
    try {
        return exec(*lease, sql, params);
    } catch (const postgres_error& e) {
        if (e.broken()) lease.invalidate();
        throw;
    }
}

/// The names to write: `lifeguard::postgres::driver{"dbname=app"}`, `lifeguard::postgres::exec`.
namespace postgres {
using driver = postgres_driver;
using options = postgres_options;
using isolation = postgres_isolation;
using connection = postgres_connection;
using error = postgres_error;
using result = postgres_result;
using row = postgres_row;
using lifeguard::exec;
}  // namespace postgres

}  // namespace lifeguard
