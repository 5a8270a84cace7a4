// A temporary file for one test (named after the test, in gtest's TempDir), removed when the
// test ends.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace lifeguard::testing {

class temp_file {
public:
    /// `suffix` tells files of one test apart.
    explicit temp_file(const std::string& content, const std::string& suffix = ".json") {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = std::string("poolsize_") + info->test_suite_name() + "_" + info->name() + suffix;
        std::replace(name.begin(), name.end(), '/', '_');  // parameterized names contain '/'
        path_ = std::filesystem::path(::testing::TempDir()) / name;
        std::ofstream(path_, std::ios::binary) << content;
    }
    ~temp_file() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

}  // namespace lifeguard::testing
