// `lumac train`: a quick run writes a loadable, calibrated model and reports it in JSON; the
// same command gives the same model; bad input is one line and exit code 2.
#include <cstring>
#include <map>

#include "lumac/core/h5.hpp"
#include "lumac/nn/model_file.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

TEST_CASE("cli: lumac train writes a calibrated model and reports it") {
  TempDir tmp;
  const std::vector<std::string> args{"train",    "--dataset", "mnist",   "--arch", "mlp",
                                      "--epochs", "2",         "--limit", "1000",   "--batch",
                                      "50",       "--seed",    "7",       "--json"};
  auto with_out = [&](const std::string& name) {
    auto a = args;
    a.insert(a.end(), {"--out", (tmp / name).string()});
    return a;
  };
  const RunResult r = run_lumac(with_out("a.h5"));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());  // progress goes to a terminal only
  CHECK(json_number(r.out, "epochs") == 2);
  CHECK(json_number(r.out, "test_samples") == 1000);
  CHECK(json_number(r.out, "train_samples") == 1000);
  CHECK(json_number(r.out, "seconds") > 0);
  CHECK(json_number(r.out, "train_loss") < std::log(10.0));
  const double accuracy = json_number(r.out, "test_accuracy");
  CHECK(accuracy > 0.7);
  const nn::Model m = nn::load_model(tmp / "a.h5");
  REQUIRE(m.training());
  CHECK(m.training()->test_accuracy == accuracy);
  CHECK(m.training()->seed == 7);
  CHECK(m.training()->batch == 50);
  CHECK(m.training()->learning_rate == 1e-3);
  CHECK(m.training()->optimizer == "adam");
  CHECK(m.calibrated());
  // The effective config is in the file, like in every lumac output file.
  H5::H5File f = h5::open_for_reading(tmp / "a.h5", "model");
  CHECK(h5::has_attribute(f, "config_toml"));
  // Same command, same model: identical weights.
  REQUIRE(run_lumac(with_out("b.h5")).exit_code == 0);
  nn::Model a = m, b = nn::load_model(tmp / "b.h5");
  auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t k = 0; k < pa.size(); ++k)
    CHECK(std::memcmp(pa[k].data(), pb[k].data(), pa[k].size() * sizeof(float)) == 0);
  // Text output names the accuracy and the file.
  const RunResult text = run_lumac({"train", "--dataset", "mnist", "--arch", "mlp", "--epochs", "1",
                                    "--limit", "200", "--out", (tmp / "c.h5").string()});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("test accuracy") != std::string::npos);
  CHECK(text.out.find("c.h5") != std::string::npos);
}

TEST_CASE("cli: lumac train rejects bad input with one line and exit code 2") {
  TempDir tmp;
  write_text(tmp / "exists.h5", "x");
  const std::string out = (tmp / "m.h5").string();
  // Each case replaces some of the valid options {dataset mnist, arch mlp, epochs 1, out m.h5}.
  using Options = std::map<std::string, std::string>;
  const Options valid{{"--dataset", "mnist"}, {"--arch", "mlp"}, {"--epochs", "1"}, {"--out", out}};
  const std::vector<std::pair<Options, std::string>> cases{
      {{{"--dataset", "cifar"}}, "dataset = 'cifar': must be one of fashion-mnist, mnist"},
      {{{"--arch", "resnet"}}, "arch = 'resnet': must be one of mlp, cnn"},
      {{{"--optimizer", "rmsprop"}}, "optimizer = 'rmsprop'"},
      {{{"--epochs", "0"}}, "epochs = 0: must be >= 1"},
      {{{"--epochs", "two"}}, "--epochs"},
      {{{"--batch", "0"}}, "batch = 0: must be >= 1"},
      {{{"--lr", "0"}}, "learning_rate = 0: must be finite and > 0"},
      {{{"--lr", "-0.1"}}, "learning_rate = -0.1"},
      {{{"--lr", "nan"}}, "learning_rate"},
      {{{"--limit", "-5"}}, "limit = -5: must be >= 0"},
      {{{"--out", ""}}, "--out is required"},
      {{{"--out", (tmp / "exists.h5").string()}}, "already exists; pass --force"},
      {{{"--out", (tmp / "no" / "m.h5").string()}}, "does not exist"},
  };
  for (const auto& entry : cases) {
    const auto& changed = entry.first;
    const auto& needle = entry.second;
    Options options = valid;
    for (const auto& [k, v] : changed) options[k] = v;
    std::vector<std::string> args{"train"};
    for (const auto& [k, v] : options)
      if (!(k == "--out" && v.empty())) args.insert(args.end(), {k, v});
    const RunResult r = run_lumac(args);
    CAPTURE(needle);
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.find(needle) != std::string::npos);
  }
  CHECK(read_text(tmp / "exists.h5") == "x");
  CHECK(!std::filesystem::exists(out));
  // A missing dataset names the command that installs it.
  const RunResult r =
      run_lumac({"train", "--dataset", "mnist", "--arch", "mlp", "--epochs", "1", "--out", out},
                "LUMAC_MNIST_DIR=" + (tmp / "nowhere").string());
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.find("npm ci in the lumac folder") != std::string::npos);
}
