// The text of the options_error that validated() throws for `o`, or "" when it accepts them.
#pragma once

#include <string>

#include "lifeguard/errors.hpp"
#include "lifeguard/options.hpp"

namespace lifeguard::testing {

inline std::string option_error_text(pool_options o) {
    try {
        validated(std::move(o));
    } catch (const options_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace lifeguard::testing
