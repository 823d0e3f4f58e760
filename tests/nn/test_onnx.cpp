// ONNX import (nn/onnx_import.hpp): every test model of tests/data/onnx (made by
// scripts/make_onnx_test_models.py with torch, whose outputs are stored beside them) against
// PyTorch's outputs, batch-norm and bias folding, lumac import and lumac infer end to end, and
// the errors a user meets (each one line naming the problem).
#include <onnx/onnx_pb.h>

#include <cstring>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include "lumac/core/h5.hpp"
#include "lumac/core/json.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/onnx_import.hpp"
#include "lumac/nn/spam.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

nn::Tensor onnx_read_batch(const fs::path& file, const std::string& name) {
  const H5::H5File f = h5::open_for_reading(file, "test data");
  const auto a = h5::read_floats(f.openGroup("/"), name);
  nn::Tensor t;
  t.batch = static_cast<int>(a.dims.at(0));
  for (std::size_t k = 1; k < a.dims.size(); ++k) t.shape.push_back(static_cast<int>(a.dims[k]));
  t.data = a.data;
  return t;
}

onnx::ModelProto onnx_load_proto(const fs::path& file) {
  onnx::ModelProto m;
  const std::string bytes = read_text(file);
  REQUIRE(m.ParseFromString(bytes));
  return m;
}

std::string onnx_import_error(const onnx::ModelProto& m, const fs::path& dir = onnx_test_dir()) {
  std::string bytes;
  m.SerializeToString(&bytes);
  try {
    nn::import_onnx_bytes(bytes, "case.onnx", dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* const onnx_models[] = {"mlp",
                                   "matmul",
                                   "conv_bn_fused",
                                   "conv_bn_preserve",
                                   "grouped",
                                   "residual",
                                   "broadcast",
                                   "opset17",
                                   "attention",
                                   "block13",
                                   "block17",
                                   "masked_attention",
                                   "encoder_post_relu",
                                   "encoder_pre_gelu",
                                   "encoder_causal",
                                   "gather_positions"};

}  // namespace

TEST_CASE("onnx: every test model's clean outputs equal PyTorch's within 1e-4") {
  for (const std::string name : onnx_models) {
    CAPTURE(name);
    const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / (std::string(name) + ".onnx"));
    const nn::Tensor x = onnx_read_batch(onnx_test_dir() / (std::string(name) + "_in.h5"), "input");
    const nn::Tensor ref =
        onnx_read_batch(onnx_test_dir() / (std::string(name) + "_ref.h5"), "output");
    const nn::Tensor y = imp.model.forward(x);
    CHECK(y.shape == ref.shape);
    // float32 against float32 in another summation order: a few ulps of the largest output.
    CHECK(relative_error(y.data, ref.data) < 1e-4);
    // One sample alone gives the same bits as in the batch.
    nn::Tensor one(1, x.shape);
    std::copy(x.sample(3), x.sample(4), one.data.begin());
    const nn::Tensor y1 = imp.model.forward(one, nn::Pass{.samples = std::vector<std::int64_t>{3}});
    CHECK(std::memcmp(y1.data.data(), y.sample(3), y1.data.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("onnx: the bundled ResNet's and transformers' clean outputs equal PyTorch's") {
  // spam_transformer reads int64 token ids (read here as the exact floats lumac carries them as).
  const std::vector<std::pair<std::string, std::string>> models{
      {"fmnist_resnet", "input"}, {"fmnist_vit", "input"}, {"spam_transformer", "tokens"}};
  for (const auto& entry : models) {
    const std::string& name = entry.first;
    CAPTURE(name);
    const fs::path model = source_dir() / "data" / "models" / (name + ".onnx");
    if (!fs::exists(model)) {
      MESSAGE("data/models/" << name << ".onnx is not there: skipped");
      continue;
    }
    const nn::OnnxImport imp = nn::import_onnx(model);
    const nn::Tensor x = onnx_read_batch(onnx_test_dir() / (name + "_in.h5"), entry.second);
    const nn::Tensor ref = onnx_read_batch(onnx_test_dir() / (name + "_ref.h5"), "output");
    CHECK(relative_error(imp.model.forward(x).data, ref.data) < 1e-4);
  }
}

TEST_CASE("onnx: batch norms after a product fold into it, others run; biases fold too") {
  const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / "conv_bn_preserve.onnx");
  int affine = 0;
  for (std::size_t i = 0; i < imp.model.size(); ++i)
    affine += imp.model.layer(i).op_name() == "channel_affine";
  // One BatchNormalization follows a Conv (folded), one follows an Add (executed).
  CHECK(affine == 1);
  REQUIRE_FALSE(imp.notes.empty());
  CHECK(imp.notes[0].find("1 batch norms") != std::string::npos);
  // matmul: x W + b as MatMul then Add: the Add becomes the product's bias.
  const nn::OnnxImport mm = nn::import_onnx(onnx_test_dir() / "matmul.onnx");
  CHECK(mm.notes[0].find("2 biases") != std::string::npos);
  CHECK(mm.model.matmul_layers().size() == 3);
  // The source is recorded.
  CHECK(mm.model.source()->format == "onnx");
  CHECK(mm.model.source()->opset == 13);
  CHECK(mm.model.source()->checksum.rfind("crc32 ", 0) == 0);
}

TEST_CASE("onnx: a constant added after a product of two activations is not folded into a bias") {
  // attention.onnx scales Q K^T with a Div by a constant; as a Sub it would be the kind of Add
  // or Sub that becomes a product's bias, which a product of two activations does not have.
  onnx::ModelProto m = onnx_load_proto(onnx_test_dir() / "attention.onnx");
  std::set<std::string> products;
  for (const auto& n : m.graph().node())
    if (n.op_type() == "MatMul") products.insert(n.output(0));
  int changed = 0;
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "Div" && products.count(n.input(0)) && changed == 0) {
      n.set_op_type("Sub");
      ++changed;
    }
  REQUIRE(changed == 1);
  std::string bytes;
  m.SerializeToString(&bytes);
  const nn::OnnxImport imp = nn::import_onnx_bytes(bytes, "sub.onnx", onnx_test_dir());
  bool after_product = false;
  for (std::size_t i = 0; i < imp.model.size(); ++i)
    if (imp.model.layer(i).op_name() == "binary_const") {
      const int v = imp.model.node_inputs(i).at(0);
      after_product |=
          v > 0 && imp.model.layer(static_cast<std::size_t>(v - 1)).type() == nn::LayerType::matmul;
    }
  CHECK(after_product);
  const nn::Tensor x = onnx_read_batch(onnx_test_dir() / "attention_in.h5", "input");
  for (float v : imp.model.forward(x).data) CHECK(std::isfinite(v));
}

TEST_CASE("onnx: softmax and layer norm over the batch axis are refused in one line") {
  // attention.onnx's Softmax and block17.onnx's LayerNormalization with axis 0 (the batch).
  struct Case {
    const char *file, *op, *message;
  };
  for (const Case& c :
       {Case{"attention.onnx", "Softmax", "a softmax over the batch axis"},
        Case{"block17.onnx", "LayerNormalization", "a normalisation over the batch axis"}}) {
    const std::string file = c.file, op = c.op, message = c.message;
    CAPTURE(op);
    onnx::ModelProto m = onnx_load_proto(onnx_test_dir() / file);
    int changed = 0;
    for (auto& n : *m.mutable_graph()->mutable_node())
      if (n.op_type() == op && changed == 0) {
        for (auto& a : *n.mutable_attribute())
          if (a.name() == "axis") a.set_i(0);
        if (n.attribute_size() == 0) {
          auto* a = n.add_attribute();
          a->set_name("axis");
          a->set_type(onnx::AttributeProto::INT);
          a->set_i(0);
        }
        ++changed;
      }
    REQUIRE(changed == 1);
    const std::string error = onnx_import_error(m);
    CHECK(error.find(message) != std::string::npos);
    CHECK(error.find(op) != std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
  }
}

TEST_CASE("onnx: an imported graph survives the model file bit for bit") {
  for (const std::string name : {"broadcast", "masked_attention"}) {
    CAPTURE(name);
    const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / (name + ".onnx"));
    TempDir tmp;
    nn::save_model(imp.model, tmp / "b.h5", false);
    const nn::Model back = nn::load_model(tmp / "b.h5");
    const nn::Tensor x = onnx_read_batch(onnx_test_dir() / (name + "_in.h5"), "input");
    const nn::Tensor a = imp.model.forward(x), b = back.forward(x);
    CHECK(std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0);
    CHECK(back.source()->name == name + ".onnx");
  }
}

TEST_CASE("onnx: lumac infer writes PyTorch's outputs, with the config as attributes") {
  TempDir tmp;
  const std::string out = (tmp / "out.h5").string();
  const RunResult r =
      run_lumac({"infer", "--model", (onnx_test_dir() / "residual.onnx").string(), "--input",
                 (onnx_test_dir() / "residual_in.h5").string(), "--out", out});
  CHECK(r.exit_code == 0);
  const nn::Tensor y = onnx_read_batch(out, "output");
  const nn::Tensor ref = onnx_read_batch(onnx_test_dir() / "residual_ref.h5", "output");
  CHECK(relative_error(y.data, ref.data) < 1e-4);
  const H5::H5File f = h5::open_for_reading(out, "infer output");
  CHECK(h5::read_string_attribute(f, "kind") == "lumac-infer");
  CHECK(h5::has_attribute(f, "config_toml"));
  // Noise needs a calibration, which an ONNX model gets from its dataset.
  const RunResult noisy =
      run_lumac({"infer", "--model", (onnx_test_dir() / "residual.onnx").string(), "--input",
                 (onnx_test_dir() / "residual_in.h5").string(), "--out", (tmp / "n.h5").string(),
                 "--noise", "shot"});
  CHECK(noisy.exit_code == 2);
  CHECK(noisy.err_lines() == 1);
  CHECK(noisy.err.find("--dataset") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "n.h5"));
}

TEST_CASE("onnx: bad models are one error naming the problem") {
  TempDir tmp;
  auto error_of = [&](const fs::path& p) -> std::string {
    try {
      nn::import_onnx(p);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of(tmp / "missing.onnx").find("does not exist") != std::string::npos);
  write_text(tmp / "empty.onnx", "");
  CHECK(error_of(tmp / "empty.onnx").find("empty") != std::string::npos);
  const char junk[] = "\x0a\xff\xff\xff\xff\x0f garbage";  // a field whose length runs past the end
  write_text(tmp / "junk.onnx", std::string(junk, sizeof junk - 1));
  CHECK(error_of(tmp / "junk.onnx").find("not an ONNX model") != std::string::npos);
  const std::string whole = read_text(onnx_test_dir() / "mlp.onnx");
  write_text(tmp / "cut.onnx", whole.substr(0, whole.size() / 2));
  CHECK(error_of(tmp / "cut.onnx").find("cut.onnx") != std::string::npos);

  const onnx::ModelProto good = onnx_load_proto(onnx_test_dir() / "mlp.onnx");
  {
    auto m = good;  // an operator lumac does not know
    for (auto& n : *m.mutable_graph()->mutable_node())
      if (n.op_type() == "Relu") n.set_op_type("Softsign");
    const std::string e = onnx_import_error(m);
    CHECK(e.find("Softsign") != std::string::npos);
    CHECK(e.find("docs/models.md") != std::string::npos);
  }
  {
    // An unknown operator is named even when an earlier node would fail first (a recurrent
    // layer's shape subgraph did: the user saw a folding error, not "LSTM is not supported").
    auto m = good;
    bool first_gemm = true, renamed = false;
    for (auto& n : *m.mutable_graph()->mutable_node()) {
      if (n.op_type() == "Gemm" && first_gemm) {
        auto* a = n.add_attribute();  // transA: refused on its own
        a->set_name("transA");
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(1);
        first_gemm = false;
      } else if (n.op_type() == "Relu" && !renamed) {
        n.set_op_type("Softsign");
        renamed = true;
      }
    }
    REQUIRE(renamed);
    const std::string e = onnx_import_error(m);
    CAPTURE(e);
    CHECK(e.find("(Softsign): this operator is not supported") != std::string::npos);
  }
  {
    auto m = good;  // an opset outside 13..17
    m.mutable_opset_import(0)->set_version(11);
    CHECK(onnx_import_error(m).find("opset 11") != std::string::npos);
  }
  {
    auto m = good;  // a cycle: the first node reads the last one's output
    auto* g = m.mutable_graph();
    g->mutable_node(0)->set_input(0, g->node(g->node_size() - 1).output(0));
    CHECK(onnx_import_error(m).find("cycle") != std::string::npos);
  }
  {
    auto m = good;  // a weight in an external file that is not there
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->clear_float_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = t->add_external_data();
    e->set_key("location");
    e->set_value("weights.bin");
    CHECK(onnx_import_error(m, tmp.path()).find("weights.bin") != std::string::npos);
  }
  {
    auto m = good;  // an int64 input where floats are needed, and a bool input
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::INT64);
    const std::string e = onnx_import_error(m);
    CHECK(e.find("node '/fc1/Gemm' (Gemm) reads the int64 input 'input' where floats are needed") !=
          std::string::npos);
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::BOOL);
    CHECK(onnx_import_error(m).find("node '/fc1/Gemm' (Gemm) reads the bool input 'input'") !=
          std::string::npos);
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::FLOAT16);
    CHECK(onnx_import_error(m).find("element type 10; lumac imports float") != std::string::npos);
  }
  {
    auto m = good;  // a per-sample axis of unknown size
    auto* d = m.mutable_graph()
                  ->mutable_input(0)
                  ->mutable_type()
                  ->mutable_tensor_type()
                  ->mutable_shape()
                  ->mutable_dim(1);
    d->set_dim_param("features");
    CHECK(onnx_import_error(m).find("no fixed size") != std::string::npos);
  }
  {
    // libonnx's shape inference divides by the strides without checking them (the fuzzer's
    // SIGFPE) and takes a Conv's kernel from its weight's rank: both are refused before it runs.
    const onnx::ModelProto conv = onnx_load_proto(onnx_test_dir() / "grouped.onnx");
    auto attrs_of = [](onnx::ModelProto& m) {
      return m.mutable_graph()->mutable_node(0)->mutable_attribute();
    };
    auto set_ints = [&](onnx::ModelProto& m, const std::string& name, std::vector<std::int64_t> v) {
      for (auto& a : *attrs_of(m))
        if (a.name() == name) {
          a.clear_ints();
          for (auto x : v) a.add_ints(x);
        }
    };
    auto drop_attr = [&](onnx::ModelProto& m, const std::string& name) {
      auto* attrs = attrs_of(m);
      for (int k = 0; k < attrs->size(); ++k)
        if (attrs->Get(k).name() == name) attrs->DeleteSubrange(k, 1);
    };
    for (const auto& [name, value, low] :
         std::vector<std::tuple<std::string, std::vector<std::int64_t>, int>>{
             {"strides", {0, 1}, 1},
             {"dilations", {1, 0}, 1},
             {"kernel_shape", {0, 0}, 1},
             {"pads", {1, -1, 1, 1}, 0},
             {"strides", {1, std::int64_t{1} << 40}, 1}}) {
      auto m = conv;
      set_ints(m, name, value);
      const std::string e = onnx_import_error(m);
      CAPTURE(e);
      CHECK(e.find("node '/grouped/Conv' (Conv): " + name + " holds") != std::string::npos);
      CHECK(e.find(fmt::format("between {} and", low)) != std::string::npos);
    }
    {
      auto m = conv;  // no kernel_shape, and a weight of rank 5 for an input of rank 4
      drop_attr(m, "kernel_shape");
      m.mutable_graph()->mutable_initializer(0)->add_dims(1);
      const std::string e = onnx_import_error(m);
      CAPTURE(e);
      CHECK(e.find("only 2-D convolutions are supported (input 4x10x10, weight 8x2x3x3x1)") !=
            std::string::npos);
    }
    {
      auto m = conv;  // without kernel_shape, the kernel comes from the weight: it imports
      drop_attr(m, "kernel_shape");
      CHECK(onnx_import_error(m).empty());
    }
    {
      auto m = conv;  // a weight computed from the input
      drop_attr(m, "kernel_shape");
      m.mutable_graph()->mutable_node(0)->set_input(1, "input");
      const std::string e = onnx_import_error(m);
      CAPTURE(e);
      CHECK(e.find("the weight is not a constant") != std::string::npos);
    }
  }
  {
    // Sizes that overflow lumac's shape arithmetic (found by fuzz_onnx under UBSan): a pad of
    // 2^31 - 2 values, and Reshape targets of 2^50, each taken from a Constant node.
    const onnx::ModelProto bc = onnx_load_proto(onnx_test_dir() / "broadcast.onnx");
    auto with_constant = [&](const std::string& node, std::vector<std::int64_t> values) {
      auto m = bc;
      bool found = false;
      for (auto& n : *m.mutable_graph()->mutable_node())
        if (n.name() == node) {
          auto* t = n.mutable_attribute(0)->mutable_t();
          t->clear_raw_data();
          t->clear_int64_data();
          t->clear_dims();
          t->add_dims(static_cast<std::int64_t>(values.size()));
          for (auto v : values) t->add_int64_data(v);
          found = true;
        }
      REQUIRE(found);
      return onnx_import_error(m);
    };
    const std::string pad = with_constant("/Constant_2", {1, (std::int64_t{1} << 31) - 2, 2, 0});
    CAPTURE(pad);
    CHECK(pad.find("node '/Pad' (Pad): pads hold 2147483646; each must be between 0 and 2^30") !=
          std::string::npos);
    CHECK(pad.find("(Pad):", pad.find("(Pad):") + 1) == std::string::npos);  // said once
    const std::string reshape = with_constant("/Constant_10", {std::int64_t{1} << 50});
    CAPTURE(reshape);
    CHECK(reshape.find("node '/Reshape_2' (Reshape): target size 1125899906842624 is too large") !=
          std::string::npos);
    // The same on a Reshape that is folded at load time (onnx_fold.cpp).
    const std::string folded = with_constant("/Constant_3", {-1, std::int64_t{1} << 50});
    CAPTURE(folded);
    CHECK(folded.find("node '/Reshape' (Reshape): Reshape: dimension 1125899906842624 is too "
                      "large") != std::string::npos);
    // A Slice step of -2^63 (its negation overflows): the step is taken as one past the axis,
    // so the slice keeps one of the four pads and the Pad node refuses the result.
    const std::string step =
        with_constant("/Constant_7", {std::numeric_limits<std::int64_t>::min()});
    CAPTURE(step);
    CHECK(step.find("node '/Pad' (Pad): pads of the wrong length") != std::string::npos);
  }
  // On the command line: one line, exit 2, no file left behind.
  const RunResult r = run_lumac({"import", (tmp / "junk.onnx").string(), "--dataset",
                                 "fashion-mnist", "--out", (tmp / "x.h5").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK_FALSE(fs::exists(tmp / "x.h5"));
}

TEST_CASE("onnx: an input of the wrong shape for lumac infer is one line") {
  TempDir tmp;
  const RunResult r =
      run_lumac({"infer", "--model", (onnx_test_dir() / "mlp.onnx").string(), "--input",
                 (onnx_test_dir() / "residual_in.h5").string(), "--out", (tmp / "o.h5").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.find("(N, 16)") != std::string::npos);
}

TEST_CASE("onnx: lumac import of the bundled models' ResNet writes a calibrated model file") {
  TempDir tmp;
  const std::string out = (tmp / "r.h5").string();
  const RunResult r = run_lumac(
      {"import", (source_dir() / "data" / "models" / "fmnist_resnet.onnx").string(), "--dataset",
       "fashion-mnist", "--calibration-samples", "100", "--out", out, "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(r.out, "clean_accuracy") == doctest::Approx(0.9261).epsilon(1e-12));
  CHECK(json_number(r.out, "calibration_samples") == 100);
  const nn::Model m = nn::load_model(out);
  CHECK(m.calibration().samples == 100);
  CHECK(m.source()->dataset == "fashion-mnist");
  CHECK(m.matmul_layers().size() == 10);
  CHECK(m.macs_per_sample() == 9345920);
  // An existing file is not overwritten without --force.
  const RunResult again = run_lumac({"import", (onnx_test_dir() / "mlp.onnx").string(), "--dataset",
                                     "fashion-mnist", "--out", out});
  CHECK(again.exit_code == 2);
  CHECK(again.err_lines() == 1);
}

TEST_CASE(
    "onnx: lumac infer takes int64 token ids; ids outside the vocabulary or too long a "
    "sequence are one line") {
  TempDir tmp;
  const std::string model = (source_dir() / "data" / "models" / "spam_transformer.onnx").string();
  const std::string in = (onnx_test_dir() / "spam_transformer_in.h5").string();
  const RunResult ok =
      run_lumac({"infer", "--model", model, "--input", in, "--out", (tmp / "o.h5").string()});
  REQUIRE(ok.exit_code == 0);
  const nn::Tensor ref = onnx_read_batch(onnx_test_dir() / "spam_transformer_ref.h5", "output");
  CHECK(relative_error(onnx_read_batch(tmp / "o.h5", "output").data, ref.data) < 1e-4);
  const H5::H5File f = h5::open_for_reading(in, "test data");
  const auto ids = h5::read_ints(f.openGroup("/"), "tokens");
  REQUIRE(ids.dims.size() == 2);
  auto write_ids = [&](const fs::path& file, std::vector<std::int64_t> data,
                       std::vector<hsize_t> dims) {
    H5::H5File out(file.string(), H5F_ACC_TRUNC);
    H5::Group root = out.openGroup("/");
    h5::write_dataset(root, "tokens", data, dims, "");
  };
  // An id past the 8000-token vocabulary, in sample 3 at position 5.
  std::vector<std::int64_t> bad = ids.data;
  bad[3 * ids.dims[1] + 5] = 8000;
  write_ids(tmp / "bad.h5", bad, ids.dims);
  const RunResult r = run_lumac({"infer", "--model", model, "--input", (tmp / "bad.h5").string(),
                                 "--out", (tmp / "b.h5").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.find("sample 3 position 5: id 8000 is not an integer in [0, 8000)") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "b.h5"));
  // lumac energy --json marks the 4 attention products as products of two activations.
  const RunResult e = run_lumac(
      {"energy", "--model", (source_dir() / "data" / "models" / "spam_transformer.h5").string(),
       "--limit", "8", "--json"});
  REQUIRE(e.exit_code == 0);
  const Json ej = Json::parse(e.out);
  int act = 0;
  for (const auto& l : ej["layers"]) act += l["operands"] == "activations" ? 1 : 0;
  CHECK(ej["layers"].size() == 17);
  CHECK(act == 4);
  // A sequence of 129 tokens: the model takes 128.
  std::vector<std::int64_t> longer(ids.dims[0] * 129, 2);
  write_ids(tmp / "long.h5", longer, {ids.dims[0], 129});
  const RunResult r2 = run_lumac({"infer", "--model", model, "--input", (tmp / "long.h5").string(),
                                  "--out", (tmp / "l.h5").string()});
  CHECK(r2.exit_code == 2);
  CHECK(r2.err_lines() == 1);
  CHECK(r2.err.find("(N, 128)") != std::string::npos);
}

namespace {

// A graph of int64 token ids (N, 4) -> float output, from nodes (op, inputs, outputs, int attrs).
struct TestNode {
  std::string op;
  std::vector<std::string> in, out;
  std::vector<std::pair<std::string, std::int64_t>> attrs;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> lists = {};
};

void add_test_nodes(onnx::GraphProto* g, const std::vector<TestNode>& nodes) {
  for (const auto& n : nodes) {
    auto* p = g->add_node();
    p->set_op_type(n.op);
    p->set_name(n.op + "_" + n.out[0]);
    for (const auto& i : n.in) p->add_input(i);
    for (const auto& o : n.out) p->add_output(o);
    for (const auto& [key, v] : n.attrs) {
      auto* a = p->add_attribute();
      a->set_name(key);
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(v);
    }
    for (const auto& [key, v] : n.lists) {
      auto* a = p->add_attribute();
      a->set_name(key);
      a->set_type(onnx::AttributeProto::INTS);
      for (const auto x : v) a->add_ints(x);
    }
  }
}

// A graph of a float input "x" (N, 4) -> float output, opset 17, with float initializers
// (name, dims, values) and the int64 scalar "zero".
// A tensor of a hand-built graph: the batch axis "N", then `dims` (0: a size left unknown).
void test_tensor_value(onnx::ValueInfoProto* v, const std::string& name, int type,
                       const std::vector<std::int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  t->mutable_shape()->add_dim()->set_dim_param("N");
  for (const std::int64_t d : dims) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d > 0) dim->set_dim_value(d);
  }
}

onnx::ModelProto float_graph(
    const std::vector<TestNode>& nodes, const std::string& output, int output_rank,
    const std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::vector<float>>>&
        inits = {}) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("floats");
  test_tensor_value(g->add_input(), "x", onnx::TensorProto::FLOAT, {4});
  test_tensor_value(g->add_output(), output, onnx::TensorProto::FLOAT,
                    std::vector<std::int64_t>(static_cast<std::size_t>(output_rank - 1), 0));
  auto* zero = g->add_initializer();
  zero->set_name("zero");
  zero->set_data_type(onnx::TensorProto::INT64);
  zero->add_int64_data(0);
  for (const auto& [name, dims, values] : inits) {
    auto* w = g->add_initializer();
    w->set_name(name);
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (const auto d : dims) w->add_dims(d);
    for (const float v : values) w->add_float_data(v);
  }
  add_test_nodes(g, nodes);
  return m;
}

onnx::ModelProto token_graph(const std::vector<TestNode>& nodes, const std::string& output,
                             int output_rank) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("tokens");
  test_tensor_value(g->add_input(), "ids", onnx::TensorProto::INT64, {4});
  test_tensor_value(g->add_output(), output, onnx::TensorProto::FLOAT,
                    std::vector<std::int64_t>(static_cast<std::size_t>(output_rank - 1), 0));
  auto* axes = g->add_initializer();
  axes->set_name("axis2");
  axes->set_data_type(onnx::TensorProto::INT64);
  axes->add_dims(1);
  axes->add_int64_data(2);
  auto* zero = g->add_initializer();
  zero->set_name("zero");
  zero->set_data_type(onnx::TensorProto::INT64);
  zero->add_int64_data(0);
  add_test_nodes(g, nodes);
  return m;
}

}  // namespace

TEST_CASE("onnx: token ids pass through shape operators, never into float arithmetic") {
  // A mask from the ids, reshaped to the ids' own shape (Shape of an int64 input): imports.
  const auto ok = token_graph({{"Equal", {"ids", "zero"}, {"pad"}, {}},
                               {"Cast", {"pad"}, {"padf"}, {{"to", onnx::TensorProto::FLOAT}}},
                               {"Shape", {"ids"}, {"shape"}, {}},
                               {"Reshape", {"padf", "shape"}, {"out"}, {}}},
                              "out", 2);
  CHECK(onnx_import_error(ok).empty());
  // Integers concatenated after an Unsqueeze (ONNX would add them as integers): refused.
  const auto concat = token_graph({{"Unsqueeze", {"ids", "axis2"}, {"u"}, {}},
                                   {"Concat", {"u", "u"}, {"c"}, {{"axis", 2}}},
                                   {"Cast", {"c"}, {"out"}, {{"to", onnx::TensorProto::FLOAT}}}},
                                  "out", 3);
  CHECK(onnx_import_error(concat).find("(Concat): input 0 holds integers") != std::string::npos);
  // The ids into a float operator directly: refused before shape inference, naming the node.
  const auto direct = token_graph(
      {{"Cast", {"ids"}, {"f"}, {{"to", onnx::TensorProto::FLOAT}}}, {"Exp", {"ids"}, {"out"}, {}}},
      "out", 2);
  CHECK(onnx_import_error(direct).find("(Exp) reads the int64 input 'ids'") != std::string::npos);
}

TEST_CASE("onnx: masked_fill, Split, Not and a cast to bool import as where, slices and masks") {
  // masked_attention.onnx: the padded keys' scores are filled with -inf (a Where whose x is the
  // constant -inf, stored as the lowest float); Q, K and V are three slices of one product.
  const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / "masked_attention.onnx");
  int where = 0, slices = 0;
  for (std::size_t i = 0; i < imp.model.size(); ++i) {
    where += imp.model.layer(i).op_name() == "where";
    slices += imp.model.layer(i).op_name() == "slice";
    if (imp.model.layer(i).op_name() == "where")
      CHECK(imp.model.layer(i).describe().find("x=-3.40282") != std::string::npos);
  }
  CHECK(where == 1);
  CHECK(slices == 3);
  // (Its outputs equal PyTorch's: the first test case of this file.)
  // Integers chosen by Where, and a Split that does not cut evenly: one line each.
  const auto pick = token_graph({{"Equal", {"ids", "zero"}, {"pad"}, {}},
                                 {"Identity", {"ids"}, {"i"}, {}},
                                 {"Where", {"pad", "i", "i"}, {"w"}, {}},
                                 {"Cast", {"w"}, {"out"}, {{"to", onnx::TensorProto::FLOAT}}}},
                                "out", 2);
  CHECK(onnx_import_error(pick).find("Where chooses between integers") != std::string::npos);
  const auto uneven = token_graph({{"Cast", {"ids"}, {"f"}, {{"to", onnx::TensorProto::FLOAT}}},
                                   {"Split", {"f"}, {"a", "b", "c"}, {{"axis", 1}}},
                                   {"Identity", {"a"}, {"out"}, {}}},
                                  "out", 2);
  const std::string e = onnx_import_error(uneven);
  CAPTURE(e);
  CHECK((e.find("3 equal parts") != std::string::npos ||
         e.find("shape inference fails") != std::string::npos));
  CHECK(e.find('\n') == std::string::npos);
  // An even Split of the ids keeps them ids (into an embedding-free mask here).
  const auto even = token_graph({{"Split", {"ids"}, {"a", "b"}, {{"axis", 1}}},
                                 {"Equal", {"b", "zero"}, {"m"}, {}},
                                 {"Cast", {"m"}, {"out"}, {{"to", onnx::TensorProto::FLOAT}}}},
                                "out", 2);
  CHECK(onnx_import_error(even).empty());
}

TEST_CASE("onnx: nn.TransformerEncoderLayer's moves of the batch axis import as per-sample ops") {
  // torch writes its attention through (L, N, E), (L, N*H, d), (N*H, L, d) and (L*N, E)
  // tensors; per sample these are (L, E), (L, H, d), (H, L, d) and (L, E).
  const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / "encoder_post_relu.onnx");
  const auto& mm = imp.model.matmul_layers();
  REQUIRE(mm.size() == 7);  // in_proj, Q K^T, A V, out_proj, linear1, linear2, fc
  int act = 0;
  for (const auto& l : mm) {
    CAPTURE(l.name);
    if (!l.activation_operands()) continue;
    ++act;
    CHECK(l.input_shape == nn::Shape{2, 5, act == 1 ? 4 : 5});  // heads, tokens, depth
    CHECK(l.macs == 2 * 5 * 5 * 4);
  }
  CHECK(act == 2);
  CHECK(mm[0].macs == 5 * 8 * 24);  // the in_proj: one token-wise product for Q, K and V
  // A sample's shot noise does not depend on the batch it runs in, through every move.
  const nn::Tensor x = onnx_read_batch(onnx_test_dir() / "encoder_post_relu_in.h5", "input");
  const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(imp.model, 2.0),
                              CircuitParams{}, NoiseSources::all(), 5);
  const nn::Tensor noisy = imp.model.forward_outputs(x, nn::Pass{.samples = {}, .hook = &ex})[0];
  const nn::Tensor clean = imp.model.forward(x);
  CHECK(std::memcmp(noisy.data.data(), clean.data.data(), clean.data.size() * sizeof(float)) != 0);
  nn::Tensor one(1, x.shape);
  std::copy(x.sample(2), x.sample(3), one.data.begin());
  const nn::Tensor y1 = imp.model.forward_outputs(
      one, nn::Pass{.samples = std::vector<std::int64_t>{2}, .hook = &ex})[0];
  CHECK(std::memcmp(y1.data.data(), noisy.sample(2), y1.data.size() * sizeof(float)) == 0);
}

TEST_CASE("onnx: a graph that mixes samples, or keeps the batch where lumac cannot, is refused") {
  // batch_mix.onnx: x.transpose(0, 1).reshape(n, l, d), legal in torch, mixes samples.
  const std::string mix = onnx_import_error(onnx_load_proto(onnx_test_dir() / "batch_mix.onnx"));
  CHECK(mix.find("(Reshape): the target shape moves the batch axis across other axes") !=
        std::string::npos);
  CHECK(mix.find('\n') == std::string::npos);
  // encoder_post_relu.onnx with its first Transpose taking the batch last: the next product
  // would contract over the batch.
  onnx::ModelProto last = onnx_load_proto(onnx_test_dir() / "encoder_post_relu.onnx");
  for (auto& n : *last.mutable_graph()->mutable_node())
    if (n.op_type() == "Transpose" && n.input(0) == "input") {
      auto* perm = n.mutable_attribute(0);
      perm->clear_ints();
      for (int v : {1, 2, 0}) perm->add_ints(v);
      break;
    }
  const std::string e = onnx_import_error(last);
  CAPTURE(e);
  CHECK(e.find("(MatMul): a product over the batch axis") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("onnx: the batch axis where an operator cannot take it, or the batch size in values") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> eye{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  // A Gemm whose A has the batch as its columns (x.t() into a Linear) would sum over samples.
  const auto gemm = float_graph({{"Transpose", {"x"}, {"t"}, {}, {{"perm", {1, 0}}}},
                                 {"Gemm", {"t", "w"}, {"g"}, {{"transB", 1}}},
                                 {"Transpose", {"g"}, {"out"}, {}, {{"perm", {1, 0}}}}},
                                "out", 2, {{"w", {4, 4}, eye}});
  CHECK(onnx_import_error(gemm).find("(Gemm): a product over the batch axis") != std::string::npos);
  // A reduction to (N) alone, then a softmax over its last axis: the batch.
  const auto scalar =
      float_graph({{"ReduceMean", {"x"}, {"r"}, {{"keepdims", 0}}, {{"axes", {-1}}}},
                   {"Softmax", {"r"}, {"out"}, {{"axis", -1}}}},
                  "out", 1);
  CHECK(onnx_import_error(scalar).find("(Softmax): a softmax over the batch axis") !=
        std::string::npos);
  // x / x.shape[0]: the batch size would reach the values.
  const auto size = float_graph({{"Shape", {"x"}, {"s"}, {}},
                                 {"Gather", {"s", "zero"}, {"n"}, {}},
                                 {"Cast", {"n"}, {"nf"}, {{"to", onnx::TensorProto::FLOAT}}},
                                 {"Div", {"x", "nf"}, {"out"}, {}}},
                                "out", 2);
  const std::string e = onnx_import_error(size);
  CHECK(e.find("(Div): the constant operand is computed from the batch size") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
  // An additive mask of -inf (generate_square_subsequent_mask) imports: the masked positions
  // get a softmax weight of exactly 0.
  const auto mask =
      float_graph({{"Add", {"x", "m"}, {"a"}, {}}, {"Softmax", {"a"}, {"out"}, {{"axis", -1}}}},
                  "out", 2, {{"m", {4}, {0.0f, -inf, 0.0f, -inf}}});
  std::string bytes;
  mask.SerializeToString(&bytes);
  const nn::OnnxImport imp = nn::import_onnx_bytes(bytes, "mask.onnx", onnx_test_dir());
  nn::Tensor x(2, {4});
  x.data = {0.5f, 2.0f, -1.0f, 3.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  const nn::Tensor y = imp.model.forward(x);
  CHECK(y.data[1] == 0.0f);
  CHECK(y.data[3] == 0.0f);
  CHECK(y.data[0] == doctest::Approx(std::exp(0.5) / (std::exp(0.5) + std::exp(-1.0))));
  CHECK(y.data[5] == 0.0f);
  CHECK(y.data[4] == doctest::Approx(0.5));
}

namespace {

// A masked bag of embeddings on spam's 128 token ids: int64 inputs `input_ids` and `mask_name`
// (1 for a real token); embedding rows of 2 values, summed over the real tokens, into 2 classes.
onnx::ModelProto spam_two_input_graph(const std::string& mask_name) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("two_inputs");
  for (const std::string& name : {std::string("input_ids"), mask_name})
    test_tensor_value(g->add_input(), name, onnx::TensorProto::INT64, {nn::spam_sequence_length});
  test_tensor_value(g->add_output(), "logits", onnx::TensorProto::FLOAT, {2});
  auto init = [&](const std::string& name, std::vector<std::int64_t> dims, int type) {
    auto* w = g->add_initializer();
    w->set_name(name);
    w->set_data_type(type);
    for (const auto d : dims) w->add_dims(d);
    return w;
  };
  auto* emb = init("emb", {8000, 2}, onnx::TensorProto::FLOAT);
  for (int i = 0; i < 16000; ++i)
    emb->add_float_data(static_cast<float>((i * 37) % 101) / 50.0f - 1.0f);
  auto* w = init("w", {2, 2}, onnx::TensorProto::FLOAT);
  for (const float v : {1.0f, -0.5f, 0.25f, 1.0f}) w->add_float_data(v);
  init("axis2", {1}, onnx::TensorProto::INT64)->add_int64_data(2);
  init("axis1", {1}, onnx::TensorProto::INT64)->add_int64_data(1);
  add_test_nodes(g, {{"Gather", {"emb", "input_ids"}, {"e"}, {}},
                     {"Cast", {mask_name}, {"mf"}, {{"to", onnx::TensorProto::FLOAT}}},
                     {"Unsqueeze", {"mf", "axis2"}, {"mu"}, {}},
                     {"Mul", {"e", "mu"}, {"em"}, {}},
                     {"ReduceSum", {"em", "axis1"}, {"s"}, {{"keepdims", 0}}},
                     {"MatMul", {"s", "w"}, {"logits"}, {}}});
  return m;
}

}  // namespace

TEST_CASE("onnx: lumac import feeds a separate mask input from the token dataset, or says --bind") {
  TempDir tmp;
  auto write_model = [&](const std::string& mask_name) {
    const fs::path p = tmp / (mask_name + ".onnx");
    std::string bytes;
    spam_two_input_graph(mask_name).SerializeToString(&bytes);
    write_text(p, bytes);
    return p.string();
  };
  const std::string hf = write_model("attention_mask");
  const RunResult r = run_lumac({"import", hf, "--dataset", "spam", "--calibration-samples", "50",
                                 "--out", (tmp / "hf.h5").string(), "--json"});
  REQUIRE(r.exit_code == 0);
  const Json report = parse_json(r.out, "import --json");
  CHECK(report.at("inputs").at(1).at("feature") == "attention-mask");
  CHECK(report.at("inputs").at(0).at("type") == "int64");
  const nn::Model m = nn::load_model(tmp / "hf.h5");
  REQUIRE(m.graph_inputs().size() == 2);
  CHECK(m.graph_inputs()[1].feature == nn::InputFeature::attention_mask);
  CHECK(m.calibrated());
  const RunResult e = run_lumac(
      {"eval", "--model", (tmp / "hf.h5").string(), "--limit", "40", "--noise", "shot", "--json"});
  CHECK(e.exit_code == 0);
  // A mask input whose name says nothing: one line naming --bind; with --bind it imports.
  const std::string plain = write_model("m");
  const RunResult refused =
      run_lumac({"import", plain, "--dataset", "spam", "--out", (tmp / "m.h5").string()});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err_lines() == 1);
  CHECK(refused.err.find("--bind m=sample|attention-mask|padding-mask") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "m.h5"));
  const RunResult bound =
      run_lumac({"import", plain, "--dataset", "spam", "--calibration-samples", "50", "--bind",
                 "m=padding-mask", "--out", (tmp / "m.h5").string()});
  CHECK(bound.exit_code == 0);
  CHECK(nn::load_model(tmp / "m.h5").graph_inputs()[1].feature == nn::InputFeature::padding_mask);
  const RunResult typo = run_lumac({"import", plain, "--dataset", "spam", "--bind", "mask=sample",
                                    "--out", (tmp / "t.h5").string()});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("no graph input 'mask' (its inputs: input_ids, m)") != std::string::npos);
  // Masks exist for token datasets only.
  const RunResult images =
      run_lumac({"import", hf, "--dataset", "fashion-mnist", "--out", (tmp / "i.h5").string()});
  CHECK(images.exit_code == 2);
  CHECK(images.err_lines() == 1);
}
