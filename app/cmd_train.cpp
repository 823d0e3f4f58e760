// `lumac train`: trains one of the bundled architectures (nn/architectures.hpp) on Fashion-MNIST
// or MNIST (nn/dataset.hpp), measures its clean test accuracy, calibrates it on the first 1000
// training images (nn/calibration.hpp) and writes the model file (docs/model_file.md).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/studies/training.hpp"

namespace lumac::cli {

namespace {

struct TrainCommand {
  CommonOptions common;
  OutputOptions output;
  TrainSpec spec;
};

void print_study(const TrainStudy& st, const std::string& out) {
  const nn::TrainingRecord& r = *st.model.training();
  fmt::print("lumac train: {} on {} ({} training images), {} epochs, {} lr {} batch {}, seed {}\n",
             r.arch, r.dataset, r.train_samples, r.epochs, r.optimizer, r.learning_rate, r.batch,
             r.seed);
  fmt::print("test accuracy {:.4f} on {} test images (loss {:.4f}); train loss {:.4f}; {:.1f} s\n",
             r.test_accuracy, r.test_samples, st.test.loss, r.train_loss, r.seconds);
  fmt::print("model written to {}\n", out);
}

void run(TrainCommand o) {
  check_train_spec(o.spec);
  h5::check_output_path(o.output.out, o.output.force);
  const Settings settings = load_settings(o.common);
  o.spec.seed = o.common.seed;
  if (stderr_is_terminal()) {
    o.spec.on_epoch = [](const nn::EpochStats& s) {
      fmt::print(stderr, "epoch {}/{}: train loss {:.4f}, train accuracy {:.4f}, {:.1f} s\n",
                 s.epoch, s.epochs, s.train_loss, s.train_accuracy, s.seconds);
    };
  }
  const TrainStudy st = run_train_study(o.spec);
  write_model_file(st, settings, o.output.out, o.output.force);
  if (o.common.json)
    print_json(to_json(st, o.output.out));
  else
    print_study(st, o.output.out);
}

}  // namespace

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "train a network (mlp or cnn) on fashion-mnist or mnist and write a model file");
  auto o = std::make_shared<TrainCommand>();
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, true);
  cmd->add_option("--dataset", o->spec.dataset, "fashion-mnist or mnist")->required();
  cmd->add_option("--arch", o->spec.arch, "mlp (784-100-100-10) or cnn (LeNet style)")->required();
  cmd->add_option("--epochs", o->spec.epochs, "passes over the training set (>= 1)")->required();
  cmd->add_option("--batch", o->spec.batch, "samples per mini-batch (default 64)");
  cmd->add_option("--lr", o->spec.learning_rate,
                  "learning rate (default 0.001 for adam, 0.05 for sgd)");
  cmd->add_option("--optimizer", o->spec.optimizer, "sgd (momentum 0.9) or adam (default)");
  cmd->add_option(
      "--limit", o->spec.limit,
      "use only the first N training and N test samples (quick runs; default, or 0: all)");
  cmd->callback([o] { run(*o); });
}

}  // namespace lumac::cli
