#include "lumac/studies/network_work.hpp"

#include "lumac/core/error.hpp"

namespace lumac {

std::vector<LayerWork> network_work(const nn::Model& model, const std::vector<double>& repeats,
                                    const std::vector<double>& photons_per_mac,
                                    const std::vector<double>& readout_enob) {
  const auto& layers = model.matmul_layers();
  auto check = [&](std::size_t n, const char* what) {
    if (n != 0 && n != layers.size())
      fail("{} values of {} given for {} matrix-product layers", n, what, layers.size());
  };
  check(repeats.size(), "repeats");
  check(photons_per_mac.size(), "photons per MAC");
  check(readout_enob.size(), "read-out ENOB");
  std::vector<LayerWork> out;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const nn::MatmulLayerInfo& info = layers[l];
    LayerWork w;
    w.name = info.name;
    w.fan_in = info.fan_in;
    w.outputs = info.outputs;
    w.positions = info.positions;
    if (info.activation_operands()) {
      // Both operands are activations: no stored weights; each "weight" (second-operand) symbol
      // serves the rows of one head of the first operand.
      w.weights = 0;
      w.activation_operands = true;
      w.weight_rows = info.input_shape.at(info.input_shape.size() - 2);
    } else {
      w.weights = static_cast<std::int64_t>(info.fan_in) * info.outputs;
    }
    w.repeats = repeats.empty() ? 1 : repeats[l];
    w.photons_per_mac = photons_per_mac.empty() ? 0 : photons_per_mac[l];
    w.readout_enob = readout_enob.empty() ? 0 : readout_enob[l];
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace lumac
