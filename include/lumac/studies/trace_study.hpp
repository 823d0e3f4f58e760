// The time-domain study of one dot product (lumac trace): the trace of circuits/mac_trace.hpp
// next to the statistical budget of the same dot product, and its HDF5 file
// (docs/trace_file.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "lumac/circuits/mac_trace.hpp"
#include "lumac/core/json.hpp"
#include "lumac/studies/circuit_study.hpp"

namespace lumac {

struct TraceSpec {
  int samples_per_symbol = 16;  // recorded samples per symbol
  std::string laser = "cw";     // cw | rate-equation
  double laser_lead_s = 5e-9;   // rate-equation laser: turn-on to first symbol, in [0, 1e-6] s
};

struct TraceStudy {
  CircuitParams params;
  NoiseSources sources = NoiseSources::all();
  TraceSpec spec;
  std::uint64_t seed = 1;
  DotProduct dot_product;
  MacTrace trace;
  NoiseBudget budget;  // the statistical model of the same dot product
  // The chip the trace ran on (system.device_seed's, or with 0 the seed's chip of run 0), and
  // whether any of its static spreads is configured.
  DeviceErrors chip;
  bool chip_errors = false;
};

// lumac::Error for a bad spec, a fan-in over 1e5 or more than 2e7 recorded samples.
TraceStudy run_trace_study(const Settings& settings, const CircuitSpec& circuit,
                           const TraceSpec& spec, std::uint64_t seed);
// Checks the spec and the size of the trace without simulating it (before an output file is
// created).
void check_trace(const Settings& settings, const CircuitSpec& circuit, const TraceSpec& spec);

void write_trace_file(const TraceStudy& study, const Settings& settings,
                      const std::filesystem::path& path, bool force,
                      const std::string& command_line);
// {out, samples, ideal, readout, expected_statistical, readouts}.
Json to_json(const TraceStudy& study, const std::string& out);

}  // namespace lumac
