// Terminal output helpers (see console.hpp).
#include "console.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace autoid {
namespace {

constexpr std::size_t line_width = 100;

void emit(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

template <class F>
void each_line(std::string_view text, F f) {
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t end = std::min(text.find('\n', pos), text.size());
        f(text.substr(pos, end - pos));
        pos = end + 1;
    }
}

}  // namespace

void heading(std::string_view title) {
    std::string s = "\n━━ ";
    s += title;
    s += ' ';
    const std::size_t used = 4 + title.size();
    for (std::size_t i = used; i < line_width; ++i) s += "━";
    s += '\n';
    emit(s);
}

void say(std::string_view text, int indent) {
    std::string out;
    each_line(text, [&](std::string_view l) {
        if (!l.empty()) out.append(static_cast<std::size_t>(indent), ' ');
        out += l;
        out += '\n';
    });
    emit(out);
}

void quote(std::string_view text) {
    std::string out;
    each_line(text, [&](std::string_view l) {
        out += "  │ ";
        out += l;
        out += '\n';
    });
    emit(out);
}

void blank() {
    emit("\n");
}

std::string ms(std::chrono::nanoseconds d) {
    const double v = std::chrono::duration<double, std::milli>(d).count();
    if (v >= 100) return fmt::format("{:.0f} ms", v);
    if (v >= 1) return fmt::format("{:.1f} ms", v);
    return fmt::format("{:.2f} ms", v);
}

std::string seconds(std::chrono::nanoseconds d) {
    return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

table::table(std::vector<column> columns, int indent) : columns_(std::move(columns)), indent_(indent) {}

void table::header() const {
    std::vector<std::string> titles;
    for (const auto& c : columns_) titles.push_back(c.title);
    row(titles);
}

void table::row(const std::vector<std::string>& cells) const {
    std::string out(static_cast<std::size_t>(indent_), ' ');
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        const std::string& cell = i < cells.size() ? cells[i] : std::string();
        const auto& c = columns_[i];
        if (i) out += "  ";
        out += c.left ? fmt::format("{:<{}}", cell, c.width) : fmt::format("{:>{}}", cell, c.width);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
    emit(out);
}

}  // namespace autoid
