// Connector/C++ 1.1 driver: connect with OPT_CONNECT_TIMEOUT taken from the deadline, validate
// with isValid(), roll back and restore autocommit on return, classify broken connections, and
// keep passwords out of every text. Connector/C++ cannot bound a single call on an open
// connection, so a small watchdog thread shuts a TCP connection's socket down when a bounded
// call (validation, reset, exec with a timeout) outlives its deadline.
#include "lifeguard/mysql.hpp"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <dirent.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "mysql_option_checks.hpp"
#include "mysql_session_change.hpp"
#include "mysql_url.hpp"
#include "option_checks.hpp"
#include "scrub.hpp"
#include "sql_text.hpp"

namespace lifeguard {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto no_deadline = clock_type::time_point::max();

using drivers_detail::scrub;

// The options' url, parsed; its errors without the password.
drivers_detail::mysql_url checked_url(const mysql_options& o) {
    try {
        return drivers_detail::parse_mysql_url(o.url);
    } catch (const mysql_error& e) {
        throw mysql_error(scrub(e.what(), o.password), 0, {}, false);
    }
}

// get_driver_instance() keeps a process-wide map without a lock in some 1.1 versions, and the
// first call initialises the client library: do it exactly once.
sql::mysql::MySQL_Driver* driver_instance() {
    static sql::mysql::MySQL_Driver* instance = sql::mysql::get_mysql_driver_instance();
    thread_local bool thread_ready = false;
    if (!thread_ready) {
        instance->threadInit();
        thread_ready = true;
    }
    return instance;
}

// MariaDB reads '#' as a line comment too.
std::string first_word_lower(std::string_view sql, std::size_t& pos) {
    return drivers_detail::first_word_lower(sql, pos, drivers_detail::line_comments::dash_and_hash);
}

enum class tx_effect { none, begins, ends };

tx_effect transaction_effect(std::string_view sql) {
    std::size_t pos = 0;
    const std::string word = first_word_lower(sql, pos);
    if (word == "begin" || word == "start" || word == "xa") return tx_effect::begins;
    if (word == "commit") return tx_effect::ends;
    if (word == "rollback") return first_word_lower(sql, pos) == "to" ? tx_effect::none : tx_effect::ends;
    return tx_effect::none;
}

// The local TCP port of this process's socket connected to `peer_port`, found by scanning our
// own descriptors. -1 when not found.
int find_socket(int local_port, int peer_port) {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return -1;
    int found = -1;
    const int own = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd == own || fd < 0) continue;
        sockaddr_storage local{}, peer{};
        socklen_t llen = sizeof local, plen = sizeof peer;
        if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &llen) != 0) continue;
        if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &plen) != 0) continue;
        auto port_of = [](const sockaddr_storage& s) -> int {
            if (s.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(s).sin_port);
            if (s.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(s).sin6_port);
            return -1;
        };
        if (port_of(local) == local_port && port_of(peer) == peer_port) {
            found = static_cast<int>(fd);
            break;
        }
    }
    ::closedir(d);
    return found;
}

// Runs `sql` and reads and frees every result (an unread one makes the next call fail with
// 2014 "Commands out of sync").
void execute_all(sql::Connection& conn, const std::string& sql) {
    std::unique_ptr<sql::Statement> st(conn.createStatement());
    if (st->execute(sql)) std::unique_ptr<sql::ResultSet> rs(st->getResultSet());
    for (int guard = 0; guard < 1024 && st->getMoreResults(); ++guard)
        std::unique_ptr<sql::ResultSet> more(st->getResultSet());
}

// TLS, character set, compression and packet size as Connector/C++ 1.1 spells them. With
// Debian's build (linked against libmariadb) OPT_SSL_MODE and sslEnforce do not enforce
// anything: sslEnforce only asks for TLS, the CA file makes libmariadb verify the chain,
// sslVerify adds the host name, and connect() itself refuses a session left unencrypted.
void add_connection_properties(const mysql_options& o, sql::ConnectOptionsMap& map) {
    if (o.ssl_mode != mysql_ssl_mode::disabled) map["sslEnforce"] = true;
    if (!o.ssl_ca.empty()) map["sslCA"] = sql::SQLString(o.ssl_ca);
    if (o.ssl_mode == mysql_ssl_mode::verify_identity) map["sslVerify"] = true;
    if (!o.ssl_cert.empty()) map["sslCert"] = sql::SQLString(o.ssl_cert);
    if (!o.ssl_key.empty()) map["sslKey"] = sql::SQLString(o.ssl_key);
    if (!o.tls_version.empty()) map["OPT_TLS_VERSION"] = sql::SQLString(o.tls_version);
    if (!o.charset.empty()) map["OPT_CHARSET_NAME"] = sql::SQLString(o.charset);
    if (o.compress) map["CLIENT_COMPRESS"] = true;
    if (o.max_allowed_packet != 0) map["OPT_MAX_ALLOWED_PACKET"] = static_cast<int>(o.max_allowed_packet);
}

// "SET SESSION TRANSACTION ISOLATION LEVEL ..., READ ONLY" for the options; empty for none.
std::string session_characteristics_sql(const mysql_options& o) {
    static constexpr std::string_view levels[] = {"", "READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ",
                                                  "SERIALIZABLE"};
    std::string sql;
    if (o.transaction_isolation != mysql_isolation::server_default)
        sql = "ISOLATION LEVEL " + std::string(levels[static_cast<int>(o.transaction_isolation)]);
    if (o.read_only) sql += std::string(sql.empty() ? "" : ", ") + "READ ONLY";
    return sql.empty() ? sql : "SET SESSION TRANSACTION " + sql;
}

}  // namespace

// Shuts sockets down when bounded calls outlive their deadlines. One thread per driver, started
// on first use; arming costs a lock and, only when the new deadline is the earliest, a wake-up.
struct mysql_watchdog {
    struct entry {
        int fd;
        clock_type::time_point deadline;
        bool fired = false;
    };

    ~mysql_watchdog() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    std::uint64_t arm(int fd, clock_type::time_point deadline) {
        std::unique_lock lock(mutex_);
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        const auto id = next_id_++;
        armed_.emplace(id, entry{fd, deadline});
        const bool earliest = deadline < sleeping_until_;
        lock.unlock();
        if (earliest) cv_.notify_one();
        return id;
    }

    /// True when the deadline fired (the socket was shut down).
    bool disarm(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        auto it = armed_.find(id);
        if (it == armed_.end()) return false;
        const bool fired = it->second.fired;
        armed_.erase(it);
        return fired;
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            const auto now = clock_type::now();
            auto next = no_deadline;
            for (auto& [id, e] : armed_) {
                if (e.fired) continue;
                if (e.deadline <= now) {
                    // The call blocked on this socket returns with an error at once.
                    ::shutdown(e.fd, SHUT_RDWR);
                    e.fired = true;
                } else {
                    next = std::min(next, e.deadline);
                }
            }
            sleeping_until_ = next;
            if (next == no_deadline)
                cv_.wait(lock);
            else
                cv_.wait_until(lock, next);
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::thread thread_;
    std::map<std::uint64_t, entry> armed_;
    std::uint64_t next_id_ = 1;
    clock_type::time_point sleeping_until_ = no_deadline;
    bool stopping_ = false;
};

struct mysql_connection_state {
    std::unique_ptr<sql::Connection> conn;
    int fd = -1;  // the TCP socket, for the watchdog; -1 over a unix socket
    std::uint64_t id = 0;
    drivers_detail::mysql_session_change changes;  // what the return must undo
    bool broken = false;
    bool maybe_in_transaction = false;
    std::chrono::milliseconds query_timeout{0};
    std::string secret;
    std::shared_ptr<mysql_watchdog> watchdog;

    ~mysql_connection_state() {
        if (!conn) return;
        try {
            conn->close();
        } catch (...) {  // closing a dead connection may complain; it is gone either way
        }
    }
};

struct mysql_access {
    static mysql_connection_state* state(mysql_connection& c) noexcept { return c.state_.get(); }

    // True when an open connection's return has nothing to undo: no transaction may be open, no
    // session change was seen and autocommit is as configured (getAutoCommit() is Connector/C++'s
    // own record: no round trip). Then reset() sends nothing.
    static bool nothing_to_undo(const mysql_connection_state& s, bool auto_commit) noexcept {
        if (s.maybe_in_transaction || s.changes.any()) return false;
        try {
            return s.conn->getAutoCommit() == auto_commit;
        } catch (...) {  // a closed connection: let reset() find out
            return false;
        }
    }

    static mysql_error translate(mysql_connection_state& s, const sql::SQLException& e,
                                 std::string prefix = {}) {
        const int code = e.getErrorCode();
        std::string state = e.getSQLState();
        const bool broken = mysql_error_is_broken(code, state);
        if (broken) s.broken = true;
        return mysql_error(scrub(prefix + e.what(), s.secret), code, std::move(state), broken);
    }

    static mysql_error timed_out(mysql_connection_state& s) {
        s.broken = true;
        return mysql_error("mysql: no answer from the server before the deadline", 0, {}, true);
    }

    // Runs `f` with the watchdog armed for `deadline`; a fired deadline becomes a broken
    // timeout error.
    template <class F>
    static auto bounded(mysql_connection_state& s, clock_type::time_point deadline, F&& f) {
        if (!s.conn) throw mysql_error("mysql: the connection is closed", 0, {}, true);
        std::uint64_t ticket = 0;
        if (deadline != no_deadline && s.fd >= 0 && s.watchdog) ticket = s.watchdog->arm(s.fd, deadline);
        auto fired = [&] { return ticket != 0 && s.watchdog->disarm(ticket); };
        try {
            if constexpr (std::is_void_v<decltype(f())>) {
                f();
                if (fired()) s.broken = true;
            } else {
                auto r = f();
                if (fired()) s.broken = true;
                return r;
            }
        } catch (const sql::SQLException& e) {
            if (fired()) throw timed_out(s);
            throw translate(s, e);
        } catch (...) {
            if (fired()) throw timed_out(s);
            throw;
        }
    }

    static void read_result(sql::ResultSet& rs, mysql_result& out) {
        sql::ResultSetMetaData* meta = rs.getMetaData();  // owned by the result set
        const unsigned n = meta->getColumnCount();
        out.columns.clear();
        for (unsigned i = 1; i <= n; ++i) out.columns.emplace_back(meta->getColumnLabel(i));
        while (rs.next()) {
            mysql_row row;
            row.reserve(n);
            for (unsigned i = 1; i <= n; ++i) {
                if (rs.isNull(i))
                    row.emplace_back();
                else
                    row.emplace_back(std::string(rs.getString(i)));
            }
            out.rows.push_back(std::move(row));
        }
    }

    static mysql_result run(mysql_connection_state& s, std::string_view sql,
                            const std::vector<std::optional<std::string>>& params) {
        const std::string text(sql);
        mysql_result out;
        if (params.empty()) {
            std::unique_ptr<sql::Statement> st(s.conn->createStatement());
            if (st->execute(text)) {
                std::unique_ptr<sql::ResultSet> rs(st->getResultSet());
                read_result(*rs, out);
            } else {
                out.affected = st->getUpdateCount();
            }
            // Every result must be read and freed, or the next call fails "out of sync".
            for (int guard = 0; guard < 1024 && st->getMoreResults(); ++guard) {
                std::unique_ptr<sql::ResultSet> more(st->getResultSet());
            }
        } else {
            std::unique_ptr<sql::PreparedStatement> ps(s.conn->prepareStatement(text));
            for (std::size_t i = 0; i < params.size(); ++i) {
                const auto index = static_cast<unsigned>(i + 1);
                if (params[i])
                    ps->setString(index, *params[i]);
                else
                    ps->setNull(index, 0);
            }
            // Connector/C++ 1.1 cannot report an update count after execute() on a prepared
            // statement, so pick the call by the statement's kind.
            std::size_t pos = 0;
            const std::string word = first_word_lower(sql, pos);
            static constexpr std::string_view with_rows[] = {"select",   "show", "with",    "values", "table",
                                                             "describe", "desc", "explain", "call"};
            if (std::find(std::begin(with_rows), std::end(with_rows), word) == std::end(with_rows)) {
                out.affected = static_cast<std::uint64_t>(std::max(0, ps->executeUpdate()));
            } else if (ps->execute()) {
                std::unique_ptr<sql::ResultSet> rs(ps->getResultSet());
                read_result(*rs, out);
                for (int guard = 0; guard < 1024 && ps->getMoreResults(); ++guard) {
                    std::unique_ptr<sql::ResultSet> more(ps->getResultSet());
                }
            }
        }
        return out;
    }
};

bool mysql_error_is_broken(int code, std::string_view sqlstate) noexcept {
    static constexpr int broken_codes[] = {
        2001, 2002, 2003, 2004, 2005, 2006, 2011,
        2012, 2013, 2014, 2026, 2027, 2048, 2055,  // client: no link
        1053, 1077, 1078, 1079, 1080,              // server shutting down
        1152, 1153, 1158, 1159, 1160, 1161,        // aborted, net errors
        1927,                                      // connection killed
        4031,                                      // idle session dropped
    };
    if (std::find(std::begin(broken_codes), std::end(broken_codes), code) != std::end(broken_codes))
        return true;
    return sqlstate.size() == 5 && sqlstate.substr(0, 2) == "08";
}

// ---- mysql_connection ----

mysql_connection::mysql_connection() noexcept = default;
mysql_connection::~mysql_connection() = default;
mysql_connection::mysql_connection(mysql_connection&&) noexcept = default;
mysql_connection& mysql_connection::operator=(mysql_connection&&) noexcept = default;

sql::Connection* mysql_connection::native_handle() noexcept {
    if (!state_) return nullptr;
    state_->maybe_in_transaction = true;
    return state_->conn.get();
}
void mysql_connection::mark_dirty() noexcept {
    if (state_) state_->changes.needs_reconnect = true;
}
bool mysql_connection::session_dirty() const noexcept {
    return state_ && state_->changes.any();
}
bool mysql_connection::session_needs_reconnect() const noexcept {
    return state_ && state_->changes.needs_reconnect;
}
bool mysql_connection::broken() const noexcept {
    return !state_ || state_->broken;
}
void mysql_connection::mark_broken() noexcept {
    if (state_) state_->broken = true;
}
std::uint64_t mysql_connection::connection_id() const noexcept {
    return state_ ? state_->id : 0;
}
std::chrono::milliseconds mysql_connection::query_timeout() const noexcept {
    return state_ ? state_->query_timeout : std::chrono::milliseconds{0};
}
void mysql_connection::set_query_timeout(std::chrono::milliseconds t) noexcept {
    if (state_) state_->query_timeout = t;
}

// ---- mysql_driver ----

mysql_driver::mysql_driver(mysql_options options)
    : options_(std::make_shared<const mysql_options>(std::move(options))),
      watchdog_(std::make_shared<mysql_watchdog>()) {
    const auto& o = *options_;
    const auto url = checked_url(o);
    schema_ = o.schema.empty() ? url.schema : o.schema;
    const std::string& schema = schema_;
    if (!url.schema.empty() && !o.schema.empty() && url.schema != o.schema) {
        throw mysql_error(scrub("mysql: schema given twice: \"" + url.schema + "\" in the url and \"" +
                                    o.schema + "\" in mysql_options::schema",
                                o.password),
                          0, {}, false);
    }
    std::string where = "unix:" + url.socket;
    if (!url.unix_socket) {
        const bool ipv6 = url.host.find(':') != std::string::npos;
        where = (ipv6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
    }
    description_ =
        scrub("mysql " + where + "/" + schema + (o.user.empty() ? "" : " user=" + o.user), o.password);
    drivers_detail::check_mysql_options(o);
}

std::string mysql_driver::describe() const {
    return description_;
}

mysql_connection mysql_driver::connect(std::chrono::steady_clock::time_point deadline) const {
    const auto& o = *options_;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - clock_type::now());
    if (deadline <= clock_type::now())
        throw mysql_error(description_ + ": cannot connect: the deadline has passed", 0, {}, true);

    auto state = std::make_unique<mysql_connection_state>();
    state->secret = o.password;
    state->query_timeout = o.query_timeout;
    state->watchdog = watchdog_;
    try {
        sql::ConnectOptionsMap map;
        map["hostName"] = sql::SQLString(o.url);
        map["userName"] = sql::SQLString(o.user);
        map["password"] = sql::SQLString(o.password);
        if (!o.schema.empty()) map["schema"] = sql::SQLString(o.schema);
        // Whole seconds, rounded down so the deadline holds (at least 1: 0 means "none"); no
        // deadline (acquire_timeout = forever) sets none, and a far one is capped to an int.
        // A connect_timeout shortens what the deadline leaves.
        auto connect_seconds = deadline != no_deadline ? std::max<std::chrono::seconds::rep>(left.count(), 1)
                                                       : std::chrono::seconds::rep{0};
        if (o.connect_timeout.count() > 0)
            connect_seconds = connect_seconds == 0 ? o.connect_timeout.count()
                                                   : std::min(connect_seconds, o.connect_timeout.count());
        if (connect_seconds > 0)
            map["OPT_CONNECT_TIMEOUT"] = static_cast<int>(
                std::min<std::chrono::seconds::rep>(connect_seconds, std::numeric_limits<int>::max()));
        if (o.read_timeout.count() > 0) map["OPT_READ_TIMEOUT"] = static_cast<int>(o.read_timeout.count());
        if (o.write_timeout.count() > 0) map["OPT_WRITE_TIMEOUT"] = static_cast<int>(o.write_timeout.count());
        map["OPT_RECONNECT"] = false;
        add_connection_properties(o, map);
        state->conn.reset(driver_instance()->connect(map));

        // Who we are on the server, which of our sockets this is (for the watchdog), and
        // whether TLS is in use (libmariadb may fall back to a plain connection silently).
        const bool tls = o.ssl_mode != mysql_ssl_mode::disabled;
        std::unique_ptr<sql::Statement> st(state->conn->createStatement());
        std::unique_ptr<sql::ResultSet> rs(st->executeQuery(
            std::string("SELECT CONNECTION_ID(), (SELECT HOST FROM information_schema.PROCESSLIST WHERE "
                        "ID = CONNECTION_ID())") +
            (tls ? ", (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = "
                   "'Ssl_cipher')"
                 : "")));
        if (rs->next()) {
            if (tls && std::string(rs->getString(3)).empty())
                throw mysql_error(description_ +
                                      ": cannot connect: ssl_mode requires TLS, but the server did "
                                      "not encrypt the connection (does it support TLS?)",
                                  0, {}, true);
            state->id = rs->getUInt64(1);
            const std::string host = rs->getString(2);
            const auto colon = host.rfind(':');
            const auto url = drivers_detail::parse_mysql_url(o.url);  // checked by the constructor
            if (!url.unix_socket && colon != std::string::npos) {
                const int local_port = std::atoi(host.c_str() + colon + 1);
                if (local_port > 0) state->fd = find_socket(local_port, url.port);
            }
        }
        rs.reset();
        st.reset();
        // The setup is part of the connect: it ends by the same deadline.
        mysql_access::bounded(*state, deadline, [&] { apply_session_setup(*state); });
    } catch (const mysql_error& e) {
        if (std::string_view(e.what()).substr(0, description_.size()) == description_) throw;
        throw mysql_error(description_ + ": cannot connect: " + e.what(), e.code(), e.sqlstate(), e.broken());
    } catch (const sql::SQLException& e) {
        throw mysql_access::translate(*state, e, description_ + ": cannot connect: ");
    } catch (const std::exception& e) {
        throw mysql_error(scrub(description_ + ": cannot connect: " + e.what(), o.password), 0, {}, true);
    }
    mysql_connection c;
    c.state_ = std::move(state);
    return c;
}

void mysql_driver::apply_session_setup(mysql_connection_state& s) const {
    const auto& o = *options_;
    auto step = [&](const std::string& field, const std::string& sql, auto&& run) {
        try {
            run();
        } catch (const sql::SQLException& e) {
            throw mysql_access::translate(s, e,
                                          description_ + ": session setup failed at " + field + " (" +
                                              drivers_detail::shown(sql) + "): ");
        }
    };
    if (const std::string sql = session_characteristics_sql(o); !sql.empty())
        step("transaction_isolation / read_only", sql, [&] { execute_all(*s.conn, sql); });
    for (std::size_t i = 0; i < o.init_sql.size(); ++i)
        step("init_sql[" + std::to_string(i) + "]", o.init_sql[i],
             [&] { execute_all(*s.conn, o.init_sql[i]); });
    // Last, so that init_sql runs in autocommit mode and leaves no transaction open.
    if (!o.auto_commit) step("auto_commit", "autocommit = 0", [&] { s.conn->setAutoCommit(false); });
    s.changes = {};
    s.maybe_in_transaction = false;
}

bool mysql_driver::is_valid(mysql_connection& c, std::chrono::milliseconds timeout) const noexcept {
    auto* s = c.state_.get();
    if (!s || !s->conn || s->broken) return false;
    try {
        const bool ok = mysql_access::bounded(*s, clock_type::now() + timeout, [&] {
            if (options_->validation_query.empty()) return s->conn->isValid();
            execute_all(*s->conn, options_->validation_query);
            return true;
        });
        if (!ok) s->broken = true;
        return ok && !s->broken;
    } catch (...) {
        s->broken = true;
        return false;
    }
}

bool mysql_driver::reset(mysql_connection& c) const noexcept {
    auto* s = c.state_.get();
    if (!s || !s->conn || s->broken || s->changes.needs_reconnect) return false;
    const auto& o = *options_;
    if (s->changes.schema && schema_.empty()) return false;  // no database to go back to
    if (mysql_access::nothing_to_undo(*s, o.auto_commit)) return true;  // no round trip, no watchdog
    try {
        const auto deadline = clock_type::now() + o.reset_timeout;
        const bool restore = s->changes.any();
        mysql_access::bounded(*s, deadline, [&] {
            // Before autocommit may be set back: turning it on would commit open work.
            if (restore || s->maybe_in_transaction) execute_all(*s->conn, "ROLLBACK");
            s->maybe_in_transaction = false;
            if (!restore) {
                // getAutoCommit() is Connector/C++'s own record: no round trip.
                if (s->conn->getAutoCommit() != o.auto_commit) s->conn->setAutoCommit(o.auto_commit);
                return;
            }
            if (const auto sql = drivers_detail::mysql_variables_reset_sql(s->changes); !sql.empty())
                execute_all(*s->conn, sql);
            if (s->changes.schema) s->conn->setSchema(schema_);
            // A SET autocommit in SQL leaves Connector/C++'s record stale: set it through the API.
            if (s->changes.variables.count("autocommit") != 0) s->conn->setAutoCommit(o.auto_commit);
            apply_session_setup(*s);
        });
        return !s->broken;
    } catch (...) {
        return false;
    }
}

bool mysql_driver::reset_is_local(const mysql_connection& c) const noexcept {
    const auto* s = c.state_.get();
    return s && s->conn && !s->broken && mysql_access::nothing_to_undo(*s, options_->auto_commit);
}

void mysql_driver::close(mysql_connection& c) const noexcept {
    c.state_.reset();
}

// ---- exec ----

const std::string& mysql_result::value(std::size_t row, std::size_t column) const {
    const auto& cell = rows.at(row).at(column);
    if (!cell) throw std::out_of_range("mysql_result: value is NULL");
    return *cell;
}

mysql_result exec(mysql_connection& c, std::string_view sql,
                  const std::vector<std::optional<std::string>>& params) {
    auto* s = mysql_access::state(c);
    if (!s || !s->conn) throw mysql_error("mysql: the connection is closed", 0, {}, true);
    auto change = drivers_detail::mysql_session_change_of(sql);
    const auto effect = transaction_effect(sql);
    // With autocommit off every statement may open a transaction (read from Connector/C++'s
    // record, no round trip).
    if (effect == tx_effect::begins || !s->conn->getAutoCommit()) s->maybe_in_transaction = true;
    const auto deadline = drivers_detail::deadline_after(s->query_timeout);
    try {
        auto out = mysql_access::bounded(*s, deadline, [&] { return mysql_access::run(*s, sql, params); });
        if (effect == tx_effect::ends && s->conn->getAutoCommit()) s->maybe_in_transaction = false;
        s->changes.merge(change);
        return out;
    } catch (...) {
        // A failed statement may still have changed part of the session (one of several SETs):
        // judge it as if it ran.
        s->changes.merge(change);
        throw;
    }
}

}  // namespace lifeguard
