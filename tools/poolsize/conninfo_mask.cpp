// mask_conninfo(): hides passwords in a PostgreSQL conninfo before it goes into any message.
// Written without libpq so it also works on conninfo strings libpq would reject (those are
// exactly the ones that end up quoted in error messages).
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server_limits.hpp"

namespace lifeguard::poolsize {
namespace {

constexpr std::string_view mask = "***";

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    }
    return true;
}

bool equals_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && starts_with_nocase(a, b);
}

// Replaces [begin, end) spans (sorted, disjoint) with the mask.
std::string replace_spans(std::string_view text,
                          const std::vector<std::pair<std::size_t, std::size_t>>& spans) {
    std::string out;
    std::size_t at = 0;
    for (const auto& [begin, end] : spans) {
        out.append(text.substr(at, begin - at));
        out.append(mask);
        at = end;
    }
    out.append(text.substr(at));
    return out;
}

// postgresql://user:password@host:port/db?password=...&sslmode=...
std::string mask_uri(std::string_view uri) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    const std::size_t authority = uri.find("://") + 3;
    const std::size_t authority_end = std::min(uri.find_first_of("/?", authority), uri.size());
    const std::string_view auth = uri.substr(authority, authority_end - authority);
    if (const std::size_t at = auth.rfind('@'); at != std::string_view::npos) {
        if (const std::size_t colon = auth.find(':'); colon != std::string_view::npos && colon < at) {
            spans.emplace_back(authority + colon + 1, authority + at);
        }
    }
    if (const std::size_t query = uri.find('?', authority_end); query != std::string_view::npos) {
        std::size_t param = query + 1;
        while (param < uri.size()) {
            const std::size_t param_end = std::min(uri.find('&', param), uri.size());
            const std::string_view kv = uri.substr(param, param_end - param);
            if (const std::size_t eq = kv.find('=');
                eq != std::string_view::npos && equals_nocase(kv.substr(0, eq), "password")) {
                spans.emplace_back(param + eq + 1, param_end);
            }
            param = param_end + 1;
        }
    }
    return replace_spans(uri, spans);
}

// key = value pairs; values are bare (backslash escapes) or single-quoted.
std::string mask_keywords(std::string_view text) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    std::size_t i = 0;
    const auto skip_space = [&] {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    };
    while (true) {
        skip_space();
        if (i >= text.size()) break;
        const std::size_t key_begin = i;
        while (i < text.size() && text[i] != '=' && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        const std::string_view key = text.substr(key_begin, i - key_begin);
        skip_space();
        if (i >= text.size() || text[i] != '=') {
            // Malformed (libpq will reject it). A bare word after "password" is probably the
            // password itself: mask the rest of the string rather than guess.
            if (equals_nocase(key, "password")) spans.emplace_back(i, text.size());
            if (equals_nocase(key, "password") || i >= text.size()) break;
            continue;
        }
        ++i;  // '='
        skip_space();
        const std::size_t value_begin = i;
        if (i < text.size() && text[i] == '\'') {
            ++i;
            while (i < text.size() && text[i] != '\'') i += (text[i] == '\\' && i + 1 < text.size()) ? 2 : 1;
            if (i < text.size()) ++i;  // closing quote
        } else {
            while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
                i += (text[i] == '\\' && i + 1 < text.size()) ? 2 : 1;
            }
        }
        if (equals_nocase(key, "password")) spans.emplace_back(value_begin, std::min(i, text.size()));
    }
    return replace_spans(text, spans);
}

}  // namespace

std::string mask_conninfo(const std::string& conninfo) {
    if (starts_with_nocase(conninfo, "postgresql://") || starts_with_nocase(conninfo, "postgres://")) {
        return mask_uri(conninfo);
    }
    return mask_keywords(conninfo);
}

}  // namespace lifeguard::poolsize
