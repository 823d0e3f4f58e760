// `lumac eval`: accuracy of a model on the simulated hardware (nn/analog.hpp), with each
// matrix-product layer's noise and ENOB and the energy account.
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/energy_output.hpp"
#include "app/network_eval.hpp"
#include "nn/evaluate.hpp"

namespace lumac {

namespace {

struct EvalCommand {
  CommonOptions common;
  NetworkOptions network;
  HardwareCli hardware;
  int seeds = 1;
};

void run_eval(const EvalCommand& o) {
  Settings s = load_settings(o.common);
  if (o.seeds < 1 || o.seeds > 10000) fail("--seeds = {}: must be in [1, 10000]", o.seeds);
  HardwareOptions h;
  const LoadedNetwork net = load_network(o.network, false, [&](const nn::Model& m) {
    h = resolve_hardware(o.hardware, m, s.circuit);
  });
  nn::EvalOptions clean_opt;
  clean_opt.batch = net.batch;
  const double clean = nn::evaluate(net.model, net.test, clean_opt).accuracy;
  const NetworkEvaluation r = evaluate_on_hardware(net, s, h, o.common.seed, o.seeds);
  const auto& info = net.model.matmul_layers();
  const auto layers = configured_layers(net.model, h);

  if (o.common.json) {
    Json j;
    j.insert_or_assign("model", net.path);
    j.insert_or_assign("dataset", net.dataset);
    j.insert_or_assign("samples", static_cast<std::int64_t>(net.test.size()));
    j.insert_or_assign("noise", std::string(enum_name(h.mode)));
    if (h.bits) j.insert_or_assign("bits", static_cast<std::int64_t>(*h.bits));
    j.insert_or_assign("clean_accuracy", clean);
    j.insert_or_assign("accuracy_mean", r.accuracy_mean);
    j.insert_or_assign("accuracy_std", r.accuracy_std);
    j.insert_or_assign("accuracy", json_array(r.accuracy));
    j.insert_or_assign("seeds", static_cast<std::int64_t>(o.seeds));
    j.insert_or_assign("images_per_s", r.images_per_s);
    j.insert_or_assign("eval_seconds", json_array(r.seconds));
    toml::array ls;
    for (std::size_t l = 0; l < info.size(); ++l) {
      Json e{{"name", info[l].name},
             {"fan_in", static_cast<std::int64_t>(info[l].fan_in)},
             {"outputs", static_cast<std::int64_t>(info[l].outputs)},
             {"macs", info[l].macs},
             {"enob", r.layers[l].enob},
             {"noise_std", r.layers[l].noise_std},
             {"output_range", layers[l].output_range()},
             {"photons_per_mac", r.photons_per_mac[l]},
             {"energy", layers[l].energy[0]},
             {"repeats", static_cast<std::int64_t>(layers[l].repeats)}};
      if (!r.layers[l].by_source.empty()) {
        Json src;
        for (const auto& [name, v] : r.layers[l].by_source) src.insert_or_assign(name, v);
        e.insert_or_assign("noise_std_by_source", src);
      }
      ls.push_back(e);
    }
    j.insert_or_assign("layers", ls);
    j.insert_or_assign("energy", energy_json(r.energy));
    print_json(j);
    return;
  }
  fmt::print("lumac eval: {} on {} ({} images), noise {}{}\n", net.path, net.dataset,
             net.test.size(), enum_name(h.mode), h.bits ? fmt::format(", {} bits", *h.bits) : "");
  fmt::print("  {:<8} {:>7} {:>10} {:>10} {:>8} {:>11} {:>8}\n", "layer", "fan-in", "MACs", "E",
             "repeats", "noise std", "ENOB");
  for (std::size_t l = 0; l < info.size(); ++l)
    fmt::print("  {:<8} {:>7} {:>10} {:>10.4g} {:>8} {:>11.4g} {:>8.2f}\n", info[l].name,
               info[l].fan_in, info[l].macs, layers[l].energy[0], layers[l].repeats,
               r.layers[l].noise_std, r.layers[l].enob);
  fmt::print("  accuracy {:.4f} +- {:.4f} over {} seed(s); clean {:.4f}\n", r.accuracy_mean,
             r.accuracy_std, o.seeds, clean);
  fmt::print(
      "  energy per MAC: detected optical {:.4g} aJ, laser optical {:.4g} aJ, total {:.4g} aJ\n",
      r.energy.total.aJ_per_mac(r.energy.total.detected_optical_J),
      r.energy.total.aJ_per_mac(r.energy.total.laser_optical_J),
      r.energy.total.aJ_per_mac(r.energy.total.total_J));
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "accuracy of a model on the simulated analog hardware");
  auto o = std::make_shared<EvalCommand>();
  add_common_options(*cmd, o->common);
  add_network_options(*cmd, o->network, true);
  add_hardware_options(*cmd, o->hardware);
  cmd->add_option("--seeds", o->seeds, "evaluate with S seeds (default 1)");
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace lumac
