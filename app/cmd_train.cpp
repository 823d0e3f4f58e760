// `lumac train`: trains one of the bundled architectures (nn/architectures.hpp) on Fashion-MNIST
// or MNIST (nn/dataset.hpp), measures its clean test accuracy, calibrates it on the first 1000
// training images (nn/calibration.hpp) and writes the model file (docs/model_file.md).
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/nn/architectures.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/train.hpp"

namespace lumac::cli {

namespace {

struct TrainCommand {
  CommonOptions common;
  OutputOptions output;
  std::string dataset, arch, optimizer = "adam";
  int epochs = 0, batch = 64;
  double learning_rate = 0;
  bool learning_rate_set = false;
  std::int64_t limit = 0;
};

void run(const TrainCommand& o) {
  const auto dataset = parse_enum<nn::DatasetName>(o.dataset, "--dataset");
  const auto arch = parse_enum<nn::Arch>(o.arch, "--arch");
  const auto optimizer = parse_enum<nn::OptimizerKind>(o.optimizer, "--optimizer");
  if (o.epochs < 1) fail("--epochs = {}: must be >= 1", o.epochs);
  if (o.batch < 1) fail("--batch = {}: must be >= 1", o.batch);
  if (o.limit < 0) fail("--limit = {}: must be >= 0", o.limit);
  nn::OptimizerParams opt;
  opt.kind = optimizer;
  opt.learning_rate =
      o.learning_rate_set ? o.learning_rate : (optimizer == nn::OptimizerKind::adam ? 1e-3 : 0.05);
  if (!std::isfinite(opt.learning_rate) || !(opt.learning_rate > 0))
    fail("--lr = {}: must be finite and > 0", opt.learning_rate);
  h5::check_output_path(o.output.out, o.output.force);
  const Settings settings = load_settings(o.common);

  const nn::DatasetSplits data = nn::load_dataset(dataset, data_dir());
  const nn::Dataset train_set = data.train.prefix(o.limit);
  const nn::Dataset test_set = data.test.prefix(o.limit);
  nn::Model model = nn::make_model(arch, o.common.seed);

  nn::TrainOptions t;
  t.optimizer = opt;
  t.epochs = o.epochs;
  t.batch = o.batch;
  t.seed = o.common.seed;
  if (isatty(fileno(stderr))) {
    t.on_epoch = [](const nn::EpochStats& s) {
      fmt::print(stderr, "epoch {}/{}: train loss {:.4f}, train accuracy {:.4f}, {:.1f} s\n",
                 s.epoch, s.epochs, s.train_loss, s.train_accuracy, s.seconds);
    };
  }
  const nn::TrainResult trained = nn::train(model, train_set, t);
  const nn::EvalResult test = nn::evaluate(model, test_set);
  model.set_calibration(nn::calibrate(model, data.train));

  nn::TrainingRecord r;
  r.dataset = o.dataset;
  r.arch = o.arch;
  r.optimizer = o.optimizer;
  r.seed = o.common.seed;
  r.epochs = o.epochs;
  r.batch = o.batch;
  r.learning_rate = opt.learning_rate;
  r.train_samples = train_set.size();
  r.test_samples = test.samples;
  r.train_loss = trained.epochs.back().train_loss;
  r.test_accuracy = test.accuracy;
  r.seconds = trained.seconds;
  model.set_training(r);
  const nn::ModelFileConfig config{list_keys(settings), settings_toml(settings)};
  nn::save_model(model, o.output.out, o.output.force, &config);

  if (o.common.json) {
    Json j{{"test_accuracy", r.test_accuracy},
           {"test_loss", test.loss},
           {"train_loss", r.train_loss},
           {"train_accuracy", trained.epochs.back().train_accuracy},
           {"epochs", r.epochs},
           {"seconds", r.seconds},
           {"dataset", r.dataset},
           {"arch", r.arch},
           {"optimizer", r.optimizer},
           {"learning_rate", r.learning_rate},
           {"batch", r.batch},
           {"seed", static_cast<std::int64_t>(r.seed)},
           {"train_samples", r.train_samples},
           {"test_samples", r.test_samples},
           {"macs_per_sample", model.macs_per_sample()},
           {"out", o.output.out}};
    Json losses = Json::array();
    for (const auto& e : trained.epochs) losses.push_back(e.train_loss);
    j["train_loss_per_epoch"] = losses;
    print_json(j);
  } else {
    fmt::print(
        "lumac train: {} on {} ({} training images), {} epochs, {} lr {} batch {}, seed {}\n",
        r.arch, r.dataset, r.train_samples, r.epochs, r.optimizer, r.learning_rate, r.batch,
        r.seed);
    fmt::print(
        "test accuracy {:.4f} on {} test images (loss {:.4f}); train loss {:.4f}; {:.1f} s\n",
        r.test_accuracy, r.test_samples, test.loss, r.train_loss, r.seconds);
    fmt::print("model written to {}\n", o.output.out);
  }
}

}  // namespace

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "train a network (mlp or cnn) on fashion-mnist or mnist and write a model file");
  auto o = std::make_shared<TrainCommand>();
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, true);
  cmd->add_option("--dataset", o->dataset, "fashion-mnist or mnist")->required();
  cmd->add_option("--arch", o->arch, "mlp (784-100-100-10) or cnn (LeNet style)")->required();
  cmd->add_option("--epochs", o->epochs, "passes over the training set (>= 1)")->required();
  cmd->add_option("--batch", o->batch, "samples per mini-batch (default 64)");
  auto* lr = cmd->add_option("--lr", o->learning_rate,
                             "learning rate (default 0.001 for adam, 0.05 for sgd)");
  cmd->add_option("--optimizer", o->optimizer, "sgd (momentum 0.9) or adam (default)");
  cmd->add_option("--limit", o->limit,
                  "use only the first N training and N test samples (quick runs; default all)");
  cmd->callback([o, lr] {
    o->learning_rate_set = lr->count() > 0;
    run(*o);
  });
}

}  // namespace lumac::cli
