// Snapshot reading and validation (see snapshot.hpp and docs/poolsize.md).
#include "snapshot.hpp"

#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "json_input.hpp"
#include "usage_error.hpp"

namespace lifeguard::poolsize {
namespace {

using json = nlohmann::json;

constexpr int supported_version = 1;

// A value as the message shows it: JSON text, cut short so that a wrong 1 MiB string does not
// become a 1 MiB message.
std::string shown(const json& value) {
    constexpr std::size_t longest = 60;
    std::string text = value.dump();
    if (text.size() > longest)
        text = text.substr(0, longest) + "... (" + std::to_string(text.size()) + " chars)";
    return text;
}

class reader {
public:
    explicit reader(const std::string& path) : path_(path) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw usage_error("--snapshot " + path_ + ": " + what);
    }

    // A required or optional whole number; `where` says which field, e.g. `pools[0] ("app").max_size`.
    std::size_t count(const json& value, const std::string& where) const {
        // nlohmann reads an integer above 2^64 - 1 as a floating-point number.
        constexpr double beyond_size_max = 18446744073709551616.0;
        static_assert(std::numeric_limits<std::size_t>::max() == 18446744073709551615u);
        if (value.is_number_float() && value.get<double>() >= beyond_size_max) {
            fail(where + " is too large: " + shown(value) + " (at most 18446744073709551615)");
        }
        if (!value.is_number_unsigned()) {
            fail(where + " must be a whole number >= 0, got " + shown(value));
        }
        return value.get<std::size_t>();
    }

    std::string text(const json& value, const std::string& where) const {
        if (!value.is_string()) fail(where + " must be a string, got " + shown(value));
        return value.get<std::string>();
    }

    const json& required(const json& object, const char* key, const std::string& where) const {
        const auto it = object.find(key);
        if (it == object.end()) fail(where + " has no \"" + key + "\"");
        return *it;
    }

    nested_acquisition nested(const json& value, const std::string& where) const {
        if (!value.is_object()) fail(where + " must be an object, got " + shown(value));
        nested_acquisition n;
        n.outer_site = text(required(value, "outer_site", where), where + ".outer_site");
        n.inner_site = text(required(value, "inner_site", where), where + ".inner_site");
        n.depth = count(required(value, "depth", where), where + ".depth");
        if (const auto it = value.find("tasks"); it != value.end()) n.tasks = count(*it, where + ".tasks");
        if (const auto it = value.find("count"); it != value.end()) n.count = count(*it, where + ".count");
        return n;
    }

    snapshot_pool pool(const json& value, std::size_t index) const {
        std::string where = "pools[" + std::to_string(index) + "]";
        if (!value.is_object()) fail(where + " must be an object, got " + shown(value));
        snapshot_pool p;
        p.name = text(required(value, "name", where), where + ".name");
        if (p.name.empty()) fail(where + ".name is empty");
        where += " (\"" + p.name + "\")";
        p.observed_tasks = count(required(value, "observed_tasks", where), where + ".observed_tasks");
        p.observed_connections_per_task = count(required(value, "observed_connections_per_task", where),
                                                where + ".observed_connections_per_task");
        // Either both are 0 (the pool was not used) or neither: a task cannot hold zero
        // connections and still be counted.
        if ((p.observed_tasks == 0) != (p.observed_connections_per_task == 0)) {
            fail(where + ": observed_tasks " + std::to_string(p.observed_tasks) +
                 " and observed_connections_per_task " + std::to_string(p.observed_connections_per_task) +
                 " contradict each other (both 0 when unused, else both >= 1)");
        }
        if (const auto it = value.find("max_size"); it != value.end() && !it->is_null()) {
            p.max_size = count(*it, where + ".max_size");
            if (*p.max_size == 0) fail(where + ".max_size must be at least 1");
        }
        if (const auto it = value.find("nested"); it != value.end() && !it->is_null()) {
            if (!it->is_array()) fail(where + ".nested must be an array, got " + shown(*it));
            for (std::size_t i = 0; i < it->size(); ++i) {
                p.nested.push_back(nested((*it)[i], where + ".nested[" + std::to_string(i) + "]"));
            }
        }
        return p;
    }

    snapshot read() const {
        json root;
        try {
            root = parse_strict(read_capped(path_, snapshot_max_bytes));
        } catch (const json_input_error& e) {
            fail(e.what());
        }
        if (!root.is_object())
            fail("expected a JSON object with \"lifeguard_snapshot\": 1, got " +
                 std::string(root.type_name()));

        const auto version = root.find("lifeguard_snapshot");
        if (version == root.end())
            fail("no \"lifeguard_snapshot\" field: not a lifeguard diagnostics snapshot");
        if (!version->is_number_integer() || version->get<long long>() != supported_version) {
            fail("\"lifeguard_snapshot\": " + shown(*version) +
                 " is not supported (this poolsize reads version " + std::to_string(supported_version) + ")");
        }

        const json& pools = required(root, "pools", "the snapshot");
        if (!pools.is_array()) fail("\"pools\" must be an array, got " + shown(pools));
        if (pools.empty()) fail("\"pools\" is empty: no pool to size");

        snapshot s;
        s.path = path_;
        std::set<std::string> names;
        for (std::size_t i = 0; i < pools.size(); ++i) {
            s.pools.push_back(pool(pools[i], i));
            if (!names.insert(s.pools.back().name).second) {
                fail("pool name \"" + s.pools.back().name + "\" appears twice in \"pools\"");
            }
        }
        return s;
    }

private:
    std::string path_;
};

}  // namespace

snapshot read_snapshot(const std::string& path) {
    return reader(path).read();
}

}  // namespace lifeguard::poolsize
