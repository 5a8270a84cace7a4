// Must not compile, with one clear sentence: a driver whose optional reset_is_local is not
// `const` (driver.hpp) would otherwise be treated as having no hook, in silence.
#include <chrono>

#include "lifeguard/driver.hpp"

struct probe_connection {};

struct probe_driver {
    using connection_type = probe_connection;
    probe_connection connect(std::chrono::steady_clock::time_point) { return {}; }
    bool is_valid(probe_connection&, std::chrono::milliseconds) { return true; }
    bool reset(probe_connection&) { return true; }
    void close(probe_connection&) noexcept {}
    bool reset_is_local(const probe_connection&) noexcept { return true; }  // not const
};

bool probe(const probe_driver& d, const probe_connection& c) {
    return lifeguard::reset_is_local(d, c);
}
