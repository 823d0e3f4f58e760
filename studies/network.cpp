#include "lumac/studies/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "lumac/core/config.hpp"
#include "lumac/core/error.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/onnx_import.hpp"
#include "lumac/nn/spam.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

namespace {

bool is_onnx(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".onnx" || ext == ".ONNX";
}

// The model's dataset: the one asked for, or the one it records.
std::string dataset_of(const nn::Model& model, const std::string& asked, const std::string& path) {
  if (!asked.empty()) return asked;
  const std::string d = model.dataset();
  if (d.empty()) fail("model file '{}' names no dataset: give the dataset", path);
  return d;
}

// Loads the dataset with its training split and calibrates the model on it.
nn::DatasetSplits calibrate_model(nn::Model& model, const std::string& dataset,
                                  std::int64_t samples) {
  const auto name = parse_enum<nn::DatasetName>(dataset, "dataset");
  nn::DatasetSplits data = nn::load_dataset(name, data_dir(), true);
  data.train = bind_inputs(std::move(data.train), model);
  data.test = bind_inputs(std::move(data.test), model);
  model.set_calibration(nn::calibrate(model, data.train, samples));
  return data;
}

}  // namespace

nn::Dataset bind_inputs(nn::Dataset data, const nn::Model& model) {
  const auto& inputs = model.graph_inputs();
  if (inputs.size() == 1 && inputs[0].feature == nn::InputFeature::sample) {
    if (data.sample_shape != model.input_shape())
      fail("the model takes inputs of shape {} but dataset '{}' has samples of shape {}",
           nn::shape_string(model.input_shape()), data.name, nn::shape_string(data.sample_shape));
    return data;
  }
  const std::int64_t n = data.size();
  std::vector<std::vector<float>> parts;
  const auto samples = std::count_if(inputs.begin(), inputs.end(), [](const auto& in) {
    return in.feature == nn::InputFeature::sample;
  });
  if (samples != 1)
    fail("{} graph inputs take the samples of dataset '{}' (feature sample): exactly one must",
         samples, data.name);
  for (const nn::ModelInput& in : inputs) {
    const std::string feature(enum_name(in.feature));
    if (in.feature == nn::InputFeature::none)
      fail(
          "graph input '{}' is fed by no feature of dataset '{}' (feature none): bind it with "
          "--bind {}=sample|attention-mask|padding-mask; a model with an input that no dataset "
          "feeds runs only under lumac infer, clean (docs/models.md)",
          in.name, data.name, in.name);
    if (in.shape != data.sample_shape)
      fail("graph input '{}' ({}) has shape {} but dataset '{}' has samples of shape {}", in.name,
           feature, nn::shape_string(in.shape), data.name, nn::shape_string(data.sample_shape));
    if (in.feature != nn::InputFeature::sample && data.name != "spam")
      fail("graph input '{}' takes the {} of a token dataset; '{}' has no padding", in.name,
           feature, data.name);
    std::vector<float> v = data.pixels;
    if (in.feature != nn::InputFeature::sample) {
      const float pad = nn::spam_pad_id, real = in.feature == nn::InputFeature::attention_mask;
      for (float& x : v) x = x == pad ? 1.0f - real : real;
    }
    parts.push_back(std::move(v));
  }
  std::vector<std::span<const float>> spans(parts.begin(), parts.end());
  nn::Tensor packed;
  try {
    packed = model.pack_inputs(spans, static_cast<int>(n));
  } catch (const Error& e) {
    fail("the {} {} split as the model's inputs: {}", data.name, data.split, e.what());
  }
  data.pixels = std::move(packed.data);
  data.sample_shape = model.input_shape();
  return data;
}

void bind_features(nn::Model& model, const std::vector<std::string>& bind) {
  std::vector<nn::ModelInput> inputs = model.graph_inputs();
  std::vector<std::string> bound;
  for (const std::string& b : bind) {
    const auto eq = b.find('=');
    if (eq == std::string::npos) fail("--bind '{}': expected NAME=FEATURE", b);
    const std::string name = b.substr(0, eq);
    if (std::find(bound.begin(), bound.end(), name) != bound.end())
      fail("--bind '{}': input '{}' is bound twice", b, name);
    bound.push_back(name);
    auto it =
        std::find_if(inputs.begin(), inputs.end(), [&](const auto& in) { return in.name == name; });
    if (it == inputs.end()) {
      std::vector<std::string> names;
      for (const auto& in : inputs) names.push_back(in.name);
      fail("--bind '{}': the model has no graph input '{}' (its inputs: {})", b, name,
           fmt::join(names, ", "));
    }
    it->feature = parse_enum<nn::InputFeature>(b.substr(eq + 1), "--bind " + name);
  }
  model.set_graph_inputs(std::move(inputs));
}

nn::Model load_model_file(const std::string& path, const std::string& dataset,
                          const std::function<void(const std::string&)>& notice,
                          std::int64_t calibration_samples, bool need_calibration) {
  if (!is_onnx(path)) return nn::load_model(path);
  if (dataset.empty() && !need_calibration) return std::move(nn::import_onnx(path).model);
  if (dataset.empty())
    fail("'{}' is an ONNX model: give the dataset it is for (--dataset) to calibrate it", path);
  nn::OnnxImport imp = nn::import_onnx(path);
  if (notice)
    notice(
        fmt::format("importing ONNX model '{}' and calibrating it on the first {} {} training "
                    "samples (lumac import saves this as a model file)",
                    path, calibration_samples, dataset));
  nn::SourceRecord src = *imp.model.source();
  src.dataset = dataset;
  imp.model.set_source(src);
  calibrate_model(imp.model, dataset, calibration_samples);
  return std::move(imp.model);
}

ImportStudy run_import(const ImportSpec& spec) {
  if (spec.calibration_samples < 1 || spec.calibration_samples > 60000)
    fail("calibration samples = {}: must be in [1, 60000]", spec.calibration_samples);
  if (spec.dataset.empty()) fail("give the dataset the model is for");
  (void)parse_enum<nn::DatasetName>(spec.dataset, "dataset");  // before the (slower) import
  const auto start = std::chrono::steady_clock::now();
  nn::OnnxImport imp = nn::import_onnx(spec.onnx);
  ImportStudy st{std::move(imp.model), std::move(imp.notes), 0, 0, 0};
  nn::SourceRecord src = *st.model.source();
  src.dataset = spec.dataset;
  st.model.set_source(src);
  bind_features(st.model, spec.bind);
  const nn::DatasetSplits data = calibrate_model(st.model, spec.dataset, spec.calibration_samples);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (st.model.output_shape().size() == 1 && st.model.classes() == data.test.classes) {
    nn::EvalOptions opt;
    const nn::EvalResult e = nn::evaluate(st.model, data.test, opt);
    st.clean_accuracy = e.accuracy;
    st.test_samples = e.samples;
  }
  return st;
}

Json to_json(const ImportStudy& st, const std::string& out) {
  const auto& src = *st.model.source();
  Json layers = Json::array();
  for (const auto& m : st.model.matmul_layers())
    layers.push_back({{"name", m.name},
                      {"fan_in", m.fan_in},
                      {"outputs", m.outputs},
                      {"positions", m.positions},
                      {"macs", m.macs},
                      {"operands", m.activation_operands() ? "activations" : "weights"}});
  Json inputs = Json::array();
  for (const auto& in : st.model.graph_inputs())
    inputs.push_back({{"name", in.name},
                      {"type", std::string(enum_name(in.type))},
                      {"shape", in.shape},
                      {"feature", std::string(enum_name(in.feature))}});
  return {{"command", "import"},
          {"source", src.name},
          {"inputs", inputs},
          {"checksum", src.checksum},
          {"producer", src.producer},
          {"opset", src.opset},
          {"dataset", src.dataset},
          {"nodes", st.model.size()},
          {"matmul_layers", layers},
          {"macs_per_sample", st.model.macs_per_sample()},
          {"calibration_samples", st.model.calibration().samples},
          {"clean_accuracy", st.clean_accuracy},
          {"test_samples", st.test_samples},
          {"notes", st.notes},
          {"seconds", st.seconds},
          {"out", out}};
}

namespace {

void check_batch(int batch) {
  if (batch < 1 || batch > 65536) fail("batch = {}: must be in [1, 65536]", batch);
}

// The model gives class scores: one flat output.
void check_class_scores(const nn::Model& model, const std::string& path) {
  if (model.output_shape().size() != 1)
    fail("model '{}' gives outputs of shape {}, not class scores: lumac infer runs it", path,
         nn::shape_string(model.output_shape()));
}

}  // namespace

LoadedNetwork load_network(const NetworkSpec& spec, bool need_train,
                           const std::function<void(const nn::Model&)>& check_model) {
  if (spec.limit < 0) fail("limit = {}: must be >= 0", spec.limit);
  check_batch(spec.batch);
  nn::Model model = load_model_file(spec.model, spec.dataset, spec.notice);
  if (!model.calibrated())
    fail("model file '{}' has no calibration ranges (lumac train and lumac import write them)",
         spec.model);
  if (check_model) check_model(model);
  return network_with_dataset(std::move(model), spec.model, spec.dataset, spec.limit, spec.batch,
                              need_train);
}

LoadedNetwork network_with_dataset(nn::Model model, const std::string& path,
                                   const std::string& dataset, std::int64_t limit, int batch,
                                   bool need_train) {
  if (limit < 0) fail("limit = {}: must be >= 0", limit);
  check_batch(batch);
  LoadedNetwork net;
  net.path = path;
  net.batch = batch;
  net.model = std::move(model);
  net.dataset = dataset_of(net.model, dataset, path);
  const auto name = parse_enum<nn::DatasetName>(net.dataset, "dataset");
  nn::DatasetSplits data = nn::load_dataset(name, data_dir(), need_train);
  try {
    data.test = bind_inputs(std::move(data.test), net.model);
    if (need_train) data.train = bind_inputs(std::move(data.train), net.model);
  } catch (const Error& e) {
    fail("model '{}': {}", path, e.what());
  }
  check_class_scores(net.model, path);
  if (data.test.classes != net.model.classes())
    fail("model '{}' has {} outputs but dataset '{}' has {} classes", path, net.model.classes(),
         net.dataset, data.test.classes);
  if (limit > data.test.size())
    fail("limit = {}: the {} test set has only {} samples", limit, net.dataset, data.test.size());
  net.test = data.test.prefix(limit);
  if (need_train) net.train = std::move(data.train);
  return net;
}

LoadedNetwork network_with_samples(nn::Model model, const std::string& path,
                                   std::vector<float> inputs, std::vector<int> labels, int batch) {
  check_batch(batch);
  check_class_scores(model, path);
  const auto n = static_cast<std::int64_t>(labels.size());
  const std::int64_t size = nn::shape_size(model.input_shape());
  if (n < 1) fail("no samples: give at least one input with its label");
  if (static_cast<std::int64_t>(inputs.size()) != n * size)
    fail("{} input values for {} labels: the model takes inputs of shape {} ({} values each)",
         inputs.size(), n, nn::shape_string(model.input_shape()), size);
  for (float v : inputs)
    if (!std::isfinite(v)) fail("the inputs hold a non-finite value");
  const int classes = model.classes();
  for (std::int64_t i = 0; i < n; ++i)
    if (labels[static_cast<std::size_t>(i)] < 0 || labels[static_cast<std::size_t>(i)] >= classes)
      fail("label {} of sample {} is not a class of the model (0 to {})",
           labels[static_cast<std::size_t>(i)], i, classes - 1);
  LoadedNetwork net;
  net.path = path;
  net.batch = batch;
  net.dataset = "samples";
  net.test.name = "samples";
  net.test.split = "test";
  net.test.sample_shape = model.input_shape();
  net.test.classes = classes;
  net.test.pixels = std::move(inputs);
  net.test.labels = std::move(labels);
  net.model = std::move(model);
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
