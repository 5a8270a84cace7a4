// What Grafana does with a Prometheus dashboard before it sends a panel's query, enough to run
// a dashboard's queries against a real server in a test: template variables resolved in order
// (`label_values(...)` queries, textbox, constant, custom), and `$var`, `${var}`,
// `${var:format}`, `[[var]]` and the built-ins `$__rate_interval`, `$__interval`, `$__range`
// substituted. A multi-value or include-all variable is formatted the way Grafana formats it for
// Prometheus: the All value, or the values regex-escaped and joined as `(a|b)`.
//
// Not modelled (a dashboard using them fails with a message naming the query): `query_result`,
// `metrics`, `label_names`, regex filters on variables, ad-hoc filters.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace lifeguard::testing::grafana {

/// A resolved variable: its values, and how a panel sees it.
struct variable {
    std::string name;
    std::vector<std::string> values;  ///< every option the variable offered
    std::string selected;             ///< what `$name` becomes in a query
};

/// `label_values(selector, label)` or `label_values(label)` (empty selector).
struct label_values_query {
    std::string selector;
    std::string label;
};

/// Parses a `label_values` query; throws std::invalid_argument naming any other kind.
inline label_values_query parse_label_values(const std::string& query) {
    static const std::regex two(R"(^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$)");
    static const std::regex one(R"(^\s*label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$)");
    std::smatch m;
    if (std::regex_match(query, m, two)) return {m[1].str(), m[2].str()};
    if (std::regex_match(query, m, one)) return {"", m[1].str()};
    throw std::invalid_argument("unsupported variable query (only label_values is modelled): " + query);
}

/// Grafana's fixed-value built-ins, as a test with a 1 s scrape interval would see them.
inline const std::map<std::string, std::string>& builtins() {
    static const std::map<std::string, std::string> values{
        {"__rate_interval", "10s"}, {"__interval", "2s"},    {"__interval_ms", "2000"},
        {"__range", "1m"},          {"__range_s", "60"},     {"__range_ms", "60000"},
    };
    return values;
}

/// Replaces variable references in `text`; unknown names stay as they are (so Prometheus
/// rejects the query and the test says which).
inline std::string interpolate(const std::string& text, const std::vector<variable>& variables) {
    static const std::regex reference(R"(\$\{([a-zA-Z0-9_]+)(?::[a-zA-Z0-9_]+)?\}|\[\[([a-zA-Z0-9_]+)\]\]|\$([a-zA-Z0-9_]+))");
    std::string out;
    auto last = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), reference), end; it != end; ++it) {
        const auto& m = *it;
        const std::string name = m[1].matched ? m[1].str() : m[2].matched ? m[2].str() : m[3].str();
        out.append(last, m[0].first);
        last = m[0].second;
        std::optional<std::string> value;
        if (auto b = builtins().find(name); b != builtins().end()) value = b->second;
        for (const auto& v : variables)
            if (v.name == name) value = v.selected;
        out += value ? *value : m[0].str();
    }
    out.append(last, text.cend());
    return out;
}

/// Escapes regex metacharacters the way Grafana's Prometheus data source does for multi values.
inline std::string regex_escape(const std::string& value) {
    static const std::regex special(R"([\\^$*+?.()|{}\[\]])");
    return std::regex_replace(value, special, R"(\\$&)");
}

/// How Grafana shows `values` in a query: include-all selects All (its allValue, even when the
/// query found nothing, or every value as `(a|b)`); otherwise the first option is selected (what
/// an empty `current` gives), escaped when the variable is multi-value.
inline std::string selection(const nlohmann::json& definition, const std::vector<std::string>& values) {
    if (definition.value("includeAll", false)) {
        const auto all = definition.value("allValue", std::string{});
        if (!all.empty()) return all;
        if (values.empty()) return {};
        if (values.size() == 1) return regex_escape(values.front());
        std::string joined;
        for (const auto& v : values) joined += (joined.empty() ? "" : "|") + regex_escape(v);
        return "(" + joined + ")";
    }
    if (values.empty()) return {};
    return definition.value("multi", false) ? regex_escape(values.front()) : values.front();
}

/// A variable's query text: a string, or an object with a "query" member (newer Grafana).
inline std::string query_of(const nlohmann::json& definition) {
    const auto& q = definition.at("query");
    return q.is_string() ? q.get<std::string>() : q.at("query").get<std::string>();
}

/// Looks up the values of a label_values query (the real server's label-values API).
using label_fetcher = std::function<std::vector<std::string>(const label_values_query&)>;

/// What a user has picked: the default selection (All where offered, else the first option),
/// or the first option of every variable.
enum class pick { defaults, first };

/// Resolves `templating.list` in order, each variable seeing the ones before it. `overrides`
/// sets a textbox's value, as a user typing into it would. Data-source variables are skipped.
inline std::vector<variable> resolve(const nlohmann::json& dashboard, const label_fetcher& fetch,
                                     pick how = pick::defaults,
                                     const std::map<std::string, std::string>& overrides = {}) {
    std::vector<variable> out;
    for (const auto& def : dashboard.at("templating").at("list")) {
        variable v{def.at("name").get<std::string>(), {}, {}};
        const auto type = def.at("type").get<std::string>();
        if (type == "datasource") continue;
        if (type == "textbox" || type == "constant") {
            const auto o = overrides.find(v.name);
            v.values = {o != overrides.end() ? o->second : query_of(def)};
        } else if (type == "custom") {
            static const std::regex comma(R"(\s*,\s*)");
            const auto q = query_of(def);
            for (std::sregex_token_iterator it(q.begin(), q.end(), comma, -1), end; it != end; ++it)
                if (!it->str().empty()) v.values.push_back(it->str());
        } else if (type == "query") {
            auto q = parse_label_values(interpolate(query_of(def), out));
            v.values = fetch(q);
        } else {
            throw std::invalid_argument("variable '" + v.name + "': unsupported type " + type);
        }
        const bool regex_formatted = def.value("multi", false) || def.value("includeAll", false);
        if (how == pick::defaults || v.values.empty())
            v.selected = selection(def, v.values);
        else
            v.selected = regex_formatted ? regex_escape(v.values.front()) : v.values.front();
        out.push_back(std::move(v));
    }
    return out;
}

/// Every panel target expression, rows' nested panels included, with its panel's title.
inline std::vector<std::pair<std::string, std::string>> panel_queries(const nlohmann::json& dashboard) {
    std::vector<std::pair<std::string, std::string>> out;
    const std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& panels) {
        for (const auto& p : panels) {
            if (p.contains("panels")) walk(p.at("panels"));
            if (!p.contains("targets")) continue;
            for (const auto& t : p.at("targets"))
                if (t.contains("expr")) out.emplace_back(p.value("title", ""), t.at("expr").get<std::string>());
        }
    };
    walk(dashboard.at("panels"));
    return out;
}

}  // namespace lifeguard::testing::grafana
