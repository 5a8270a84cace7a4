// An spdlog logger whose lines a test reads back (level and text), through spdlog's ring buffer
// sink: never spdlog's registry or global level.
#pragma once

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lifeguard::testing {

struct log_line {
    spdlog::level::level_enum lvl;
    std::string text;
};

// A logger at `lvl` keeping its last `capacity` lines.
class captured_log {
public:
    explicit captured_log(spdlog::level::level_enum lvl = spdlog::level::trace, std::string name = "test",
                          std::size_t capacity = 1000)
        : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(capacity)),
          logger_(std::make_shared<spdlog::logger>(std::move(name), sink_)) {
        logger_->set_level(lvl);
    }
    const std::shared_ptr<spdlog::logger>& logger() const { return logger_; }

    // Every line kept, oldest first.
    std::vector<log_line> lines() const {
        std::vector<log_line> out;
        for (const auto& m : sink_->last_raw())
            out.push_back({m.level, std::string(m.payload.data(), m.payload.size())});
        return out;
    }
    // The lines at exactly `lvl`, oldest first.
    std::vector<log_line> at(spdlog::level::level_enum lvl) const {
        std::vector<log_line> out;
        for (auto& l : lines())
            if (l.lvl == lvl) out.push_back(l);
        return out;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> logger_;
};

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace lifeguard::testing
