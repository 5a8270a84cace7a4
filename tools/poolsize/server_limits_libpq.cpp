// query_pg_limits() with libpq: one short connection, one query on pg_settings.
#include <libpq-fe.h>

#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server_limits.hpp"
#include "usage_error.hpp"

namespace lifeguard::poolsize {
namespace {

struct conn_closer {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_clearer {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct options_freer {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};

// Removes every occurrence of `secret` from `text`: libpq's messages do not quote the password,
// this is defence in depth. Passwords shorter than 4 characters are left alone, since masking
// every "x" in a message would only garble it.
std::string scrub(std::string text, const std::string& secret) {
    if (secret.size() < 4) return text;
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
        text.replace(at, secret.size(), "***");
    }
    return text;
}

// libpq's messages end with a newline and may span lines ("...failed: ...\n\tIs the server
// running...?"): one line reads better on stderr and in scripts.
std::string trim(std::string text) {
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

std::size_t setting(std::string_view name, const char* value, const std::string& where) {
    std::size_t n = 0;
    const std::string_view text = value ? value : "";
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw usage_error("--pg " + where + ": server setting " + std::string(name) + " is \"" +
                          std::string(text) + "\", not a whole number");
    }
    return n;
}

}  // namespace

pg_limits query_pg_limits(const std::string& conninfo) {
    const std::string masked = mask_conninfo(conninfo);

    char* parse_error = nullptr;
    const std::unique_ptr<PQconninfoOption, options_freer> options(
        PQconninfoParse(conninfo.c_str(), &parse_error));
    if (!options) {
        std::string detail = parse_error ? trim(parse_error) : "out of memory";
        PQfreemem(parse_error);
        // libpq quotes the offending text, which could be the password: show its detail only
        // when the masked string is the same as the original.
        if (masked != conninfo) detail = "libpq's detail is withheld because it could quote the password";
        throw usage_error("--pg " + masked + ": malformed conninfo: " + detail);
    }

    // A short description of where we connect, for the report; never the password.
    const auto value_of = [&](std::string_view key) -> std::string {
        for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
            if (key == o->keyword && o->val != nullptr) return o->val;
        }
        return {};
    };
    const std::string password = value_of("password");
    std::string where;
    for (const std::string_view key : {"host", "hostaddr", "port", "dbname", "user"}) {
        if (const std::string value = value_of(key); !value.empty()) {
            where += (where.empty() ? "" : " ") + std::string(key) + "=" + value;
        }
    }
    if (!password.empty()) where += (where.empty() ? "" : " ") + std::string("password=***");
    if (where.empty()) where = "(libpq defaults)";

    // connect_timeout first so that one given in the conninfo (expanded from "dbname") wins.
    const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
    const char* const values[] = {"10", conninfo.c_str(), nullptr};
    const std::unique_ptr<PGconn, conn_closer> conn(PQconnectdbParams(keywords, values, 1));
    if (!conn) throw usage_error("--pg " + where + ": out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw usage_error("--pg " + where +
                          ": cannot connect: " + scrub(trim(PQerrorMessage(conn.get())), password));
    }

    const std::unique_ptr<PGresult, result_clearer> result(PQexec(
        conn.get(),
        "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN "
        "('max_connections', 'superuser_reserved_connections', 'reserved_connections', 'server_version')"));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
        throw usage_error("--pg " + where + ": cannot read pg_settings: " +
                          scrub(trim(PQresultErrorMessage(result.get())), password));
    }

    pg_limits limits;
    limits.where = where;
    bool have_max = false;
    bool have_superuser = false;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
        const std::string_view name = PQgetvalue(result.get(), row, 0);
        const char* value = PQgetvalue(result.get(), row, 1);
        if (name == "max_connections") {
            limits.max_connections = setting(name, value, where);
            have_max = true;
        } else if (name == "superuser_reserved_connections") {
            limits.superuser_reserved_connections = setting(name, value, where);
            have_superuser = true;
        } else if (name == "reserved_connections") {
            limits.reserved_connections = setting(name, value, where);
        } else if (name == "server_version") {
            // "15.18 (Debian 15.18-0+deb12u1)": the version number is enough.
            const std::string_view version = value;
            limits.server_version = std::string(version.substr(0, version.find(' ')));
        }
    }
    if (!have_max || !have_superuser) {
        throw usage_error("--pg " + where +
                          ": pg_settings lacks max_connections or superuser_reserved_connections");
    }
    return limits;
}

}  // namespace lifeguard::poolsize
