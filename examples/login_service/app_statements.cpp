#include "app_statements.hpp"

namespace login_service {
namespace {

constexpr const char* prefix = "lab_";

// The two databases differ in placeholders and in the key type's spelling only.
app_statements make(autoid::statements login, const std::string& p1, const std::string& p2,
                    const std::string& engine) {
    app_statements s;
    s.login = std::move(login);
    const std::string onboarding = std::string(prefix) + "onboarding";
    const std::string goals = std::string(prefix) + "goals";
    s.save_onboarding = "INSERT INTO " + onboarding + " (user_id, step) VALUES (" + p1 + ", " + p2 + ")";
    s.save_goal = "INSERT INTO " + goals + " (user_id, goal) VALUES (" + p1 + ", " + p2 + ")";
    s.read_home = "SELECT COUNT(*) FROM " + goals + " WHERE user_id = " + p1;
    s.create_schema = {
        "DROP TABLE IF EXISTS " + onboarding + ", " + goals,
        "CREATE TABLE " + onboarding + " (user_id BIGINT NOT NULL, step VARCHAR(64) NOT NULL)" + engine,
        "CREATE TABLE " + goals + " (user_id BIGINT NOT NULL, goal VARCHAR(64) NOT NULL)" + engine,
        "CREATE INDEX " + std::string(prefix) + "goals_by_user ON " + goals + " (user_id)",
    };
    return s;
}

}  // namespace

app_statements mysql_app_statements() {
    return make(autoid::mysql_statements(prefix), "?", "?", " ENGINE=InnoDB");
}

app_statements postgres_app_statements() {
    return make(autoid::postgres_statements(prefix), "$1", "$2", "");
}

}  // namespace login_service
