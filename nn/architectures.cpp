#include "lumac/nn/architectures.hpp"

#include <cmath>

#include "lumac/core/rng.hpp"
#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/pool.hpp"

namespace lumac::nn {

Model make_architecture(Arch arch) {
  std::vector<std::unique_ptr<Layer>> l;
  if (arch == Arch::mlp) {
    l.push_back(std::make_unique<Flatten>());
    l.push_back(std::make_unique<Dense>("fc1", 784, 100));
    l.push_back(std::make_unique<ReLU>());
    l.push_back(std::make_unique<Dense>("fc2", 100, 100));
    l.push_back(std::make_unique<ReLU>());
    l.push_back(std::make_unique<Dense>("fc3", 100, 10));
  } else {
    l.push_back(std::make_unique<Conv2d>("conv1", Conv2dGeometry{1, 16, 5, 5, 1, 2}));
    l.push_back(std::make_unique<ReLU>());
    l.push_back(std::make_unique<MaxPool2d>(2));
    l.push_back(std::make_unique<Conv2d>("conv2", Conv2dGeometry{16, 32, 5, 5, 1, 0}));
    l.push_back(std::make_unique<ReLU>());
    l.push_back(std::make_unique<MaxPool2d>(2));
    l.push_back(std::make_unique<Flatten>());
    l.push_back(std::make_unique<Dense>("fc1", 800, 128));
    l.push_back(std::make_unique<ReLU>());
    l.push_back(std::make_unique<Dense>("fc2", 128, 10));
  }
  return Model({1, 28, 28}, std::move(l), std::string(enum_name(arch)));
}

void initialize(Model& model, std::uint64_t seed) {
  const RandomStream rng(seed, Stream::training);
  for (std::size_t i = 0; i < model.matmul_layers().size(); ++i) {
    MatmulLayer& m = model.matmul_layer(static_cast<int>(i));
    Eigen::MatrixXf& w = m.weight();
    rng.fill_normal(std::span<float>(w.data(), static_cast<std::size_t>(w.size())), 0, i, 0);
    w *= static_cast<float>(std::sqrt(2.0 / m.fan_in()));
    m.bias().setZero();
  }
}

Model make_model(Arch arch, std::uint64_t seed) {
  Model m = make_architecture(arch);
  initialize(m, seed);
  return m;
}

}  // namespace lumac::nn
