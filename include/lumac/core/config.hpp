// Configuration: typed keys "section.name" bound to fields of Params structs, loaded from TOML
// presets (data/presets/*.toml) and overridden by `--set section.name=value`.
//
// A Params struct P exposes its fields to this machinery through one function,
//   template <class V> void visit_fields(P& p, V& v) {
//     v.real("power_W", p.power_W, "W", "CW optical power at the laser output");
//     v.integer("bits", p.bits, "bit", "resolution");
//     v.boolean("weight_stationary", p.weight_stationary, "weights held in the modulators");
//     v.choice("encoding", p.encoding, "full-scale or norm-adaptive");
//     v.retired("old_name", "what replaced it");  // a removed key: setting it is an error
//   }
// and a settings aggregate S lists its sections with
//   template <class V> void visit_sections(S& s, V& v) { v.section("laser", s.laser); ... }
// Everything else (listing, setting by key, loading a file, writing the effective config) is
// generic and lives here. Unknown sections and keys are errors that suggest the nearest valid
// key; malformed TOML reports file, line and column. See shared/DESIGN.md, convention 4.
#pragma once

#include <fmt/ranges.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lumac/core/error.hpp"

namespace lumac {

enum class KeyKind { real, integer, boolean, choice };

// Names of an enum's values in config files and on the command line. Specialise with
//   static constexpr std::array<std::pair<E, std::string_view>, N> values{{...}};
template <class E>
struct EnumNames;

template <class E>
std::string_view enum_name(E value) {
  for (const auto& [v, name] : EnumNames<E>::values)
    if (v == value) return name;
  return "?";
}

template <class E>
std::vector<std::string> enum_choices() {
  std::vector<std::string> out;
  for (const auto& [v, name] : EnumNames<E>::values) out.emplace_back(name);
  return out;
}

// Parses an enum from its name; `what` names the key or option for the error message.
template <class E>
E parse_enum(std::string_view text, std::string_view what) {
  for (const auto& [v, name] : EnumNames<E>::values)
    if (name == text) return v;
  fail("{} = '{}': must be one of {}", what, text, fmt::join(enum_choices<E>(), ", "));
}

// One config key with its current value.
struct KeyInfo {
  std::string key;  // "laser.power_W"
  KeyKind kind = KeyKind::real;
  std::string unit;                  // SI unit, "1" for dimensionless
  std::string doc;                   // one-line meaning
  std::string value;                 // current value, as written in TOML
  std::vector<std::string> choices;  // allowed values of a choice key
};

// A value for a key, from a TOML file or from the text of a --set override. TOML itself stays
// inside core/config.cpp: this header does not expose toml++.
class ConfigValue {
 public:
  // std::monostate: a TOML value of another type (array, table, date), kept for its message.
  using Value = std::variant<std::monostate, double, std::int64_t, bool, std::string>;
  // `shown` is the value as written in messages, `origin` where it came from.
  ConfigValue(Value value, std::string shown, std::string origin);
  // From override text: a TOML value ("1e-3", "8", "true", "'x'") or a bare word ("analog").
  static ConfigValue from_text(std::string_view text);

  double as_real(std::string_view key) const;
  std::int64_t as_integer(std::string_view key) const;
  bool as_boolean(std::string_view key) const;
  std::string as_text(std::string_view key) const;
  const Value& value() const { return value_; }
  const std::string& origin() const { return origin_; }

 private:
  [[noreturn]] void type_error(std::string_view key, std::string_view expected) const;
  Value value_;
  std::string shown_;
  std::string origin_;
};

// The valid key nearest to `key` (edit distance), for "did you mean" hints.
std::string nearest_key(std::string_view key, const std::vector<std::string>& valid);

// "real", "integer", "boolean" or "choice".
std::string_view key_kind_name(KeyKind kind);

// Formats a double so that it reads back exactly.
std::string format_real(double value);

namespace detail {

struct ListVisitor {
  std::vector<KeyInfo>* out;
  std::string current;
  template <class P>
  void section(std::string_view name, P& params) {
    current = name;
    visit_fields(params, *this);
  }
  void add(std::string_view name, KeyKind kind, std::string_view unit, std::string_view doc,
           std::string value, std::vector<std::string> choices = {}) {
    out->push_back({current + "." + std::string(name), kind, std::string(unit), std::string(doc),
                    std::move(value), std::move(choices)});
  }
  void real(std::string_view name, double& f, std::string_view unit, std::string_view doc) {
    add(name, KeyKind::real, unit, doc, format_real(f));
  }
  template <class I>
  void integer(std::string_view name, I& f, std::string_view unit, std::string_view doc) {
    add(name, KeyKind::integer, unit, doc, std::to_string(f));
  }
  void boolean(std::string_view name, bool& f, std::string_view doc) {
    add(name, KeyKind::boolean, "1", doc, f ? "true" : "false");
  }
  template <class E>
  void choice(std::string_view name, E& f, std::string_view doc) {
    add(name, KeyKind::choice, "1", doc, std::string(enum_name(f)), enum_choices<E>());
  }
  void retired(std::string_view, std::string_view) {}
};

struct SetVisitor {
  std::string_view target_section, target_name;
  const ConfigValue* value;
  bool found = false;
  bool section_found = false;
  std::string section_name;
  template <class P>
  void section(std::string_view name, P& params) {
    if (name != target_section) return;
    section_found = true;
    section_name = name;
    visit_fields(params, *this);
  }
  std::string key(std::string_view name) const { return section_name + "." + std::string(name); }
  void real(std::string_view name, double& f, std::string_view, std::string_view) {
    if (name != target_name) return;
    f = value->as_real(key(name));
    found = true;
  }
  template <class I>
  void integer(std::string_view name, I& f, std::string_view, std::string_view) {
    if (name != target_name) return;
    const std::int64_t v = value->as_integer(key(name));
    if (v < static_cast<std::int64_t>(std::numeric_limits<I>::min()) ||
        v > static_cast<std::int64_t>(std::numeric_limits<I>::max()))
      fail("{} = {}: out of range for this key", key(name), v);
    f = static_cast<I>(v);
    found = true;
  }
  void boolean(std::string_view name, bool& f, std::string_view) {
    if (name != target_name) return;
    f = value->as_boolean(key(name));
    found = true;
  }
  template <class E>
  void choice(std::string_view name, E& f, std::string_view) {
    if (name != target_name) return;
    f = parse_enum<E>(value->as_text(key(name)), key(name));
    found = true;
  }
  // A key that no longer exists: setting it names what replaced it.
  void retired(std::string_view name, std::string_view note) {
    if (name == target_name) fail("config key '{}' was removed: {}", key(name), note);
  }
};

// Collects the typed values of every key, section by section, for to_toml_text().
struct ValueVisitor {
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, ConfigValue::Value>>>>* out;
  template <class P>
  void section(std::string_view name, P& params) {
    out->emplace_back(std::string(name), std::vector<std::pair<std::string, ConfigValue::Value>>{});
    visit_fields(params, *this);
  }
  void put(std::string_view name, ConfigValue::Value v) {
    out->back().second.emplace_back(std::string(name), std::move(v));
  }
  void real(std::string_view name, double& f, std::string_view, std::string_view) { put(name, f); }
  template <class I>
  void integer(std::string_view name, I& f, std::string_view, std::string_view) {
    put(name, static_cast<std::int64_t>(f));
  }
  void boolean(std::string_view name, bool& f, std::string_view) { put(name, f); }
  template <class E>
  void choice(std::string_view name, E& f, std::string_view) {
    put(name, std::string(enum_name(f)));
  }
  void retired(std::string_view, std::string_view) {}
};

}  // namespace detail

// Every key of a settings aggregate with its current value, in declaration order.
template <class S>
std::vector<KeyInfo> list_keys(const S& settings) {
  S copy = settings;
  std::vector<KeyInfo> out;
  detail::ListVisitor v{&out, {}};
  visit_sections(copy, v);
  return out;
}

// Sets one key; unknown sections and keys are errors naming the nearest valid key.
template <class S>
void set_key(S& settings, std::string_view key, const ConfigValue& value) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == key.size()) {
    std::vector<std::string> valid;
    for (const auto& k : list_keys(settings)) valid.push_back(k.key);
    fail("config key '{}' is not of the form section.name (did you mean '{}'?)", key,
         nearest_key(key, valid));
  }
  detail::SetVisitor v{key.substr(0, dot), key.substr(dot + 1), &value, false, false, {}};
  visit_sections(settings, v);
  if (v.found) return;
  std::vector<std::string> valid;
  for (const auto& k : list_keys(settings)) valid.push_back(k.key);
  if (!v.section_found)
    fail("unknown config section '{}' in key '{}' (did you mean '{}'?)", key.substr(0, dot), key,
         nearest_key(key, valid));
  fail("unknown config key '{}' (did you mean '{}'?)", key, nearest_key(key, valid));
}

// Applies an override "section.name=value" (the argument of --set).
template <class S>
void apply_override(S& settings, std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos) fail("--set '{}': expected section.name=value", assignment);
  std::string_view key = assignment.substr(0, eq);
  std::string_view text = assignment.substr(eq + 1);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.empty()) fail("--set '{}': the value is empty", assignment);
  set_key(settings, key, ConfigValue::from_text(text));
}

// Called with every key of a config document and its value.
using KeySetter = std::function<void(const std::string& key, const ConfigValue& value)>;

// Parses TOML text (`name`, a file name, is used in messages, which give line and column) and
// calls `set` for every key; an error from `set` is prefixed with "name:line: ".
void read_config_text(std::string_view text, const std::string& name, const KeySetter& set);
// The same for a file (lumac::Error if it cannot be read, or is not a regular file).
void read_config_file(const std::filesystem::path& file, const KeySetter& set);

template <class S>
void load_toml_text(S& settings, std::string_view text, const std::string& name) {
  read_config_text(text, name,
                   [&](const std::string& k, const ConfigValue& v) { set_key(settings, k, v); });
}

template <class S>
void load_toml_file(S& settings, const std::filesystem::path& file) {
  read_config_file(file,
                   [&](const std::string& k, const ConfigValue& v) { set_key(settings, k, v); });
}

// Sections of typed key values, in declaration order.
using ConfigSections =
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, ConfigValue::Value>>>>;

// TOML text of sections of keys (each table's keys sorted, as toml++ prints them).
std::string format_toml(const ConfigSections& sections);

// The effective configuration as TOML text.
template <class S>
std::string to_toml_text(const S& settings) {
  S copy = settings;
  ConfigSections sections;
  detail::ValueVisitor v{&sections};
  visit_sections(copy, v);
  return format_toml(sections);
}

}  // namespace lumac
