#include "lumac/studies/infer.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/nn/quantize.hpp"

namespace lumac {

namespace {

std::vector<std::string> graph_input_names(const nn::Model& model) {
  std::vector<std::string> out;
  for (const auto& in : model.graph_inputs()) out.push_back(in.name);
  return out;
}

// The input batch: one dataset per graph input, named after it (a model of one input also
// takes a dataset named `input`), packed into the model input. `names` lists the datasets read.
nn::Tensor read_infer_inputs(const std::string& path, const nn::Model& model, std::string& names) {
  const H5::H5File file = h5::open_for_reading(path, "inference input");
  const H5::Group root = file.openGroup("/");
  const auto& graph_inputs = model.graph_inputs();
  std::vector<h5::Array<float>> arrays;
  names.clear();
  for (const nn::ModelInput& in : graph_inputs) {
    std::vector<std::string> tried{in.name};
    if (graph_inputs.size() == 1 && in.name != "input") tried.push_back("input");
    std::string name;
    for (const auto& t : tried)
      if (root.nameExists(t)) {
        name = t;
        break;
      }
    if (name.empty())
      fail("input file '{}' has no dataset '{}' (the model's input{} {})", path,
           fmt::join(tried, "' or '"), graph_inputs.size() == 1 ? "" : "s",
           fmt::join(graph_input_names(model), ", "));
    h5::Array<float> a;
    try {
      H5T_class_t type_class = H5T_NO_CLASS;
      try {
        type_class = root.openDataSet(name).getTypeClass();
      } catch (const H5::Exception& e) {
        fail("dataset '{}' cannot be opened: {}", name, e.getDetailMsg());
      }
      if (type_class == H5T_INTEGER) {
        // Read as int64 first: a float32 would round ids beyond 2^24 before they are checked.
        const h5::Array<std::int64_t> ints = h5::read_ints(root, name);
        a.dims = ints.dims;
        a.data.reserve(ints.data.size());
        for (std::size_t e = 0; e < ints.data.size(); ++e) {
          const std::int64_t v = ints.data[e];
          if (v > (std::int64_t{1} << 24) || v < -(std::int64_t{1} << 24))
            fail(
                "dataset '{}' element {}: {} is beyond 2^24 in magnitude (lumac carries ids and "
                "masks as exact float32)",
                name, e, v);
          a.data.push_back(static_cast<float>(v));
        }
      } else if (type_class == H5T_FLOAT || type_class == H5T_ENUM) {  // h5py's bool: an enum
        a = h5::read_floats(root, name);
      } else {
        fail("dataset '{}' does not hold numbers (float, integer or bool)", name);
      }
    } catch (const Error& e) {
      fail("input file '{}': {}", path, e.what());
    }
    nn::Shape per_sample;
    for (std::size_t k = 1; k < a.dims.size(); ++k)
      per_sample.push_back(static_cast<int>(a.dims[k]));
    if (a.dims.empty() || per_sample != in.shape)
      fail("input file '{}': dataset '{}' has shape {}, the model takes (N, {})", path, name,
           a.dims.empty() ? std::string("() (a scalar)")
                          : fmt::format("({})", fmt::join(a.dims, ", ")),
           nn::shape_string(in.shape));
    if (a.dims[0] < 1 || a.dims[0] > 100000000)
      fail("input file '{}': dataset '{}' has {} samples", path, name, a.dims[0]);
    if (!arrays.empty() && a.dims[0] != arrays[0].dims[0])
      fail("input file '{}': dataset '{}' has {} samples, '{}' {}", path, name, a.dims[0],
           graph_inputs[0].name, arrays[0].dims[0]);
    names += (names.empty() ? "" : ", ") + name;
    arrays.push_back(std::move(a));
  }
  std::vector<std::span<const float>> parts;
  for (const auto& a : arrays) parts.emplace_back(a.data);
  try {
    return model.pack_inputs(parts, static_cast<int>(arrays[0].dims[0]));
  } catch (const Error& e) {
    fail("input file '{}': {}", path, e.what());
  }
}

}  // namespace

std::vector<std::string> output_dataset_names(const nn::Model& model) {
  const auto& outs = model.outputs();
  const auto& src = model.source();
  std::vector<std::string> names;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (outs.size() == 1)
      names.push_back("output");
    else
      names.push_back(src && k < src->output_names.size() ? src->output_names[k]
                                                          : fmt::format("output{}", k));
  }
  return names;
}

std::vector<std::vector<float>> infer_samples(const nn::Model& model, std::span<const float> x,
                                              std::int64_t samples, const HardwareOptions& h,
                                              const Settings& settings, std::uint64_t seed,
                                              int batch) {
  if (batch < 1 || batch > 65536) fail("batch = {}: must be in [1, 65536]", batch);
  const std::int64_t size = nn::shape_size(model.input_shape());
  if (samples < 1 || samples > 100000000) fail("{} samples: must be in [1, 100000000]", samples);
  if (static_cast<std::int64_t>(x.size()) != samples * size)
    fail("{} input values for {} samples of shape {}", x.size(), samples,
         nn::shape_string(model.input_shape()));
  model.check_input_types(x, static_cast<int>(samples));
  const bool analog = nn::noise_mode_info(h.mode).adds_noise() || h.bits.has_value();
  if (analog && !model.calibrated())
    fail("the model has no calibration: the analog modes need it (lumac import writes it)");
  std::unique_ptr<nn::AnalogExecutor> ex;
  std::unique_ptr<nn::MatmulHook> digital;
  const nn::MatmulHook* hook = nullptr;
  if (model.calibrated()) {
    const auto layers = configured_layers(model, h);
    ex = std::make_unique<nn::AnalogExecutor>(h.mode, layers, settings.circuit, h.sources, seed);
    if (h.bits) {
      digital = std::make_unique<nn::DigitalQuantization>(*h.bits, layers);
      hook = digital.get();
    } else if (nn::noise_mode_info(h.mode).adds_noise()) {
      hook = ex.get();
    }
  }
  std::vector<std::vector<float>> results(model.outputs().size());
  std::vector<std::int64_t> index(static_cast<std::size_t>(samples));
  std::iota(index.begin(), index.end(), 0);
  for (std::int64_t first = 0; first < samples; first += batch) {
    throw_if_stop_requested("inference");
    const int count = static_cast<int>(std::min<std::int64_t>(batch, samples - first));
    nn::Tensor part(count, model.input_shape());
    std::copy(x.begin() + first * size, x.begin() + (first + count) * size, part.data.begin());
    const nn::Pass pass{.samples = std::span<const std::int64_t>(index).subspan(
                            static_cast<std::size_t>(first), static_cast<std::size_t>(count)),
                        .hook = hook};
    const auto y = model.forward_outputs(part, pass);
    for (std::size_t k = 0; k < y.size(); ++k)
      results[k].insert(results[k].end(), y[k].data.begin(), y[k].data.end());
  }
  return results;
}

InferStudy run_infer(const InferSpec& spec, const HardwareSpec& hardware, Settings settings,
                     std::uint64_t seed, const std::string& command_line) {
  if (spec.batch < 1 || spec.batch > 65536) fail("batch = {}: must be in [1, 65536]", spec.batch);
  h5::check_output_path(spec.out, spec.force);
  const bool analog = hardware.noise != "none" || hardware.bits.has_value();
  const nn::Model model = load_model_file(spec.model, spec.dataset, spec.notice,
                                          nn::default_calibration_samples, analog);
  InferStudy st;
  st.model = spec.model;
  st.seed = seed;
  st.hardware = resolve_hardware(hardware, model, settings.circuit);
  if (analog && !model.calibrated())
    fail("model '{}' has no calibration: the analog modes need it (lumac import writes it)",
         spec.model);
  const nn::Tensor x = read_infer_inputs(spec.input, model, st.input_dataset);
  st.samples = x.batch;
  st.output_names = output_dataset_names(model);
  for (std::size_t k = 0; k < model.outputs().size(); ++k)
    st.output_shapes.push_back(model.output_shape(k));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<float>> results =
      infer_samples(model, x.data, x.batch, st.hardware, settings, seed, spec.batch);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  h5::OutputFile out(spec.out, spec.force);
  H5::H5File& f = out.file();
  write_header(f, settings, "lumac-infer", command_line);
  H5::Group root = f.openGroup("/");
  h5::write_attribute(root, "model", spec.model);
  h5::write_attribute(root, "input_file", spec.input);
  h5::write_attribute(root, "input_dataset", st.input_dataset);
  h5::write_attribute(root, "noise", std::string(enum_name(st.hardware.mode)));
  h5::write_attribute(root, "seed", static_cast<std::int64_t>(seed));
  for (std::size_t k = 0; k < results.size(); ++k) {
    std::vector<hsize_t> dims{static_cast<hsize_t>(x.batch)};
    for (int d : st.output_shapes[k]) dims.push_back(static_cast<hsize_t>(d));
    h5::write_dataset(root, st.output_names[k], results[k], dims, "1");
  }
  out.commit();
  return st;
}

Json to_json(const InferStudy& st) {
  Json shapes = Json::array();
  for (const auto& s : st.output_shapes) shapes.push_back(s);
  return {{"command", "infer"},
          {"model", st.model},
          {"input_dataset", st.input_dataset},
          {"samples", st.samples},
          {"noise", std::string(enum_name(st.hardware.mode))},
          {"seed", st.seed},
          {"outputs", st.output_names},
          {"output_shapes", shapes},
          {"seconds", st.seconds}};
}

}  // namespace lumac
