// Models: loading (.h5 and .onnx), import, training, and the calls on a loaded model: inference
// on numpy batches, evaluation, the energy account and precision learning.
#include <fmt/format.h>

#include <memory>

#include "lumac/core/config.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/studies/infer.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/precision_study.hpp"
#include "lumac/studies/results.hpp"
#include "lumac/studies/training.hpp"
#include "python/src/bind_common.hpp"

namespace lumac::python {

namespace {

// A loaded model and where it came from.
struct LoadedModel {
  std::string path;     // the .h5 or .onnx it was loaded from
  std::string dataset;  // the dataset asked for ("" : the model's own)
  std::shared_ptr<const nn::Model> model;
  std::vector<std::string> notices;
};

bool is_onnx_path(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

LoadedModel load(const std::string& path, const std::string& dataset,
                 std::int64_t calibration_samples) {
  LoadedModel m;
  m.path = path;
  m.dataset = dataset;
  // An ONNX model without a dataset loads uncalibrated: inference without noise only.
  const bool need_calibration = !is_onnx_path(path) || !dataset.empty();
  nn::Model model;
  run_released([&] {
    model = load_model_file(
        path, dataset, [&](const std::string& text) { m.notices.push_back(text); },
        calibration_samples, need_calibration);
  });
  m.model = std::make_shared<const nn::Model>(std::move(model));
  return m;
}

py::tuple shape_tuple(const nn::Shape& s) {
  py::tuple t(s.size());
  for (std::size_t k = 0; k < s.size(); ++k) t[k] = s[k];
  return t;
}

py::list node_list(const nn::Model& model) {
  std::vector<int> matmul_of(model.size(), -1);
  for (const auto& info : model.matmul_layers())
    matmul_of[static_cast<std::size_t>(info.layer_index)] = info.matmul_index;
  auto value_name = [&](int v) {
    return v == 0 ? std::string("input") : model.node_name(static_cast<std::size_t>(v - 1));
  };
  py::list out;
  for (std::size_t i = 0; i < model.size(); ++i) {
    py::dict d;
    d["name"] = model.node_name(i);
    d["op"] = model.layer(i).op_name();
    py::list inputs;
    for (int v : model.node_inputs(i)) inputs.append(value_name(v));
    d["inputs"] = inputs;
    d["output_shape"] = shape_tuple(model.shape(i + 1));
    d["analog"] = matmul_of[i] >= 0;
    if (matmul_of[i] >= 0) {
      const auto& info = model.matmul_layers()[static_cast<std::size_t>(matmul_of[i])];
      d["fan_in"] = info.fan_in;
      d["outputs"] = info.outputs;
      d["positions"] = info.positions;
      d["macs"] = info.macs;
    }
    out.append(d);
  }
  return out;
}

// The model with its dataset's test split (the first `limit`), or with given samples.
LoadedNetwork network_of(const LoadedModel& m, const std::string& dataset, std::int64_t limit,
                         int batch, bool need_train, const py::object& inputs,
                         const py::object& labels) {
  if (inputs.is_none() != labels.is_none())
    fail("give both the inputs and their labels, or neither (the model's dataset)");
  if (inputs.is_none())
    return network_with_dataset(*m.model, m.path, dataset.empty() ? m.dataset : dataset, limit,
                                batch, need_train);
  const auto x = inputs.cast<py::array_t<float, py::array::c_style | py::array::forcecast>>();
  const auto y =
      labels.cast<py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>>();
  if (y.ndim() != 1) fail("the labels must be one-dimensional (got {} dimensions)", y.ndim());
  if (x.ndim() < 1 || x.shape(0) != y.shape(0))
    fail("{} inputs for {} labels", x.ndim() < 1 ? 0 : x.shape(0), y.shape(0));
  std::vector<int> l(static_cast<std::size_t>(y.size()));
  for (py::ssize_t i = 0; i < y.size(); ++i) {
    const std::int64_t v = y.data()[i];
    if (v < 0 || v >= m.model->classes())
      fail("label {} of sample {} is not a class of the model (0 to {})", v, i,
           m.model->classes() - 1);
    l[static_cast<std::size_t>(i)] = static_cast<int>(v);
  }
  return network_with_samples(*m.model, m.path, std::vector<float>(x.data(), x.data() + x.size()),
                              std::move(l), batch);
}

// x: (N, *input_shape); for a model of several graph inputs, `packed` says that the Python
// side packed its dict of arrays (Model._packed) into that shape.
py::list infer(const LoadedModel& m,
               const py::array_t<float, py::array::c_style | py::array::forcecast>& x,
               const HardwareArgs& hw, const std::optional<Config>& config, std::uint64_t seed,
               int batch, bool packed) {
  if (m.model->graph_inputs().size() != 1 && !packed)
    fail("the model has {} graph inputs: give a dict of arrays by input name",
         m.model->graph_inputs().size());
  const nn::Shape& in = m.model->input_shape();
  bool shape_ok = x.ndim() == static_cast<py::ssize_t>(in.size()) + 1;
  for (std::size_t k = 0; shape_ok && k < in.size(); ++k)
    shape_ok = x.shape(static_cast<py::ssize_t>(k + 1)) == in[k];
  if (!shape_ok) {
    std::vector<py::ssize_t> dims(x.shape(), x.shape() + x.ndim());
    fail("the inputs have shape ({}), the model takes (N, {})", fmt::join(dims, ", "),
         fmt::join(in, ", "));
  }
  const std::span<const float> values(x.data(), static_cast<std::size_t>(x.size()));
  const py::ssize_t n = x.shape(0);
  Settings settings = settings_of(config);
  HardwareSpec spec = hw.spec();
  if (hw.noise.empty() && !hw.bits) spec.noise = "none";
  const HardwareOptions h = resolve_hardware(spec, *m.model, settings.circuit);
  std::vector<std::vector<float>> y;
  run_released([&] { y = infer_samples(*m.model, values, n, h, settings, seed, batch); });
  py::list out;
  for (std::size_t k = 0; k < y.size(); ++k) {
    std::vector<py::ssize_t> dims{n};
    for (int d : m.model->output_shape(k)) dims.push_back(d);
    auto* heap = new std::vector<float>(std::move(y[k]));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
    out.append(py::array_t<float>(dims, heap->data(), owner));
  }
  return out;
}

}  // namespace

void bind_models(py::module_& m) {
  py::class_<LoadedModel>(m, "_Model")
      .def_readonly("path", &LoadedModel::path)
      .def_readonly("notices", &LoadedModel::notices)
      .def_readonly("asked_dataset", &LoadedModel::dataset)
      .def_property_readonly("dataset",
                             [](const LoadedModel& lm) {
                               return lm.dataset.empty() ? lm.model->dataset() : lm.dataset;
                             })
      .def_property_readonly(
          "input_shape", [](const LoadedModel& lm) { return shape_tuple(lm.model->input_shape()); })
      .def_property_readonly("output_shapes",
                             [](const LoadedModel& lm) {
                               py::list out;
                               for (std::size_t k = 0; k < lm.model->outputs().size(); ++k)
                                 out.append(shape_tuple(lm.model->output_shape(k)));
                               return out;
                             })
      .def_property_readonly("output_names",
                             [](const LoadedModel& lm) { return output_dataset_names(*lm.model); })
      .def_property_readonly("calibrated",
                             [](const LoadedModel& lm) { return lm.model->calibrated(); })
      .def_property_readonly("macs_per_sample",
                             [](const LoadedModel& lm) { return lm.model->macs_per_sample(); })
      .def_property_readonly("nodes", [](const LoadedModel& lm) { return node_list(*lm.model); })
      .def("summary", [](const LoadedModel& lm) { return lm.model->summary(); })
      .def(
          "infer",
          [](const LoadedModel& lm,
             const py::array_t<float, py::array::c_style | py::array::forcecast>& x,
             const HardwareArgs& hw, const std::optional<Config>& config, std::uint64_t seed,
             int batch, bool packed) { return infer(lm, x, hw, config, seed, batch, packed); },
          py::arg("x"), py::kw_only(), py::arg("hardware"), py::arg("config") = py::none(),
          py::arg("seed") = 1, py::arg("batch") = 256, py::arg("packed") = false)
      .def_property_readonly("graph_inputs",
                             [](const LoadedModel& lm) {
                               py::list out;
                               for (const auto& in : lm.model->graph_inputs()) {
                                 py::dict d;
                                 d["name"] = in.name;
                                 d["shape"] = shape_tuple(in.shape);
                                 d["type"] = std::string(enum_name(in.type));
                                 d["feature"] = std::string(enum_name(in.feature));
                                 out.append(d);
                               }
                               return out;
                             })
      .def(
          "evaluate",
          [](const LoadedModel& lm, const HardwareArgs& hw, const std::optional<Config>& config,
             std::uint64_t seed, int seeds, const std::string& dataset, std::int64_t limit,
             int batch, const py::object& inputs, const py::object& labels) {
            const Settings settings = settings_of(config);
            const LoadedNetwork net = network_of(lm, dataset, limit, batch, false, inputs, labels);
            Json j;
            run_released(
                [&] { j = to_json(run_eval_study(net, hw.spec(), settings, seed, seeds)); });
            return to_python(j);
          },
          py::kw_only(), py::arg("hardware"), py::arg("config") = py::none(), py::arg("seed") = 1,
          py::arg("seeds") = 1, py::arg("dataset") = "", py::arg("limit") = 0,
          py::arg("batch") = 256, py::arg("inputs") = py::none(), py::arg("labels") = py::none())
      .def(
          "energy",
          [](const LoadedModel& lm, const HardwareArgs& hw, const std::optional<Config>& config,
             std::uint64_t seed, const std::string& dataset, std::int64_t limit, int batch) {
            const Settings settings = settings_of(config);
            // As lumac energy: measured on the first 200 test images unless a limit is given.
            const LoadedNetwork net = network_of(lm, dataset, limit == 0 ? 200 : limit, batch,
                                                 false, py::none(), py::none());
            Json j;
            run_released(
                [&] { j = energy_json(model_energy_report(net, hw.spec(), settings, seed)); });
            return to_python(j);
          },
          py::kw_only(), py::arg("hardware"), py::arg("config") = py::none(), py::arg("seed") = 1,
          py::arg("dataset") = "", py::arg("limit") = 0, py::arg("batch") = 256)
      .def(
          "learn_precision",
          [](const LoadedModel& lm, PrecisionSpec spec, const std::optional<Config>& config,
             int seeds, const std::string& dataset, std::int64_t limit, int batch,
             const std::optional<std::string>& out, bool force, const py::object& progress) {
            check_precision_spec(spec);
            check_seeds(seeds);
            if (out) h5::check_output_path(*out, force);
            const Settings settings = settings_of(config);
            const LoadedNetwork net =
                network_of(lm, dataset, limit, batch, true, py::none(), py::none());
            const auto report = progress_callback(progress);
            const std::int64_t total = static_cast<std::int64_t>(spec.steps) * seeds;
            std::vector<PrecisionStudy> studies;
            Json j;
            run_released([&] {
              const std::uint64_t first = spec.seed;
              for (int i = 0; i < seeds; ++i) {
                PrecisionSpec s = spec;
                s.seed = first + static_cast<std::uint64_t>(i);
                if (report)
                  s.on_step = [&, i](int step, int steps, double) {
                    report(static_cast<std::int64_t>(i) * steps + step, total);
                  };
                studies.push_back(run_precision_study(net, settings, s));
                if (!studies.back().complete)
                  throw Interrupted(fmt::format(
                      "precision learning interrupted during seed {} of {}; nothing written", i + 1,
                      seeds));
              }
              const std::string line = "python: lumac.Model.learn_precision";
              if (seeds == 1) {
                if (out) write_precision_file(studies.front(), settings, *out, force, line);
                j = to_json(studies.front());
              } else {
                if (out) write_precision_file(studies, first, settings, *out, force, line);
                j = to_json(studies, first);
              }
            });
            return to_python(j);
          },
          py::arg("spec"), py::kw_only(), py::arg("config") = py::none(), py::arg("seeds") = 1,
          py::arg("dataset") = "", py::arg("limit") = 0, py::arg("batch") = 256,
          py::arg("out") = py::none(), py::arg("force") = false, py::arg("progress") = py::none())
      .def(
          "save",
          [](const LoadedModel& lm, const std::string& path, bool force,
             const std::optional<Config>& config) {
            const Settings s = settings_of(config);
            const nn::ModelFileConfig c{list_keys(s), settings_toml(s)};
            nn::save_model(*lm.model, path, force, &c);
          },
          py::arg("path"), py::kw_only(), py::arg("force") = false, py::arg("config") = py::none());

  py::class_<HardwareArgs>(m, "_Hardware")
      .def(py::init<>())
      .def_readwrite("noise", &HardwareArgs::noise)
      .def_readwrite("photons_per_mac", &HardwareArgs::photons_per_mac)
      .def_readwrite("repeats", &HardwareArgs::repeats)
      .def_readwrite("energy_per_layer", &HardwareArgs::energy_per_layer)
      .def_readwrite("repeats_per_layer", &HardwareArgs::repeats_per_layer)
      .def_readwrite("enob", &HardwareArgs::enob)
      .def_readwrite("enob_per_layer", &HardwareArgs::enob_per_layer)
      .def_readwrite("bits", &HardwareArgs::bits)
      .def_readwrite("sources", &HardwareArgs::sources);

  py::class_<PrecisionSpec>(m, "_PrecisionSpec")
      .def(py::init<>())
      .def_readwrite("noise", &PrecisionSpec::noise)
      .def_readwrite("drops", &PrecisionSpec::drops)
      .def_readwrite("per_channel", &PrecisionSpec::per_channel)
      .def_readwrite("unconstrained", &PrecisionSpec::unconstrained)
      .def_readwrite("integer_repeats", &PrecisionSpec::integer_repeats)
      .def_readwrite("steps", &PrecisionSpec::steps)
      .def_readwrite("batch", &PrecisionSpec::batch)
      .def_readwrite("learning_rate", &PrecisionSpec::learning_rate)
      .def_readwrite("lambda_", &PrecisionSpec::lambda)
      .def_readwrite("target_energy", &PrecisionSpec::target_energy)
      .def_readwrite("sources", &PrecisionSpec::sources)
      .def_readwrite("seed", &PrecisionSpec::seed);

  m.def(
      "load_dataset",
      [](const std::string& name, const std::string& split, std::int64_t limit) {
        if (split != "test" && split != "train") fail("split = '{}': must be test or train", split);
        if (limit < 0) fail("limit = {}: must be >= 0", limit);
        const auto which = parse_enum<nn::DatasetName>(name, "dataset");
        nn::Dataset d;
        run_released([&] {
          nn::DatasetSplits s = nn::load_dataset(which, data_dir(), split == "train");
          nn::Dataset& all = split == "train" ? s.train : s.test;
          if (limit > all.size())
            fail("limit = {}: the {} {} set has only {} samples", limit, name, split, all.size());
          d = all.prefix(limit);
        });
        std::vector<py::ssize_t> dims{static_cast<py::ssize_t>(d.size())};
        for (int k : d.sample_shape) dims.push_back(k);
        std::vector<std::int64_t> labels(d.labels.begin(), d.labels.end());
        auto* pixels = new std::vector<float>(std::move(d.pixels));
        py::capsule owner(pixels, [](void* p) { delete static_cast<std::vector<float>*>(p); });
        return py::make_tuple(
            py::array_t<float>(dims, pixels->data(), owner),
            py::array_t<std::int64_t>(static_cast<py::ssize_t>(labels.size()), labels.data()));
      },
      py::arg("name"), py::kw_only(), py::arg("split") = "test", py::arg("limit") = 0);
  m.def("load_model", &load, py::arg("path"), py::kw_only(), py::arg("dataset") = "",
        py::arg("calibration_samples") = nn::default_calibration_samples);
  m.def(
      "import_onnx",
      [](const std::string& onnx, const std::string& dataset, std::int64_t calibration_samples,
         const std::optional<std::string>& out, bool force, const std::optional<Config>& config,
         const std::vector<std::string>& bind) {
        if (out) h5::check_output_path(*out, force);
        const Settings settings = settings_of(config);
        std::optional<ImportStudy> st;
        run_released([&] {
          st = run_import(ImportSpec{onnx, dataset, calibration_samples, bind});
          if (out) {
            const nn::ModelFileConfig c{list_keys(settings), settings_toml(settings)};
            nn::save_model(st->model, *out, force, &c);
          }
        });
        LoadedModel lm;
        lm.path = out.value_or(onnx);
        lm.dataset = dataset;
        const py::object report = to_python(to_json(*st, out.value_or("")));
        lm.model = std::make_shared<const nn::Model>(std::move(st->model));
        return py::make_tuple(lm, report);
      },
      py::arg("onnx"), py::kw_only(), py::arg("dataset"),
      py::arg("calibration_samples") = nn::default_calibration_samples, py::arg("out") = py::none(),
      py::arg("force") = false, py::arg("config") = py::none(),
      py::arg("bind") = std::vector<std::string>{});
  m.def(
      "train",
      [](TrainSpec spec, const std::string& out, bool force, const std::optional<Config>& config,
         const py::object& progress) {
        check_train_spec(spec);
        h5::check_output_path(out, force);
        const Settings settings = settings_of(config);
        const auto report = progress_callback(progress);
        if (report)
          spec.on_epoch = [report](const nn::EpochStats& s) { report(s.epoch, s.epochs); };
        std::optional<TrainStudy> st;
        run_released([&] {
          st = run_train_study(spec);
          write_model_file(*st, settings, out, force);
        });
        LoadedModel lm;
        lm.path = out;
        const py::object report_json = to_python(to_json(*st, out));
        lm.model = std::make_shared<const nn::Model>(std::move(st->model));
        return py::make_tuple(lm, report_json);
      },
      py::arg("spec"), py::kw_only(), py::arg("out"), py::arg("force") = false,
      py::arg("config") = py::none(), py::arg("progress") = py::none());
  py::class_<TrainSpec>(m, "_TrainSpec")
      .def(py::init<>())
      .def_readwrite("dataset", &TrainSpec::dataset)
      .def_readwrite("arch", &TrainSpec::arch)
      .def_readwrite("optimizer", &TrainSpec::optimizer)
      .def_readwrite("epochs", &TrainSpec::epochs)
      .def_readwrite("batch", &TrainSpec::batch)
      .def_readwrite("learning_rate", &TrainSpec::learning_rate)
      .def_readwrite("limit", &TrainSpec::limit)
      .def_readwrite("seed", &TrainSpec::seed);
}

}  // namespace lumac::python
