// JSON form of the detector's snapshot (nlohmann-json), read by the poolsize CLI.
#include "lifeguard/diagnostics/snapshot.hpp"

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include <nlohmann/json.hpp>

namespace lifeguard::diagnostics {
namespace {

using json = nlohmann::json;

template <class T>
T field(const json& j, const char* name, const char* where) {
    const auto it = j.find(name);
    if (it == j.end()) throw std::invalid_argument(std::string("lifeguard snapshot: ") + where + " has no \"" + name + "\"");
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        throw std::invalid_argument(std::string("lifeguard snapshot: ") + where + "." + name + " has the wrong type");
    }
}

}  // namespace

std::string to_json(const snapshot& s, int indent) {
    json pools = json::array();
    for (const auto& p : s.pools) {
        json nested = json::array();
        for (const auto& n : p.nested)
            nested.push_back({{"outer_site", n.outer_site},
                              {"inner_site", n.inner_site},
                              {"depth", n.depth},
                              {"tasks", n.tasks},
                              {"count", n.count}});
        pools.push_back({{"name", p.name},
                         {"max_size", p.max_size},
                         {"observed_tasks", p.observed_tasks},
                         {"observed_connections_per_task", p.observed_connections_per_task},
                         {"safe_size", p.safe_size},
                         {"nested", std::move(nested)}});
    }
    json edges = json::array();
    for (const auto& e : s.order_edges) edges.push_back({{"from", e.from}, {"to", e.to}, {"site", e.site}});
    json doc = {{"lifeguard_snapshot", snapshot::format_version}, {"pools", std::move(pools)}, {"order_edges", std::move(edges)}};
    return doc.dump(indent);
}

snapshot snapshot_from_json(std::string_view text) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        throw std::invalid_argument(std::string("lifeguard snapshot: not JSON: ") + e.what());
    }
    if (!doc.is_object()) throw std::invalid_argument("lifeguard snapshot: the document is not an object");
    const int version = field<int>(doc, "lifeguard_snapshot", "the document");
    if (version != snapshot::format_version)
        throw std::invalid_argument("lifeguard snapshot: format version " + std::to_string(version) +
                                    " is not supported (expected " + std::to_string(snapshot::format_version) + ")");
    snapshot s;
    for (const auto& p : field<json>(doc, "pools", "the document")) {
        snapshot::pool out;
        out.name = field<std::string>(p, "name", "a pool");
        out.max_size = field<std::uint64_t>(p, "max_size", "a pool");
        out.observed_tasks = field<std::uint64_t>(p, "observed_tasks", "a pool");
        out.observed_connections_per_task = field<std::uint64_t>(p, "observed_connections_per_task", "a pool");
        out.safe_size = field<std::uint64_t>(p, "safe_size", "a pool");
        if (p.contains("nested"))
            for (const auto& n : p.at("nested"))
                out.nested.push_back({field<std::string>(n, "outer_site", "a nested pair"),
                                      field<std::string>(n, "inner_site", "a nested pair"),
                                      field<std::uint64_t>(n, "depth", "a nested pair"),
                                      field<std::uint64_t>(n, "tasks", "a nested pair"),
                                      field<std::uint64_t>(n, "count", "a nested pair")});
        s.pools.push_back(std::move(out));
    }
    if (doc.contains("order_edges"))
        for (const auto& e : doc.at("order_edges"))
            s.order_edges.push_back({field<std::string>(e, "from", "an order edge"),
                                     field<std::string>(e, "to", "an order edge"),
                                     field<std::string>(e, "site", "an order edge")});
    return s;
}

void write_snapshot(const snapshot& s, const std::filesystem::path& path) {
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw std::system_error(errno, std::generic_category(), "lifeguard snapshot: cannot write " + tmp.string());
        out << to_json(s) << '\n';
        out.flush();
        if (!out) throw std::system_error(errno, std::generic_category(), "lifeguard snapshot: cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, path);  // throws filesystem_error (a system_error)
}

}  // namespace lifeguard::diagnostics
