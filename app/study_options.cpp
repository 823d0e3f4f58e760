#include "app/study_options.hpp"

#include <fmt/format.h>

#include "mpi/world.hpp"

namespace lumac::cli {

void add_circuit_options(CLI::App& cmd, CircuitSpec& o, bool fan_in_required) {
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
                 "amplifier,rin,weight,adc,dac,extinction,phase,bias,mismatch,spread");
  cmd.add_option("--vectors", o.vectors,
                 "random vectors: uniform (x, w in [-1,1]) | positive (x in [0,1]) | ones");
  cmd.add_option("--range", o.range,
                 "output full-scale range R for the ENOB (default 2 ||x|| ||w||)");
}

void add_network_options(CLI::App& cmd, NetworkSpec& o, bool model_required) {
  auto* m = cmd.add_option("--model", o.model,
                           "model file (e.g. data/models/fmnist_cnn.h5), or an ONNX model (.onnx, "
                           "imported and calibrated on the fly; needs --dataset)");
  if (model_required) m->required();
  cmd.add_option(
      "--dataset", o.dataset,
      "fashion-mnist | mnist | spam (default: the dataset the model was trained or imported "
      "for)");
  o.notice = [](const std::string& text) {
    if (mpi::rank() == 0) fmt::print(stderr, "lumac: {}\n", text);
  };
  cmd.add_option("--limit", o.limit, "use the first N test samples (default, or 0: all)");
  cmd.add_option("--batch", o.batch, "samples per forward pass (default 256)");
}

void add_hardware_options(CLI::App& cmd, HardwareSpec& o) {
  cmd.add_option("--noise", o.noise,
                 "none | shot | thermal | weight | physical (default) | enob; --bits alone "
                 "selects none");
  cmd.add_option("--photons-per-mac", o.photons_per_mac,
                 "shot: E, detected photons per MAC; physical: set the laser power for this many "
                 "detected photons per MAC at full scale");
  cmd.add_option("--energy-per-layer", o.energy_per_layer,
                 "E per layer, comma separated (photons per MAC, repeats or laser scale)")
      ->delimiter(',');
  cmd.add_option("--repeats", o.repeats, "K repeats of every matrix product");
  cmd.add_option("--repeats-per-layer", o.repeats_per_layer, "K per layer, comma separated")
      ->delimiter(',');
  cmd.add_option("--enob", o.enob, "enob mode: ENOB of every layer");
  cmd.add_option("--enob-per-layer", o.enob_per_layer, "enob mode: ENOB per layer")->delimiter(',');
  cmd.add_option("--bits", o.bits, "digital baseline: quantize weights and activations to b bits");
  cmd.add_option("--sources", o.sources, "physical mode: noise sources to keep (default all)");
}

void settle_noise(const CLI::App& cmd, HardwareSpec& o, const std::vector<std::string>& sets,
                  const std::vector<std::string>& axes) {
  const bool noise_given = cmd.count("--noise") > 0;
  if (o.bits && !noise_given) o.noise = "none";
  // Only physical mode runs the circuit; the other modes use the config for the energy
  // account only.
  if (o.noise == "physical" || !noise_given) return;
  std::vector<std::string> keys;
  for (const auto& s : sets) keys.push_back(s.substr(0, s.find('=')));
  for (const auto& a : axes) keys.push_back(a.substr(0, a.find('=')));
  for (const auto& key : keys) {
    const std::string section = key.substr(0, key.find('.'));
    // Under mpirun every rank would say the same: rank 0 says it.
    if (section != "energy" && mpi::rank() == 0)
      fmt::print(stderr,
                 "lumac: warning: {} does not change the accuracy under --noise {} ({}; the "
                 "energy account uses it)\n",
                 key, o.noise,
                 o.noise == "none" ? "the products run without hardware noise"
                                   : "only --noise physical runs the circuit");
  }
}

}  // namespace lumac::cli
