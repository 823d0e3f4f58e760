#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace lumac {

namespace {

std::string describe_node(const toml::node& node) {
  std::ostringstream os;
  if (const auto* s = node.as_string())
    os << "'" << s->get() << "'";
  else
    node.visit([&](const auto& n) { os << n; });
  return os.str();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

ConfigValue::ConfigValue(const toml::node& node, std::string origin) : origin_(std::move(origin)) {
  node.visit([&](const auto& n) { holder_.insert_or_assign("v", n); });
}

ConfigValue ConfigValue::from_text(std::string_view text) {
  ConfigValue v;
  v.origin_ = "--set";
  // A TOML value parses as itself; anything else (a bare word such as `analog`) is a string.
  try {
    toml::table parsed = toml::parse("v = " + std::string(text));
    if (parsed.size() == 1 && parsed.contains("v")) {
      v.holder_ = std::move(parsed);
      return v;
    }
  } catch (const toml::parse_error&) {
  }
  v.holder_.insert_or_assign("v", std::string(text));
  return v;
}

void ConfigValue::type_error(std::string_view key, std::string_view expected) const {
  fail("{} = {}: must be {}", key, describe_node(*holder_.get("v")), expected);
}

double ConfigValue::as_real(std::string_view key) const {
  const toml::node& n = *holder_.get("v");
  if (const auto* f = n.as_floating_point()) return f->get();
  if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
  type_error(key, "a number");
}

std::int64_t ConfigValue::as_integer(std::string_view key) const {
  const toml::node& n = *holder_.get("v");
  if (const auto* i = n.as_integer()) return i->get();
  type_error(key, "an integer");
}

bool ConfigValue::as_boolean(std::string_view key) const {
  const toml::node& n = *holder_.get("v");
  if (const auto* b = n.as_boolean()) return b->get();
  type_error(key, "true or false");
}

std::string ConfigValue::as_text(std::string_view key) const {
  const toml::node& n = *holder_.get("v");
  if (const auto* s = n.as_string()) return s->get();
  type_error(key, "a string");
}

std::string nearest_key(std::string_view key, const std::vector<std::string>& valid) {
  std::string best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  // Compare against the full key and, for keys given without the right section, the name part.
  const auto dot = key.find('.');
  const std::string_view name = dot == std::string_view::npos ? key : key.substr(dot + 1);
  for (const auto& v : valid) {
    const auto vdot = v.find('.');
    const std::string_view vname = std::string_view(v).substr(vdot + 1);
    const std::size_t d = std::min(edit_distance(key, v), edit_distance(name, vname) + 2);
    if (d < best_d) {
      best_d = d;
      best = v;
    }
  }
  return best;
}

std::string format_real(double value) {
  return fmt::format("{}", value);
}

toml::table parse_toml_text(std::string_view text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: malformed TOML: {}", name, e.source().begin.line, e.source().begin.column,
         e.description());
  }
}

toml::table parse_toml_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read config file '{}'", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_toml_text(text.str(), file.string());
}

}  // namespace lumac
