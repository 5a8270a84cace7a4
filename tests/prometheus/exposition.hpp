// Parses Prometheus text exposition (what prometheus::TextSerializer writes) so tests can look
// samples up by name and labels instead of comparing whole documents.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cstddef>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lifeguard::testing {

struct sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct exposition {
    std::string text;
    std::vector<sample> samples;
    std::map<std::string, std::string> types;  // family name -> "gauge", "counter", ...

    std::set<std::string> sample_names() const {
        std::set<std::string> names;
        for (const auto& s : samples) names.insert(s.name);
        return names;
    }

    // Samples named `name` whose labels include every pair of `labels`.
    std::vector<sample> find(const std::string& name,
                             const std::map<std::string, std::string>& labels) const {
        std::vector<sample> found;
        for (const auto& s : samples) {
            if (s.name != name) continue;
            bool match = true;
            for (const auto& [k, v] : labels) {
                auto it = s.labels.find(k);
                if (it == s.labels.end() || it->second != v) match = false;
            }
            if (match) found.push_back(s);
        }
        return found;
    }

    // The value of the one sample matching; throws when there is not exactly one.
    double value(const std::string& name, const std::map<std::string, std::string>& labels) const {
        auto found = find(name, labels);
        if (found.size() != 1)
            throw std::runtime_error(std::to_string(found.size()) + " samples match " + name + " in:\n" +
                                     text);
        return found.front().value;
    }
};

inline double parse_value(const std::string& v) {
    if (v == "+Inf") return std::numeric_limits<double>::infinity();
    if (v == "-Inf") return -std::numeric_limits<double>::infinity();
    return std::stod(v);
}

// Label values are written by prometheus-cpp with \\, \" and \n escaped; pool names in these
// tests never contain those, so the parser only has to find the quotes.
inline exposition parse_exposition(const std::string& text) {
    exposition e;
    e.text = text;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream t(line.substr(7));
            std::string family, type;
            t >> family >> type;
            e.types[family] = type;
            continue;
        }
        if (line[0] == '#') continue;
        sample s;
        std::size_t pos = line.find_first_of("{ ");
        s.name = line.substr(0, pos);
        if (line[pos] == '{') {
            ++pos;
            while (line[pos] != '}') {
                const auto eq = line.find('=', pos);
                const auto open = eq + 1;
                const auto close = line.find('"', open + 1);
                s.labels[line.substr(pos, eq - pos)] = line.substr(open + 1, close - open - 1);
                pos = close + 1;
                if (line[pos] == ',') ++pos;
            }
            ++pos;
        }
        std::istringstream rest(line.substr(pos));
        std::string value;
        rest >> value;
        s.value = parse_value(value);
        e.samples.push_back(std::move(s));
    }
    return e;
}

inline exposition scrape(const ::prometheus::Collectable& collectable) {
    return parse_exposition(::prometheus::TextSerializer().Serialize(collectable.Collect()));
}

}  // namespace lifeguard::testing
