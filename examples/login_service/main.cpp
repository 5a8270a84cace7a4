// login_service: the write-up's service over lifeguard, for the load-test lab (scripts/lab.sh).
// README.md next to this file lists the routes, flags and metrics.
//
// Exit status: 0 after a clean stop, 1 when the database or the port is not usable (or the
// pool was not idle when closed), 2 for bad usage or a missing database environment.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "../autoid_demo/phases.hpp"
#include "app_statements.hpp"
#include "lifeguard/mysql.hpp"
#include "lifeguard/postgres.hpp"
#include "service.hpp"
#include "settings.hpp"

namespace {

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

// Reaches the server (and makes the tables when asked) before serving, so that a missing or
// wrong database is one clear line at start, not failed requests.
template <class Driver>
int prepare_and_serve(const login_service::settings& cfg, Driver driver, const login_service::app_statements& sql,
                      const sigset_t& signals) {
    try {
        autoid::database<Driver> db{cfg.db, driver, sql.login, {}};
        db.version = autoid::server_version(db);
        if (cfg.create_schema) {
            autoid::create_schema(db);
            autoid::with_connection(db, [&](auto& c) {
                for (const auto& s : sql.create_schema) exec(c, s);
                return 0;
            });
        }
        std::cout << "database: " << db.sql.database << " " << db.version << " at " << driver.describe() << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "login_service: cannot use the database: " << e.what() << '\n';
        return 1;
    }
    return login_service::serve(cfg, std::move(driver), sql, signals);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = login_service::parse_settings(argc, argv);

    // SIGTERM and SIGINT are taken by sigwait in serve(); blocked before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        if (cfg.db == "mariadb") {
            const auto url = env("LIFEGUARD_MYSQL_URL");
            if (!url) {
                std::cerr << "login_service: LIFEGUARD_MYSQL_URL is not set (run it under scripts/db/with-servers.sh "
                             "or scripts/lab.sh)\n";
                return 2;
            }
            lifeguard::mysql_driver driver({.url = *url,
                                            .user = env("LIFEGUARD_MYSQL_USER").value_or("root"),
                                            .password = env("LIFEGUARD_MYSQL_PASSWORD").value_or(""),
                                            .schema = env("LIFEGUARD_MYSQL_SCHEMA").value_or("")});
            return prepare_and_serve(cfg, std::move(driver), login_service::mysql_app_statements(), signals);
        }
        const auto conninfo = env("LIFEGUARD_PG_CONNINFO");
        if (!conninfo) {
            std::cerr << "login_service: LIFEGUARD_PG_CONNINFO is not set (run it under scripts/db/with-servers.sh "
                         "or scripts/lab.sh --db postgres)\n";
            return 2;
        }
        lifeguard::postgres_driver driver({.conninfo = *conninfo});
        return prepare_and_serve(cfg, std::move(driver), login_service::postgres_app_statements(), signals);
    } catch (const std::exception& e) {  // a bad URL or conninfo, an option the pool rejects
        std::cerr << "login_service: " << e.what() << '\n';
        return 2;
    }
}
