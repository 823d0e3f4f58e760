#include "lumac/studies/network.hpp"

#include <cmath>

#include "lumac/core/config.hpp"
#include "lumac/core/error.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

LoadedNetwork load_network(const NetworkSpec& spec, bool need_train,
                           const std::function<void(const nn::Model&)>& check_model) {
  if (spec.limit < 0) fail("limit = {}: must be >= 0", spec.limit);
  if (spec.batch < 1 || spec.batch > 65536) fail("batch = {}: must be in [1, 65536]", spec.batch);
  LoadedNetwork net;
  net.path = spec.model;
  net.batch = spec.batch;
  net.model = nn::load_model(spec.model);
  if (!net.model.calibrated())
    fail("model file '{}' has no calibration ranges (lumac train writes them)", spec.model);
  if (check_model) check_model(net.model);
  net.dataset = spec.dataset;
  if (net.dataset.empty()) {
    if (!net.model.training())
      fail("model file '{}' names no dataset: give the dataset", spec.model);
    net.dataset = net.model.training()->dataset;
  }
  const auto name = parse_enum<nn::DatasetName>(net.dataset, "dataset");
  nn::DatasetSplits data = nn::load_dataset(name, data_dir(), need_train);
  if (data.test.sample_shape != net.model.input_shape())
    fail("model '{}' takes inputs of shape {} but dataset '{}' has images of shape {}", spec.model,
         nn::shape_string(net.model.input_shape()), net.dataset,
         nn::shape_string(data.test.sample_shape));
  if (data.test.classes != net.model.classes())
    fail("model '{}' has {} outputs but dataset '{}' has {} classes", spec.model,
         net.model.classes(), net.dataset, data.test.classes);
  if (spec.limit > data.test.size())
    fail("limit = {}: the {} test set has only {} images", spec.limit, net.dataset,
         data.test.size());
  net.test = data.test.prefix(spec.limit);
  if (need_train) net.train = std::move(data.train);
  return net;
}

double clean_accuracy(const LoadedNetwork& net) {
  nn::EvalOptions opt;
  opt.batch = net.batch;
  return nn::evaluate(net.model, net.test, opt).accuracy;
}

AccuracyStats accuracy_stats(const std::vector<double>& accuracy) {
  AccuracyStats s;
  const double n = static_cast<double>(accuracy.size());
  for (double a : accuracy) s.mean += a / n;
  for (double a : accuracy) s.std += (a - s.mean) * (a - s.mean);
  s.std = accuracy.size() > 1 ? std::sqrt(s.std / (n - 1)) : 0.0;
  return s;
}

void check_seeds(int seeds) {
  if (seeds < 1 || seeds > 10000) fail("seeds = {}: must be in [1, 10000]", seeds);
}

}  // namespace lumac
