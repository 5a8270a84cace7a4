// mysql_options::url is checked when the driver is made (no server needed): the forms
// Connector/C++ 1.1 understands are accepted and described; anything else fails at once with a
// message naming the url and the bad part, never the password.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "lifeguard/mysql.hpp"

namespace {

using lifeguard::mysql_driver;
using lifeguard::mysql_error;
using lifeguard::mysql_options;

const std::string secret = "hunter2";

// The driver's error for `url` (with the password `secret`), or "" when it accepts the url.
std::string error_for(const std::string& url, const std::string& schema = {}) {
    try {
        mysql_driver d(mysql_options{.url = url, .user = "app", .password = secret, .schema = schema});
        return {};
    } catch (const mysql_error& e) {
        EXPECT_EQ(e.code(), 0);
        EXPECT_FALSE(e.broken()) << "a bad url is a usage error, not a broken connection";
        return e.what();
    }
}

struct accepted_case {
    std::string url;
    std::string description;  ///< describe() with user "app" and no schema option

    friend void PrintTo(const accepted_case& c, std::ostream* os) { *os << '"' << c.url << '"'; }
};

class MysqlUrlAccepted : public ::testing::TestWithParam<accepted_case> {};

TEST_P(MysqlUrlAccepted, IsDescribedByItsParts) {
    const mysql_driver d(
        mysql_options{.url = GetParam().url, .user = "app", .password = secret, .schema = {}});
    EXPECT_EQ(d.describe(), GetParam().description);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, MysqlUrlAccepted,
    ::testing::Values(
        accepted_case{"tcp://127.0.0.1:3306", "mysql 127.0.0.1:3306/ user=app"},
        accepted_case{"tcp://db-1.example.com", "mysql db-1.example.com:3306/ user=app"},
        accepted_case{"tcp://db_host:1", "mysql db_host:1/ user=app"},
        accepted_case{"tcp://h:65535/", "mysql h:65535/ user=app"},
        accepted_case{"tcp://h:003306", "mysql h:3306/ user=app"},
        accepted_case{"tcp://127.0.0.1:3306/app", "mysql 127.0.0.1:3306/app user=app"},
        accepted_case{"tcp://[::1]:3307", "mysql [::1]:3307/ user=app"},
        accepted_case{"tcp://[::ffff:127.0.0.1]/app", "mysql [::ffff:127.0.0.1]:3306/app user=app"},
        accepted_case{"unix:///run/mysqld/mysqld.sock", "mysql unix:/run/mysqld/mysqld.sock/ user=app"},
        accepted_case{"unix://relative.sock", "mysql unix:relative.sock/ user=app"}));

TEST(MysqlUrl, SchemaInTheUrlAndTheOptionsMustAgree) {
    EXPECT_EQ(error_for("tcp://h:3306/app", "app"), "");
    EXPECT_EQ(error_for("tcp://h:3306/app", "other"),
              "mysql: schema given twice: \"app\" in the url and \"other\" in mysql_options::schema");
}

struct rejected_case {
    std::string url;
    std::string message;  ///< the whole what()

    friend void PrintTo(const rejected_case& c, std::ostream* os) { *os << '"' << c.url << '"'; }
};

class MysqlUrlRejected : public ::testing::TestWithParam<rejected_case> {};

TEST_P(MysqlUrlRejected, FailsWhenTheDriverIsMadeNamingTheBadPart) {
    EXPECT_EQ(error_for(GetParam().url), GetParam().message);
}

const std::string expected = "expected tcp://host[:port][/schema] or unix:///path/to/socket";

INSTANTIATE_TEST_SUITE_P(
    Urls, MysqlUrlRejected,
    ::testing::Values(
        rejected_case{"", "mysql: url is empty; " + expected},
        rejected_case{
            "tcp://127.0.0.1:notaport",
            "mysql: url \"tcp://127.0.0.1:notaport\": port \"notaport\" is not a number (1..65535)"},
        rejected_case{"bogus://x", "mysql: url \"bogus://x\": unsupported scheme \"bogus://\"; " + expected},
        rejected_case{"TCP://h", "mysql: url \"TCP://h\": unsupported scheme \"TCP://\"; " + expected},
        rejected_case{"127.0.0.1:3306", "mysql: url \"127.0.0.1:3306\": no scheme; " + expected},
        rejected_case{
            "pipe://MySQL",
            "mysql: url \"pipe://MySQL\": pipe:// (Windows named pipes) is not supported; use tcp:// "
            "or unix://"},
        rejected_case{"tcp://",
                      "mysql: url \"tcp://\": the host is empty (an IPv6 address goes in brackets: "
                      "tcp://[::1]:3306)"},
        rejected_case{"tcp://:3306",
                      "mysql: url \"tcp://:3306\": the host is empty (an IPv6 address goes in "
                      "brackets: tcp://[::1]:3306)"},
        rejected_case{"tcp://::1:3306",
                      "mysql: url \"tcp://::1:3306\": the host is empty (an IPv6 address goes "
                      "in brackets: tcp://[::1]:3306)"},
        rejected_case{"tcp://[]:3306",
                      "mysql: url \"tcp://[]:3306\": the host is empty (an IPv6 address goes in "
                      "brackets: tcp://[::1]:3306)"},
        rejected_case{"tcp://[::1:3306", "mysql: url \"tcp://[::1:3306\": '[' without ']' in the host"},
        rejected_case{"tcp://[db]:3306", "mysql: url \"tcp://[db]:3306\": host [db] is not an IPv6 address"},
        rejected_case{"tcp://[db.example.com]",
                      "mysql: url \"tcp://[db.example.com]\": host [db.example.com] is not an IPv6 address"},
        rejected_case{"tcp://[::1]3306",
                      "mysql: url \"tcp://[::1]3306\": unexpected \"3306\" after the host [::1]"},
        rejected_case{
            "tcp://db,replica:3306",
            "mysql: url \"tcp://db,replica:3306\": host \"db,replica\" has the character ',' (a name, "
            "an IPv4 address or an IPv6 address in brackets)"},
        rejected_case{"tcp://db host:3306",
                      "mysql: url \"tcp://db host:3306\": a space or control character"},
        rejected_case{"tcp://h:",
                      "mysql: url \"tcp://h:\": the port is empty (1..65535; leave out the ':' for 3306)"},
        rejected_case{
            "tcp://h:/app",
            "mysql: url \"tcp://h:/app\": the port is empty (1..65535; leave out the ':' for 3306)"},
        rejected_case{"tcp://h:0", "mysql: url \"tcp://h:0\": port 0 is out of range 1..65535"},
        rejected_case{"tcp://h:00000", "mysql: url \"tcp://h:00000\": port 00000 is out of range 1..65535"},
        rejected_case{"tcp://h:65536", "mysql: url \"tcp://h:65536\": port 65536 is out of range 1..65535"},
        rejected_case{
            "tcp://h:99999999999999999999",
            "mysql: url \"tcp://h:99999999999999999999\": port 99999999999999999999 is out of range "
            "1..65535"},
        rejected_case{"tcp://h:-1", "mysql: url \"tcp://h:-1\": port \"-1\" is not a number (1..65535)"},
        rejected_case{"tcp://h:+3306",
                      "mysql: url \"tcp://h:+3306\": port \"+3306\" is not a number (1..65535)"},
        rejected_case{"tcp://h:3306:3307",
                      "mysql: url \"tcp://h:3306:3307\": port \"3306:3307\" is not a number (1..65535)"},
        rejected_case{"unix://", "mysql: url \"unix://\": the socket path is empty"}));

// The password must not leak through the url error, wherever the user put it.
class MysqlUrlPassword : public ::testing::TestWithParam<std::string> {};

TEST_P(MysqlUrlPassword, NeverAppearsInTheError) {
    const std::string message = error_for(GetParam());
    EXPECT_FALSE(message.empty()) << GetParam() << " was accepted";
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_EQ(message.find("unter"), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Urls, MysqlUrlPassword,
                         ::testing::Values("tcp://app:hunter2@127.0.0.1:3306", "tcp://app:other@db:3306/app",
                                           "tcp://127.0.0.1:hunter2", "hunter2://db",
                                           "tcp://hunter2 db:3306"));

TEST(MysqlUrlPassword, UserInfoIsRefusedWithoutQuotingTheUrl) {
    EXPECT_EQ(error_for("tcp://app:s3cret@127.0.0.1:3306"),
              "mysql: url has a user or password before '@' (not supported: set mysql_options::user and "
              "::password); " +
                  expected);
}

}  // namespace
