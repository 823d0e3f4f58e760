// Machine-readable output (--json): a toml::table printed with toml++'s JSON formatter, so keys
// come out sorted. Non-finite numbers, which JSON cannot hold, are written as the strings
// "inf", "-inf" and "nan".
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

namespace lumac {

using Json = toml::table;

std::string to_json(const Json& object);

// A JSON array of numbers.
toml::array json_array(const std::vector<double>& values);

}  // namespace lumac
