#include "settings.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>

namespace login_service {

settings parse_settings(int argc, char** argv) {
    settings s;
    CLI::App app{
        "An HTTP login service over a lifeguard pool (the write-up's flow: POST /login with a table-"
        "generated id on a second connection, POST /onboarding, POST /goal, GET /home), with /metrics "
        "and /health. SIGTERM or SIGINT stops it cleanly.",
        "login_service"};
    const std::map<std::string, lifeguard::deadlock_policy> policies = {
        {"ignore", lifeguard::deadlock_policy::ignore},
        {"report", lifeguard::deadlock_policy::report},
        {"fail_fast", lifeguard::deadlock_policy::fail_fast},
        {"abort", lifeguard::deadlock_policy::abort}};
    long long timeout_ms = s.acquire_timeout.count();
    long long work_ms = s.work.count();
    app.add_option("--db", s.db, "database: mariadb (LIFEGUARD_MYSQL_*) or postgres (LIFEGUARD_PG_CONNINFO)")
        ->check(CLI::IsMember({"mariadb", "postgres"}))
        ->capture_default_str();
    app.add_option("--host", s.host, "address to listen on")->capture_default_str();
    app.add_option("--port", s.port, "port to listen on (0 picks a free one)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("--pool-size", s.pool_size, "the pool's max_size (and min_idle)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    std::string policy = "report";
    app.add_option("--policy", policy, "what the deadlock detector does: ignore, report, fail_fast, abort")
        ->check(CLI::IsMember({"ignore", "report", "fail_fast", "abort"}))
        ->capture_default_str();
    app.add_option("--acquire-timeout-ms", timeout_ms, "the pool's acquire_timeout")
        ->check(CLI::Range(250LL, 3'600'000LL))
        ->capture_default_str();
    app.add_option("--work-ms", work_ms,
                   "how long each request holds its connection (stands in for its queries and the password hash)")
        ->check(CLI::Range(0LL, 10'000LL))
        ->capture_default_str();
    app.add_option("--http-threads", s.http_threads, "HTTP worker threads (Tomcat's maxThreads)")
        ->check(CLI::Range(2, 1024))
        ->capture_default_str();
    app.add_option("--instance", s.instance, "this instance's name: the `application` label of its metrics")
        ->capture_default_str();
    app.add_option("--metrics-prefix", s.metrics_prefix, "metric name prefix (hikaricp: HikariCP's names)")
        ->capture_default_str();
    app.add_option("--phase", s.phase, "a number stored with every account created (the lab's phase)")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_flag("--create-schema", s.create_schema, "drop and create the service's tables at start");
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        std::cerr << "login_service: " << e.what() << "\nRun 'login_service --help' for usage.\n";
        std::exit(2);
    }
    s.policy = policies.at(policy);
    s.acquire_timeout = std::chrono::milliseconds(timeout_ms);
    s.work = std::chrono::milliseconds(work_ms);
    return s;
}

}  // namespace login_service
