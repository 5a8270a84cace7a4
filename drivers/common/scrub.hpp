// Keeps a password out of a text the drivers produce (an error message quoting a conninfo, a
// statement or the server's answer). Internal to the drivers; no vendor headers here.
#pragma once

#include <string>

namespace lifeguard::drivers_detail {

/// `text` with every occurrence of `secret` replaced by "***"; unchanged when `secret` is empty.
inline std::string scrub(std::string text, const std::string& secret) {
    if (secret.empty()) return text;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
        text.replace(pos, secret.size(), "***");
    return text;
}

}  // namespace lifeguard::drivers_detail
