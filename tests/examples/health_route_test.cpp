// login_service's GET /health (examples/login_service/health_route.hpp) over real HTTP: the
// pool's health() as JSON, 200 while it can serve, 503 when it is down.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "health_route.hpp"
#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"

namespace {

using namespace std::chrono_literals;
using lifeguard::testing::fake_driver;
using fake_pool = lifeguard::basic_pool<fake_driver>;

/// A server with the route on a free local port, stopped when the test ends.
struct health_server {
    httplib::Server server;
    std::thread thread;
    int port = 0;

    explicit health_server(fake_pool& pool) {
        login_service::install_health_route(server, pool);
        port = server.bind_to_any_port("127.0.0.1");  // listening from here: a client may connect at once
        thread = std::thread([this] { server.listen_after_bind(); });
    }
    ~health_server() {
        server.stop();
        thread.join();
    }
    httplib::Result get() {
        httplib::Client client("127.0.0.1", port);
        return client.Get("/health");
    }
};

TEST(HealthRoute, AServingPoolAnswers200WithItsHealthAsJson) {
    fake_driver d;
    fake_pool pool(d, {.name = "app", .max_size = 2}, std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool.run_worker_once();
    health_server http(pool);
    auto res = http.get();
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    EXPECT_NE(res->body.find(R"("pool":"app","verdict":"healthy")"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find(R"("open":2)"), std::string::npos) << res->body;
}

TEST(HealthRoute, ADownPoolAnswers503WithTheConnectError) {
    fake_driver d;
    d.with([](auto& s) {
        s.refuse_connects = true;
        s.connect_error = "FATAL: password authentication failed for user \"app\"";
    });
    fake_pool pool(d, {.name = "app", .max_size = 2}, std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool.run_worker_once();  // one failed attempt
    health_server http(pool);
    auto res = http.get();
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 503);
    EXPECT_NE(res->body.find(R"("verdict":"down")"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find(R"(password authentication failed for user \"app\")"), std::string::npos) << res->body;
}

TEST(HealthRoute, ASuspendedPoolIsDegradedButStillReady) {
    fake_driver d;
    fake_pool pool(d, {.name = "app", .max_size = 1}, std::chrono::steady_clock{}, lifeguard::worker_mode::manual);
    pool.run_worker_once();
    pool.suspend();
    health_server http(pool);
    auto res = http.get();
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find(R"("verdict":"degraded")"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find(R"("suspended":true)"), std::string::npos) << res->body;
}

}  // namespace
