// The MySQL/MariaDB driver (mysql-connector-cpp 1.1, JDBC-style API) for lifeguard pools, and
// a small exec helper for tests and examples.
//
//     lifeguard::pool<lifeguard::mysql::driver> pool{lifeguard::mysql::driver{{
//         .url = "tcp://127.0.0.1:3306", .user = "app", .password = secret, .schema = "app"}}};
//     auto lease = pool.acquire();
//     auto rows = lifeguard::mysql::exec(lease, "SELECT id FROM t WHERE name = ?", {"x"});
//     sql::Connection* raw = lease->native_handle();   // the full Connector/C++ API
//
// Names. `lifeguard::mysql::driver`, `::options`, `::connection`, `::error`, `::result`, `::row`
// and `::exec` are the spelling to write; they are the same entities as the older
// `lifeguard::mysql_driver`, `mysql_options`, ... and `lifeguard::exec`, which keep working.
// The driver takes its options only (a URL alone has no user): `driver{"tcp://..."}` does not
// compile and says so.
//
// Return. The pool's reset rolls back when autocommit is off (and turns it back on), or when a
// transaction may be open: exec() tracks BEGIN/START TRANSACTION .. COMMIT/ROLLBACK, and any
// native_handle() use counts as "may be open" (one ROLLBACK round trip on return). Plain use
// of exec() costs no round trip on return.
//
// Session state. Connector/C++ 1.1 cannot send COM_RESET_CONNECTION, so a session that exec()
// saw changed (SET, USE, LOCK TABLES, CREATE TEMPORARY, PREPARE, GET_LOCK, @var :=, ...), or
// that the caller declared changed with mark_dirty(), is *closed* on return instead of reused:
// correct, but a reconnect. Session changes made through native_handle() are not seen: call
// mark_dirty() after them.
//
// Broken connections. Client errors 2002/2003/2006/2013/2055 and friends, server errors that
// end the session (1053, 1077-1080, 1152, 1158-1161, 1927), SQLSTATE class 08 and timeouts mark
// the connection broken; reset() then refuses it. The lease overload of exec() also
// invalidates the lease.
//
// Timeouts. connect() passes what is left of its deadline as OPT_CONNECT_TIMEOUT (whole
// seconds, at least 1; it covers the handshake). is_valid(), reset() and exec() (with
// query_timeout) are bounded by a watchdog that shuts the connection's socket down when the
// deadline passes, so they hold even when the server never answers (TCP connections; over a
// unix socket the bound is the read/write timeout). OPT_RECONNECT is always off: a silent
// reconnect would swap the session under the pool.
//
// Passwords never leave the driver: describe() omits them and error texts are scrubbed.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sql {
class Connection;  // Connector/C++'s connection, forward-declared to keep cppconn/ out of here
}

namespace lifeguard {

struct mysql_options {
    /// "tcp://host[:port][/schema]" (port 1..65535, default 3306; IPv6 as [::1]) or
    /// "unix:///path/to/mysqld.sock"; checked when the driver is made.
    std::string url;
    std::string user;
    std::string password;
    /// Default schema; empty for none.
    std::string schema;
    /// Client read/write timeouts (OPT_READ_TIMEOUT / OPT_WRITE_TIMEOUT, whole seconds): the
    /// longest one network read or write may block, so also the longest statement a
    /// connection can run. 0 = no limit. Default 30 s (HikariCP's advice: at least 30 s).
    std::chrono::seconds read_timeout{30};
    std::chrono::seconds write_timeout{30};
    /// Upper bound for the rollback on return; > 0.
    std::chrono::milliseconds reset_timeout{5000};
    /// Upper bound for one exec(); 0 = none. A statement that runs out of time leaves the
    /// connection broken.
    std::chrono::milliseconds query_timeout{0};
};

/// A failed statement, connect or validation. what() never contains a password.
class mysql_error : public std::runtime_error {
public:
    mysql_error(const std::string& message, int code, std::string sqlstate, bool broken)
        : std::runtime_error(message), code_(code), sqlstate_(std::move(sqlstate)), broken_(broken) {}

    /// The server or client error number (e.g. 1146, 2013); 0 when there is none.
    int code() const noexcept { return code_; }
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    /// True when the connection can no longer be used.
    bool broken() const noexcept { return broken_; }

private:
    int code_;
    std::string sqlstate_;
    bool broken_;
};

/// True for error numbers and SQLSTATEs that mean the connection is gone.
bool mysql_error_is_broken(int code, std::string_view sqlstate) noexcept;

struct mysql_connection_state;
struct mysql_watchdog;
class mysql_driver;

/// One open Connector/C++ connection; move-only, closes itself when destroyed.
class mysql_connection {
public:
    mysql_connection() noexcept;
    ~mysql_connection();
    mysql_connection(mysql_connection&&) noexcept;
    mysql_connection& operator=(mysql_connection&&) noexcept;

    /// The Connector/C++ connection. Counts as "a transaction may be open" (see above).
    sql::Connection* native_handle() noexcept;
    /// Declares that the session was changed: the connection is closed on return.
    void mark_dirty() noexcept;
    bool session_dirty() const noexcept;
    bool broken() const noexcept;
    void mark_broken() noexcept;
    /// The server's id for this session (for KILL in tests), 0 when closed.
    std::uint64_t connection_id() const noexcept;
    std::chrono::milliseconds query_timeout() const noexcept;
    void set_query_timeout(std::chrono::milliseconds t) noexcept;
    explicit operator bool() const noexcept { return state_ != nullptr; }

private:
    friend class mysql_driver;
    friend struct mysql_access;
    std::unique_ptr<mysql_connection_state> state_;
};

/// The driver: satisfies `lifeguard::driver`. Copies share one watchdog thread (started on
/// first use); all members are safe to call concurrently for different connections.
class mysql_driver {
public:
    using connection_type = mysql_connection;

    /// Throws mysql_error when the options are unusable (a url not of the forms above, naming
    /// the bad part; a schema in both the url and `schema`; bad timeouts).
    explicit mysql_driver(mysql_options options);

    /// Not a constructor: a URL string alone names no user or password. Gives a one-line error.
    template <class Url>
    requires std::convertible_to<const Url&, std::string_view>
    explicit mysql_driver(const Url&) {
        static_assert(sizeof(Url) == 0,
                      "lifeguard::mysql::driver takes mysql_options, not a URL string: write "
                      "mysql::driver{{.url = \"tcp://host:3306\", .user = ..., .password = ...}}");
    }

    /// Opens a connection before `deadline` (to whole-second precision) or throws mysql_error.
    mysql_connection connect(std::chrono::steady_clock::time_point deadline) const;
    /// True when the server answers a ping within `timeout`. Never throws.
    bool is_valid(mysql_connection& c, std::chrono::milliseconds timeout) const noexcept;
    /// Rolls back if needed and restores autocommit; false when the connection is broken or
    /// its session was changed (see above).
    bool reset(mysql_connection& c) const noexcept;
    void close(mysql_connection& c) const noexcept;

    /// "mysql 127.0.0.1:3306/schema user=name", never the password.
    std::string describe() const;
    const std::string& url() const noexcept { return options_->url; }

private:
    std::shared_ptr<const mysql_options> options_;
    std::string description_;
    std::shared_ptr<mysql_watchdog> watchdog_;
};

/// A NULL column is std::nullopt.
using mysql_row = std::vector<std::optional<std::string>>;

struct mysql_result {
    std::vector<std::string> columns;
    std::vector<mysql_row> rows;
    std::uint64_t affected = 0;  ///< rows affected by INSERT/UPDATE/DELETE (0 otherwise)

    /// The value at (row, column), throwing std::out_of_range if absent or NULL.
    const std::string& value(std::size_t row = 0, std::size_t column = 0) const;
};

/// Runs one statement (with `?` placeholders bound to `params` when given) and returns its
/// rows as text. Throws mysql_error; a broken error marks the connection broken.
mysql_result exec(mysql_connection& c, std::string_view sql,
                  const std::vector<std::optional<std::string>>& params = {});

/// The same through a pool lease: a broken error also invalidates the lease.
template <class Lease>
requires requires(Lease& l) {
    { *l } -> std::same_as<mysql_connection&>;
    l.invalidate();
}
mysql_result exec(Lease& lease, std::string_view sql,
                  const std::vector<std::optional<std::string>>& params = {}) {
    try {
        return exec(*lease, sql, params);
    } catch (const mysql_error& e) {
        if (e.broken()) lease.invalidate();
        throw;
    }
}

/// The names to write: `lifeguard::mysql::driver{{.url = ..., .user = ...}}`, `lifeguard::mysql::exec`.
namespace mysql {
using driver = mysql_driver;
using options = mysql_options;
using connection = mysql_connection;
using error = mysql_error;
using result = mysql_result;
using row = mysql_row;
using lifeguard::exec;
}  // namespace mysql

}  // namespace lifeguard
