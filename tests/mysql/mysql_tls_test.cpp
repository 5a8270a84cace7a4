// TLS through Connector/C++ 1.1 and libmariadb, against a MariaDB of its own that speaks TLS
// (scripts/db/mariadb.sh with the certificates of tests/mysql/make-test-certificates.sh: a CA,
// a server certificate for 127.0.0.1, and a CA that signed nothing): each ssl_mode encrypts,
// verifies the chain and the host name as documented.
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
using lifeguard::test::run_command;
using lifeguard::test::shell_quote;

class MysqlTls : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char pattern[] = "/tmp/lifeguard-certs.XXXXXX";
        if (const char* d = ::mkdtemp(pattern)) certs_ = d;
        const auto made = run_command(
            "bash " + shell_quote(std::string(LIFEGUARD_MYSQL_TEST_DIR) + "/make-test-certificates.sh") +
            " " + shell_quote(certs_));
        if (certs_.empty() || made.status != 0) {
            error_ = "make-test-certificates.sh failed: " + made.output;
            return;
        }
        server_ = std::make_unique<lifeguard::test::private_server>(
            "mariadb",
            "MARIADB_EXTRA_ARGS=" + shell_quote("--ssl-ca=" + certs_ + "/ca.pem --ssl-cert=" + certs_ +
                                                "/server.pem --ssl-key=" + certs_ + "/server.key"));
        if (!server_->start()) error_ = server_->error();
    }
    static void TearDownTestSuite() {
        server_.reset();  // stops the server
        if (!certs_.empty()) run_command("rm -rf " + shell_quote(certs_));
    }

    void SetUp() override {
        if (!error_.empty()) LIFEGUARD_DB_UNAVAILABLE(error_);
        base_.url = server_->var("LIFEGUARD_MYSQL_URL");
        base_.user = server_->var("LIFEGUARD_MYSQL_USER");
        base_.password = server_->var("LIFEGUARD_MYSQL_PASSWORD");
        ca_ = certs_ + "/ca.pem";
        other_ca_ = certs_ + "/other-ca.pem";
    }

    // The cipher of `o`'s session ("" = not encrypted), or the connect error as "error: ...".
    static std::string cipher_or_error(const my::options& o, const char* status = "Ssl_cipher") {
        try {
            auto c = my::driver(o).connect(steady::now() + 10s);
            return my::exec(
                       c,
                       "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = ?",
                       {std::string(status)})
                .value();
        } catch (const my::error& e) {
            return std::string("error: ") + e.what();
        }
    }

    static std::unique_ptr<lifeguard::test::private_server> server_;
    static std::string certs_;
    static std::string error_;
    my::options base_;
    std::string ca_, other_ca_;
};

std::unique_ptr<lifeguard::test::private_server> MysqlTls::server_;
std::string MysqlTls::certs_;
std::string MysqlTls::error_;

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
    o.url = "tcp://localhost:" + server_->var("LIFEGUARD_MYSQL_PORT");
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
