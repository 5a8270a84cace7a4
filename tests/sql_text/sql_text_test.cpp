// Unit tests of drivers/common/sql_text.hpp: the leading keywords of a statement past blanks,
// parentheses and comments, for both comment styles, and the case-insensitive search.
#include "sql_text.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace {

using lifeguard::drivers_detail::contains_lower;
using lifeguard::drivers_detail::first_word_lower;
using lifeguard::drivers_detail::line_comments;

// Every word of `sql` in order, read the way the drivers read them.
std::vector<std::string> words(std::string_view sql, line_comments style) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (int guard = 0; guard < 64; ++guard) {
        std::string word = first_word_lower(sql, pos, style);
        if (word.empty()) break;
        out.push_back(std::move(word));
    }
    return out;
}

using strings = std::vector<std::string>;

TEST(SqlText, ReadsLowerCasedWordsInOrder) {
    EXPECT_EQ(words("SELECT Col_1 FROM t", line_comments::dash), (strings{"select", "col_1", "from", "t"}));
}

TEST(SqlText, SkipsBlanksAndOpeningParentheses) {
    EXPECT_EQ(words(" \t\n((  Select 1", line_comments::dash), (strings{"select", "1"}));
}

TEST(SqlText, SkipsDashAndBlockComments) {
    const std::string_view sql = "-- lead\n/* block\n over lines */ /**/Insert -- tail\n Into t";
    EXPECT_EQ(words(sql, line_comments::dash), (strings{"insert", "into", "t"}));
    EXPECT_EQ(words(sql, line_comments::dash_and_hash), (strings{"insert", "into", "t"}));
}

TEST(SqlText, HashIsACommentOnlyWhenTheDialectSaysSo) {
    const std::string_view sql = "# note\nset @x = 1";
    EXPECT_EQ(words(sql, line_comments::dash_and_hash), (strings{"set"}));
    // Without '#' comments the reader stops at the '#', which is no word.
    EXPECT_TRUE(words(sql, line_comments::dash).empty());
}

TEST(SqlText, UnterminatedCommentsRunToTheEnd) {
    std::size_t pos = 0;
    EXPECT_EQ(first_word_lower("/* never closed select", pos, line_comments::dash), "");
    EXPECT_EQ(pos, 22u);
    pos = 0;
    EXPECT_EQ(first_word_lower("-- no newline select", pos, line_comments::dash), "");
    EXPECT_EQ(pos, 20u);
    pos = 0;
    EXPECT_EQ(first_word_lower("# no newline select", pos, line_comments::dash_and_hash), "");
    EXPECT_EQ(pos, 19u);
}

TEST(SqlText, StopsAtPunctuationAndLeavesPositionThere) {
    std::size_t pos = 0;
    EXPECT_EQ(first_word_lower("rollback; begin", pos, line_comments::dash), "rollback");
    EXPECT_EQ(pos, 8u);
    EXPECT_EQ(first_word_lower("rollback; begin", pos, line_comments::dash), "");
    EXPECT_EQ(pos, 8u);
}

TEST(SqlText, EmptyAndBlankTextHaveNoWord) {
    EXPECT_TRUE(words("", line_comments::dash_and_hash).empty());
    EXPECT_TRUE(words("  \n /* only */ -- comments", line_comments::dash_and_hash).empty());
}

TEST(SqlText, ContainsLowerIgnoresTheCaseOfTheText) {
    EXPECT_TRUE(contains_lower("SELECT pg_Advisory_LOCK(1)", "advisory_lock"));
    EXPECT_TRUE(contains_lower("get_lock", "get_lock"));
    EXPECT_FALSE(contains_lower("SELECT set_conf", "set_config"));
    EXPECT_FALSE(contains_lower("", "x"));
    EXPECT_TRUE(contains_lower("anything", ""));
}

}  // namespace
