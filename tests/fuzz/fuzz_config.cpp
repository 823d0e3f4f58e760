// libFuzzer harness for the config loader: TOML text (and --set overrides, one per line after
// a line "--set") must either load or raise lumac::Error; nothing else may escape, crash or
// hang. Built with -DLUMAC_FUZZ=ON under clang; run by scripts/sanitize.sh.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "lumac/core/config.hpp"
#include "lumac/studies/settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find("\n--set\n");
  const std::string toml_text = input.substr(0, split);
  lumac::Settings s;
  try {
    lumac::load_toml_text(s, toml_text, "fuzz.toml");
    if (split != std::string::npos) {
      std::istringstream lines(input.substr(split + 7));
      std::string line;
      while (std::getline(lines, line)) lumac::apply_override(s, line);
    }
    lumac::validate(s);
    (void)lumac::settings_toml(s);
  } catch (const lumac::Error&) {
  }
  return 0;
}
