#include "lumac/studies/settings.hpp"

#include <cstdlib>
#include <sstream>

namespace lumac {

void validate(const Settings& s) {
  validate(s.circuit);
  validate(s.energy);
}

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("LUMAC_DATA_DIR"); env && *env) return env;
  // The source tree lumac was built from, else the copy `cmake --install` put in place.
  const std::filesystem::path source = std::filesystem::path(LUMAC_SOURCE_DIR) / "data";
  std::error_code ec;
  if (std::filesystem::is_directory(source / "presets", ec)) return source;
  return LUMAC_INSTALLED_DATA_DIR;
}

std::filesystem::path default_preset() {
  return data_dir() / "presets" / "homodyne_1550.toml";
}

Settings load_settings(const std::filesystem::path& config_file,
                       const std::vector<std::string>& overrides) {
  Settings s;
  load_toml_file(s, config_file.empty() ? default_preset() : config_file);
  for (const auto& o : overrides) apply_override(s, o);
  validate(s);
  return s;
}

std::string settings_toml(const Settings& s) {
  return to_toml_text(s);
}

void write_header(H5::H5Object& root, const Settings& s, const std::string& kind,
                  const std::string& command_line) {
  h5::write_header(root, list_keys(s), settings_toml(s), kind, command_line);
}

}  // namespace lumac
