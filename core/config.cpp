#include "lumac/core/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <toml++/toml.h>

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

// The typed value of a TOML node (other types become std::monostate).
ConfigValue::Value node_value(const toml::node& node) {
  if (const auto* f = node.as_floating_point()) return f->get();
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* b = node.as_boolean()) return b->get();
  if (const auto* s = node.as_string()) return s->get();
  return std::monostate{};
}

ConfigValue from_node(const toml::node& node, std::string origin) {
  return ConfigValue(node_value(node), describe_node(node), std::move(origin));
}

}  // namespace

ConfigValue::ConfigValue(Value value, std::string shown, std::string origin)
    : value_(std::move(value)), shown_(std::move(shown)), origin_(std::move(origin)) {}

ConfigValue ConfigValue::from_text(std::string_view text) {
  // A TOML value parses as itself; anything else (a bare word such as `analog`) is a string.
  try {
    toml::table parsed = toml::parse("v = " + std::string(text));
    if (parsed.size() == 1 && parsed.contains("v")) return from_node(*parsed.get("v"), "--set");
  } catch (const toml::parse_error&) {
  }
  return ConfigValue(std::string(text), "'" + std::string(text) + "'", "--set");
}

void ConfigValue::type_error(std::string_view key, std::string_view expected) const {
  fail("{} = {}: must be {}", key, shown_, expected);
}

double ConfigValue::as_real(std::string_view key) const {
  if (const auto* f = std::get_if<double>(&value_)) return *f;
  if (const auto* i = std::get_if<std::int64_t>(&value_)) return static_cast<double>(*i);
  type_error(key, "a number");
}

std::int64_t ConfigValue::as_integer(std::string_view key) const {
  if (const auto* i = std::get_if<std::int64_t>(&value_)) return *i;
  type_error(key, "an integer");
}

bool ConfigValue::as_boolean(std::string_view key) const {
  if (const auto* b = std::get_if<bool>(&value_)) return *b;
  type_error(key, "true or false");
}

std::string ConfigValue::as_text(std::string_view key) const {
  if (const auto* s = std::get_if<std::string>(&value_)) return *s;
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

std::string_view key_kind_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::real:
      return "real";
    case KeyKind::integer:
      return "integer";
    case KeyKind::boolean:
      return "boolean";
    case KeyKind::choice:
      return "choice";
  }
  return "";
}

std::string format_real(double value) {
  return fmt::format("{}", value);
}

namespace {

toml::table parse_toml(std::string_view text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: malformed TOML: {}", name, e.source().begin.line, e.source().begin.column,
         e.description());
  }
}

}  // namespace

void read_config_text(std::string_view text, const std::string& name, const KeySetter& set) {
  const toml::table doc = parse_toml(text, name);
  for (const auto& [section, node] : doc) {
    const auto* table = node.as_table();
    if (!table)
      fail("{}:{}: '{}' must be a [section] table of keys", name, node.source().begin.line,
           std::string_view(section));
    for (const auto& [key, value] : *table) {
      const auto line = value.source().begin.line;
      const std::string full = std::string(section.str()) + "." + std::string(key.str());
      try {
        set(full, from_node(value, fmt::format("{}:{}", name, line)));
      } catch (const Error& e) {
        throw Error(fmt::format("{}:{}: {}", name, line, e.what()));
      }
    }
  }
}

void read_config_file(const std::filesystem::path& file, const KeySetter& set) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    fail_file("cannot read config file '{}': it is a directory", file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_file("cannot read config file '{}'", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_file("cannot read config file '{}'", file.string());
  read_config_text(text.str(), file.string(), set);
}

namespace {

// A TOML float in its shortest form that reads back exactly (always with a '.' or an exponent,
// so that it stays a float).
std::string toml_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string text = format_real(v);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string toml_value(const ConfigValue::Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) return toml_float(v);
        if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(v);
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        if constexpr (std::is_same_v<T, std::string>) return "'" + v + "'";
        return "";
      },
      value);
}

}  // namespace

std::string format_toml(const ConfigSections& sections) {
  // Sections and keys sorted by name.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, ConfigValue::Value>>>>
      sorted = sections;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (auto& section : sorted) {
    std::sort(section.second.begin(), section.second.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (!out.empty()) out += "\n";
    out += "[" + section.first + "]\n";
    for (const auto& key : section.second)
      if (!std::holds_alternative<std::monostate>(key.second))
        out += key.first + " = " + toml_value(key.second) + "\n";
  }
  if (!out.empty()) out.pop_back();  // no newline after the last key, as before
  return out;
}

}  // namespace lumac
