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
// Return. The pool's reset rolls back when a transaction may be open: exec() tracks
// BEGIN/START TRANSACTION .. COMMIT/ROLLBACK, any statement run while autocommit is off counts,
// and so does any native_handle() use (one ROLLBACK round trip on return); then autocommit is
// set back to mysql_options::auto_commit. Plain use of exec() costs no round trip on return.
//
// Session state. Connector/C++ 1.1 cannot reset a session: its API has no
// COM_RESET_CONNECTION (mysql_reset_connection), no change-user and no way to reach the MYSQL*
// handle that libmariadb's mysql_reset_connection() needs. So the driver resets in SQL what it
// can undo exactly, and closes the rest:
//   - a SET of session system variables and user variables, seen by exec() (SET [SESSION]
//     x = ..., SET @@session.x = ..., SET @u = ..., SELECT @u := ...), is undone on return
//     with one "SET SESSION x = DEFAULT, @u = NULL" after a ROLLBACK, then the session setup
//     (read_only, transaction_isolation, auto_commit, init_sql) is applied again; a USE is
//     undone with the configured schema;
//   - everything else that outlives a statement (CREATE TEMPORARY, LOCK TABLES, GET_LOCK,
//     PREPARE, HANDLER, SET NAMES / character set variables, SET GLOBAL, SET TRANSACTION,
//     USE without a configured schema), or that the caller declared with mark_dirty(),
//     closes the connection on return instead of reusing it: correct, but a reconnect.
// Session changes made through native_handle() are not seen: call mark_dirty() after them.
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

/// The isolation level of the session's transactions (SET SESSION TRANSACTION ISOLATION LEVEL).
enum class mysql_isolation {
    server_default,
    read_uncommitted,
    read_committed,
    repeatable_read,
    serializable
};

/// Whether the connection is encrypted, and what of the server's certificate is checked.
///   disabled         plain connection (the default);
///   required         TLS, any certificate; a server that does not encrypt is refused;
///   verify_ca        TLS, the certificate must be signed by ssl_ca;
///   verify_identity  as verify_ca, and it must also name the host of the url.
enum class mysql_ssl_mode { disabled, required, verify_ca, verify_identity };

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
    /// Upper bound for the rollback and session reset on return; > 0, at most 1 h. Default 5 s.
    std::chrono::milliseconds reset_timeout{5000};
    /// Upper bound for one exec(); 0 (or milliseconds::max()) = none; not negative. A statement
    /// that runs out of time leaves the connection broken. Default 0.
    std::chrono::milliseconds query_timeout{0};

    // Connection properties (Connector/C++'s ConnectOptionsMap), checked when the driver is made.

    /// Longest a connect may take (OPT_CONNECT_TIMEOUT), whole seconds, at most 1 h; the
    /// acquire deadline bounds it too. 0 = only that deadline. Default 0.
    std::chrono::seconds connect_timeout{0};
    /// TLS (see mysql_ssl_mode). Default disabled.
    mysql_ssl_mode ssl_mode = mysql_ssl_mode::disabled;
    /// PEM file of the certificate authorities (sslCA); needed by verify_ca and
    /// verify_identity, and then checked against the server's certificate. Must be readable.
    std::string ssl_ca{};
    /// Client certificate and its key (sslCert, sslKey), PEM files, both or neither; need a
    /// ssl_mode other than disabled. Must be readable.
    std::string ssl_cert{};
    std::string ssl_key{};
    /// Allowed TLS versions (OPT_TLS_VERSION), e.g. "TLSv1.2,TLSv1.3"; empty = the library's.
    /// A comma-separated list of TLSv1.2 and TLSv1.3.
    std::string tls_version{};
    /// Character set of the connection (OPT_CHARSET_NAME), e.g. "utf8mb4"; empty = the client
    /// library's (utf8mb4 here). Letters, digits and '_', at most 32.
    std::string charset{};
    /// Compress the protocol (CLIENT_COMPRESS). Default false.
    bool compress = false;
    /// Largest packet the client accepts (OPT_MAX_ALLOWED_PACKET), bytes; 0 = the library's
    /// default; else 1 KiB to 1 GiB. Default 0.
    std::uint32_t max_allowed_packet = 0;

    // Session setup: applied on every new connection before it is first lent, and again after
    // every session reset on return, so it holds on every lease (see "Session state" above).
    // A failing step fails the connect and the connection is closed.

    /// true: the session's transactions are READ ONLY; false: the server's default. Default false.
    bool read_only = false;
    /// The session's isolation level; server_default leaves the server's. Default server_default.
    mysql_isolation transaction_isolation = mysql_isolation::server_default;
    /// The session's autocommit mode. false: work is kept only by an explicit COMMIT, and the
    /// rollback on return discards the rest. Default true.
    bool auto_commit = true;
    /// Statements run in order after the settings above (HikariCP connectionInitSql), e.g.
    /// "SET SESSION sql_mode = 'ANSI'". Each: not blank, no NUL byte, at most 1 MiB.
    std::vector<std::string> init_sql{};

    /// The liveness check (HikariCP connectionTestQuery); empty = Connector/C++'s isValid() (a
    /// ping, the cheapest round trip). A query that fails or outlives the validation timeout
    /// makes the connection count as broken. If set: not blank, no NUL byte, at most 1 MiB.
    std::string validation_query{};
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
    /// True when the session was changed in a way the return must undo (in SQL or by closing).
    bool session_dirty() const noexcept;
    /// True when the session was changed in a way only closing the connection undoes.
    bool session_needs_reconnect() const noexcept;
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
    /// the bad part; a schema in both the url and `schema`; any other option as field, value
    /// and rule).
    explicit mysql_driver(mysql_options options);

    /// Not a constructor: a URL string alone names no user or password. Gives a one-line error.
    template <class Url>
    requires std::convertible_to<const Url&, std::string_view>
    explicit mysql_driver(const Url&) {
        static_assert(sizeof(Url) == 0,
                      "lifeguard::mysql::driver takes mysql_options, not a URL string: write "
                      "mysql::driver{{.url = \"tcp://host:3306\", .user = ..., .password = ...}}");
    }

    /// Opens a connection and applies the session setup before `deadline` (to whole-second
    /// precision), or throws mysql_error (a failed setup step names the option; the
    /// connection is closed).
    mysql_connection connect(std::chrono::steady_clock::time_point deadline) const;
    /// True when the server answers a ping (or validation_query) within `timeout`; otherwise
    /// the connection is marked broken. Never throws.
    bool is_valid(mysql_connection& c, std::chrono::milliseconds timeout) const noexcept;
    /// Rolls back if needed, restores auto_commit, undoes session changes (see above); false
    /// when the connection is broken or its session cannot be reset in SQL.
    bool reset(mysql_connection& c) const noexcept;
    /// True when reset() needs no round trip: the connection is open and not broken, no
    /// transaction may be open, no session change was seen (see "Return" and "Session state")
    /// and autocommit is as configured. Reads the driver's own record only, no I/O. A lease from
    /// async_acquire for which this holds is reset by the thread that returns it, not by the
    /// pool's worker.
    bool reset_is_local(const mysql_connection& c) const noexcept;
    void close(mysql_connection& c) const noexcept;

    /// "mysql 127.0.0.1:3306/schema user=name", never the password.
    std::string describe() const;
    const std::string& url() const noexcept { return options_->url; }

private:
    // Applies transaction_isolation, read_only, auto_commit and init_sql.
    void apply_session_setup(mysql_connection_state& s) const;

    std::shared_ptr<const mysql_options> options_;
    std::string schema_;  // the default database (schema option or the url's), to undo a USE
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
using isolation = mysql_isolation;
using ssl_mode = mysql_ssl_mode;
using connection = mysql_connection;
using error = mysql_error;
using result = mysql_result;
using row = mysql_row;
using lifeguard::exec;
}  // namespace mysql

}  // namespace lifeguard
