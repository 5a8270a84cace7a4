// mysql_options other than the url are checked when the driver is made (no server needed):
// each bad value fails at once naming the field, the value and the rule, never the password;
// the edges of each rule are accepted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "lifeguard/mysql.hpp"

namespace {

using namespace std::chrono_literals;
namespace my = lifeguard::mysql;

const std::string secret = "hunter2-pw";

my::options base() {
    return {.url = "tcp://127.0.0.1:3306", .user = "app", .password = secret, .schema = "app"};
}

// The driver's error for `o`, or "" when it accepts them.
std::string error_for(const my::options& o) {
    try {
        my::driver d(o);
        return {};
    } catch (const my::error& e) {
        EXPECT_EQ(e.code(), 0);
        EXPECT_FALSE(e.broken()) << "a bad option is a usage error, not a broken connection";
        const std::string text = e.what();
        EXPECT_EQ(text.find(secret), std::string::npos) << "the option error shows the password: " << text;
        return text;
    }
}

void expect_rejected(const my::options& o, const std::string& field, const std::string& value,
                     const std::string& rule) {
    const std::string text = error_for(o);
    EXPECT_NE(text.find("mysql: option " + field + " = " + value + " is invalid: "), std::string::npos)
        << field << ": " << text;
    EXPECT_NE(text.find(rule), std::string::npos) << field << ": " << text;
}

// base() with `mode` and what `set` changes.
template <class Set>
my::options with_tls(my::ssl_mode mode, Set set) {
    auto o = base();
    o.ssl_mode = mode;
    set(o);
    return o;
}

// A PEM-looking file that exists for the test's lifetime.
struct temp_pem {
    std::string path;
    temp_pem() {
        char name[] = "/tmp/lifeguard-pem.XXXXXX";
        const int fd = ::mkstemp(name);
        path = name;
        const char text[] = "-----BEGIN CERTIFICATE-----\n";
        EXPECT_EQ(::write(fd, text, sizeof text - 1), static_cast<ssize_t>(sizeof text - 1));
        ::close(fd);
    }
    ~temp_pem() { std::remove(path.c_str()); }
};

TEST(MysqlOptions, RejectsBadTimeouts) {
    for (auto t : {-1s, 86401s, std::chrono::seconds::max(), std::chrono::seconds::min()}) {
        auto o = base();
        o.read_timeout = t;
        expect_rejected(o, "read_timeout", std::to_string(t.count()) + " s",
                        "must be 0 (no limit) to 86400 s");
        o = base();
        o.write_timeout = t;
        expect_rejected(o, "write_timeout", std::to_string(t.count()) + " s",
                        "must be 0 (no limit) to 86400 s");
    }
    for (auto t : {-1s, 3601s, std::chrono::seconds::max()}) {
        auto o = base();
        o.connect_timeout = t;
        expect_rejected(o, "connect_timeout", std::to_string(t.count()) + " s", "to 3600 s (1 h)");
    }
    for (auto t : {0ms, -1ms, 3'600'001ms, std::chrono::milliseconds::max()}) {
        auto o = base();
        o.reset_timeout = t;
        expect_rejected(o, "reset_timeout", std::to_string(t.count()) + " ms", "must be > 0 and at most 1 h");
    }
    auto o = base();
    o.query_timeout = -1ms;
    expect_rejected(o, "query_timeout", "-1 ms", "must be >= 0");
}

TEST(MysqlOptions, RejectsBadTlsSettings) {
    temp_pem pem;
    auto o = base();
    o.ssl_mode = static_cast<my::ssl_mode>(42);
    expect_rejected(o, "ssl_mode", "42", "must be one of disabled, required, verify_ca, verify_identity");
    for (auto mode : {my::ssl_mode::verify_ca, my::ssl_mode::verify_identity}) {
        o = base();
        o.ssl_mode = mode;
        expect_rejected(o, "ssl_ca", "\"\"",
                        "must name the CA file when ssl_mode is verify_ca or verify_identity");
    }
    o = base();
    o.ssl_ca = pem.path;
    expect_rejected(o, "ssl_ca", "\"" + pem.path + "\"", "needs ssl_mode other than disabled");
    o.ssl_mode = my::ssl_mode::required;
    expect_rejected(o, "ssl_ca", "\"" + pem.path + "\"", "must be empty when ssl_mode = required");
    for (const std::string bad : {"/nonexistent/ca.pem", "/dev/null", "/dev/zero", "/tmp"})
        expect_rejected(with_tls(my::ssl_mode::verify_ca, [&](my::options& t) { t.ssl_ca = bad; }), "ssl_ca",
                        "\"" + bad + "\"", "must name a readable regular file, not empty, at most 16 MiB");
    expect_rejected(with_tls(my::ssl_mode::required, [&](my::options& t) { t.ssl_cert = pem.path; }), "ssl_key",
                    "\"\"", "ssl_cert and ssl_key go together");
    expect_rejected(with_tls(my::ssl_mode::required, [&](my::options& t) { t.ssl_key = pem.path; }), "ssl_cert",
                    "\"\"", "ssl_cert and ssl_key go together");
    for (const std::string bad : {"TLSv1.1", "TLSv1.2,", ",TLSv1.3", "tlsv1.2", "TLSv1.2 ,TLSv1.3"})
        expect_rejected(with_tls(my::ssl_mode::required, [&](my::options& t) { t.tls_version = bad; }),
                        "tls_version", "\"" + bad + "\"", "must be a comma-separated list of TLSv1.2 and TLSv1.3");
    o = base();
    o.tls_version = "TLSv1.3";
    expect_rejected(o, "tls_version", "\"TLSv1.3\"", "needs ssl_mode other than disabled");
}

TEST(MysqlOptions, RejectsBadConnectionProperties) {
    for (const std::string& bad :
         {std::string("utf8 mb4"), std::string("utf8mb4;DROP"), std::string(33, 'a'), std::string("utf-8")}) {
        auto o = base();
        o.charset = bad;
        expect_rejected(o, "charset", "\"" + bad + "\"", "must be a character set name");
    }
    for (std::uint32_t bad : {1u, 1023u, (1u << 30) + 1, std::numeric_limits<std::uint32_t>::max()}) {
        auto o = base();
        o.max_allowed_packet = bad;
        expect_rejected(o, "max_allowed_packet", std::to_string(bad),
                        "must be 0 (the library's default) or 1024");
    }
    auto o = base();
    o.transaction_isolation = static_cast<my::isolation>(-1);
    expect_rejected(o, "transaction_isolation", "-1", "must be one of server_default,");
}

TEST(MysqlOptions, RejectsBadSqlText) {
    auto o = base();
    o.init_sql = {"SET @a = 1", ""};
    expect_rejected(o, "init_sql[1]", "\"\"", "must not be empty or blank");
    o.init_sql = {std::string("SET @a = '") + secret + "'" + std::string(1, '\0')};
    expect_rejected(o, "init_sql[0]", "\"SET @a = '***'\\x00\"", "must not contain a NUL byte");
    o = base();
    o.validation_query = "\n\t ";
    expect_rejected(o, "validation_query", "\"\\x0a\\x09 \"", "must not be empty or blank");
    o = base();
    o.validation_query = std::string((1 << 20) + 1, ' ');
    expect_rejected(o, "validation_query", "\"" + std::string(60, ' ') + "\"... (1048577 bytes)",
                    "must be at most 1 MiB");
}

TEST(MysqlOptions, ErrorsNeverShowThePassword) {
    auto o = base();
    o.ssl_mode = my::ssl_mode::verify_ca;
    o.ssl_ca = "/nonexistent/" + secret + ".pem";
    expect_rejected(o, "ssl_ca", "\"/nonexistent/***.pem\"", "must name a readable regular file");
}

TEST(MysqlOptions, AcceptsTheEdgesOfEachRule) {
    temp_pem pem;
    auto o = base();
    o.read_timeout = 86400s;
    o.write_timeout = 0s;
    o.connect_timeout = 3600s;
    o.reset_timeout = 1h;
    o.query_timeout = std::chrono::milliseconds::max();  // = none
    o.ssl_mode = my::ssl_mode::verify_identity;
    o.ssl_ca = pem.path;
    o.ssl_cert = pem.path;
    o.ssl_key = pem.path;
    o.tls_version = "TLSv1.2,TLSv1.3";
    o.charset = std::string(32, 'a');
    o.max_allowed_packet = 1u << 30;
    o.init_sql = {"SET @a = 1"};
    o.validation_query = "SELECT 1";
    EXPECT_EQ(error_for(o), "");
    o.max_allowed_packet = 1024;
    o.transaction_isolation = my::isolation::serializable;
    EXPECT_EQ(error_for(o), "");
}

}  // namespace
