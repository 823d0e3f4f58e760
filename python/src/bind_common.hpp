// Shared pieces of the lumac Python module (python/src/*.cpp): the conversion of lumac's JSON
// results to Python objects, the settings a call runs under, the hardware keywords every
// network call takes, progress callbacks into Python and Ctrl-C handling.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lumac/core/json.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac::python {

namespace py = pybind11;

// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
py::object to_python(const Json& j);

// lumac.Config: a preset or TOML file plus `key=value` overrides, validated as the CLI's --set.
class Config {
 public:
  explicit Config(const std::optional<std::string>& file);
  const Settings& settings() const { return settings_; }
  const std::string& file() const { return file_; }
  const std::vector<std::string>& overrides() const { return overrides_; }
  // Applies `key=text` (the CLI's --set); on error nothing changes.
  void set(const std::string& key, const std::string& text);
  py::object get(const std::string& key) const;

 private:
  std::string file_;  // empty: the default preset
  std::vector<std::string> overrides_;
  Settings settings_;
};

// The settings of a call: the given Config's, or the default preset's.
Settings settings_of(const std::optional<Config>& config);

// The hardware keywords of the network calls (the CLI's --noise, --photons-per-mac, ...).
struct HardwareArgs {
  std::string noise;
  std::optional<double> photons_per_mac;
  std::optional<int> repeats;
  std::vector<double> energy_per_layer;
  std::vector<int> repeats_per_layer;
  std::optional<double> enob;
  std::vector<double> enob_per_layer;
  std::optional<int> bits;
  std::string sources = "all";
  HardwareSpec spec() const;
};

// Runs `work` with the GIL released and Ctrl-C turned into a stop request (on the main thread);
// a stop raises KeyboardInterrupt once the library has stopped (lumac::Interrupted). A Python
// exception raised by a callback during `work` is raised again after it.
void run_released(const std::function<void()>& work);

// A progress callback from Python (None: none), called as callback(done, total) with the GIL
// held; an exception in it stops the run and is raised again by run_released.
std::function<void(std::int64_t, std::int64_t)> progress_callback(const py::object& callback);

// The bindings of each part.
void bind_config(py::module_& m);
void bind_circuit(py::module_& m);
void bind_models(py::module_& m);
void bind_studies(py::module_& m);

}  // namespace lumac::python
