// Strict parsing of the CLI's whole-number arguments. std::stoul would accept " 12abc", "-1"
// (as a huge number) and "+5"; users script this tool, so anything but plain digits is an error
// whose message names the argument and why.
#pragma once

#include <cstddef>
#include <string_view>

namespace lifeguard::poolsize {

/// Parses `text`, the value given to `option` (e.g. "--tasks"), as a whole number.
/// `zero_rule` is empty when 0 is allowed, else the reason 0 is not (appended to the message).
/// Throws usage_error for empty, negative, non-numeric, too large, or forbidden zero values.
std::size_t parse_count(std::string_view option, std::string_view text, std::string_view zero_rule = {});

}  // namespace lifeguard::poolsize
