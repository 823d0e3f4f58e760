#include "lumac/core/json.hpp"

#include <cmath>

#include "lumac/core/error.hpp"

namespace lumac {

namespace {

// Replaces non-finite numbers, in place, by their names.
void replace_non_finite(Json& j) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (std::isnan(v))
      j = "nan";
    else if (std::isinf(v))
      j = v > 0 ? "inf" : "-inf";
  } else if (j.is_structured()) {
    for (auto& child : j) replace_non_finite(child);
  }
}

}  // namespace

std::string to_json(const Json& value) {
  Json copy = value;
  replace_non_finite(copy);
  return copy.dump(2);
}

Json parse_json(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    fail("'{}' is not valid JSON (byte {}): {}", what, e.byte, e.what());
  }
}

Json json_array(const std::vector<double>& values) {
  Json a = Json::array();
  for (double v : values) a.push_back(v);
  return a;
}

}  // namespace lumac
