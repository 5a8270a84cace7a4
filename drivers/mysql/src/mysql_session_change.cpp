// The MariaDB driver's reading of session changes (see mysql_session_change.hpp). It reads only
// what it must: the statement's first words, the targets of a SET, and '@' names outside quoted
// text. When unsure it answers "needs a reconnect", which is always correct, only slower.
#include "mysql_session_change.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <vector>

#include "sql_text.hpp"

namespace lifeguard::drivers_detail {

namespace {

std::string next_word(std::string_view sql, std::size_t& pos) {
    return first_word_lower(sql, pos, line_comments::dash_and_hash);
}

bool is_quote(char c) {
    return c == '\'' || c == '"' || c == '`';
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Moves `pos` (at a quote) past the quoted text, honouring backslash escapes and doubled quotes.
void skip_quoted(std::string_view sql, std::size_t& pos) {
    const char quote = sql[pos++];
    while (pos < sql.size()) {
        const char c = sql[pos++];
        if (c == '\\' && quote != '`') {
            ++pos;
        } else if (c == quote) {
            if (pos < sql.size() && sql[pos] == quote)
                ++pos;
            else
                return;
        }
    }
}

// The parts of `sql` between top-level commas (not inside quotes or parentheses).
std::vector<std::string_view> top_level_parts(std::string_view sql) {
    std::vector<std::string_view> parts;
    std::size_t start = 0, pos = 0;
    int depth = 0;
    while (pos < sql.size()) {
        const char c = sql[pos];
        if (is_quote(c)) {
            skip_quoted(sql, pos);
            continue;
        }
        if (c == '(') ++depth;
        if (c == ')' && depth > 0) --depth;
        if (c == ',' && depth == 0) {
            parts.push_back(sql.substr(start, pos - start));
            start = pos + 1;
        }
        ++pos;
    }
    parts.push_back(sql.substr(start));
    return parts;
}

std::string lower_name_at(std::string_view sql, std::size_t& pos) {
    std::string name;
    while (pos < sql.size() && is_name_char(sql[pos]))
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[pos++])));
    return name;
}

// Variables whose DEFAULT is not the connection's first value: the handshake sets them.
bool set_by_handshake(const std::string& name) {
    return name.rfind("character_set_", 0) == 0 || name.rfind("collation_", 0) == 0;
}

// One "target = value" of a SET list.
void read_assignment(std::string_view part, mysql_session_change& change) {
    std::size_t pos = 0;
    skip_blanks_and_comments(part, pos, line_comments::dash_and_hash);
    std::string name;
    bool user = false;
    if (part.substr(pos, 2) == "@@") {
        pos += 2;
        name = lower_name_at(part, pos);
        if (pos < part.size() && part[pos] == '.') {
            if (name != "session" && name != "local") {  // @@global.x, @@persist.x
                change.needs_reconnect = true;
                return;
            }
            ++pos;
            name = lower_name_at(part, pos);
        }
    } else if (part.substr(pos, 1) == "@") {
        ++pos;
        user = true;
        name = lower_name_at(part, pos);
    } else {
        name = lower_name_at(part, pos);
        if (name == "session" || name == "local") {
            skip_blanks_and_comments(part, pos, line_comments::dash_and_hash);
            name = lower_name_at(part, pos);
        }
    }
    skip_blanks_and_comments(part, pos, line_comments::dash_and_hash);
    const bool assigns = part.substr(pos, 1) == "=" || part.substr(pos, 2) == ":=";
    // Anything else (GLOBAL, NAMES, CHARACTER SET, PASSWORD, ROLE, a quoted @'name', ...) is
    // not undone in SQL.
    if (name.empty() || !assigns || (!user && set_by_handshake(name)) ||
        (!user && (name == "global" || name == "persist" || name == "names"))) {
        change.needs_reconnect = true;
        return;
    }
    (user ? change.user_variables : change.variables).insert(name);
}

void read_set(std::string_view sql, std::size_t pos, mysql_session_change& change) {
    std::size_t probe = pos;
    const std::string word = next_word(sql, probe);
    if (word == "session" || word == "local") {
        std::size_t after = probe;
        if (next_word(sql, after) == "transaction") {
            // SET SESSION TRANSACTION ISOLATION LEVEL / READ ONLY: MariaDB's tx_ variables.
            change.variables.insert("tx_isolation");
            change.variables.insert("tx_read_only");
            return;
        }
    }
    // SET TRANSACTION (the next transaction only), SET STATEMENT ... FOR: not undone in SQL.
    if (word == "transaction" || word == "statement") {
        change.needs_reconnect = true;
        return;
    }
    for (std::string_view part : top_level_parts(sql.substr(pos))) read_assignment(part, change);
}

// User variables named outside quoted text (the statement assigns some of them).
void read_user_variables(std::string_view sql, mysql_session_change& change) {
    std::size_t pos = 0;
    while (pos < sql.size()) {
        const char c = sql[pos];
        if (is_quote(c)) {
            skip_quoted(sql, pos);
            continue;
        }
        if (c != '@') {
            ++pos;
            continue;
        }
        if (sql.substr(pos, 2) == "@@") {  // a system variable read
            pos += 2;
            continue;
        }
        ++pos;
        if (pos < sql.size() && is_quote(sql[pos])) {
            change.needs_reconnect = true;
            return;
        }
        const std::string name = lower_name_at(sql, pos);
        if (!name.empty()) change.user_variables.insert(name);
    }
}

}  // namespace

void mysql_session_change::merge(const mysql_session_change& other) {
    needs_reconnect = needs_reconnect || other.needs_reconnect;
    schema = schema || other.schema;
    variables.insert(other.variables.begin(), other.variables.end());
    user_variables.insert(other.user_variables.begin(), other.user_variables.end());
}

mysql_session_change mysql_session_change_of(std::string_view sql) {
    mysql_session_change change;
    std::size_t pos = 0;
    const std::string word = next_word(sql, pos);
    if (word.empty()) return change;
    if (word == "set") {
        read_set(sql, pos, change);
        return change;
    }
    if (word == "use") {
        change.schema = true;
        return change;
    }
    static constexpr std::string_view plain[] = {
        "select",   "insert",   "update", "delete",   "replace",   "with",     "values",  "table",
        "begin",    "start",    "commit", "rollback", "savepoint", "release",  "explain", "show",
        "describe", "desc",     "create", "drop",     "alter",     "truncate", "grant",   "revoke",
        "analyze",  "optimize", "load",   "do",       "kill",      "rename"};
    if (std::find(std::begin(plain), std::end(plain), word) == std::end(plain)) {
        change.needs_reconnect = true;  // PREPARE, LOCK TABLES, HANDLER, CALL, ...
        return change;
    }
    if (word == "create" && next_word(sql, pos) == "temporary") {
        change.needs_reconnect = true;
        return change;
    }
    if (contains_lower(sql, "get_lock")) {
        change.needs_reconnect = true;
        return change;
    }
    // Session side effects hidden in a query: user variables assigned by := or INTO.
    if (sql.find('@') != std::string_view::npos &&
        (sql.find(":=") != std::string_view::npos || contains_lower(sql, "into")))
        read_user_variables(sql, change);
    return change;
}

std::string mysql_variables_reset_sql(const mysql_session_change& change) {
    std::string sql;
    auto add = [&](const std::string& assignment) { sql += (sql.empty() ? "SET " : ", ") + assignment; };
    for (const auto& name : change.variables) add("@@session." + name + " = DEFAULT");
    for (const auto& name : change.user_variables) add("@" + name + " = NULL");
    return sql;
}

}  // namespace lifeguard::drivers_detail
