// The bundled network architectures, on 1 x 28 x 28 images with 10 classes:
//   mlp: flatten -> fc1 784->100 -> relu -> fc2 100->100 -> relu -> fc3 100->10
//        (the 784-100-100-10 network of Wang et al. 2022, PHYSICS.md §8)
//   cnn: conv1 5x5 1->16 pad 2 -> relu -> maxpool 2 -> conv2 5x5 16->32 -> relu -> maxpool 2
//        -> flatten -> fc1 800->128 -> relu -> fc2 128->10                     (LeNet style)
// and their seeded initialisation: He normal weights, std sqrt(2 / fan_in), zero biases, drawn
// from the Philox stream Stream::training with counters (0, matrix-product layer, 0, element),
// so the same seed gives the same network.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "lumac/core/config.hpp"
#include "lumac/nn/model.hpp"

namespace lumac::nn {

enum class Arch { mlp, cnn };

// The architecture with zero weights.
Model make_architecture(Arch arch);
// The architecture initialised from `seed`.
Model make_model(Arch arch, std::uint64_t seed);
// Redraws every weight (He normal) and zeroes every bias.
void initialize(Model& model, std::uint64_t seed);

}  // namespace lumac::nn

namespace lumac {
template <>
struct EnumNames<nn::Arch> {
  static constexpr std::array<std::pair<nn::Arch, std::string_view>, 2> values{
      {{nn::Arch::mlp, "mlp"}, {nn::Arch::cnn, "cnn"}}};
};
}  // namespace lumac
