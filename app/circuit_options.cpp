#include "app/circuit_options.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace lumac {

void add_circuit_options(CLI::App& cmd, CircuitOptions& o, bool fan_in_required) {
  auto* f = cmd.add_option("--fan-in", o.fan_in, "fan-in N of the dot product (MACs per output)");
  if (fan_in_required) f->required();
  cmd.add_option("--photons-per-mac", o.photons_per_mac,
                 "set the laser power so that eta (n_s + n_L) at full scale is this many "
                 "detected photons per MAC");
  cmd.add_option("--repeats", o.repeats, "K repeats of every dot product (system.repeats)");
  cmd.add_option("--encoding", o.encoding, "full-scale | norm-adaptive (system.encoding)");
  cmd.add_option("--averaging", o.averaging, "digital | analog (system.averaging)");
  cmd.add_option("--sources", o.sources,
                 "noise and error sources to keep: all, none, or a list of shot,dark,reset,"
                 "amplifier,rin,weight,adc,dac,extinction");
  cmd.add_option("--vectors", o.vectors,
                 "random vectors: uniform (x, w in [-1,1]) | positive (x in [0,1]) | ones");
  cmd.add_option("--range", o.range,
                 "output full-scale range R for the ENOB (default 2 ||x|| ||w||)");
}

CircuitParams apply_circuit_options(CircuitParams params, const CircuitOptions& o) {
  if (o.repeats) params.system.repeats = *o.repeats;
  if (!o.encoding.empty()) params.system.encoding = parse_enum<Encoding>(o.encoding, "--encoding");
  if (!o.averaging.empty())
    params.system.averaging = parse_enum<Averaging>(o.averaging, "--averaging");
  validate(params);
  if (o.photons_per_mac) params = with_photons_per_mac(params, *o.photons_per_mac);
  return params;
}

NoiseSources parse_sources(const CircuitOptions& o) {
  return NoiseSources::parse(o.sources);
}

DotProduct circuit_dot_product(const CircuitOptions& o, std::uint64_t seed) {
  if (!(o.range >= 0) || !std::isfinite(o.range))
    fail("--range = {}: must be finite and > 0 (or 0 for the Cauchy-Schwarz range)", o.range);
  DotProduct dp =
      random_dot_product(o.fan_in, parse_enum<VectorDistribution>(o.vectors, "--vectors"), seed);
  dp.range = o.range;
  return dp;
}

LayerWork dot_product_work(const CircuitParams& params, const DotProduct& dp,
                           NoiseSources sources) {
  const HomodyneMac mac(params, sources.without(NoiseSource::adc));
  LayerWork w;
  w.name = fmt::format("dot product N={}", dp.x.size());
  w.fan_in = static_cast<std::int64_t>(dp.x.size());
  w.outputs = params.system.fan_out;
  w.positions = 1;
  w.weights = w.fan_in * w.outputs;
  w.repeats = params.system.repeats;
  w.photons_per_mac = mac.photons_per_mac_full_scale();
  w.readout_enob = mac.analyze(dp).enob;
  return w;
}

}  // namespace lumac
