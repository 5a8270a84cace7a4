// The consumers' in-memory driver: hands out connections numbered 1, 2, ... and never fails.
#pragma once

#include <chrono>

struct counter_driver {
    using connection_type = int;
    int next = 1;
    int connect(std::chrono::steady_clock::time_point) { return next++; }
    bool is_valid(int&, std::chrono::milliseconds) { return true; }
    bool reset(int&) { return true; }
    void close(int&) noexcept {}
};
