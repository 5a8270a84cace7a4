// libpq driver: connect with a deadline, validate with a bounded empty query, roll back and
// (only when the session may be dirty) reset on return, classify broken connections, and
// keep passwords out of every text it produces. All waiting goes through poll() on the
// connection's socket so that no call blocks past its deadline.
#include "lifeguard/postgres.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <utility>

#include "option_checks.hpp"
#include "scrub.hpp"
#include "sql_text.hpp"

namespace lifeguard {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto no_deadline = clock_type::time_point::max();

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

struct options_deleter {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};

std::string trimmed(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

using drivers_detail::scrub;

// Best effort for a conninfo libpq cannot parse: the value after "password=" or the
// "user:password@" part of a URI, so that an error message quoting the string can be scrubbed.
std::string guess_password(std::string_view conninfo) {
    if (auto at = conninfo.find('@');
        conninfo.find("://") != std::string_view::npos && at != std::string_view::npos) {
        auto start = conninfo.find("://") + 3;
        auto colon = conninfo.find(':', start);
        if (colon != std::string_view::npos && colon < at)
            return std::string(conninfo.substr(colon + 1, at - colon - 1));
    }
    auto key = conninfo.find("password");
    if (key == std::string_view::npos) return {};
    auto pos = conninfo.find('=', key);
    if (pos == std::string_view::npos) return {};
    ++pos;
    while (pos < conninfo.size() && conninfo[pos] == ' ') ++pos;
    if (pos < conninfo.size() && conninfo[pos] == '\'') {
        auto end = conninfo.find('\'', pos + 1);
        return std::string(conninfo.substr(pos + 1, end == std::string_view::npos ? end : end - pos - 1));
    }
    auto end = conninfo.find(' ', pos);
    return std::string(conninfo.substr(pos, end == std::string_view::npos ? end : end - pos));
}

// Waits until the socket is readable (or writable when `for_write`) or the deadline passes.
// Returns 1 when ready, 0 on timeout, -1 on error.
int wait_socket(PGconn* c, bool for_read, bool for_write, clock_type::time_point deadline) {
    const int fd = PQsocket(c);
    if (fd < 0) return -1;
    pollfd p{fd, static_cast<short>((for_read ? POLLIN : 0) | (for_write ? POLLOUT : 0)), 0};
    for (;;) {
        int timeout_ms = -1;
        if (deadline != no_deadline) {
            const auto left = deadline - clock_type::now();
            if (left <= clock_type::duration::zero()) return 0;
            // Round up so that we never wake just before the deadline and spin.
            timeout_ms = static_cast<int>(
                std::min<long long>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1 << 30));
        }
        const int n = ::poll(&p, 1, timeout_ms);
        if (n > 0) return 1;
        if (n == 0) {
            if (deadline != no_deadline && clock_type::now() >= deadline) return 0;
            continue;
        }
        if (errno != EINTR) return -1;
    }
}

using drivers_detail::contains_lower;

std::string first_word_lower(std::string_view sql, std::size_t& pos) {
    return drivers_detail::first_word_lower(sql, pos, drivers_detail::line_comments::dash);
}

// True when one statement may leave state in the session beyond its transaction.
bool statement_changes_session(std::string_view sql) {
    std::size_t pos = 0;
    const std::string word = first_word_lower(sql, pos);
    if (word.empty()) return false;
    if (word == "set") {
        const std::string next = first_word_lower(sql, pos);
        return next != "local" && next != "transaction" && next != "constraints";
    }
    static constexpr std::string_view plain[] = {
        "select",  "insert",  "update",   "delete", "with",     "values", "table",     "merge",
        "begin",   "start",   "commit",   "end",    "rollback", "abort",  "savepoint", "release",
        "explain", "show",    "truncate", "lock",   "create",   "drop",   "alter",     "grant",
        "revoke",  "comment", "analyze",  "vacuum", "copy"};
    if (std::find(std::begin(plain), std::end(plain), word) == std::end(plain)) return true;
    if (word == "create") {
        // CREATE TEMP TABLE lives as long as the session.
        const std::string next = first_word_lower(sql, pos);
        if (next == "temp" || next == "temporary" || next == "local" || next == "global") return true;
    }
    // Session side effects hidden in a query.
    return contains_lower(sql, "set_config") || contains_lower(sql, "advisory_lock");
}

bool changes_session(std::string_view sql) {
    // Several statements in one string: judge each (a ';' inside a literal only makes the
    // answer more cautious).
    std::size_t start = 0;
    for (;;) {
        const auto semi = sql.find(';', start);
        if (statement_changes_session(
                sql.substr(start, semi == std::string_view::npos ? semi : semi - start)))
            return true;
        if (semi == std::string_view::npos) return false;
        start = semi + 1;
    }
}

// Statements that open or end a transaction themselves: exec() sends no BEGIN before them
// when auto_commit is off.
bool controls_transactions(std::string_view sql) {
    std::size_t pos = 0;
    const std::string word = first_word_lower(sql, pos);
    static constexpr std::string_view control[] = {"begin",    "start", "commit",    "end",
                                                   "rollback", "abort", "savepoint", "release"};
    if (word == "prepare") return first_word_lower(sql, pos) == "transaction";
    return std::find(std::begin(control), std::end(control), word) != std::end(control);
}

std::string_view isolation_text(postgres_isolation level) {
    switch (level) {
        case postgres_isolation::read_uncommitted:
            return "read uncommitted";
        case postgres_isolation::read_committed:
            return "read committed";
        case postgres_isolation::repeatable_read:
            return "repeatable read";
        case postgres_isolation::serializable:
            return "serializable";
        case postgres_isolation::server_default:
            break;
    }
    return {};
}

// Throws postgres_error naming the first invalid option.
void check_options(const postgres_options& o, const std::string& secret) {
    using drivers_detail::invalid_option;
    using drivers_detail::shown;
    using drivers_detail::sql_option_problem;
    auto reject = [&](std::string_view field, std::string_view value, std::string_view rule) {
        throw postgres_error(scrub(invalid_option("postgres", field, value, rule), secret), {}, false);
    };
    auto check_sql = [&](std::string_view field, const std::string& text) {
        if (auto problem = sql_option_problem(text); !problem.empty()) reject(field, shown(text), problem);
    };
    if (o.reset_timeout <= std::chrono::milliseconds::zero() || o.reset_timeout > std::chrono::hours(1))
        reject("reset_timeout", std::to_string(o.reset_timeout.count()) + " ms",
               "must be > 0 and at most 1 h");
    if (o.query_timeout < std::chrono::milliseconds::zero())
        reject("query_timeout", std::to_string(o.query_timeout.count()) + " ms",
               "must be >= 0 (0 or milliseconds::max() = none)");
    check_sql("reset_query", o.reset_query);
    if (isolation_text(o.transaction_isolation).empty() &&
        o.transaction_isolation != postgres_isolation::server_default)
        reject("transaction_isolation", std::to_string(static_cast<int>(o.transaction_isolation)),
               "must be one of server_default, read_uncommitted, read_committed, repeatable_read, "
               "serializable");
    if (!o.search_path.empty()) check_sql("search_path", o.search_path);
    for (std::size_t i = 0; i < o.init_sql.size(); ++i)
        check_sql("init_sql[" + std::to_string(i) + "]", o.init_sql[i]);
    if (!o.validation_query.empty()) check_sql("validation_query", o.validation_query);
}

}  // namespace

// Internals shared by exec(), is_valid() and reset().
struct postgres_access {
    static bool idle(const postgres_connection& c) noexcept {
        return c.conn_ && PQtransactionStatus(c.conn_) == PQTRANS_IDLE;
    }

    static postgres_error error(const postgres_connection& c, std::string message, std::string sqlstate,
                                bool broken) {
        return postgres_error(scrub(trimmed(std::move(message)), c.secret_), std::move(sqlstate), broken);
    }

    static postgres_error connection_error(postgres_connection& c, std::string_view what) {
        std::string text(what);
        if (const char* m = PQerrorMessage(c.conn_); m && *m) text += std::string(": ") + m;
        const bool broken = PQstatus(c.conn_) == CONNECTION_BAD;
        if (broken) c.broken_ = true;
        return error(c, std::move(text), {}, broken);
    }

    // Sends `sql` and collects its results before `deadline`. Returns the last successful
    // result; throws postgres_error for a statement error (after draining every result so the
    // connection stays usable), a lost connection or a timeout (both leave it broken).
    static result_ptr run(postgres_connection& c, std::string_view sql,
                          const std::vector<std::optional<std::string>>& params,
                          clock_type::time_point deadline) {
        PGconn* conn = c.conn_;
        if (!conn) throw postgres_error("postgres: the connection is closed", {}, true);
        const std::string text(sql);
        int sent;
        if (params.empty()) {
            sent = PQsendQuery(conn, text.c_str());
        } else {
            std::vector<const char*> values;
            values.reserve(params.size());
            for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
            sent = PQsendQueryParams(conn, text.c_str(), static_cast<int>(values.size()), nullptr,
                                     values.data(), nullptr, nullptr, 0);
        }
        if (!sent) throw connection_error(c, "postgres: could not send the statement");

        // The connection is non-blocking: push the whole statement out first.
        for (int f; (f = PQflush(conn)) != 0;) {
            if (f < 0) throw connection_error(c, "postgres: could not send the statement");
            const int w = wait_socket(conn, true, true, deadline);
            if (w == 0) throw timed_out(c);
            if (w < 0 || !PQconsumeInput(conn)) throw connection_error(c, "postgres: connection lost");
        }

        result_ptr last;
        result_ptr failure;
        for (;;) {
            while (PQisBusy(conn)) {
                const int w = wait_socket(conn, true, false, deadline);
                if (w == 0) throw timed_out(c);
                if (w < 0 || !PQconsumeInput(conn)) {
                    // The server may have said why before closing (e.g. 57P01): prefer that.
                    if (!PQisBusy(conn)) break;
                    throw connection_error(c, "postgres: connection lost");
                }
            }
            result_ptr r(PQgetResult(conn));
            if (!r) break;
            switch (PQresultStatus(r.get())) {
                case PGRES_COMMAND_OK:
                case PGRES_TUPLES_OK:
                case PGRES_EMPTY_QUERY:
                    last = std::move(r);
                    break;
                case PGRES_COPY_IN:
                case PGRES_COPY_OUT:
                case PGRES_COPY_BOTH:
                    c.broken_ = true;  // we cannot drive COPY here; the session is left mid-protocol
                    throw error(c, "postgres: COPY is not supported by exec()", {}, true);
                default:
                    if (!failure) failure = std::move(r);
                    break;
            }
            if (PQstatus(conn) == CONNECTION_BAD) break;
        }
        if (failure || PQstatus(conn) == CONNECTION_BAD) {
            const char* state = failure ? PQresultErrorField(failure.get(), PG_DIAG_SQLSTATE) : nullptr;
            std::string sqlstate = state ? state : "";
            const bool broken = PQstatus(conn) == CONNECTION_BAD || postgres_sqlstate_is_broken(sqlstate);
            if (broken) c.broken_ = true;
            std::string message = failure ? PQresultErrorMessage(failure.get()) : PQerrorMessage(conn);
            if (message.empty()) message = "postgres: connection lost";
            throw error(c, std::move(message), std::move(sqlstate), broken);
        }
        return last;
    }

    static postgres_error timed_out(postgres_connection& c) {
        // A statement may still be running on the server, so the connection cannot be reused.
        c.broken_ = true;
        return error(c, "postgres: no answer from the server before the deadline", {}, true);
    }
};

bool postgres_sqlstate_is_broken(std::string_view s) noexcept {
    if (s.size() != 5) return false;
    if (s.substr(0, 2) == "08") return true;
    return s == "57P01" || s == "57P02" || s == "57P03" || s == "57P04";
}

// ---- postgres_connection ----

postgres_connection::~postgres_connection() {
    if (conn_) PQfinish(conn_);
}

postgres_connection::postgres_connection(postgres_connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      dirty_(other.dirty_),
      broken_(other.broken_),
      query_timeout_(other.query_timeout_),
      auto_commit_(other.auto_commit_),
      secret_(std::move(other.secret_)) {}

postgres_connection& postgres_connection::operator=(postgres_connection&& other) noexcept {
    if (this != &other) {
        if (conn_) PQfinish(conn_);
        conn_ = std::exchange(other.conn_, nullptr);
        dirty_ = other.dirty_;
        broken_ = other.broken_;
        query_timeout_ = other.query_timeout_;
        auto_commit_ = other.auto_commit_;
        secret_ = std::move(other.secret_);
    }
    return *this;
}

int postgres_connection::backend_pid() const noexcept {
    return conn_ ? PQbackendPID(conn_) : 0;
}

// ---- postgres_driver ----

postgres_driver::postgres_driver(postgres_options options) : options_(std::move(options)) {
    char* err = nullptr;
    std::unique_ptr<PQconninfoOption, options_deleter> parsed(
        PQconninfoParse(options_.conninfo.c_str(), &err));
    if (!parsed) {
        std::string message = err ? err : "out of memory";
        if (err) PQfreemem(err);
        throw postgres_error("postgres: invalid conninfo: " +
                                 scrub(trimmed(std::move(message)), guess_password(options_.conninfo)),
                             {}, false);
    }
    std::string host, port, dbname, user;
    for (auto* o = parsed.get(); o->keyword; ++o) {
        if (!o->val) continue;
        const std::string_view key = o->keyword;
        settings_.emplace_back(key, key == "password" && *o->val ? "***" : o->val);
        if (key == "password")
            secret_ = o->val;
        else if (key == "host")
            host = o->val;
        else if (key == "hostaddr" && host.empty())
            host = o->val;
        else if (key == "port")
            port = o->val;
        else if (key == "dbname")
            dbname = o->val;
        else if (key == "user")
            user = o->val;
    }
    check_options(options_, secret_);
    auto add_setting = [&](std::string name, std::string value) {
        const auto n = settings_params_.size();
        settings_sql_ += (settings_sql_.empty() ? "SELECT " : ", ");
        settings_sql_ += "set_config($" + std::to_string(n + 1) + ", $" + std::to_string(n + 2) + ", false)";
        settings_params_.emplace_back(std::move(name));
        settings_params_.emplace_back(std::move(value));
    };
    if (options_.read_only) add_setting("default_transaction_read_only", "on");
    if (auto level = isolation_text(options_.transaction_isolation); !level.empty())
        add_setting("default_transaction_isolation", std::string(level));
    if (!options_.search_path.empty()) add_setting("search_path", options_.search_path);
    description_ = "postgres " + (host.empty() ? std::string("localhost") : host) + ":" +
                   (port.empty() ? std::string("5432") : port) + "/" + dbname;
    if (!user.empty()) description_ += " user=" + user;
    description_ = scrub(std::move(description_), secret_);
}

std::string postgres_driver::describe() const {
    return description_;
}

postgres_connection postgres_driver::connect(std::chrono::steady_clock::time_point deadline) const {
    postgres_connection c;
    c.secret_ = secret_;
    c.query_timeout_ = options_.query_timeout;
    c.conn_ = PQconnectStart(options_.conninfo.c_str());
    if (!c.conn_) throw postgres_error(description_ + ": out of memory", {}, true);

    auto fail = [&](std::string_view why) {
        std::string text = description_ + ": " + std::string(why);
        if (const char* m = PQerrorMessage(c.conn_); m && *m) text += std::string(": ") + m;
        return postgres_error(scrub(trimmed(std::move(text)), secret_), {}, true);
    };
    if (PQstatus(c.conn_) == CONNECTION_BAD) throw fail("cannot connect");

    // As documented for PQconnectPoll: start as if it had asked to wait for writing.
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) throw fail("cannot connect");
        const int w =
            wait_socket(c.conn_, state == PGRES_POLLING_READING, state == PGRES_POLLING_WRITING, deadline);
        if (w == 0) {
            throw postgres_error(description_ + ": cannot connect: no answer before the deadline", {}, true);
        }
        if (w < 0) throw fail("cannot connect");
        state = PQconnectPoll(c.conn_);
    }
    // Notices (e.g. "relation already exists, skipping") would go to stderr by default.
    PQsetNoticeProcessor(
        c.conn_, [](void*, const char*) {}, nullptr);
    // From here on every wait is ours (poll with a deadline), never libpq's.
    if (PQsetnonblocking(c.conn_, 1) != 0) throw fail("cannot switch to non-blocking mode");
    c.auto_commit_ = options_.auto_commit;
    apply_session_setup(c, deadline);
    return c;
}

void postgres_driver::apply_session_setup(postgres_connection& c, clock_type::time_point deadline) const {
    auto step = [&](const std::string& field, const std::string& sql,
                    const std::vector<std::optional<std::string>>& params) {
        try {
            postgres_access::run(c, sql, params, deadline);
        } catch (const postgres_error& e) {
            throw postgres_error(scrub(description_ + ": session setup failed at " + field + " (" +
                                           drivers_detail::shown(sql) + "): " + e.what(),
                                       secret_),
                                 e.sqlstate(), true);
        }
    };
    if (!settings_sql_.empty())
        step("read_only / transaction_isolation / search_path", settings_sql_, settings_params_);
    for (std::size_t i = 0; i < options_.init_sql.size(); ++i)
        step("init_sql[" + std::to_string(i) + "]", options_.init_sql[i], {});
    // A setup that left a transaction open (an init_sql BEGIN) would swallow the first lease's work.
    if (PQtransactionStatus(c.conn_) != PQTRANS_IDLE)
        throw postgres_error(description_ + ": session setup failed: init_sql left a transaction open", {},
                             true);
}

bool postgres_driver::is_valid(postgres_connection& c, std::chrono::milliseconds timeout) const noexcept {
    if (!c.conn_ || c.broken_ || PQstatus(c.conn_) != CONNECTION_OK) return false;
    if (PQtransactionStatus(c.conn_) == PQTRANS_ACTIVE) return false;
    try {
        postgres_access::run(c, options_.validation_query, {}, clock_type::now() + timeout);
        return true;
    } catch (...) {
        c.broken_ = true;
        return false;
    }
}

bool postgres_driver::reset(postgres_connection& c) const noexcept {
    if (!c.conn_ || c.broken_ || PQstatus(c.conn_) != CONNECTION_OK) return false;
    try {
        const auto deadline = clock_type::now() + options_.reset_timeout;
        switch (PQtransactionStatus(c.conn_)) {
            case PQTRANS_IDLE:
                break;
            case PQTRANS_INTRANS:
            case PQTRANS_INERROR:
                postgres_access::run(c, "ROLLBACK", {}, deadline);
                break;
            default:  // PQTRANS_UNKNOWN (bad connection) or PQTRANS_ACTIVE (a query in flight)
                return false;
        }
        c.auto_commit_ = options_.auto_commit;
        if (c.dirty_) {
            postgres_access::run(c, options_.reset_query, {}, deadline);
            while (PGnotify* n = PQnotifies(c.conn_)) PQfreemem(n);
            apply_session_setup(c, deadline);
            c.dirty_ = false;
        }
        return PQtransactionStatus(c.conn_) == PQTRANS_IDLE;
    } catch (...) {
        return false;
    }
}

bool postgres_driver::reset_is_local(const postgres_connection& c) const noexcept {
    // What reset() checks before it would send anything: then it only restores auto_commit.
    return c.conn_ && !c.broken_ && !c.dirty_ && PQstatus(c.conn_) == CONNECTION_OK &&
           PQtransactionStatus(c.conn_) == PQTRANS_IDLE;
}

void postgres_driver::close(postgres_connection& c) const noexcept {
    if (c.conn_) PQfinish(std::exchange(c.conn_, nullptr));
}

// ---- exec ----

const std::string& postgres_result::value(std::size_t row, std::size_t column) const {
    const auto& cell = rows.at(row).at(column);
    if (!cell) throw std::out_of_range("postgres_result: value is NULL");
    return *cell;
}

postgres_result exec(postgres_connection& c, std::string_view sql,
                     const std::vector<std::optional<std::string>>& params) {
    if (changes_session(sql)) c.mark_dirty();
    const auto deadline = drivers_detail::deadline_after(c.query_timeout());
    if (!c.auto_commit() && postgres_access::idle(c) && !controls_transactions(sql))
        postgres_access::run(c, "BEGIN", {}, deadline);
    result_ptr r = postgres_access::run(c, sql, params, deadline);
    postgres_result out;
    if (!r) return out;
    const int columns = PQnfields(r.get());
    const int rows = PQntuples(r.get());
    out.columns.reserve(static_cast<std::size_t>(columns));
    for (int j = 0; j < columns; ++j) out.columns.emplace_back(PQfname(r.get(), j));
    out.rows.reserve(static_cast<std::size_t>(rows));
    for (int i = 0; i < rows; ++i) {
        postgres_row row;
        row.reserve(static_cast<std::size_t>(columns));
        for (int j = 0; j < columns; ++j) {
            if (PQgetisnull(r.get(), i, j))
                row.emplace_back();
            else
                row.emplace_back(std::string(PQgetvalue(r.get(), i, j),
                                             static_cast<std::size_t>(PQgetlength(r.get(), i, j))));
        }
        out.rows.push_back(std::move(row));
    }
    if (const char* n = PQcmdTuples(r.get()); n && *n) out.affected = std::stoull(n);
    return out;
}

}  // namespace lifeguard
