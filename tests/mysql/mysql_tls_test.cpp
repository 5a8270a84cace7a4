// TLS through Connector/C++ 1.1 and libmariadb, against a MariaDB of its own that speaks TLS
// (tests/mysql/tls-mariadb.sh: a CA, a server certificate for 127.0.0.1, and a CA that signed
// nothing): each ssl_mode encrypts, verifies the chain and the host name as documented.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "db_support.hpp"
#include "lifeguard/mysql.hpp"

namespace {

using namespace std::chrono_literals;
namespace my = lifeguard::mysql;
using steady = std::chrono::steady_clock;

class MysqlTls : public ::testing::Test {
protected:
    // private_server runs DIR/<kind>.sh with DIR = LIFEGUARD_DB_SCRIPTS: point that at this
    // folder while `f` runs (and give the script scripts/db's helpers), then put it back for
    // the other tests of this process.
    template <class F>
    static void with_tls_script(F f) {
        const std::string saved = lifeguard::test::db_scripts();
        const bool was_set = std::getenv("LIFEGUARD_DB_SCRIPTS") != nullptr;
        ::setenv("LIFEGUARD_DB_COMMON", (saved + "/common.sh").c_str(), 1);
        ::setenv("LIFEGUARD_DB_SCRIPTS", LIFEGUARD_MYSQL_TEST_DIR, 1);
        f();
        if (was_set)
            ::setenv("LIFEGUARD_DB_SCRIPTS", saved.c_str(), 1);
        else
            ::unsetenv("LIFEGUARD_DB_SCRIPTS");
    }
    static void SetUpTestSuite() {
        with_tls_script([] {
            server_ = std::make_unique<lifeguard::test::private_server>("tls-mariadb");
            started_ = server_->start();
        });
    }
    static void TearDownTestSuite() {
        with_tls_script([] { server_.reset(); });  // the destructor stops the server
    }

    void SetUp() override {
        if (!started_) LIFEGUARD_DB_UNAVAILABLE(server_->error());
        base_.url = server_->var("LIFEGUARD_TLS_MYSQL_URL");
        base_.user = server_->var("LIFEGUARD_TLS_MYSQL_USER");
        base_.password = server_->var("LIFEGUARD_TLS_MYSQL_PASSWORD");
        ca_ = server_->var("LIFEGUARD_TLS_MYSQL_CA");
        other_ca_ = server_->var("LIFEGUARD_TLS_MYSQL_OTHER_CA");
    }

    // The cipher of `o`'s session ("" = not encrypted), or the connect error as "error: ...".
    static std::string cipher_or_error(const my::options& o, const char* status = "Ssl_cipher") {
        try {
            auto c = my::driver(o).connect(steady::now() + 10s);
            return my::exec(c, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = ?",
                            {std::string(status)})
                .value();
        } catch (const my::error& e) {
            return std::string("error: ") + e.what();
        }
    }

    static std::unique_ptr<lifeguard::test::private_server> server_;
    static bool started_;
    my::options base_;
    std::string ca_, other_ca_;
};

std::unique_ptr<lifeguard::test::private_server> MysqlTls::server_;
bool MysqlTls::started_ = false;

TEST_F(MysqlTls, DisabledIsPlainText) {
    EXPECT_EQ(cipher_or_error(base_), "");
}

TEST_F(MysqlTls, RequiredEncryptsWithoutCheckingTheCertificate) {
    auto o = base_;
    o.ssl_mode = my::ssl_mode::required;
    EXPECT_NE(cipher_or_error(o), "");
    EXPECT_EQ(cipher_or_error(o).rfind("error:", 0), std::string::npos) << cipher_or_error(o);
}

TEST_F(MysqlTls, VerifyCaAcceptsTheRightCaAndRefusesAnother) {
    auto o = base_;
    o.ssl_mode = my::ssl_mode::verify_ca;
    o.ssl_ca = ca_;
    const auto good = cipher_or_error(o);
    EXPECT_FALSE(good.empty() || good.rfind("error:", 0) == 0) << good;
    o.ssl_ca = other_ca_;
    const auto bad = cipher_or_error(o);
    EXPECT_EQ(bad.rfind("error:", 0), 0u) << "a certificate the CA did not sign was accepted: " << bad;
    lifeguard::test::expect_no_secret(bad, base_.password, "the TLS error");
}

TEST_F(MysqlTls, VerifyIdentityChecksTheHostName) {
    auto o = base_;
    o.ssl_mode = my::ssl_mode::verify_identity;
    o.ssl_ca = ca_;
    const auto by_address = cipher_or_error(o);  // the certificate names IP 127.0.0.1
    EXPECT_FALSE(by_address.empty() || by_address.rfind("error:", 0) == 0) << by_address;
    o.url = "tcp://localhost:" + server_->var("LIFEGUARD_TLS_MYSQL_PORT");
    const auto by_name = cipher_or_error(o);
    EXPECT_EQ(by_name.rfind("error:", 0), 0u) << "a certificate for 127.0.0.1 was accepted for localhost";
    o.ssl_mode = my::ssl_mode::verify_ca;  // the chain only: the same name passes
    const auto chain_only = cipher_or_error(o);
    EXPECT_FALSE(chain_only.empty() || chain_only.rfind("error:", 0) == 0) << chain_only;
}

TEST_F(MysqlTls, TlsVersionIsTheSessions) {
    auto o = base_;
    o.ssl_mode = my::ssl_mode::required;
    o.tls_version = "TLSv1.2";
    EXPECT_EQ(cipher_or_error(o, "Ssl_version"), "TLSv1.2");
}

}  // namespace
