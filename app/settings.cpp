#include "app/settings.hpp"

#include <cstdlib>
#include <sstream>

namespace lumac {

void validate(const Settings& s) {
  validate(s.circuit);
  validate(s.energy);
}

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("LUMAC_DATA_DIR"); env && *env) return env;
  return std::filesystem::path(LUMAC_SOURCE_DIR) / "data";
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
  std::ostringstream os;
  os << to_toml_table(s);
  return os.str();
}

}  // namespace lumac
