#include <set>
#include "lumac/core/config.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config: the default preset holds every key, at the struct defaults") {
  const Settings loaded = load_settings({}, {});
  const auto keys = list_keys(loaded);
  const auto defaults = list_keys(Settings{});
  REQUIRE(keys.size() == defaults.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i].key);
    CHECK(keys[i].value == defaults[i].value);
  }
  // Every key is written in the preset file itself (not just inherited from the defaults).
  std::set<std::string> in_file;
  read_config_file(default_preset(),
                   [&](const std::string& key, const ConfigValue&) { in_file.insert(key); });
  for (const auto& k : keys) {
    CAPTURE(k.key);
    CHECK(in_file.count(k.key) == 1);
  }
}

TEST_CASE("config: --set overrides take typed values") {
  const Settings s =
      load_settings({}, {"laser.power_W=2e-3", "adc.bits=10", "system.encoding=norm-adaptive",
                         "system.averaging='analog'", "modulator.weight_noise_kind=static"});
  CHECK(s.circuit.laser.power_W == 2e-3);
  CHECK(s.circuit.adc.bits == 10);
  CHECK(s.circuit.system.encoding == Encoding::norm_adaptive);
  CHECK(s.circuit.system.averaging == Averaging::analog);
  CHECK(s.circuit.modulator.weight_noise_kind == WeightNoiseKind::static_);
  // A later override wins.
  CHECK(load_settings({}, {"laser.power_W=1", "laser.power_W=3"}).circuit.laser.power_W == 3);
}

TEST_CASE("config: unknown keys and sections name the nearest valid key") {
  const std::string e1 = error_of([] { load_settings({}, {"laser.powr_W=1"}); });
  CHECK(e1.find("unknown config key 'laser.powr_W'") != std::string::npos);
  CHECK(e1.find("did you mean 'laser.power_W'") != std::string::npos);
  const std::string e2 = error_of([] { load_settings({}, {"lazer.power_W=1"}); });
  CHECK(e2.find("unknown config section 'lazer'") != std::string::npos);
  CHECK(e2.find("'laser.power_W'") != std::string::npos);
  const std::string e3 = error_of([] { load_settings({}, {"detector.quantum_eficiency=0.5"}); });
  CHECK(e3.find("did you mean 'detector.quantum_efficiency'") != std::string::npos);
  const std::string e4 = error_of([] { load_settings({}, {"power_W=1"}); });
  CHECK(e4.find("section.name") != std::string::npos);
  CHECK(!error_of([] { load_settings({}, {"laser.power_W"}); }).empty());
}

TEST_CASE("config: wrong types and invalid values give one message naming key, value and rule") {
  CHECK(error_of([] { load_settings({}, {"adc.bits=8.5"}); }) ==
        "adc.bits = 8.5: must be an integer");
  CHECK(error_of([] { load_settings({}, {"laser.power_W=abc"}); }) ==
        "laser.power_W = 'abc': must be a number");
  CHECK(error_of([] { load_settings({}, {"laser.power_W=-1"}); }) ==
        "laser.power_W = -1: must be finite and > 0");
  CHECK(error_of([] { load_settings({}, {"laser.power_W=nan"}); }) ==
        "laser.power_W = nan: must be finite and > 0");
  CHECK(error_of([] { load_settings({}, {"detector.quantum_efficiency=1.3"}); }) ==
        "detector.quantum_efficiency = 1.3: must be in (0, 1]");
  CHECK(error_of([] { load_settings({}, {"system.symbol_rate_Hz=inf"}); }) ==
        "system.symbol_rate_Hz = inf: must be finite and > 0");
  CHECK(error_of([] { load_settings({}, {"system.encoding=analog"}); }) ==
        "system.encoding = 'analog': must be one of full-scale, norm-adaptive");
  CHECK(error_of([] { load_settings({}, {"adc.bits=0"}); }) ==
        "adc.bits = 0: must be an integer in [1, 24]");
}

TEST_CASE("config: malformed TOML names file and line, unknown keys in a file name the line") {
  TempDir tmp;
  write_text(tmp / "bad.toml", "[laser]\npower_W = 1e-3\nwavelength_m = = 3\n");
  const std::string e1 = error_of([&] { load_settings(tmp / "bad.toml", {}); });
  CHECK(e1.find("bad.toml:3:") != std::string::npos);
  CHECK(e1.find("malformed TOML") != std::string::npos);
  write_text(tmp / "unknown.toml", "[laser]\npower_W = 1e-3\n\n[detector]\nresponsivity = 1\n");
  const std::string e2 = error_of([&] { load_settings(tmp / "unknown.toml", {}); });
  CHECK(e2.find("unknown.toml:5:") != std::string::npos);
  CHECK(e2.find("unknown config key 'detector.responsivity'") != std::string::npos);
  write_text(tmp / "toplevel.toml", "power_W = 1e-3\n");
  CHECK(error_of([&] { load_settings(tmp / "toplevel.toml", {}); }).find("toplevel.toml:1:") !=
        std::string::npos);
  CHECK(error_of([&] {
          load_settings(tmp / "missing.toml", {});
        }).find("cannot read config file") != std::string::npos);
}

TEST_CASE("config: a partial preset keeps defaults for the keys it omits") {
  TempDir tmp;
  write_text(tmp / "part.toml", "[laser]\npower_W = 5e-3\n");
  const Settings s = load_settings(tmp / "part.toml", {});
  CHECK(s.circuit.laser.power_W == 5e-3);
  CHECK(s.circuit.laser.wavelength_m == Settings{}.circuit.laser.wavelength_m);
}

TEST_CASE("config: the effective config written as TOML reads back identically") {
  const Settings s =
      load_settings({}, {"laser.power_W=0.0123456789", "system.encoding=norm-adaptive"});
  TempDir tmp;
  write_text(tmp / "eff.toml", settings_toml(s));
  const Settings back = load_settings(tmp / "eff.toml", {});
  const auto a = list_keys(s), b = list_keys(back);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].value == b[i].value);
}

TEST_CASE("config: nearest_key") {
  const std::vector<std::string> valid{"laser.power_W", "laser.wavelength_m", "adc.bits"};
  CHECK(nearest_key("laser.pwer_W", valid) == "laser.power_W");
  CHECK(nearest_key("adc.bit", valid) == "adc.bits");
  CHECK(nearest_key("dac.bits", valid) == "adc.bits");
}
