// The driver every benchmark pool uses: connections are numbers, and opening, checking,
// resetting and closing one costs nothing, so only the pool (and what is attached to it) is
// measured.
#pragma once

#include <chrono>

namespace lifeguard_bench {

class trivial_driver {
public:
    using connection_type = int;

    // Only the pool's worker opens connections, so a plain counter is enough.
    int connect(std::chrono::steady_clock::time_point /*deadline*/) { return next_++; }
    bool is_valid(int& /*connection*/, std::chrono::milliseconds /*timeout*/) noexcept { return true; }
    bool reset(int& /*connection*/) noexcept { return true; }
    void close(int& /*connection*/) noexcept {}

private:
    int next_ = 0;
};

}  // namespace lifeguard_bench
