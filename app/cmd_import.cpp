// `lumac import`: an ONNX model checked, imported into a lumac graph, calibrated on its dataset
// and saved as a model file (nn/onnx_import.hpp, studies/network.hpp).
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac::cli {

namespace {

struct ImportCommand {
  CommonOptions common;
  OutputOptions output;
  ImportSpec spec;
};

void print_study(const ImportStudy& st, const std::string& out) {
  const auto& src = *st.model.source();
  fmt::print("lumac import: {} ({}, {}, opset {})\n", src.name, src.checksum,
             src.producer.empty() ? "unknown producer" : src.producer, src.opset);
  for (const auto& n : st.notes) fmt::print("  {}\n", n);
  fmt::print("{}", st.model.summary());
  for (const auto& in : st.model.graph_inputs())
    fmt::print("  graph input '{}' ({}, {} per sample): the dataset feeds {}\n", in.name,
               enum_name(in.type), nn::shape_string(in.shape),
               in.feature == nn::InputFeature::sample ? std::string("its samples")
                                                      : std::string(enum_name(in.feature)));
  fmt::print("  calibrated on the first {} {} training samples ({:.1f} s)\n",
             st.model.calibration().samples, src.dataset, st.seconds);
  if (st.test_samples > 0)
    fmt::print("  clean accuracy {:.4f} on {} {} test samples\n", st.clean_accuracy,
               st.test_samples, src.dataset);
  fmt::print("model written to {}\n", out);
}

void run_import(const ImportCommand& o) {
  h5::check_output_path(o.output.out, o.output.force);
  const Settings settings = load_settings(o.common);
  const ImportStudy st = lumac::run_import(o.spec);
  const nn::ModelFileConfig config{list_keys(settings), settings_toml(settings)};
  nn::save_model(st.model, o.output.out, o.output.force, &config);
  if (o.common.json)
    print_json(to_json(st, o.output.out));
  else
    print_study(st, o.output.out);
}

}  // namespace

void register_import(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "import", "import an ONNX model, calibrate it on a dataset and write a lumac model file");
  cmd->footer(
      "Supported operators, how each maps onto the hardware, and the errors: docs/models.md.\n"
      "Example: lumac import data/models/fmnist_resnet.onnx --dataset fashion-mnist --out "
      "resnet.h5");
  auto o = std::make_shared<ImportCommand>();
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, true);
  cmd->add_option("onnx", o->spec.onnx, "the ONNX model file")->required();
  cmd->add_option("--dataset", o->spec.dataset, "fashion-mnist, mnist or spam: the data it is for")
      ->required();
  cmd->add_option("--calibration-samples", o->spec.calibration_samples,
                  "training samples for the calibrated ranges (default 1000)");
  cmd->add_option("--bind", o->spec.bind,
                  "NAME=FEATURE (repeatable): what the dataset feeds graph input NAME: sample, "
                  "attention-mask (1 for a real token), padding-mask (1 for padding) or none; "
                  "by default the first input takes the samples and inputs named "
                  "*attention_mask or *padding_mask those masks");
  cmd->callback([o] { run_import(*o); });
}

}  // namespace lumac::cli
