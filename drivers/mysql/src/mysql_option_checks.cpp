// mysql_options checked when the driver is made: every field but the url (mysql_url.cpp) against
// its rule, so that a mistake fails at construction naming the field, the value and the rule
// instead of at the first connect (or never: Connector/C++ ignores what it does not know).
#include "mysql_option_checks.hpp"

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "option_checks.hpp"
#include "scrub.hpp"

namespace lifeguard::drivers_detail {

namespace {

using namespace std::chrono_literals;

// A regular, non-empty file of at most 16 MiB that this process can read (not /dev/zero, a
// FIFO or a directory, which the TLS library would read forever or fail on late).
bool readable_pem_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > (16 << 20))
        return false;
    std::ifstream in(path, std::ios::binary);
    return in.good() && in.peek() != std::ifstream::traits_type::eof();
}

bool is_tls_version_list(std::string_view text) {
    if (text.empty()) return false;
    for (std::size_t start = 0;;) {
        const auto comma = text.find(',', start);
        const auto item = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
        if (item != "TLSv1.2" && item != "TLSv1.3") return false;
        if (comma == std::string_view::npos) return true;
        start = comma + 1;
    }
}

bool is_charset_name(std::string_view text) {
    if (text.empty() || text.size() > 32) return false;
    for (char c : text)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

}  // namespace

void check_mysql_options(const mysql_options& o) {
    auto reject = [&](std::string_view field, std::string_view value, std::string_view rule) {
        throw mysql_error(scrub(invalid_option("mysql", field, value, rule), o.password), 0, {}, false);
    };
    auto seconds_text = [](std::chrono::seconds s) { return std::to_string(s.count()) + " s"; };
    auto ms_text = [](std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; };
    auto check_sql = [&](const std::string& field, const std::string& text) {
        if (auto problem = sql_option_problem(text); !problem.empty()) reject(field, shown(text), problem);
    };

    for (auto [field, value] :
         {std::pair{"read_timeout", o.read_timeout}, {"write_timeout", o.write_timeout}})
        if (value < 0s || value > 24h)
            reject(field, seconds_text(value), "must be 0 (no limit) to 86400 s (24 h)");
    if (o.connect_timeout < 0s || o.connect_timeout > 1h)
        reject("connect_timeout", seconds_text(o.connect_timeout),
               "must be 0 (only the acquire deadline) to 3600 s (1 h)");
    if (o.reset_timeout <= 0ms || o.reset_timeout > 1h)
        reject("reset_timeout", ms_text(o.reset_timeout), "must be > 0 and at most 1 h");
    if (o.query_timeout < 0ms)
        reject("query_timeout", ms_text(o.query_timeout), "must be >= 0 (0 or milliseconds::max() = none)");

    const auto mode = static_cast<int>(o.ssl_mode);
    if (mode < 0 || mode > static_cast<int>(mysql_ssl_mode::verify_identity))
        reject("ssl_mode", std::to_string(mode),
               "must be one of disabled, required, verify_ca, verify_identity");
    const bool tls = o.ssl_mode != mysql_ssl_mode::disabled;
    const bool verifies =
        o.ssl_mode == mysql_ssl_mode::verify_ca || o.ssl_mode == mysql_ssl_mode::verify_identity;
    if (verifies && o.ssl_ca.empty())
        reject("ssl_ca", "\"\"", "must name the CA file when ssl_mode is verify_ca or verify_identity");
    if (o.ssl_mode == mysql_ssl_mode::required && !o.ssl_ca.empty())
        reject("ssl_ca", shown(o.ssl_ca),
               "must be empty when ssl_mode = required (a CA is checked: use verify_ca)");
    for (auto [field, value] :
         {std::pair{"ssl_ca", &o.ssl_ca}, {"ssl_cert", &o.ssl_cert}, {"ssl_key", &o.ssl_key}}) {
        if (value->empty()) continue;
        if (!tls) reject(field, shown(*value), "needs ssl_mode other than disabled");
        if (!readable_pem_file(*value))
            reject(field, shown(*value), "must name a readable regular file, not empty, at most 16 MiB");
    }
    if (o.ssl_cert.empty() != o.ssl_key.empty())
        reject(o.ssl_cert.empty() ? "ssl_cert" : "ssl_key", "\"\"",
               "ssl_cert and ssl_key go together: set both or neither");
    if (!o.tls_version.empty()) {
        if (!tls) reject("tls_version", shown(o.tls_version), "needs ssl_mode other than disabled");
        if (!is_tls_version_list(o.tls_version))
            reject("tls_version", shown(o.tls_version),
                   "must be a comma-separated list of TLSv1.2 and TLSv1.3");
    }
    if (!o.charset.empty() && !is_charset_name(o.charset))
        reject("charset", shown(o.charset),
               "must be a character set name: letters, digits and '_', at most 32");
    if (o.max_allowed_packet != 0 && (o.max_allowed_packet < 1024 || o.max_allowed_packet > (1u << 30)))
        reject("max_allowed_packet", std::to_string(o.max_allowed_packet),
               "must be 0 (the library's default) or 1024 to 1073741824 (1 GiB)");

    const auto level = static_cast<int>(o.transaction_isolation);
    if (level < 0 || level > static_cast<int>(mysql_isolation::serializable))
        reject(
            "transaction_isolation", std::to_string(level),
            "must be one of server_default, read_uncommitted, read_committed, repeatable_read, serializable");
    for (std::size_t i = 0; i < o.init_sql.size(); ++i)
        check_sql("init_sql[" + std::to_string(i) + "]", o.init_sql[i]);
    if (!o.validation_query.empty()) check_sql("validation_query", o.validation_query);
}

}  // namespace lifeguard::drivers_detail
