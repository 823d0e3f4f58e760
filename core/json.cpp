#include "core/json.hpp"

#include <cmath>
#include <sstream>

namespace lumac {

namespace {

// Replaces non-finite floats in a container (arrays and tables hold nodes by value, so the
// replacement happens at the parent).
void replace_non_finite(toml::table& t);
void replace_non_finite(toml::array& a);

std::optional<std::string> non_finite_name(const toml::node& n) {
  if (const auto* f = n.as_floating_point()) {
    const double v = f->get();
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  }
  return std::nullopt;
}

void replace_non_finite(toml::table& t) {
  for (auto&& [k, v] : t) {
    if (auto name = non_finite_name(v))
      t.insert_or_assign(k, *name);
    else if (auto* sub = v.as_table())
      replace_non_finite(*sub);
    else if (auto* arr = v.as_array())
      replace_non_finite(*arr);
  }
}

void replace_non_finite(toml::array& a) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (auto name = non_finite_name(a[i]))
      a.replace(a.cbegin() + static_cast<std::ptrdiff_t>(i), *name);
    else if (auto* sub = a[i].as_table())
      replace_non_finite(*sub);
    else if (auto* arr = a[i].as_array())
      replace_non_finite(*arr);
  }
}

}  // namespace

std::string to_json(const Json& object) {
  Json copy = object;
  replace_non_finite(copy);
  std::ostringstream os;
  os << toml::json_formatter{copy};
  return os.str();
}

toml::array json_array(const std::vector<double>& values) {
  toml::array a;
  for (double v : values) a.push_back(v);
  return a;
}

}  // namespace lumac
