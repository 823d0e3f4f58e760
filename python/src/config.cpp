// lumac.Config and the hardware keywords of the network calls.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "lumac/core/config.hpp"
#include "lumac/core/error.hpp"
#include "python/src/bind_common.hpp"

namespace lumac::python {

namespace {

// A preset name ("homodyne_1550") or a TOML file.
std::string config_file(const std::string& name) {
  const std::filesystem::path p(name);
  if (name.find('/') != std::string::npos || p.extension() == ".toml") return name;
  const std::filesystem::path preset = data_dir() / "presets" / (name + ".toml");
  std::error_code ec;
  if (std::filesystem::is_regular_file(preset, ec)) return preset.string();
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(data_dir() / "presets", ec))
    if (e.path().extension() == ".toml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  fail_file("no preset '{}' (presets: {}; or give a .toml file)", name, fmt::join(names, ", "));
}

const KeyInfo& find_key(const std::vector<KeyInfo>& keys, const std::string& key) {
  for (const auto& k : keys)
    if (k.key == key) return k;
  std::vector<std::string> valid;
  for (const auto& k : keys) valid.push_back(k.key);
  fail("unknown config key '{}' (did you mean '{}'?)", key, nearest_key(key, valid));
}

// A Python value as the text of a --set override (floats in their shortest exact form).
std::string value_text(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::int_>(value)) return py::str(value).cast<std::string>();
  if (py::isinstance<py::float_>(value)) return py::repr(value).cast<std::string>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  fail("a config value must be a bool, int, float or str (got {})",
       py::str(py::type::of(value).attr("__name__")).cast<std::string>());
}

py::object typed_value(const KeyInfo& k) {
  switch (k.kind) {
    case KeyKind::real:
      return py::float_(std::stod(k.value));
    case KeyKind::integer:
      return py::int_(std::stoll(k.value));
    case KeyKind::boolean:
      return py::bool_(k.value == "true");
    case KeyKind::choice: {
      std::string v = k.value;
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      return py::str(v);
    }
  }
  return py::none();
}

}  // namespace

Config::Config(const std::optional<std::string>& file) {
  if (file) file_ = config_file(*file);
  settings_ = load_settings(file_, {});
}

void Config::set(const std::string& key, const std::string& text) {
  std::vector<std::string> next;
  for (const auto& o : overrides_)
    if (o.substr(0, o.find('=')) != key) next.push_back(o);
  next.push_back(key + "=" + text);
  settings_ = load_settings(file_, next);
  overrides_ = std::move(next);
}

py::object Config::get(const std::string& key) const {
  return typed_value(find_key(list_keys(settings_), key));
}

Settings settings_of(const std::optional<Config>& config) {
  return config ? config->settings() : load_settings({}, {});
}

HardwareSpec HardwareArgs::spec() const {
  HardwareSpec h;
  h.noise = noise;
  h.photons_per_mac = photons_per_mac;
  h.energy_per_layer = energy_per_layer;
  h.repeats = repeats;
  h.repeats_per_layer = repeats_per_layer;
  h.enob = enob;
  h.enob_per_layer = enob_per_layer;
  h.bits = bits;
  h.sources = sources;
  // As the CLI: --bits alone selects the digital baseline.
  if (bits && noise.empty()) h.noise = "none";
  if (h.noise.empty()) h.noise = "physical";
  return h;
}

void bind_config(py::module_& m) {
  py::class_<Config>(m, "Config", R"doc(
A lumac configuration: a preset or TOML file plus overrides, in SI units (the CLI's --config and
--set).

Config() is the default preset (homodyne_1550); Config("name") a preset of data/presets;
Config("path/to/file.toml") a TOML file. cfg["laser.power_W"] = 2e-3 sets a key with the CLI's
validation: an unknown key or a bad value raises ValueError with the CLI's one-line message
(naming the nearest valid key), and leaves the config unchanged.)doc")
      .def(py::init<const std::optional<std::string>&>(), py::arg("file") = py::none(),
           "A preset name (data/presets/NAME.toml) or a TOML file; None: the default preset.")
      .def(
          "__getitem__", [](const Config& c, const std::string& key) { return c.get(key); },
          py::arg("key"), "The value of a key (float, int, bool or str), in the key's unit.")
      .def(
          "__setitem__",
          [](Config& c, const std::string& key, const py::object& value) {
            c.set(key, value_text(value));
          },
          py::arg("key"), py::arg("value"),
          "Sets a key as --set key=value does (ValueError on a bad key or value).")
      .def("__contains__",
           [](const Config& c, const std::string& key) {
             for (const auto& k : list_keys(c.settings()))
               if (k.key == key) return true;
             return false;
           })
      .def(
          "keys",
          [](const Config& c) {
            std::vector<std::string> out;
            for (const auto& k : list_keys(c.settings())) out.push_back(k.key);
            return out;
          },
          "Every key, in the order of the config sections.")
      .def(
          "describe",
          [](const Config& c, const std::string& key) {
            const auto keys = list_keys(c.settings());
            const KeyInfo& k = find_key(keys, key);
            py::dict d;
            d["key"] = k.key;
            d["value"] = typed_value(k);
            d["unit"] = k.unit;
            d["kind"] = std::string(key_kind_name(k.kind));
            d["meaning"] = k.doc;
            d["choices"] = k.choices;
            return d;
          },
          py::arg("key"), "A key's value, unit ('1': dimensionless), kind, meaning and choices.")
      .def(
          "to_dict",
          [](const Config& c) {
            py::dict d;
            for (const auto& k : list_keys(c.settings())) d[py::str(k.key)] = typed_value(k);
            return d;
          },
          "{key: value} of every key.")
      .def(
          "to_toml", [](const Config& c) { return settings_toml(c.settings()); },
          "The effective config as TOML (lumac config --toml).")
      .def_property_readonly(
          "file",
          [](const Config& c) { return c.file().empty() ? default_preset().string() : c.file(); },
          "The preset or TOML file the config starts from.")
      .def_property_readonly(
          "overrides", [](const Config& c) { return c.overrides(); },
          "The overrides applied to it, as --set arguments (key=value).")
      .def("__repr__", [](const Config& c) {
        return fmt::format(
            "lumac.Config('{}'{}{})", c.file().empty() ? default_preset().string() : c.file(),
            c.overrides().empty() ? "" : ", overrides: ", fmt::join(c.overrides(), ", "));
      });
  m.def(
      "presets",
      []() {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(data_dir() / "presets", ec))
          if (e.path().extension() == ".toml") names.push_back(e.path().stem().string());
        std::sort(names.begin(), names.end());
        return names;
      },
      "The names of the bundled presets (data/presets).");
  m.def(
      "data_dir", []() { return data_dir().string(); },
      "lumac's data folder (presets, bundled models; $LUMAC_DATA_DIR overrides it).");
}

}  // namespace lumac::python
