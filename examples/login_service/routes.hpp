// The service's routes over one pool: the write-up's flow.
//   POST /login       {"login": NAME}    -> {"id": N}  the account is created on first login:
//                     a transaction on connection #1, the id from the table generator on
//                     connection #2 of the same pool (autoid_demo's login_service)
//   POST /onboarding  {"id": N, "step": S}
//   POST /goal        {"id": N, "goal": G}
//   GET  /home?id=N   -> {"id": N, "goals": K}
// Every request runs as its own lifeguard owner, labelled with the route and a number, so the
// detector's reports name requests, not worker threads.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../autoid_demo/login_service.hpp"
#include "app_statements.hpp"
#include "http_errors.hpp"
#include "lifeguard/owner.hpp"

namespace login_service {

using json = nlohmann::json;

/// The body as a JSON object; bad_request names what is wrong.
inline json object_body(const httplib::Request& req) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) throw bad_request("the body must be a JSON object");
    return body;
}

inline std::string text_field(const json& body, const char* field) {
    const auto it = body.find(field);
    if (it == body.end() || !it->is_string()) throw bad_request(std::string("field '") + field + "' must be a string");
    const auto value = it->get<std::string>();
    if (value.empty() || value.size() > 64)
        throw bad_request(std::string("field '") + field + "' must hold 1..64 characters, got " +
                          std::to_string(value.size()));
    return value;
}

inline std::int64_t id_field(const json& body) {
    const auto it = body.find("id");
    if (it == body.end() || !it->is_number_integer() || it->get<std::int64_t>() < 1)
        throw bad_request("field 'id' must be a positive integer");
    return it->get<std::int64_t>();
}

inline std::int64_t id_param(const httplib::Request& req) {
    const auto text = req.get_param_value("id");
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(text) < 1)
        throw bad_request("query parameter 'id' must be a positive integer, got '" + text.substr(0, 20) + "'");
    return std::stoll(text);
}

template <class Pool>
class routes {
public:
    routes(Pool& pool, const app_statements& sql, int phase, std::chrono::milliseconds work)
        : pool_(pool),
          sql_(sql),
          work_(work),
          logins_(pool, sql.login, phase, hash_rounds, [this] { hold_work(); }) {}

    void install(httplib::Server& server) {
        server.Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
            answer(res, [&] {
                const auto name = text_field(object_body(req), "login");
                lifeguard::owner_scope request(label("POST /login"));
                autoid::login_trace trace;
                logins_.login(name, trace);
                res.set_content(json{{"id", trace.id}}.dump(), "application/json");
            });
        });
        server.Post("/onboarding", [this](const httplib::Request& req, httplib::Response& res) {
            answer(res, [&] {
                const auto body = object_body(req);
                save(label("POST /onboarding"), sql_.save_onboarding, id_field(body), text_field(body, "step"));
                res.set_content("{}", "application/json");
            });
        });
        server.Post("/goal", [this](const httplib::Request& req, httplib::Response& res) {
            answer(res, [&] {
                const auto body = object_body(req);
                save(label("POST /goal"), sql_.save_goal, id_field(body), text_field(body, "goal"));
                res.set_content("{}", "application/json");
            });
        });
        server.Get("/home", [this](const httplib::Request& req, httplib::Response& res) {
            answer(res, [&] {
                const auto id = id_param(req);
                lifeguard::owner_scope request(label("GET /home"));
                auto lease = pool_.acquire();
                const auto goals = exec(lease, sql_.read_home, autoid::params{std::to_string(id)});
                hold_work();
                res.set_content(json{{"id", id}, {"goals", std::stoll(goals.value())}}.dump(), "application/json");
            });
        });
    }

private:
    // A few thousand rounds: the login does hashing work without eating the shared cores.
    static constexpr std::uint64_t hash_rounds = 2000;

    std::string label(const char* route) { return std::string(route) + " #" + std::to_string(++requests_); }

    void save(std::string owner_label, const std::string& statement, std::int64_t id, const std::string& value) {
        lifeguard::owner_scope request(std::move(owner_label));
        auto lease = pool_.acquire();
        exec(lease, statement, autoid::params{std::to_string(id), value});
        hold_work();
    }

    // The time a request spends on its connection besides the statements above (queries a
    // real service would run, the password hash): simulated work, not synchronisation.
    void hold_work() const {
        if (work_.count() > 0) std::this_thread::sleep_for(work_);
    }

    Pool& pool_;
    const app_statements& sql_;
    std::chrono::milliseconds work_;
    autoid::login_service<Pool> logins_;
    std::atomic<std::uint64_t> requests_{0};
};

}  // namespace login_service
