// Whole-number arguments of the poolsize CLI (see count.hpp).
#include "count.hpp"

#include <charconv>
#include <limits>
#include <string>

#include "usage_error.hpp"

namespace lifeguard::poolsize {

std::size_t parse_count(std::string_view option, std::string_view text, std::string_view zero_rule) {
    const std::string shown = std::string(option) + " " + std::string(text);
    if (text.empty()) throw usage_error(std::string(option) + ": empty value; expected a whole number");
    if (text.front() == '-') throw usage_error(shown + ": must not be negative");
    for (const char c : text) {
        if (c < '0' || c > '9') throw usage_error(shown + ": not a whole number");
    }
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        throw usage_error(shown + ": too large (at most " +
                          std::to_string(std::numeric_limits<std::size_t>::max()) + ")");
    }
    if (ec != std::errc{} || end != text.data() + text.size())
        throw usage_error(shown + ": not a whole number");
    if (value == 0 && !zero_rule.empty())
        throw usage_error(shown + ": must be at least 1 (" + std::string(zero_rule) + ")");
    return value;
}

}  // namespace lifeguard::poolsize
