// Careful reading of a JSON file a user points poolsize at: a size cap that holds for any file
// (a FIFO, /dev/zero, a file larger than it claims), and a parser that rejects duplicate keys
// (JSON parsers disagree on which duplicate wins, so a file with one means two things).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace lifeguard::poolsize {

/// What is wrong with the input, e.g. "not valid JSON: ..." or "duplicate key ...". The caller
/// adds which file it is.
class json_input_error : public std::runtime_error {
public:
    explicit json_input_error(const std::string& message) : std::runtime_error(message) {}
};

/// The whole content of `path`. Stops reading as soon as it has more than `cap` bytes, whatever
/// the file is, and then throws json_input_error (naming the cap); also when it cannot be read.
std::string read_capped(const std::string& path, std::size_t cap);

/// Parses `text` as one JSON value. Throws json_input_error when it is not JSON or an object
/// has the same key twice, naming the key and the object that has it (e.g. `pools[0]`).
nlohmann::json parse_strict(const std::string& text);

}  // namespace lifeguard::poolsize
