// How the drivers word a rejected option, and the checks both make on SQL text given as an
// option (init_sql, validation_query). The message has the core's shape:
//     postgres: option init_sql[1] = "" is invalid: must not be empty or blank
// Internal to the drivers (not installed, no stability promise); no vendor headers here.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace lifeguard::drivers_detail {

/// The longest SQL text an option may hold (1 MiB): a statement past that is a mistake (a file
/// read by accident), not a setup step.
inline constexpr std::size_t max_option_sql = std::size_t{1} << 20;

/// now + `timeout` for a statement timeout, or time_point::max() (none) when `timeout` is 0 or
/// too long to add to the clock (milliseconds::max() = none, never an overflow).
inline std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    if (timeout <= std::chrono::milliseconds::zero()) return clock::time_point::max();
    const auto now = clock::now();
    if (std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now) <= timeout)
        return clock::time_point::max();
    return now + timeout;
}

/// `text` in double quotes with control characters escaped, cut after 60 characters.
inline std::string shown(std::string_view text) {
    constexpr std::size_t limit = 60;
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (std::iscntrl(c)) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    if (text.size() > limit) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

/// "<driver>: option <field> = <value> is invalid: <rule>"; `value` is shown as it should
/// appear (already quoted for text).
inline std::string invalid_option(std::string_view driver, std::string_view field, std::string_view value,
                                  std::string_view rule) {
    return std::string(driver) + ": option " + std::string(field) + " = " + std::string(value) +
           " is invalid: " + std::string(rule);
}

/// The rule SQL text given as an option breaks, or empty when it is usable: not blank, no NUL
/// byte (the C client libraries would cut the statement there), at most max_option_sql bytes.
inline std::string sql_option_problem(std::string_view text) {
    if (text.size() > max_option_sql) return "must be at most 1 MiB";
    if (text.find('\0') != std::string_view::npos) return "must not contain a NUL byte";
    if (std::all_of(text.begin(), text.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
        return "must not be empty or blank";
    return {};
}

}  // namespace lifeguard::drivers_detail
