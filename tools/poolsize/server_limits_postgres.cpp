// query_pg_limits() through lifeguard's own PostgreSQL driver (lifeguard::postgres): one short
// connection, one query on pg_settings. libpq itself stays inside drivers/postgres.
#include <charconv>
#include <chrono>
#include <climits>
#include <optional>
#include <string>
#include <string_view>

#include "lifeguard/postgres.hpp"
#include "server_limits.hpp"
#include "usage_error.hpp"

namespace lifeguard::poolsize {
namespace {

using clock_type = std::chrono::steady_clock;

// Applies when the conninfo sets no connect_timeout; it also bounds the query.
constexpr int default_timeout_seconds = 10;

// libpq's messages end with a newline and may span lines ("...failed: ...\n\tIs the server
// running...?"): one line reads better on stderr and in scripts.
std::string one_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    std::string flat;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n') {
            flat += text[i];
            continue;
        }
        while (i + 1 < text.size() && (text[i + 1] == '\t' || text[i + 1] == ' ')) ++i;
        flat += "; ";
    }
    return flat;
}

// The driver's message without the prefix it starts with (its own name for the server, or
// "postgres: invalid conninfo: "), since our message says where and what already.
std::string without_prefix(std::string text, std::string_view prefix) {
    if (std::string_view(text).starts_with(prefix)) text.erase(0, prefix.size());
    return one_line(std::move(text));
}

std::string setting_of(const postgres::driver& driver, std::string_view key) {
    for (const auto& [name, value] : driver.conninfo_settings()) {
        if (name == key) return value;
    }
    return {};
}

// Where we connect, for reports and errors: the conninfo's host, hostaddr, port, dbname, user
// and "password=***" when it has one. The driver never hands out the password itself.
std::string describe_target(const postgres::driver& driver) {
    std::string where;
    for (const std::string_view key : {"host", "hostaddr", "port", "dbname", "user", "password"}) {
        if (const std::string value = setting_of(driver, key); !value.empty()) {
            where += (where.empty() ? "" : " ") + std::string(key) + "=" + value;
        }
    }
    return where.empty() ? "(libpq defaults)" : where;
}

// connect_timeout as libpq reads it: whole seconds, 0 or less waits without a limit, and 1
// counts as 2 (libpq's minimum). nullopt = no limit.
std::optional<std::chrono::seconds> timeout_of(const postgres::driver& driver, const std::string& where) {
    const std::string text = setting_of(driver, "connect_timeout");
    if (text.empty()) return std::chrono::seconds(default_timeout_seconds);
    int seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw usage_error("--pg " + where + ": connect_timeout is \"" + text +
                          "\", not a whole number of seconds up to " + std::to_string(INT_MAX) +
                          " (0 or less waits without a limit)");
    }
    if (seconds <= 0) return std::nullopt;
    return std::chrono::seconds(seconds < 2 ? 2 : seconds);
}

std::string timeout_text(const std::optional<std::chrono::seconds>& timeout) {
    return timeout ? "connect_timeout " + std::to_string(timeout->count()) + " s" : "no connect_timeout";
}

std::size_t whole_number(std::string_view name, const std::optional<std::string>& value,
                         const std::string& where) {
    std::size_t n = 0;
    const std::string_view text = value ? std::string_view(*value) : std::string_view("NULL");
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (!value || ec != std::errc{} || end != text.data() + text.size()) {
        throw usage_error("--pg " + where + ": server setting " + std::string(name) + " is \"" +
                          std::string(text) + "\", not a whole number");
    }
    return n;
}

pg_limits read_limits(const postgres::result& settings, const std::string& where) {
    pg_limits limits;
    limits.where = where;
    bool have_max = false;
    bool have_superuser = false;
    for (const postgres::row& row : settings.rows) {
        const std::string name = row.at(0).value_or("");
        const std::optional<std::string>& value = row.at(1);
        if (name == "max_connections") {
            limits.max_connections = whole_number(name, value, where);
            have_max = true;
        } else if (name == "superuser_reserved_connections") {
            limits.superuser_reserved_connections = whole_number(name, value, where);
            have_superuser = true;
        } else if (name == "reserved_connections") {  // PostgreSQL 16+
            limits.reserved_connections = whole_number(name, value, where);
        } else if (name == "server_version") {
            // "15.18 (Debian 15.18-0+deb12u1)": the version number is enough.
            const std::string_view version = value ? std::string_view(*value) : std::string_view();
            limits.server_version = std::string(version.substr(0, version.find(' ')));
        }
    }
    if (!have_max || !have_superuser) {
        throw usage_error("--pg " + where +
                          ": pg_settings lacks max_connections or superuser_reserved_connections");
    }
    return limits;
}

postgres::driver make_driver(const std::string& conninfo) {
    try {
        return postgres::driver{conninfo};
    } catch (const postgres::error& e) {
        // libpq quotes the offending text, which could be the password: show its detail only
        // when masking changes nothing.
        const std::string masked = mask_conninfo(conninfo);
        const std::string detail = masked == conninfo
                                       ? without_prefix(e.what(), "postgres: invalid conninfo: ")
                                       : "libpq's detail is withheld because it could quote the password";
        throw usage_error("--pg " + masked + ": malformed conninfo: " + detail);
    }
}

}  // namespace

pg_limits query_pg_limits(const std::string& conninfo) {
    const postgres::driver driver = make_driver(conninfo);
    const std::string where = describe_target(driver);
    const std::optional<std::chrono::seconds> timeout = timeout_of(driver, where);
    const std::string driver_prefix = driver.describe() + ": ";

    const auto deadline = timeout ? clock_type::now() + *timeout : clock_type::time_point::max();
    postgres::connection connection;
    try {
        connection = driver.connect(deadline);
    } catch (const postgres::error& e) {
        throw usage_error("--pg " + where + ": " + without_prefix(e.what(), driver_prefix) + " (" +
                          timeout_text(timeout) + ")");
    }
    connection.set_query_timeout(timeout.value_or(std::chrono::seconds(0)));
    try {
        return read_limits(
            postgres::exec(connection,
                           "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN "
                           "('max_connections', 'superuser_reserved_connections', 'reserved_connections', "
                           "'server_version')"),
            where);
    } catch (const postgres::error& e) {
        throw usage_error("--pg " + where + ": cannot read pg_settings: " + one_line(e.what()));
    }
}

}  // namespace lifeguard::poolsize
