#include "lumac/nn/model_file.hpp"

#include <fmt/format.h>

#include <cmath>

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/nn/act_matmul.hpp"
#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/graph_ops.hpp"
#include "lumac/nn/pool.hpp"

namespace lumac::nn {

namespace fs = std::filesystem;

namespace {

std::string layer_group(std::size_t i) {
  return fmt::format("{:02}", i);
}

void put(H5::H5Object& o, const std::string& name, std::int64_t v) {
  h5::write_attribute(o, name, v);
}

// ---- writing ---------------------------------------------------------------------------------

void write_record(H5::Group& g, const NodeRecord& r) {
  h5::write_attribute(g, "op", r.op);
  for (const auto& [key, v] : r.ints) h5::write_dataset(g, "int." + key, v, {v.size()}, "1");
  for (const auto& [key, v] : r.reals) h5::write_dataset(g, "real." + key, v, {v.size()}, "1");
  for (const auto& [key, a] : r.arrays) {
    std::vector<hsize_t> dims(a.dims.begin(), a.dims.end());
    h5::write_dataset(g, "array." + key, a.values, dims, "1");
  }
}

void write_layer(H5::Group& g, const Layer& layer) {
  h5::write_attribute(g, "type", std::string(layer_type_name(layer.type())));
  if (layer.type() == LayerType::op) {
    NodeRecord r;
    layer.record(r);
    write_record(g, r);
    return;
  }
  if (const auto* m = dynamic_cast<const MatmulLayer*>(&layer); m && m->activation_operands()) {
    h5::write_attribute(g, "name", m->name());
    put(g, "fan_in", m->fan_in());
    put(g, "outputs", m->outputs());
    return;
  }
  if (const auto* m = dynamic_cast<const MatmulLayer*>(&layer)) {
    h5::write_attribute(g, "name", m->name());
    std::vector<hsize_t> dims{static_cast<hsize_t>(m->outputs()),
                              static_cast<hsize_t>(m->fan_in())};
    if (const auto* c = dynamic_cast<const Conv2d*>(m)) {
      const Conv2dGeometry& k = c->geometry();
      put(g, "in_channels", k.in_channels);
      put(g, "out_channels", k.out_channels);
      put(g, "kernel_h", k.kernel_h);
      put(g, "kernel_w", k.kernel_w);
      put(g, "stride", k.stride);
      put(g, "padding", k.padding);
      dims = {static_cast<hsize_t>(k.out_channels), static_cast<hsize_t>(k.in_channels / k.groups),
              static_cast<hsize_t>(k.kernel_h), static_cast<hsize_t>(k.kernel_w)};
    } else {
      put(g, "in_features", m->fan_in());
      put(g, "out_features", m->outputs());
    }
    const RowMatrixXf w = m->weight();  // row-major: outputs x fan_in, PyTorch's order
    h5::write_dataset(g, "weight", std::vector<float>(w.data(), w.data() + w.size()), dims, "1");
    h5::write_dataset(g, "bias",
                      std::vector<float>(m->bias().data(), m->bias().data() + m->bias().size()),
                      {static_cast<hsize_t>(m->outputs())}, "1");
    const auto* c = dynamic_cast<const Conv2d*>(m);
    if (c && c->geometry().general()) {
      NodeRecord r;
      c->record(r);
      write_record(g, r);
    }
  } else if (const auto* p = dynamic_cast<const Pool2d*>(&layer)) {
    put(g, "kernel", p->kernel());
    put(g, "stride", p->stride());
    if (p->geometry().general()) {
      NodeRecord r;
      p->record(r);
      write_record(g, r);
    }
  }
}

void write_calibration(H5::Group& g, const Model& model) {
  const Calibration& c = model.calibration();
  h5::write_attribute(g, "dataset", c.dataset);
  put(g, "samples", c.samples);
  h5::write_attribute(g, "percentile_lo", c.percentile_lo);
  h5::write_attribute(g, "percentile_hi", c.percentile_hi);
  std::vector<std::string> names;
  std::vector<float> in, out, w;
  for (std::size_t k = 0; k < c.layers.size(); ++k) {
    const LayerCalibration& l = c.layers[k];
    names.push_back(model.matmul_layers()[k].name);
    in.insert(in.end(), {l.input_lo, l.input_hi});
    out.insert(out.end(), {l.output_lo, l.output_hi});
    w.insert(w.end(), {l.weight_lo, l.weight_hi});
  }
  h5::write_attribute(g, "layer_names", names);
  const std::vector<hsize_t> dims{c.layers.size(), 2};
  h5::write_dataset(g, "input_range", in, dims, "1");
  h5::write_dataset(g, "output_range", out, dims, "1");
  h5::write_dataset(g, "weight_range", w, dims, "1");
}

void write_training(H5::Group& g, const TrainingRecord& r) {
  h5::write_attribute(g, "dataset", r.dataset);
  h5::write_attribute(g, "arch", r.arch);
  h5::write_attribute(g, "optimizer", r.optimizer);
  put(g, "seed", static_cast<std::int64_t>(r.seed));
  put(g, "epochs", r.epochs);
  put(g, "batch", r.batch);
  h5::write_attribute(g, "learning_rate", r.learning_rate);
  put(g, "train_samples", r.train_samples);
  put(g, "test_samples", r.test_samples);
  h5::write_attribute(g, "train_loss", r.train_loss);
  h5::write_attribute(g, "test_accuracy", r.test_accuracy);
  h5::write_attribute(g, "seconds", r.seconds);
}

void write_source(H5::Group& g, const SourceRecord& r) {
  h5::write_attribute(g, "format", r.format);
  h5::write_attribute(g, "name", r.name);
  h5::write_attribute(g, "checksum", r.checksum);
  h5::write_attribute(g, "producer", r.producer);
  put(g, "opset", r.opset);
  h5::write_attribute(g, "dataset", r.dataset);
  h5::write_attribute(g, "input_name", r.input_name);
  h5::write_attribute(g, "output_names", r.output_names);
}

// ---- reading ---------------------------------------------------------------------------------

// Runs f(), prefixing the message of a lumac::Error with `where` (a group of the file).
template <class F>
auto in_group(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    fail("{}: {}", where, e.what());
  }
}

int read_dim(const H5::Group& g, const std::string& name, int lo) {
  const std::int64_t v = h5::read_int_attribute(g, name);
  if (v < lo || v > 1000000) fail("{} = {} is out of range", name, v);
  return static_cast<int>(v);
}

std::vector<float> read_param(const H5::Group& g, const std::string& name,
                              const std::vector<hsize_t>& dims) {
  auto a = h5::read_floats(g, name);
  if (a.dims != dims) {
    std::vector<int> got(a.dims.begin(), a.dims.end()), want(dims.begin(), dims.end());
    fail("dataset '{}' has shape {}, expected {}", name, shape_string(got), shape_string(want));
  }
  for (float v : a.data)
    if (!std::isfinite(v)) fail("dataset '{}' holds a non-finite value", name);
  return std::move(a.data);
}

NodeRecord read_record(const H5::Group& g) {
  NodeRecord r;
  r.op = h5::read_string_attribute(g, "op");
  for (hsize_t k = 0; k < g.getNumObjs(); ++k) {
    const std::string name = g.getObjnameByIdx(k);
    const auto dot = name.find('.');
    if (dot == std::string::npos) continue;
    const std::string kind = name.substr(0, dot), key = name.substr(dot + 1);
    if (kind == "int") {
      r.put(key, h5::read_ints(g, name).data);
    } else if (kind == "real") {
      r.put_real(key, h5::read_doubles(g, name).data);
    } else if (kind == "array") {
      auto a = h5::read_floats(g, name);
      for (float v : a.data)
        if (!std::isfinite(v)) fail("dataset '{}' holds a non-finite value", name);
      r.put_array(key, std::vector<int>(a.dims.begin(), a.dims.end()), std::move(a.data));
    }
  }
  return r;
}

std::unique_ptr<Layer> read_layer(const H5::Group& g) {
  const std::string type = h5::read_string_attribute(g, "type");
  if (type == "op") return make_graph_op(read_record(g));
  if (type == "relu") return std::make_unique<ReLU>();
  if (type == "flatten") return std::make_unique<Flatten>();
  if (type == "maxpool2d" || type == "avgpool2d") {
    const int kernel = read_dim(g, "kernel", 1), stride = read_dim(g, "stride", 1);
    Pool2dGeometry pg{
        .kernel_h = kernel, .kernel_w = kernel, .stride_h = stride, .stride_w = stride};
    if (h5::has_attribute(g, "op")) pg = Pool2dGeometry::from_record(read_record(g));
    if (type == "maxpool2d") return std::make_unique<MaxPool2d>(pg);
    return std::make_unique<AvgPool2d>(pg);
  }
  if (type == "matmul")
    return std::make_unique<ActMatmul>(h5::read_string_attribute(g, "name"),
                                       read_dim(g, "fan_in", 1), read_dim(g, "outputs", 1));
  if (type != "dense" && type != "conv2d") fail("unknown layer type '{}'", type);
  std::unique_ptr<MatmulLayer> m;
  std::vector<hsize_t> dims;
  const std::string name = h5::read_string_attribute(g, "name");
  if (type == "dense") {
    const int in = read_dim(g, "in_features", 1), out = read_dim(g, "out_features", 1);
    m = std::make_unique<Dense>(name, in, out);
    dims = {static_cast<hsize_t>(out), static_cast<hsize_t>(in)};
  } else {
    Conv2dGeometry k;
    k.in_channels = read_dim(g, "in_channels", 1);
    k.out_channels = read_dim(g, "out_channels", 1);
    k.kernel_h = read_dim(g, "kernel_h", 1);
    k.kernel_w = read_dim(g, "kernel_w", 1);
    k.stride = read_dim(g, "stride", 1);
    k.padding = read_dim(g, "padding", 0);
    if (h5::has_attribute(g, "op")) k.read_extra(read_record(g));
    m = std::make_unique<Conv2d>(name, k);
    dims = {static_cast<hsize_t>(k.out_channels), static_cast<hsize_t>(k.in_channels / k.groups),
            static_cast<hsize_t>(k.kernel_h), static_cast<hsize_t>(k.kernel_w)};
  }
  const auto w = read_param(g, "weight", dims);
  m->weight() = Eigen::Map<const RowMatrixXf>(w.data(), m->outputs(), m->fan_in());
  const auto b = read_param(g, "bias", {static_cast<hsize_t>(m->outputs())});
  m->bias() = Eigen::Map<const Eigen::VectorXf>(b.data(), m->outputs());
  return m;
}

Calibration read_calibration(const H5::Group& g, const Model& model) {
  Calibration c;
  c.dataset = h5::read_string_attribute(g, "dataset");
  c.samples = h5::read_int_attribute(g, "samples");
  c.percentile_lo = h5::read_double_attribute(g, "percentile_lo");
  c.percentile_hi = h5::read_double_attribute(g, "percentile_hi");
  const std::size_t n = model.matmul_layers().size();
  const std::vector<hsize_t> dims{n, 2};
  const auto in = read_param(g, "input_range", dims);
  const auto out = read_param(g, "output_range", dims);
  const auto w = read_param(g, "weight_range", dims);
  for (std::size_t k = 0; k < n; ++k)
    c.layers.push_back(
        {in[2 * k], in[2 * k + 1], out[2 * k], out[2 * k + 1], w[2 * k], w[2 * k + 1]});
  return c;
}

SourceRecord read_source(const H5::Group& g) {
  SourceRecord r;
  r.format = h5::read_string_attribute(g, "format");
  r.name = h5::read_string_attribute(g, "name");
  r.checksum = h5::read_string_attribute(g, "checksum");
  r.producer = h5::read_string_attribute(g, "producer");
  r.opset = h5::read_int_attribute(g, "opset");
  r.dataset = h5::read_string_attribute(g, "dataset");
  r.input_name = h5::read_string_attribute(g, "input_name");
  r.output_names = h5::read_strings_attribute(g, "output_names");
  return r;
}

TrainingRecord read_training(const H5::Group& g) {
  TrainingRecord r;
  r.dataset = h5::read_string_attribute(g, "dataset");
  r.arch = h5::read_string_attribute(g, "arch");
  r.optimizer = h5::read_string_attribute(g, "optimizer");
  r.seed = static_cast<std::uint64_t>(h5::read_int_attribute(g, "seed"));
  r.epochs = h5::read_int_attribute(g, "epochs");
  r.batch = h5::read_int_attribute(g, "batch");
  r.learning_rate = h5::read_double_attribute(g, "learning_rate");
  r.train_samples = h5::read_int_attribute(g, "train_samples");
  r.test_samples = h5::read_int_attribute(g, "test_samples");
  r.train_loss = h5::read_double_attribute(g, "train_loss");
  r.test_accuracy = h5::read_double_attribute(g, "test_accuracy");
  r.seconds = h5::read_double_attribute(g, "seconds");
  return r;
}

std::vector<ModelInput> read_graph_inputs(const H5::Group& root) {
  if (!root.nameExists("inputs")) fail("group '/inputs' is missing");
  const H5::Group g = root.openGroup("inputs");
  const std::int64_t count = h5::read_int_attribute(g, "count");
  if (count < 1 || count > 64) fail("count = {} is out of range", count);
  std::vector<ModelInput> out;
  for (std::int64_t k = 0; k < count; ++k) {
    const std::string name = layer_group(static_cast<std::size_t>(k));
    if (!g.nameExists(name)) fail("group '{}' is missing", name);
    const H5::Group gi = g.openGroup(name);
    ModelInput in;
    in.name = h5::read_string_attribute(gi, "name");
    in.type = parse_enum<InputType>(h5::read_string_attribute(gi, "type"), "type");
    in.feature = parse_enum<InputFeature>(h5::read_string_attribute(gi, "feature"), "feature");
    const auto shape = h5::read_ints(gi, "shape");
    if (shape.dims.size() != 1 || shape.data.empty() || shape.data.size() > 6)
      fail("input '{}': its shape must list 1 to 6 dimensions", in.name);
    for (std::int64_t d : shape.data) {
      if (d < 1 || d > 1000000) fail("input '{}' has a dimension of {}", in.name, d);
      in.shape.push_back(static_cast<int>(d));
    }
    out.push_back(std::move(in));
  }
  return out;
}

Model read_model(const H5::H5File& file) {
  const std::string kind = h5::read_string_attribute(file, "kind");
  if (kind != model_file_kind) fail("kind = '{}', not a lumac model ('{}')", kind, model_file_kind);
  const std::int64_t version = h5::read_int_attribute(file, "schema_version");
  if (version < 1 || version > model_schema_version)
    fail("schema_version = {}, this lumac reads versions 1 to {}", version, model_schema_version);
  const H5::Group root = file.openGroup("/");
  const auto shape = h5::read_ints(root, "input_shape");
  if (shape.dims.size() != 1 || shape.data.empty() || shape.data.size() > 6)
    fail("dataset 'input_shape' must list 1 to 6 dimensions");
  Shape input;
  for (std::int64_t d : shape.data) {
    if (d < 1 || d > 100000) fail("input_shape has a dimension of {}", d);
    input.push_back(static_cast<int>(d));
  }
  if (!root.nameExists("layers")) fail("group '/layers' is missing");
  const H5::Group layers = root.openGroup("layers");
  const std::int64_t count = h5::read_int_attribute(layers, "count");
  if (count < 1 || count > 10000) fail("/layers count = {} is out of range", count);
  std::vector<std::unique_ptr<Layer>> list;
  std::vector<std::vector<int>> inputs;
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string name = layer_group(static_cast<std::size_t>(i));
    const std::string where = "/layers/" + name;
    if (!layers.nameExists(name)) fail("group '{}' is missing", where);
    const H5::Group g = layers.openGroup(name);
    list.push_back(in_group(where, [&] { return read_layer(g); }));
    if (version >= 2) {
      in_group(where, [&] {
        inputs.emplace_back();
        for (std::int64_t v : h5::read_ints(g, "inputs").data) {
          if (v < 0 || v > i) fail("node {} reads value {}, not computed before it", i, v);
          inputs.back().push_back(static_cast<int>(v));
        }
        names.push_back(h5::read_string_attribute(g, "node_name"));
      });
    }
  }
  std::vector<int> outputs;
  if (version >= 2)
    for (std::int64_t v : h5::read_ints(root, "outputs").data) {
      if (v < 0 || v > count) fail("output value {} does not exist", v);
      outputs.push_back(static_cast<int>(v));
    }
  Model model(std::move(input), std::move(list), std::move(inputs), std::move(names),
              std::move(outputs), h5::read_string_attribute(file, "arch"));
  if (version >= 3)
    model.set_graph_inputs(in_group("/inputs", [&] { return read_graph_inputs(root); }));
  if (root.nameExists("calibration"))
    model.set_calibration(in_group(
        "/calibration", [&] { return read_calibration(root.openGroup("calibration"), model); }));
  if (root.nameExists("training"))
    model.set_training(
        in_group("/training", [&] { return read_training(root.openGroup("training")); }));
  if (root.nameExists("source"))
    model.set_source(in_group("/source", [&] { return read_source(root.openGroup("source")); }));
  if (version < 3 && model.source() && !model.source()->input_name.empty()) {
    // Before /inputs: the one input takes the ONNX input's name, and is int64 when it feeds
    // an embedding (token ids).
    ModelInput in{model.source()->input_name, model.input_shape(), InputType::float32,
                  InputFeature::sample};
    for (std::size_t i = 0; i < model.size(); ++i)
      if (model.node_inputs(i)[0] == 0 && dynamic_cast<const Gather*>(&model.layer(i)))
        in.type = InputType::int64;
    model.set_graph_inputs({in});
  }
  return model;
}

}  // namespace

void save_model(const Model& model, const fs::path& path, bool force,
                const ModelFileConfig* config) {
  h5::OutputFile out(path, force);
  try {
    H5::H5File& f = out.file();
    h5::write_attribute(f, "kind", std::string(model_file_kind));
    put(f, "schema_version", model_schema_version);
    h5::write_attribute(f, "arch", model.arch());
    if (model.output_shape().size() == 1) put(f, "classes", model.classes());
    put(f, "macs_per_sample", model.macs_per_sample());
    if (config) h5::write_config(f, config->keys, config->toml);
    H5::Group root = f.openGroup("/");
    const Shape& in = model.input_shape();
    h5::write_dataset(root, "input_shape", std::vector<std::int64_t>(in.begin(), in.end()),
                      {in.size()}, "1");
    {
      H5::Group g = h5::create_group(root, "inputs");
      const auto& ins = model.graph_inputs();
      put(g, "count", static_cast<std::int64_t>(ins.size()));
      for (std::size_t k = 0; k < ins.size(); ++k) {
        H5::Group gi = h5::create_group(g, layer_group(k));
        h5::write_attribute(gi, "name", ins[k].name);
        h5::write_attribute(gi, "type", std::string(enum_name(ins[k].type)));
        h5::write_attribute(gi, "feature", std::string(enum_name(ins[k].feature)));
        const Shape& s = ins[k].shape;
        h5::write_dataset(gi, "shape", std::vector<std::int64_t>(s.begin(), s.end()), {s.size()},
                          "1");
      }
    }
    H5::Group layers = h5::create_group(root, "layers");
    put(layers, "count", static_cast<std::int64_t>(model.size()));
    for (std::size_t i = 0; i < model.size(); ++i) {
      H5::Group g = h5::create_group(layers, layer_group(i));
      write_layer(g, model.layer(i));
      const auto& ids = model.node_inputs(i);
      h5::write_dataset(g, "inputs", std::vector<std::int64_t>(ids.begin(), ids.end()),
                        {ids.size()}, "1");
      h5::write_attribute(g, "node_name", model.node_name(i));
    }
    const auto& outs = model.outputs();
    h5::write_dataset(root, "outputs", std::vector<std::int64_t>(outs.begin(), outs.end()),
                      {outs.size()}, "1");
    if (model.calibrated()) {
      H5::Group g = h5::create_group(root, "calibration");
      write_calibration(g, model);
    }
    if (model.training()) {
      H5::Group g = h5::create_group(root, "training");
      write_training(g, *model.training());
    }
    if (model.source()) {
      H5::Group g = h5::create_group(root, "source");
      write_source(g, *model.source());
    }
  } catch (const H5::Exception& e) {
    fail_file("cannot write model file '{}': {}", path.string(), e.getDetailMsg());
  }
  out.commit();
}

Model load_model(const fs::path& path) {
  const H5::H5File file = h5::open_for_reading(path, "model");
  try {
    return read_model(file);
  } catch (const Error& e) {
    fail("model file '{}': {}", path.string(), e.what());
  } catch (const H5::Exception& e) {
    fail("model file '{}': {}", path.string(), e.getDetailMsg());
  }
}

}  // namespace lumac::nn
