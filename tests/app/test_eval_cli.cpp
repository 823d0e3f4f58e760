#include "lumac/core/gemm.hpp"
#include "tests/support.hpp"

using namespace lumac::test;
namespace fs = std::filesystem;

TEST_CASE("cli: lumac eval --json has the documented keys") {
  const RunResult r =
      run_lumac({"eval", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "shot",
                 "--photons-per-mac", "5", "--limit", "500", "--seeds", "2", "--json"});
  REQUIRE(r.exit_code == 0);
  for (const char* key :
       {"accuracy_mean", "accuracy_std", "clean_accuracy", "fan_in", "macs", "enob", "noise_std",
        "photons_per_mac", "repeats", "total_aJ_per_mac", "detected_optical_aJ_per_mac"}) {
    CAPTURE(key);
    CHECK(!std::isnan(json_number(r.out, key)));
  }
  CHECK(r.out.find("\"layers\"") != std::string::npos);
  CHECK(r.out.find("\"fc1\"") != std::string::npos);
  CHECK(r.out.find("\"operands\": \"weights\"") != std::string::npos);
  CHECK(r.out.find("\"activations\"") == std::string::npos);
  // 5 detected photons per MAC at 1550 nm: 0.641 aJ/MAC.
  CHECK(json_number(r.out, "detected_optical_aJ_per_mac") ==
        doctest::Approx(5 * 0.128158).epsilon(1e-3));
  CHECK(json_number(r.out, "accuracy_mean") > 0.5);
}

TEST_CASE("cli: lumac eval physical mode and the enob and digital baselines run") {
  const RunResult p = run_lumac({"eval", "--model", bundled_model("fmnist_cnn.h5"), "--noise",
                                 "physical", "--set", "laser.power_W=0.01", "--limit", "300"});
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.find("conv2") != std::string::npos);
  const RunResult e =
      run_lumac({"eval", "--model", bundled_model("fmnist_cnn.h5"), "--noise", "enob",
                 "--enob-per-layer", "6,6,5,5", "--limit", "300", "--json"});
  REQUIRE(e.exit_code == 0);
  // The measured ENOB of the first layer is the requested one.
  CHECK(json_number(e.out, "enob") == doctest::Approx(6).epsilon(0.01));
  const RunResult b = run_lumac(
      {"eval", "--model", bundled_model("mnist_mlp.h5"), "--bits", "4", "--limit", "300"});
  REQUIRE(b.exit_code == 0);
}

TEST_CASE("cli: bad eval input is one line and exit 2") {
  TempDir tmp;
  write_text(tmp / "corrupt.h5", std::string("\x89HDF\r\n\x1a\n", 8) + std::string(100, 'x'));
  write_text(tmp / "empty.h5", "");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"eval", "--model", (tmp / "none.h5").string()}, "does not exist"},
      {{"eval", "--model", (tmp / "empty.h5").string()}, "not an HDF5 file"},
      {{"eval", "--model", (tmp / "corrupt.h5").string()}, "corrupt.h5"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "cosmic"},
       "noise = 'cosmic'"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "shot", "--energy-per-layer",
        "1,2"},
       "has 2 values but the model has 3"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--repeats-per-layer", "1,2,3,4"},
       "has 4 values"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--repeats", "0"}, "repeats = 0"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "shot", "--photons-per-mac",
        "-1"},
       "-1"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "enob"},
       "noise enob needs enob"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "20000"}, "only 10000"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "-3"}, "limit = -3"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--seeds", "0"}, "seeds = 0"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--bits", "4", "--noise", "shot"},
       "bits is the digital baseline"},
      {{"eval", "--model", bundled_model("fmnist_mlp.h5"), "--dataset", "cifar"},
       "dataset = 'cifar'"},
      {{"eval"}, "--model"},
  };
  for (const auto& entry : cases) {
    const auto& args = entry.first;
    const auto& needle = entry.second;
    const RunResult r = run_lumac(args);
    CAPTURE(args);
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.find(needle) != std::string::npos);
  }
}

TEST_CASE(
    "cli: lumac bench --quick --json reports every figure (a smoke run, no timing asserted)") {
  const RunResult r = run_lumac({"bench", "--quick", "--json"});
  REQUIRE(r.exit_code == 0);
  for (const char* key :
       {"gemm_gflops", "fmnist_mlp", "fmnist_cnn", "fmnist_resnet", "mc_dot_products_per_s",
        "trace_symbols_per_s", "precision_steps_per_s"}) {
    CAPTURE(key);
    CHECK(r.out.find("\"" + std::string(key) + "\"") != std::string::npos);
  }
  for (const char* key : {"clean_images_per_s", "noisy_images_per_s", "noisy_over_clean_time"}) {
    CAPTURE(key);
    CHECK(r.out.find("\"" + std::string(key) + "\"") != std::string::npos);
  }
  CHECK(json_number(r.out, "gemm_gflops") > 0);
  CHECK(json_number(r.out, "mc_dot_products_per_s") > 0);
  CHECK(json_number(r.out, "peak_resident_MiB") > 0);
  CHECK(r.out.find("\"conv_over_gemm_rate\"") != std::string::npos);
#ifdef LUMAC_TEST_OPENBLAS
  // Both kernels side by side: the default (OpenBLAS where its bits do not depend on where the
  // operands sit on this CPU, core/gemm.hpp) under the plain names, the other with its name
  // appended.
  const bool openblas = lumac::gemm_kernel_alignment_invariant(lumac::GemmKernel::openblas);
  CHECK(r.out.find(openblas ? "\"gemm_kernel\": \"openblas\"" : "\"gemm_kernel\": \"eigen\"") !=
        std::string::npos);
  // The other kernel is timed only where it runs products (OpenBLAS fails the probe: nothing).
  if (openblas) CHECK(json_number(r.out, "gemm_gflops_eigen") > 0);
  CHECK(r.out.find("\"openblas_alignment_invariant\"") != std::string::npos);
#endif
}

TEST_CASE("cli: lumac bench --model times one ONNX file on random inputs of its shape") {
  // grouped.onnx takes 4x10x10 inputs: no dataset fits, so the inputs are drawn.
  const RunResult r = run_lumac(
      {"bench", "--model", (source_dir() / "tests" / "data" / "onnx" / "grouped.onnx").string(),
       "--images", "8", "--batch", "4", "--repeats", "1", "--json"});
  REQUIRE(r.exit_code == 0);
  CAPTURE(r.out);
  for (const char* key : {"clean_images_per_s", "noisy_images_per_s", "noisy_over_clean_time",
                          "grouped", "shot", "peak_resident_MiB"})
    CHECK(r.out.find("\"" + std::string(key) + "\"") != std::string::npos);
  CHECK(json_number(r.out, "images") == 8);  // the run's settings are recorded
  CHECK(json_number(r.out, "batch") == 4);
  CHECK(json_number(r.out, "threads") >= 1);
  CHECK(r.out.find("physical") == std::string::npos);     // an uncalibrated import: shot only
  CHECK(r.out.find("gemm_gflops") == std::string::npos);  // only the model's figures
}

TEST_CASE("cli: the config's system.repeats sets K of every layer unless --repeats is given") {
  auto run = [](std::vector<std::string> extra) {
    std::vector<std::string> args{"eval",     "--model", bundled_model("fmnist_mlp.h5"), "--noise",
                                  "physical", "--set",   "laser.power_W=2e-4",           "--limit",
                                  "500",      "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_lumac(args);
    REQUIRE(r.exit_code == 0);
    return r;
  };
  const RunResult one = run({});
  const RunResult config = run({"--set", "system.repeats=4"});
  const RunResult option = run({"--repeats", "4"});
  CHECK(json_number(one.out, "repeats") == 1);
  CHECK(json_number(config.out, "repeats") == 4);
  // The same K through the config or the option gives the same numbers, and more precision
  // than K = 1: 4 repeats at digital averaging add about 1 bit to every layer.
  CHECK(json_number(config.out, "accuracy_mean") == json_number(option.out, "accuracy_mean"));
  CHECK(json_number(config.out, "enob") == doctest::Approx(json_number(option.out, "enob")));
  CHECK(json_number(config.out, "enob") > json_number(one.out, "enob") + 0.8);
  CHECK(json_number(config.out, "total_aJ_per_mac") > 3 * json_number(one.out, "total_aJ_per_mac"));
}

TEST_CASE("cli: text tables print every node name whole") {
  // fmnist_vit's nodes have names up to 15 characters ("blocks.0.attn_2"); the energy and
  // eval tables used to cut them at 12 or shift their columns.
  const RunResult e =
      run_lumac({"energy", "--model", bundled_model("fmnist_vit.h5"), "--limit", "20"});
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find(" blocks.0.attn_2 ") != std::string::npos);
  const RunResult v = run_lumac({"eval", "--model", bundled_model("fmnist_vit.h5"), "--noise",
                                 "shot", "--photons-per-mac", "10", "--limit", "20"});
  REQUIRE(v.exit_code == 0);
  // Every row's fan-in column starts where the header's does.
  const auto header = v.out.find("  layer");
  REQUIRE(header != std::string::npos);
  const auto fan_in = v.out.find("fan-in", header) - header;
  const auto row = v.out.find("  blocks.3.attn_2 ");
  REQUIRE(row != std::string::npos);
  const auto line_end = v.out.find('\n', row);
  const std::string line = v.out.substr(row, line_end - row);
  // the fan-in (16) is right-aligned under "fan-in": its last digit at the same column
  CHECK(line.find("16") + 2 == fan_in + std::string("fan-in").size());
}
