// The service's SQL beyond the login (which is the AUTO-ID demo's, examples/autoid_demo):
// onboarding steps, goals and the home page's read, per database.
#pragma once

#include <string>
#include <vector>

#include "../autoid_demo/statements.hpp"

namespace login_service {

struct app_statements {
    autoid::statements login;  ///< users, hibernate_sequences and the login's statements
    std::string save_onboarding;  ///< (user id, step)
    std::string save_goal;        ///< (user id, goal)
    std::string read_home;        ///< (user id) -> goals of the user
    std::vector<std::string> create_schema;  ///< after login.create_schema
};

/// Table names start with "lab_" (the demo's tables keep theirs).
app_statements mysql_app_statements();
app_statements postgres_app_statements();

}  // namespace login_service
