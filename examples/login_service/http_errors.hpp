// How the service answers when a request fails: the HTTP status and a short reason Locust
// groups its failures by ("pool timeout", "deadlock victim", ...). The full message goes to
// the service's log; drivers never put passwords in theirs.
#pragma once

#include <httplib.h>

#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

#include "lifeguard/errors.hpp"

namespace login_service {

/// A request body that does not say what the route needs; the message names the field.
class bad_request : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// Runs `handle()`; turns what it throws into a status and a one-line reason.
template <class Handle>
void answer(httplib::Response& res, Handle&& handle) {
    try {
        handle();
        return;
    } catch (const bad_request& e) {
        res.status = 400;
        res.set_content(std::string("bad request: ") + e.what() + "\n", "text/plain");
        return;
    } catch (const lifeguard::pool_error& e) {
        const auto code = e.code();
        res.status = 503;
        const char* reason = code == lifeguard::make_error_code(lifeguard::errc::deadlock) ? "deadlock victim"
                             : code == lifeguard::make_error_code(lifeguard::errc::timeout)
                                 ? "pool timeout"
                                 : "pool unavailable";
        res.set_content(std::string(reason) + "\n", "text/plain");
        std::cerr << "login_service: request failed (" << reason << "): " << e.what() << '\n';
    } catch (const std::exception& e) {
        res.status = 500;
        res.set_content("database error\n", "text/plain");
        std::cerr << "login_service: request failed (database error): " << e.what() << '\n';
    }
}

}  // namespace login_service
