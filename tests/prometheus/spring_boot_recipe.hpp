// The Spring Boot dashboard recipe in dashboards/README.md, read from its table (between the
// `spring-boot-recipe:begin` and `:end` markers) so that the tests run exactly what the
// document tells users to type.
#pragma once

#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace lifeguard::testing {

struct recipe_row {
    std::string dashboard;    ///< the dashboard the row belongs to (carried down blank cells)
    std::string variable;     ///< the variable's name (the first `code` in its cell)
    std::string original;     ///< the query the dashboard ships with
    std::string replacement;  ///< what to type instead ("keep": the original)
};

inline std::vector<recipe_row> read_spring_boot_recipe(const std::string& readme_path) {
    std::ifstream in(readme_path);
    if (!in) throw std::runtime_error("cannot open " + readme_path);
    static const std::regex code("`([^`]*)`");
    std::vector<recipe_row> rows;
    bool inside = false;
    std::string line;
    while (std::getline(in, line)) {
        if (line.find("spring-boot-recipe:begin") != std::string::npos) inside = true;
        if (line.find("spring-boot-recipe:end") != std::string::npos) break;
        if (!inside || line.rfind("| ", 0) != 0 || line.find("| Dashboard |") == 0) continue;
        std::vector<std::string> cells;
        std::size_t from = 1;
        for (auto bar = line.find('|', from); bar != std::string::npos; bar = line.find('|', from)) {
            cells.push_back(line.substr(from, bar - from));
            from = bar + 1;
        }
        if (cells.size() != 4) throw std::runtime_error("recipe row without 4 cells: " + line);
        const auto first_code = [&](const std::string& cell) {
            std::smatch m;
            if (!std::regex_search(cell, m, code)) throw std::runtime_error("recipe cell without `code`: " + line);
            return m[1].str();
        };
        recipe_row r;
        const auto name = std::regex_replace(cells[0], std::regex(R"(^\s+|\s+$)"), "");
        r.dashboard = name.empty() && !rows.empty() ? rows.back().dashboard : name;
        r.original = first_code(cells[2]);
        r.replacement = cells[3].find("keep") != std::string::npos && cells[3].find('`') == std::string::npos
                            ? r.original
                            : first_code(cells[3]);
        r.variable = cells[1].find('`') != std::string::npos ? first_code(cells[1]) : r.dashboard + " variable";
        rows.push_back(std::move(r));
    }
    if (!inside) throw std::runtime_error(readme_path + " has no spring-boot-recipe:begin marker");
    return rows;
}

}  // namespace lifeguard::testing
