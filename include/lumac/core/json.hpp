// Machine-readable output (--json and the JSON stored in output files), with Debian's
// nlohmann-json. Objects keep their keys sorted. Non-finite numbers, which JSON cannot hold,
// are written as the strings "inf", "-inf" and "nan".
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lumac {

using Json = nlohmann::json;

// The text of a JSON value, indented by two spaces, non-finite numbers as strings.
std::string to_json(const Json& value);

// Parses JSON text; lumac::Error naming `what` (a file name) if it is not valid JSON.
Json parse_json(const std::string& text, const std::string& what);

// A JSON array of numbers.
Json json_array(const std::vector<double>& values);

}  // namespace lumac
