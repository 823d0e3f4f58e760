#include "lumac/studies/training.hpp"

#include <cmath>

#include "lumac/core/error.hpp"
#include "lumac/nn/architectures.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model_file.hpp"

namespace lumac {

namespace {

nn::OptimizerParams optimizer_params(const TrainSpec& spec) {
  nn::OptimizerParams opt;
  opt.kind = parse_enum<nn::OptimizerKind>(spec.optimizer, "optimizer");
  opt.learning_rate =
      spec.learning_rate.value_or(opt.kind == nn::OptimizerKind::adam ? 1e-3 : 0.05);
  return opt;
}

}  // namespace

void check_train_spec(const TrainSpec& spec) {
  if (parse_enum<nn::DatasetName>(spec.dataset, "dataset") == nn::DatasetName::spam)
    fail(
        "dataset spam: lumac trains image classifiers only (mlp, cnn); the spam transformer is "
        "trained by scripts/train_spam_transformer.py and imported");
  parse_enum<nn::Arch>(spec.arch, "arch");
  const nn::OptimizerParams opt = optimizer_params(spec);
  if (spec.epochs < 1) fail("epochs = {}: must be >= 1", spec.epochs);
  if (spec.batch < 1) fail("batch = {}: must be >= 1", spec.batch);
  if (spec.limit < 0) fail("limit = {}: must be >= 0", spec.limit);
  if (!std::isfinite(opt.learning_rate) || !(opt.learning_rate > 0))
    fail("learning_rate = {}: must be finite and > 0", opt.learning_rate);
}

TrainStudy run_train_study(const TrainSpec& spec) {
  check_train_spec(spec);
  const nn::OptimizerParams opt = optimizer_params(spec);
  const nn::DatasetSplits data =
      nn::load_dataset(parse_enum<nn::DatasetName>(spec.dataset, "dataset"), data_dir());
  const nn::Dataset train_set = data.train.prefix(spec.limit);
  const nn::Dataset test_set = data.test.prefix(spec.limit);
  TrainStudy st;
  st.model = nn::make_model(parse_enum<nn::Arch>(spec.arch, "arch"), spec.seed);
  nn::TrainOptions t;
  t.optimizer = opt;
  t.epochs = spec.epochs;
  t.batch = spec.batch;
  t.seed = spec.seed;
  t.on_epoch = spec.on_epoch;
  st.trained = nn::train(st.model, train_set, t);
  st.test = nn::evaluate(st.model, test_set);
  st.model.set_calibration(nn::calibrate(st.model, data.train));
  nn::TrainingRecord r;
  r.dataset = spec.dataset;
  r.arch = spec.arch;
  r.optimizer = spec.optimizer;
  r.seed = spec.seed;
  r.epochs = spec.epochs;
  r.batch = spec.batch;
  r.learning_rate = opt.learning_rate;
  r.train_samples = train_set.size();
  r.test_samples = st.test.samples;
  r.train_loss = st.trained.epochs.back().train_loss;
  r.test_accuracy = st.test.accuracy;
  r.seconds = st.trained.seconds;
  st.model.set_training(r);
  return st;
}

void write_model_file(const TrainStudy& st, const Settings& settings,
                      const std::filesystem::path& path, bool force) {
  const nn::ModelFileConfig config{list_keys(settings), settings_toml(settings)};
  nn::save_model(st.model, path, force, &config);
}

Json to_json(const TrainStudy& st, const std::string& out) {
  const nn::TrainingRecord& r = *st.model.training();
  Json j{{"test_accuracy", r.test_accuracy},
         {"test_loss", st.test.loss},
         {"train_loss", r.train_loss},
         {"train_accuracy", st.trained.epochs.back().train_accuracy},
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
         {"macs_per_sample", st.model.macs_per_sample()},
         {"out", out}};
  Json losses = Json::array();
  for (const auto& e : st.trained.epochs) losses.push_back(e.train_loss);
  j["train_loss_per_epoch"] = losses;
  return j;
}

}  // namespace lumac
