// The demo's SQL for MariaDB (Connector/C++ placeholders `?`) and PostgreSQL (`$1`).
#include "statements.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace autoid {
namespace {

std::string checked(std::string_view prefix) {
    const bool ok = std::ranges::all_of(prefix, [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    if (!ok) throw std::invalid_argument("table prefix may hold only letters, digits and '_'");
    return std::string(prefix);
}

}  // namespace

statements mysql_statements(std::string_view prefix) {
    statements s;
    s.database = "MariaDB";
    s.sequences_table = checked(prefix) + "hibernate_sequences";
    s.users_table = checked(prefix) + "app_users";
    const std::string& seq = s.sequences_table;
    const std::string& users = s.users_table;
    s.begin = "START TRANSACTION";
    s.server_version = "SELECT VERSION()";
    s.select_sequence = "SELECT next_val FROM " + seq + " WHERE sequence_name = ? FOR UPDATE";
    s.update_sequence = "UPDATE " + seq + " SET next_val = ? WHERE next_val = ? AND sequence_name = ?";
    s.find_user = "SELECT COUNT(*) FROM " + users + " WHERE login = ?";
    s.insert_user = "INSERT INTO " + users + " (id, login, password_hash, phase) VALUES (?, ?, ?, ?)";
    s.count_phase = "SELECT COUNT(*) FROM " + users + " WHERE phase = ?";
    s.drop_schema = {"DROP TABLE IF EXISTS " + users + ", " + seq};
    s.create_schema = {
        "DROP TABLE IF EXISTS " + users + ", " + seq,
        "CREATE TABLE " + seq +
            " (sequence_name VARCHAR(255) NOT NULL PRIMARY KEY, next_val BIGINT NOT NULL) ENGINE=InnoDB",
        "INSERT INTO " + seq + " (sequence_name, next_val) VALUES ('" + std::string(user_sequence) + "', 1)",
        "CREATE TABLE " + users +
            " (id BIGINT NOT NULL PRIMARY KEY, login VARCHAR(64) NOT NULL, password_hash CHAR(16) NOT NULL,"
            " phase INT NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB",
    };
    return s;
}

statements postgres_statements(std::string_view prefix) {
    statements s;
    s.database = "PostgreSQL";
    s.sequences_table = checked(prefix) + "hibernate_sequences";
    s.users_table = checked(prefix) + "app_users";
    const std::string& seq = s.sequences_table;
    const std::string& users = s.users_table;
    s.begin = "BEGIN";
    s.server_version = "SHOW server_version";
    s.select_sequence = "SELECT next_val FROM " + seq + " WHERE sequence_name = $1 FOR UPDATE";
    s.update_sequence = "UPDATE " + seq + " SET next_val = $1 WHERE next_val = $2 AND sequence_name = $3";
    s.find_user = "SELECT COUNT(*) FROM " + users + " WHERE login = $1";
    s.insert_user = "INSERT INTO " + users + " (id, login, password_hash, phase) VALUES ($1, $2, $3, $4)";
    s.count_phase = "SELECT COUNT(*) FROM " + users + " WHERE phase = $1";
    s.drop_schema = {"DROP TABLE IF EXISTS " + users + ", " + seq};
    s.create_schema = {
        "DROP TABLE IF EXISTS " + users + ", " + seq,
        "CREATE TABLE " + seq +
            " (sequence_name VARCHAR(255) NOT NULL PRIMARY KEY, next_val BIGINT NOT NULL)",
        "INSERT INTO " + seq + " (sequence_name, next_val) VALUES ('" + std::string(user_sequence) + "', 1)",
        "CREATE TABLE " + users +
            " (id BIGINT NOT NULL PRIMARY KEY, login VARCHAR(64) NOT NULL, password_hash CHAR(16) NOT NULL,"
            " phase INT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    };
    return s;
}

}  // namespace autoid
