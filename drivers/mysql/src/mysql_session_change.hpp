// What one statement leaves in a MySQL/MariaDB session beyond its transaction, sorted by how the
// driver undoes it on return: session system variables and user variables are set back in SQL
// (SET @@session.x = DEFAULT, @u = NULL), a USE by the configured schema, and anything else
// (temporary tables, locks, prepared statements, character sets, SET GLOBAL, ...) only by
// closing the connection. Connector/C++ 1.1 offers no session reset, so this is the driver's.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace lifeguard::drivers_detail {

struct mysql_session_change {
    bool needs_reconnect = false;          ///< something SQL cannot undo exactly
    bool schema = false;                   ///< USE: the default database changed
    std::set<std::string> variables;       ///< session system variables set, lower case
    std::set<std::string> user_variables;  ///< user variables assigned, lower case

    bool any() const noexcept {
        return needs_reconnect || schema || !variables.empty() || !user_variables.empty();
    }
    /// Adds what `other` changed.
    void merge(const mysql_session_change& other);
};

/// Judges one statement as MariaDB would run it ('#' and "--" start line comments).
mysql_session_change mysql_session_change_of(std::string_view sql);

/// The statement that undoes `change`'s variables: "SET @@session.a = DEFAULT, @u = NULL";
/// empty when it set none.
std::string mysql_variables_reset_sql(const mysql_session_change& change);

}  // namespace lifeguard::drivers_detail
