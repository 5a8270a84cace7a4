// Capped reading and duplicate-key-free parsing of JSON input (see json_input.hpp).
#include "json_input.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>
#include <vector>

namespace lifeguard::poolsize {
namespace {

using json = nlohmann::json;

std::string cap_text(std::size_t cap) {
    constexpr std::size_t mib = std::size_t{1} << 20;
    std::string text = std::to_string(cap) + " bytes";
    if (cap % mib == 0) text += " (" + std::to_string(cap / mib) + " MiB)";
    return text;
}

// Where the parser is, as a path like `pools[0].nested[2]`, and the keys seen in each object
// that is still open.
class duplicate_key_check {
public:
    bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                enter_element();
                open_.push_back({event == json::parse_event_t::object_start, {}, {}, 0});
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                open_.pop_back();
                break;
            case json::parse_event_t::key: {
                auto& object = open_.back();
                object.key = parsed.get<std::string>();
                if (!object.keys.insert(object.key).second) {
                    throw json_input_error("duplicate key \"" + object.key + "\" in " + path_to_top() +
                                           ": each key may appear once in an object");
                }
                break;
            }
            case json::parse_event_t::value:
                enter_element();
                break;
        }
        return true;
    }

private:
    struct container {
        bool is_object;
        std::set<std::string> keys;  // objects: keys seen so far
        std::string key;             // objects: the key whose value is being read
        std::size_t elements;        // arrays: elements seen so far
    };

    // A value starts; inside an array, that is the next element.
    void enter_element() {
        if (!open_.empty() && !open_.back().is_object) ++open_.back().elements;
    }

    // The path of the innermost open container, e.g. `pools[0]`.
    std::string path_to_top() const {
        std::string path;
        for (std::size_t i = 0; i + 1 < open_.size(); ++i) {
            const auto& c = open_[i];
            if (c.is_object) {
                path += (path.empty() ? "" : ".") + c.key;
            } else {
                path += "[" + std::to_string(c.elements - 1) + "]";
            }
        }
        return path.empty() ? "the top-level object" : path;
    }

    std::vector<container> open_;
};

}  // namespace

std::string read_capped(const std::string& path, std::size_t cap) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw json_input_error("cannot read: it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw json_input_error(std::string("cannot read: ") + std::strerror(errno));
    // Bounded by what was read, not by what stat says: a FIFO or /dev/zero has no size.
    std::string text;
    char chunk[64 * 1024];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
        text.append(chunk, static_cast<std::size_t>(in.gcount()));
        if (text.size() > cap) throw json_input_error("too large: more than the cap of " + cap_text(cap));
    }
    if (in.bad()) throw json_input_error(std::string("cannot read: ") + std::strerror(errno));
    return text;
}

json parse_strict(const std::string& text) {
    try {
        return json::parse(text, duplicate_key_check{});
    } catch (const json::parse_error& e) {
        // nlohmann prefixes "[json.exception.parse_error.101] "; the rest says where and why.
        std::string_view message = e.what();
        if (const auto close = message.find("] "); close != std::string_view::npos) {
            message.remove_prefix(close + 2);
        }
        throw json_input_error("not valid JSON: " + std::string(message));
    }
}

}  // namespace lifeguard::poolsize
