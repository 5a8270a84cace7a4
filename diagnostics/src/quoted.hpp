// "name" with its quotes: how reports and the detector's hints print a pool or task label.
#pragma once

#include <string>
#include <string_view>

namespace lifeguard::diagnostics {

inline std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

}  // namespace lifeguard::diagnostics
