// mysql_options checked when the driver is made (every field but the url, which mysql_url.hpp
// checks): a bad value throws mysql_error naming the field, the value and the rule.
#pragma once

#include "lifeguard/mysql.hpp"

namespace lifeguard::drivers_detail {

/// Throws mysql_error (code 0, not broken, no password in it) for the first invalid field.
void check_mysql_options(const mysql_options& options);

}  // namespace lifeguard::drivers_detail
