// mysql_options::url, checked when the driver is made instead of failing at connect time. The
// forms are the ones Connector/C++ 1.1's parseUri() understands, minus what it silently
// misreads: tcp://host[:port][/schema] (host a name, an IPv4 address or an [IPv6] address; port
// 1..65535, 3306 when absent) and unix://path. Its schemeless and pipe:// (Windows) forms are
// refused, and so is user:password@ in the url (Connector/C++ would take it as the host name).
#pragma once

#include <string>

namespace lifeguard::drivers_detail {

struct mysql_url {
    bool unix_socket = false;
    std::string host;    ///< tcp: without brackets
    int port = 3306;     ///< tcp: Connector/C++'s default when the url has none
    std::string schema;  ///< tcp: from "/schema", empty when none
    std::string socket;  ///< unix: the socket path
};

/// Parses `url`. Throws mysql_error naming the url and the part that is wrong; a url with an '@'
/// is not quoted (what precedes it is likely a password). The caller scrubs its password.
mysql_url parse_mysql_url(const std::string& url);

}  // namespace lifeguard::drivers_detail
