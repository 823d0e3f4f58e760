// `lumac infer`: any batch of inputs (HDF5) through a model on the simulated hardware, outputs
// to HDF5 (studies/infer.hpp).
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"
#include "lumac/studies/infer.hpp"

namespace lumac::cli {

namespace {

struct InferCommand {
  CommonOptions common;
  InferSpec spec;
  HardwareSpec hardware;
};

void run_infer(InferCommand& o) {
  const InferStudy st =
      lumac::run_infer(o.spec, o.hardware, load_settings(o.common), o.common.seed, command_line());
  if (o.common.json) {
    print_json(to_json(st));
    return;
  }
  fmt::print("lumac infer: {} on {} samples of '{}' ({}), noise {}, seed {}: {:.3g} s\n", st.model,
             st.samples, o.spec.input, st.input_dataset, enum_name(st.hardware.mode), st.seed,
             st.seconds);
  for (std::size_t k = 0; k < st.output_names.size(); ++k)
    fmt::print("  {} ({} x {}) written to {}\n", st.output_names[k], st.samples,
               nn::shape_string(st.output_shapes[k]), o.spec.out);
}

}  // namespace

void register_infer(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "infer", "run a batch of inputs from an HDF5 file through a model, outputs to HDF5");
  cmd->footer(
      "IN.h5 holds one dataset named after the model's input (or 'input') of shape (N, per-sample\n"
      "shape); OUT.h5 gets one dataset per model output ('output' for a single one) of shape\n"
      "(N, ...), with the effective config as attributes (docs/infer_file.md). The noise of\n"
      "sample i depends only on (seed, i).");
  auto o = std::make_shared<InferCommand>();
  add_common_options(*cmd, o->common);
  cmd->add_option("--model", o->spec.model, "model file (.h5) or ONNX model (.onnx)")->required();
  cmd->add_option("--dataset", o->spec.dataset,
                  "an ONNX model's dataset (fashion-mnist | mnist | spam), to calibrate it for the "
                  "analog modes");
  cmd->add_option("--input", o->spec.input, "IN.h5, the inputs")->required();
  cmd->add_option("--out", o->spec.out, "OUT.h5, the outputs")->required();
  cmd->add_flag("--force", o->spec.force, "overwrite an existing output file");
  cmd->add_option("--batch", o->spec.batch, "samples per forward pass (default 256)");
  add_hardware_options(*cmd, o->hardware);
  o->hardware.noise = "none";
  cmd->get_option("--noise")->description(
      "none (default) | shot | thermal | weight | physical | enob");
  o->spec.notice = [](const std::string& text) { fmt::print(stderr, "lumac: {}\n", text); };
  cmd->callback([o, cmd] {
    settle_noise(*cmd, o->hardware, o->common.sets);
    run_infer(*o);
  });
}

}  // namespace lumac::cli
