// Parsing of mysql_options::url (see mysql_url.hpp).
#include "mysql_url.hpp"

#include <algorithm>
#include <string_view>

#include "lifeguard/mysql.hpp"

namespace lifeguard::drivers_detail {
namespace {

constexpr std::string_view expected = "expected tcp://host[:port][/schema] or unix:///path/to/socket";

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

bool is_ipv6_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

class url_parser {
public:
    explicit url_parser(const std::string& url) : url_(url) {}

    mysql_url parse() const {
        if (url_.empty()) fail_unquoted("url is empty; " + std::string(expected));
        // Connector/C++ 1.1 has no user info in its urls: it would read it as part of the host.
        // The url is not quoted: what comes before the '@' is likely a password.
        if (url_.find('@') != std::string::npos)
            fail_unquoted(
                "url has a user or password before '@' (not supported: set mysql_options::user and "
                "::password); " +
                std::string(expected));
        for (const char c : url_) {
            if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') fail("a space or control character");
        }
        const std::string_view url = url_;
        if (url.starts_with("tcp://")) return tcp(url.substr(6));
        if (url.starts_with("unix://")) {
            if (url.size() == 7) fail("the socket path is empty");
            mysql_url out;
            out.unix_socket = true;
            out.socket = std::string(url.substr(7));
            return out;
        }
        if (url.starts_with("pipe://"))
            fail("pipe:// (Windows named pipes) is not supported; use tcp:// or unix://");
        const auto scheme_end = url.find("://");
        if (scheme_end == std::string_view::npos) fail("no scheme; " + std::string(expected));
        fail("unsupported scheme \"" + std::string(url.substr(0, scheme_end + 3)) + "\"; " +
             std::string(expected));
    }

private:
    // After "tcp://": host, then optionally ":port", then optionally "/schema".
    mysql_url tcp(std::string_view rest) const {
        mysql_url out;
        std::size_t host_end = 0;
        if (rest.starts_with('[')) {
            host_end = rest.find(']');
            if (host_end == std::string_view::npos) fail("'[' without ']' in the host");
            out.host = std::string(rest.substr(1, host_end - 1));
            const bool ipv6 = out.host.find(':') != std::string::npos &&
                              std::all_of(out.host.begin(), out.host.end(), is_ipv6_char);
            if (!out.host.empty() && !ipv6) fail("host [" + out.host + "] is not an IPv6 address");
            ++host_end;
            if (host_end < rest.size() && rest[host_end] != ':' && rest[host_end] != '/')
                fail("unexpected \"" + std::string(rest.substr(host_end)) + "\" after the host [" + out.host +
                     "]");
        } else {
            host_end = std::min(rest.find(':'), rest.find('/'));
            if (host_end == std::string_view::npos) host_end = rest.size();
            out.host = std::string(rest.substr(0, host_end));
            for (const char c : out.host) {
                if (!is_host_char(c))
                    fail("host \"" + out.host + "\" has the character '" + std::string(1, c) +
                         "' (a name, an IPv4 address or an IPv6 address in brackets)");
            }
        }
        if (out.host.empty()) fail("the host is empty (an IPv6 address goes in brackets: tcp://[::1]:3306)");

        rest.remove_prefix(host_end);
        if (rest.starts_with(':')) {
            const auto port_end = std::min(rest.find('/'), rest.size());
            out.port = port(rest.substr(1, port_end - 1));
            rest.remove_prefix(port_end);
        }
        if (rest.starts_with('/')) out.schema = std::string(rest.substr(1));
        return out;
    }

    int port(std::string_view text) const {
        if (text.empty()) fail("the port is empty (1..65535; leave out the ':' for 3306)");
        if (text.find_first_not_of("0123456789") != std::string_view::npos)
            fail("port \"" + std::string(text) + "\" is not a number (1..65535)");
        // Past leading zeros, more than 5 digits is out of range whatever they are: no overflow.
        const auto first = std::min(text.find_first_not_of('0'), text.size() - 1);
        const auto digits = text.substr(first);
        const int value = digits.size() > 5 ? 0 : std::stoi(std::string(digits));
        if (value < 1 || value > 65535) fail("port " + std::string(text) + " is out of range 1..65535");
        return value;
    }

    [[noreturn]] void fail(const std::string& what) const { fail_unquoted("url \"" + url_ + "\": " + what); }

    [[noreturn]] static void fail_unquoted(const std::string& what) {
        throw mysql_error("mysql: " + what, 0, {}, false);
    }

    const std::string& url_;
};

}  // namespace

mysql_url parse_mysql_url(const std::string& url) {
    return url_parser(url).parse();
}

}  // namespace lifeguard::drivers_detail
