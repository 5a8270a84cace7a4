// The recommendation and its two renderings (see plan.hpp).
#include "plan.hpp"

#include <algorithm>
#include <lifeguard/sizing.hpp>
#include <limits>
#include <string_view>

#include "usage_error.hpp"

namespace lifeguard::poolsize {
namespace {

using json = nlohmann::ordered_json;
using std::to_string;

// One number with its formula and reason. Rendered as an aligned row for people and as one
// sentence in the JSON "reasons".
struct line {
    std::string label;
    std::optional<std::size_t> value;
    std::string formula;
    std::string why;

    std::string sentence() const {
        std::string s = label;
        if (value) s += " " + to_string(*value);
        if (!formula.empty()) s += " = " + formula;
        if (!why.empty()) s += ": " + why;
        return s;
    }
};

struct section {
    std::string title;  ///< empty: no title row
    std::vector<line> lines;
};

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
    return to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
    return out;
}

std::string overflow_source(const request& req, const pool_request& pool) {
    if (pool.name.empty()) {
        return "--tasks " + to_string(pool.tasks) + " with --connections-per-task " +
               to_string(pool.connections_per_task);
    }
    return "--snapshot " + req.snapshot_path.value_or("") + ": pool \"" + pool.name + "\" (observed_tasks " +
           to_string(pool.tasks) + ", observed_connections_per_task " + to_string(pool.connections_per_task) +
           ")";
}

struct pool_result {
    const pool_request* request = nullptr;
    size_recommendation sizes;
    section lines;
    json object;  ///< the per-pool JSON fields (without inputs)
};

pool_result size_pool(const request& req, const pool_request& pool) {
    const auto minimum = deadlock_free_minimum(pool.tasks, pool.connections_per_task);
    if (!minimum) {
        throw usage_error(overflow_source(req, pool) + ": the deadlock-free minimum Tn x (Cm - 1) + 1 " +
                          (minimum.error == sizing_error::overflow ? "is too large (overflow)"
                                                                   : std::string(to_string(minimum.error))));
    }
    const auto recommendation = recommend_size({.tasks = pool.tasks,
                                                .connections_per_task = pool.connections_per_task,
                                                .cores = req.cores,
                                                .effective_spindles = req.spindles});
    // The throughput size was checked by the caller; only the deadlock-free part can fail here.
    if (!recommendation) throw usage_error(std::string(to_string(recommendation.error)));
    const size_recommendation& r = recommendation.value;

    pool_result out;
    out.request = &pool;
    out.sizes = r;
    const bool observed = !pool.name.empty();
    const std::size_t tn = pool.tasks;
    const std::size_t cm = pool.connections_per_task;

    std::string minimum_why;
    if (cm == 1) {
        minimum_why = "one connection per task at a time cannot lock the pool";
    } else {
        minimum_why =
            tn == 1 ? "below it, the task can hold " + to_string(cm - 1) + " and wait for another forever"
                    : "below it, " + to_string(tn) + " tasks can each hold " + to_string(cm - 1) +
                          " and wait for another: pool-locked";
    }
    std::vector<line>& lines = out.lines.lines;
    lines.push_back({"deadlock-free minimum", r.deadlock_free_minimum,
                     "Tn x (Cm - 1) + 1 = " + to_string(tn) + " x (" + to_string(cm) + " - 1) + 1" +
                         (observed ? " (observed)" : ""),
                     minimum_why});
    lines.push_back({"throughput size", r.throughput_size,
                     "cores x 2 + spindles = " + to_string(req.cores) + " x 2 + " + to_string(req.spindles),
                     req.spindles == 0 ? "what the database can keep busy (0 spindles: data set cached)"
                                       : "what the database can keep busy"});
    std::string max_why;
    if (r.deadlock_free_minimum > r.throughput_size) {
        max_why = "the deadlock-free minimum is larger, so the pool cannot lock itself";
    } else if (r.deadlock_free_minimum < r.throughput_size) {
        max_why = "the throughput size is larger, and deadlock-free";
    } else {
        max_why = "both agree";
    }
    lines.push_back({"max_size", r.max_size, "max(deadlock-free minimum, throughput size)", max_why});
    lines.push_back({"min_idle", r.min_idle, "min(throughput size, max_size)",
                     r.min_idle < r.max_size ? "kept ready; the pool grows toward max_size when tasks nest"
                                             : "a fixed-size pool"});
    if (pool.configured_max_size) {
        const std::size_t configured = *pool.configured_max_size;
        std::string why = configured < r.deadlock_free_minimum
                              ? "below the deadlock-free minimum " + to_string(r.deadlock_free_minimum) +
                                    ": this pool can deadlock"
                              : "at least the deadlock-free minimum " + to_string(r.deadlock_free_minimum);
        lines.push_back({"configured max_size", configured, "", why});
    }
    // The deepest nestings first: they are why Cm is what it is.
    std::vector<const nested_acquisition*> nested;
    for (const auto& n : pool.nested) nested.push_back(&n);
    std::stable_sort(nested.begin(), nested.end(), [](const auto* a, const auto* b) {
        return a->depth != b->depth ? a->depth > b->depth : a->tasks > b->tasks;
    });
    constexpr std::size_t shown_nestings = 3;
    for (std::size_t i = 0; i < nested.size() && i < shown_nestings; ++i) {
        const auto& n = *nested[i];
        std::string why = n.outer_site + " -> " + n.inner_site;
        if (n.tasks > 0) why += " (" + plural(n.tasks, "task", "tasks") + " at once)";
        lines.push_back({"nesting depth", n.depth, "", why});
    }
    if (nested.size() > shown_nestings) {
        lines.push_back({"nesting", std::nullopt, "",
                         "and " + to_string(nested.size() - shown_nestings) +
                             " more nested acquisition sites in the snapshot"});
    }

    if (observed) out.object["pool"] = pool.name;
    out.object["deadlock_free_minimum"] = r.deadlock_free_minimum;
    out.object["throughput_size"] = r.throughput_size;
    out.object["max_size"] = r.max_size;
    out.object["min_idle"] = r.min_idle;
    if (pool.configured_max_size) {
        out.object["configured_max_size"] = *pool.configured_max_size;
        out.object["configured_is_deadlock_free"] = *pool.configured_max_size >= r.deadlock_free_minimum;
    }
    return out;
}

// Splits `text` at spaces into lines of at most `width` characters (a longer word stays whole).
std::vector<std::string> wrap(const std::string& text, std::size_t width) {
    std::vector<std::string> lines;
    std::string current;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find(' ', at);
        if (end == std::string::npos) end = text.size();
        const std::string word = text.substr(at, end - at);
        if (!current.empty() && current.size() + 1 + word.size() > width) {
            lines.push_back(current);
            current.clear();
        }
        current += (current.empty() ? "" : " ") + word;
        at = end + 1;
    }
    if (!current.empty() || lines.empty()) lines.push_back(current);
    return lines;
}

constexpr std::size_t text_width = 100;  // leaves room in a 110-column terminal or CI log

std::string render(const std::vector<section>& sections, const std::string& headline) {
    std::size_t label_width = 0;
    std::size_t value_width = 0;
    for (const auto& s : sections) {
        for (const auto& l : s.lines) {
            label_width = std::max(label_width, l.label.size());
            if (l.value) value_width = std::max(value_width, to_string(*l.value).size());
        }
    }
    const std::string indent(2 + label_width + 2 + value_width + 2, ' ');
    std::string out = headline + "\n";
    for (const auto& s : sections) {
        out += "\n";
        if (!s.title.empty()) out += s.title + "\n";
        for (const auto& l : s.lines) {
            const std::string value = l.value ? to_string(*l.value) : "";
            out += "  " + l.label + std::string(label_width - l.label.size(), ' ') + "  " +
                   std::string(value_width - value.size(), ' ') + value + "  ";
            const std::size_t room = indent.size() < text_width ? text_width - indent.size() : 40;
            if (!l.formula.empty()) out += l.formula + "\n";
            bool first = true;
            for (const auto& piece : wrap(l.why, room)) {
                if (piece.empty() && !l.formula.empty()) break;
                out += (first && l.formula.empty() ? "" : indent) + piece + "\n";
                first = false;
            }
        }
    }
    return out;
}

json reasons_of(const section& s) {
    json reasons = json::array();
    for (const auto& l : s.lines) reasons.push_back(l.sentence());
    return reasons;
}

}  // namespace

outcome evaluate(const request& req) {
    const auto throughput = throughput_size(req.cores, req.spindles);
    if (!throughput) {
        throw usage_error("--cores " + to_string(req.cores) + " with --spindles " + to_string(req.spindles) +
                          ": the throughput size cores x 2 + spindles " +
                          (throughput.error == sizing_error::overflow
                               ? "is too large (overflow)"
                               : std::string(to_string(throughput.error))));
    }

    std::vector<pool_result> pools;
    pools.reserve(req.pools.size());
    for (const auto& p : req.pools) pools.push_back(size_pool(req, p));

    // Every instance opens all its pools: the fleet needs instances x (sum of max_size).
    std::size_t per_instance_total = 0;
    std::size_t minimum_total = 0;
    for (const auto& p : pools) {
        if (p.sizes.max_size > std::numeric_limits<std::size_t>::max() - per_instance_total) {
            throw usage_error("the pools' max_size values add up to more than " +
                              to_string(std::numeric_limits<std::size_t>::max()) + " (overflow)");
        }
        per_instance_total += p.sizes.max_size;
        minimum_total += p.sizes.deadlock_free_minimum;  // <= per_instance_total: cannot overflow
    }
    const auto demand = fleet_demand(req.instances, per_instance_total);
    if (!demand) {
        throw usage_error("--instances " + to_string(req.instances) + " x max_size " +
                          to_string(per_instance_total) +
                          ": the fleet's connection count is too large (overflow)");
    }

    std::optional<fleet_budget> budget;
    if (req.server) {
        const auto b = server_budget(req.server->max_connections, req.server->reserved, req.instances);
        if (!b) {
            const std::string numbers = "reserved " + to_string(req.server->reserved) +
                                        " of max_connections " + to_string(req.server->max_connections);
            if (req.server->pg) {
                throw usage_error("--pg " + req.server->pg->where + ": the server keeps " + numbers +
                                  ": nothing is left for pools");
            }
            throw usage_error("--reserved " + to_string(req.server->reserved) +
                              ": must be fewer than --server-max-connections " +
                              to_string(req.server->max_connections) + " (" +
                              std::string(to_string(b.error)) + ")");
        }
        budget = b.value;
    }
    const std::optional<bool> fits =
        budget ? std::optional<bool>(fleet_fits(*budget, per_instance_total)) : std::nullopt;

    // The fleet: what all instances open together, against the server.
    section fleet{req.several ? "fleet (every instance opens all pools)" : "", {}};
    std::string fleet_formula = "instances x max_size = " + to_string(req.instances) + " x ";
    if (req.several) {
        std::vector<std::string> sizes;
        for (const auto& p : pools) sizes.push_back(to_string(p.sizes.max_size));
        fleet_formula += "(" + join(sizes, " + ") + ")";
    } else {
        fleet_formula += to_string(per_instance_total);
    }
    std::string fleet_why;
    if (!budget) {
        fleet_why = "server not checked (give --server-max-connections or --pg)";
    } else if (*fits) {
        fleet_why = "fits the " + to_string(budget->available) + " connections the server has for pools";
    } else {
        fleet_why =
            "does NOT fit the " + to_string(budget->available) + " connections the server has for pools";
    }
    fleet.lines.push_back({"fleet", demand.value, fleet_formula, fleet_why});
    if (budget) {
        const server_request& s = *req.server;
        std::string source;
        if (s.pg) {
            source = "from --pg " + s.pg->where;
            if (!s.pg->server_version.empty()) source += ", PostgreSQL " + s.pg->server_version;
            source += " (superuser_reserved_connections " + to_string(s.pg->superuser_reserved_connections);
            if (s.pg->reserved_connections) {
                source += " + reserved_connections " + to_string(*s.pg->reserved_connections);
            }
            source += ")";
        } else {
            source = s.reserved_given ? "from --server-max-connections and --reserved"
                                      : "from --server-max-connections; no --reserved, so 0";
        }
        fleet.lines.push_back(
            {"server available", budget->available,
             "max_connections - reserved = " + to_string(s.max_connections) + " - " + to_string(s.reserved),
             source});
        std::string budget_why;
        if (*fits) {
            budget_why = "each instance's pools may open up to this many";
        } else if (minimum_total <= budget->per_instance) {
            budget_why = req.several ? "lower max_size toward the deadlock-free minimums (" +
                                           to_string(minimum_total) +
                                           " in all) to fit; more throughput needs "
                                           "fewer instances or PgBouncer"
                                     : "max_size " + to_string(budget->per_instance) +
                                           " would fit and stay "
                                           "deadlock-free (>= " +
                                           to_string(minimum_total) +
                                           "); more throughput "
                                           "needs fewer instances or PgBouncer";
        } else {
            budget_why = "even the deadlock-free minimum " + to_string(minimum_total) +
                         " does not fit: nest fewer connections per task, run fewer instances, raise "
                         "max_connections, or put PgBouncer in front";
        }
        fleet.lines.push_back(
            {"per-instance budget", budget->per_instance,
             "available / instances = " + to_string(budget->available) + " / " + to_string(req.instances),
             budget_why});
    }
    if (req.instances > 1) {
        std::size_t idle_total = 0;
        for (const auto& p : pools) idle_total += p.sizes.min_idle;  // <= per_instance_total
        fleet.lines.push_back({"note", std::nullopt, "",
                               "the throughput size is the whole database's; " + to_string(req.instances) +
                                   " instances keep " + to_string(req.instances * idle_total) +
                                   " connections ready in all"});
    }
    for (const auto& name : req.skipped_pools) {
        fleet.lines.push_back(
            {"note", std::nullopt, "", "pool \"" + name + "\" skipped: nothing observed (observed_tasks 0)"});
    }
    if (!req.unselected_pools.empty()) {
        fleet.lines.push_back({"note", std::nullopt, "",
                               "the fleet counts only pool \"" + req.pools.front().name +
                                   "\"; the snapshot's other pools (" + join(req.unselected_pools, ", ") +
                                   ") open connections too"});
    }

    // --check SIZE (one pool only; main() enforces that).
    outcome out;
    json check;
    if (req.check) {
        const std::size_t size = *req.check;
        const pool_result& p = pools.front();
        if (size < p.sizes.deadlock_free_minimum) {
            out.check_failures.push_back("size " + to_string(size) + " is below the deadlock-free minimum " +
                                         to_string(p.sizes.deadlock_free_minimum));
        }
        if (budget && !fleet_fits(*budget, size)) {
            const auto checked_demand = fleet_demand(req.instances, size);
            out.check_failures.push_back(
                "fleet " + to_string(req.instances) + " x " + to_string(size) +
                (checked_demand ? " = " + to_string(checked_demand.value) : std::string(" (overflow)")) +
                " does not fit the " + to_string(budget->available) +
                " connections the server has for pools");
        }
        std::string why;
        if (out.check_failures.empty()) {
            why = "passes: at least the deadlock-free minimum " + to_string(p.sizes.deadlock_free_minimum) +
                  (budget ? ", and the fleet fits" : "; server not checked");
            if (size < p.sizes.throughput_size) {
                why += "; below the throughput size " + to_string(p.sizes.throughput_size) +
                       ", so the database may not be kept busy";
            }
        } else {
            why = "FAILS: " + join(out.check_failures, "; ");
        }
        fleet.lines.push_back({"check", size, "", why});
        check["size"] = size;
        check["passed"] = out.check_failures.empty();
        check["failures"] = out.check_failures;
    }

    // Inputs, echoed so a stored JSON result says what it was computed from.
    json inputs;
    if (!req.several && !req.snapshot_path) {
        inputs["tasks"] = req.pools.front().tasks;
        inputs["connections_per_task"] = req.pools.front().connections_per_task;
    }
    inputs["cores"] = req.cores;
    inputs["spindles"] = req.spindles;
    inputs["instances"] = req.instances;
    inputs["server_max_connections"] = req.server ? json(req.server->max_connections) : json(nullptr);
    inputs["reserved"] = req.server ? json(req.server->reserved) : json(nullptr);
    if (req.server && req.server->pg) {
        inputs["pg"] = req.server->pg->where;
        inputs["server_version"] = req.server->pg->server_version;
    }
    if (req.snapshot_path) inputs["snapshot"] = *req.snapshot_path;
    if (req.check) inputs["check"] = *req.check;

    const auto fleet_fields = [&](json& j) {
        j["fits_server"] = fits ? json(*fits) : json(nullptr);
        j["fleet_connections"] = demand.value;
        j["available_connections"] = budget ? json(budget->available) : json(nullptr);
        j["per_instance_budget"] = budget ? json(budget->per_instance) : json(nullptr);
    };

    std::vector<section> sections;
    std::string headline;
    if (!req.several) {
        pool_result& p = pools.front();
        json& j = out.json;
        j = p.object;
        if (p.request->name.empty() == false) {
            inputs["observed_tasks"] = p.request->tasks;
            inputs["observed_connections_per_task"] = p.request->connections_per_task;
        }
        fleet_fields(j);
        if (req.check) j["check"] = check;
        section all = p.lines;
        all.lines.insert(all.lines.end(), fleet.lines.begin(), fleet.lines.end());
        j["reasons"] = reasons_of(all);
        j["inputs"] = inputs;
        headline = "recommended" +
                   (p.request->name.empty() ? std::string{} : " for pool " + p.request->name) +
                   ": max_size " + to_string(p.sizes.max_size) + ", min_idle " + to_string(p.sizes.min_idle);
        sections.push_back(std::move(all));
    } else {
        json list = json::array();
        headline = "recommended for " + plural(pools.size(), "pool", "pools") + " in " +
                   req.snapshot_path.value_or("") +
                   (req.skipped_pools.empty()
                        ? std::string{}
                        : " (" + to_string(req.skipped_pools.size()) + " skipped: nothing observed)") +
                   ":";
        std::size_t name_width = 0;
        for (const auto& p : pools) name_width = std::max(name_width, p.request->name.size());
        for (auto& p : pools) {
            json j = p.object;
            j["observed_tasks"] = p.request->tasks;
            j["observed_connections_per_task"] = p.request->connections_per_task;
            j["reasons"] = reasons_of(p.lines);
            list.push_back(std::move(j));
            headline += "\n  " + p.request->name + std::string(name_width - p.request->name.size(), ' ') +
                        "  max_size " + to_string(p.sizes.max_size) + ", min_idle " +
                        to_string(p.sizes.min_idle);
            p.lines.title = "pool " + p.request->name;
            sections.push_back(p.lines);
        }
        out.json["pools"] = std::move(list);
        out.json["total_max_size"] = per_instance_total;
        fleet_fields(out.json);
        if (!req.skipped_pools.empty()) out.json["skipped_pools"] = req.skipped_pools;
        out.json["reasons"] = reasons_of(fleet);
        out.json["inputs"] = inputs;
        sections.push_back(fleet);
    }
    if (fits && !*fits) headline += "\n(the fleet does NOT fit the server: see per-instance budget)";
    out.text = render(sections, headline);
    return out;
}

}  // namespace lifeguard::poolsize
