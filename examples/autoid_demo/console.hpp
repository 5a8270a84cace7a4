// Terminal output of the demo: section headings, indented text, aligned tables and durations.
// Everything goes to stdout and is flushed line by line, so the phases read as they happen.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace autoid {

/// "━━ title ━━━━…" with a blank line before it.
void heading(std::string_view title);
/// Each line of `text`, indented by `indent` spaces.
void say(std::string_view text, int indent = 2);
/// Each line of `text` behind "  │ ": a quoted block (the deadlock report, poolsize's output).
void quote(std::string_view text);
void blank();

/// "3001 ms", "12.4 ms", "0.31 ms".
std::string ms(std::chrono::nanoseconds d);
/// "3.0 s".
std::string seconds(std::chrono::nanoseconds d);

/// A table printed row by row with fixed column widths (so rows may come one at a time).
class table {
public:
    struct column {
        std::string title;
        std::size_t width;
        bool left = false;
    };
    explicit table(std::vector<column> columns, int indent = 4);
    void header() const;
    void row(const std::vector<std::string>& cells) const;

private:
    std::vector<column> columns_;
    int indent_;
};

}  // namespace autoid
