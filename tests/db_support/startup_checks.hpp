// What the MariaDB and PostgreSQL tests check alike about initialization_fail_timeout: a pool
// given a wrong password fails in its constructor with the server's words, never the password.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "lifeguard/pool.hpp"
#include "pool_checks.hpp"

namespace lifeguard::test {

// `make_pool(options)` builds a pool (named `name`) whose driver has a wrong password; with a
// budget of 0 (one attempt) and of 300 ms (retries) its constructor must throw startup_error
// saying `server_says`, without `password` in what() or the diagnostics.
template <class MakePool>
void expect_startup_refused(MakePool make_pool, const std::string& name, const std::string& password,
                            const std::string& server_says) {
    using namespace std::chrono_literals;
    for (const auto budget : {0ms, 300ms}) {
        try {
            make_pool(pool_options{.name = name, .max_size = 2, .initialization_fail_timeout = budget});
            ADD_FAILURE() << "the constructor returned (initialization_fail_timeout " << budget.count() << " ms)";
        } catch (const startup_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("pool '" + name + "': no connection opened within initialization_fail_timeout"),
                      std::string::npos)
                << what;
            EXPECT_NE(what.find(server_says), std::string::npos) << what;
            EXPECT_NE(e.diagnostics().last_connect_error.find(server_says), std::string::npos);
            expect_no_secret(what, password, "startup_error::what()");
            expect_no_secret(e.diagnostics().to_string(), password, "startup_error diagnostics");
        }
    }
}

}  // namespace lifeguard::test
