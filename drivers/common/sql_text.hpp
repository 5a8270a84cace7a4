// Reading just enough of a SQL statement's text for the drivers to judge it: its leading
// keywords past blanks, comments and opening parentheses, and a case-insensitive search. Shared
// by the PostgreSQL and MariaDB drivers, which differ only in which line comments they accept.
// Internal to the drivers (not installed, no stability promise); no vendor headers here.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace lifeguard::drivers_detail {

// The line comments of a dialect: "--" everywhere; MySQL and MariaDB also take '#'.
enum class line_comments { dash, dash_and_hash };

// Moves `pos` past blanks, '(' and comments ("/* */", and line comments as `style` says). An
// unterminated comment runs to the end of the text.
inline void skip_blanks_and_comments(std::string_view sql, std::size_t& pos, line_comments style) {
    for (;;) {
        while (pos < sql.size() && (std::isspace(static_cast<unsigned char>(sql[pos])) || sql[pos] == '('))
            ++pos;
        const bool hash = style == line_comments::dash_and_hash && sql.substr(pos, 1) == "#";
        if (sql.substr(pos, 2) == "--" || hash) {
            pos = sql.find('\n', pos);
            if (pos == std::string_view::npos) pos = sql.size();
        } else if (sql.substr(pos, 2) == "/*") {
            pos = sql.find("*/", pos + 2);
            pos = pos == std::string_view::npos ? sql.size() : pos + 2;
        } else {
            return;
        }
    }
}

// The next word (letters, digits, '_') at or after `pos`, lower-cased, with `pos` moved past it;
// empty when the next thing is not a word or the text has ended. Call again for the word after.
inline std::string first_word_lower(std::string_view sql, std::size_t& pos, line_comments style) {
    skip_blanks_and_comments(sql, pos, style);
    std::string word;
    while (pos < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[pos])) || sql[pos] == '_'))
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[pos++])));
    return word;
}

// True when `text` contains `lower_needle` ignoring the case of `text`; `lower_needle` must be
// lower case already (the drivers pass literals).
inline bool contains_lower(std::string_view text, std::string_view lower_needle) {
    return std::search(text.begin(), text.end(), lower_needle.begin(), lower_needle.end(),
                       [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }) !=
           text.end();
}

}  // namespace lifeguard::drivers_detail
