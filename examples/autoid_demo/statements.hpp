// The SQL of the demo, per database: the schema (a Hibernate-style `hibernate_sequences` table
// and the users table), the table generator's read-and-bump, and the login's statements.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autoid {

struct statements {
    std::string database;  ///< "MariaDB" or "PostgreSQL", for the output
    std::string sequences_table;
    std::string users_table;

    std::string begin;
    std::string commit = "COMMIT";
    std::string server_version;

    /// Hibernate's TableStructure: lock the row, then bump it with an optimistic check.
    std::string select_sequence;  ///< (sequence name) -> next_val
    std::string update_sequence;  ///< (new value, old value, sequence name)

    std::string find_user;    ///< (login) -> count
    std::string insert_user;  ///< (id, login, password hash, phase)
    std::string count_phase;  ///< (phase) -> count

    std::vector<std::string> create_schema;  ///< run in order, autocommit
    std::vector<std::string> drop_schema;
};

/// `prefix` is prepended to the table names (letters, digits and '_' only; the e2e tests use it
/// so that concurrent runs on one server do not share tables). Throws std::invalid_argument
/// for any other character.
statements mysql_statements(std::string_view prefix);
statements postgres_statements(std::string_view prefix);

/// The one sequence the demo's generator serves (Hibernate names it after the entity).
inline constexpr std::string_view user_sequence = "app_users";

}  // namespace autoid
