// Models of several graph inputs (nn/model.hpp graph_inputs(), nn/graph_ops.hpp InputPart):
// Hugging Face's (input_ids, attention_mask) and torch's (input, key_padding_mask) against
// PyTorch's outputs stored by scripts/make_onnx_test_models.py, the packing of the inputs,
// lumac infer with one dataset per input, the model file, the dataset features that feed the
// masks (studies/network.hpp bind_inputs), and the errors a user meets.
#include <cstring>
#include <vector>

#include "lumac/core/h5.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/onnx_import.hpp"
#include "lumac/studies/network.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

h5::Array<float> inputs_read(const std::string& file, const std::string& name) {
  const H5::H5File f = h5::open_for_reading(onnx_test_dir() / file, "test data");
  return h5::read_floats(f.openGroup("/"), name);
}

// The model's packed input from the datasets of NAME_in.h5, one per graph input.
nn::Tensor inputs_packed(const nn::Model& model, const std::string& name) {
  std::vector<h5::Array<float>> arrays;
  std::vector<std::span<const float>> parts;
  for (const auto& in : model.graph_inputs())
    arrays.push_back(inputs_read(name + "_in.h5", in.name));
  for (const auto& a : arrays) parts.emplace_back(a.data);
  return model.pack_inputs(parts, static_cast<int>(arrays.at(0).dims.at(0)));
}

}  // namespace

TEST_CASE("onnx inputs: two graph inputs import, pack and match PyTorch") {
  struct Case {
    std::string name, mask;
    nn::InputType data_type, mask_type;
    nn::InputFeature mask_feature;
  };
  const std::vector<Case> cases{{"hf_attention", "attention_mask", nn::InputType::int64,
                                 nn::InputType::int64, nn::InputFeature::attention_mask},
                                {"key_padding", "key_padding_mask", nn::InputType::float32,
                                 nn::InputType::boolean, nn::InputFeature::padding_mask}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / (c.name + ".onnx"));
    const nn::Model& m = imp.model;
    const auto& ins = m.graph_inputs();
    REQUIRE(ins.size() == 2);
    CHECK(ins[1].name == c.mask);
    CHECK(ins[0].type == c.data_type);
    CHECK(ins[1].type == c.mask_type);
    CHECK(ins[0].feature == nn::InputFeature::sample);
    CHECK(ins[1].feature == c.mask_feature);
    // Packed: value 0 is flat and holds both inputs.
    CHECK(m.input_shape() ==
          nn::Shape{static_cast<int>(nn::shape_size(ins[0].shape) + nn::shape_size(ins[1].shape))});
    const nn::Tensor x = inputs_packed(m, c.name);
    const nn::Tensor y = m.forward(x);
    CHECK(relative_error(y.data, inputs_read(c.name + "_ref.h5", "output").data) < 1e-4);
    // One sample alone gives the bits it gets in the batch.
    nn::Tensor one(1, x.shape);
    std::copy(x.sample(2), x.sample(3), one.data.begin());
    const nn::Tensor y1 = m.forward(one, nn::Pass{.samples = std::vector<std::int64_t>{2}});
    CHECK(std::memcmp(y1.data.data(), y.sample(2), y1.data.size() * sizeof(float)) == 0);
    // The mask is read: masking one more real token of sample 0 changes its output.
    nn::Tensor flipped = x;
    const std::int64_t mask_at = nn::shape_size(ins[0].shape);  // sample 0, position 0
    flipped.data[static_cast<std::size_t>(mask_at)] =
        c.mask_feature == nn::InputFeature::attention_mask ? 0.0f : 1.0f;
    const nn::Tensor yf = m.forward(flipped);
    CHECK(std::memcmp(yf.data.data(), y.data.data(), 3 * sizeof(float)) != 0);
    CHECK(std::memcmp(yf.sample(1), y.sample(1), (y.data.size() - 3) * sizeof(float)) == 0);
    // The model file keeps the inputs and the bits.
    TempDir tmp;
    nn::save_model(m, tmp / "m.h5", false);
    const nn::Model back = nn::load_model(tmp / "m.h5");
    REQUIRE(back.graph_inputs().size() == 2);
    for (std::size_t k = 0; k < 2; ++k) {
      CHECK(back.graph_inputs()[k].name == ins[k].name);
      CHECK(back.graph_inputs()[k].shape == ins[k].shape);
      CHECK(back.graph_inputs()[k].type == ins[k].type);
      CHECK(back.graph_inputs()[k].feature == ins[k].feature);
    }
    const nn::Tensor yb = back.forward(x);
    CHECK(std::memcmp(yb.data.data(), y.data.data(), y.data.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("onnx inputs: packing refuses values an input's type does not allow") {
  const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / "key_padding.onnx");
  const nn::Model& m = imp.model;
  std::vector<float> x(2 * 40, 0.5f), mask(2 * 5, 0.0f);
  CHECK_NOTHROW(m.pack_inputs({x, mask}, 2));
  mask[3] = 2.0f;
  CHECK_THROWS_WITH_AS(m.pack_inputs({x, mask}, 2),
                       doctest::Contains("'key_padding_mask', sample 0 position 3"), Error);
  mask[3] = 0.0f;
  x[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(m.pack_inputs({x, mask}, 2), doctest::Contains("a non-finite value"), Error);
  CHECK_THROWS_WITH_AS(m.pack_inputs({x}, 2), doctest::Contains("1 input arrays"), Error);
  const nn::OnnxImport hf = nn::import_onnx(onnx_test_dir() / "hf_attention.onnx");
  std::vector<float> ids(7, 1.5f), keep(7, 1.0f);
  CHECK_THROWS_WITH_AS(hf.model.pack_inputs({ids, keep}, 1), doctest::Contains("an integer"),
                       Error);
}

TEST_CASE("onnx inputs: input gradients pass through the unpacking to each input") {
  // d(sum of logits)/d(input) of key_padding's float input against central differences, and
  // zero on the mask (a Where's condition).
  const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / "key_padding.onnx");
  const nn::Model& m = imp.model;
  const nn::Tensor x = inputs_packed(m, "key_padding");
  nn::Tape tape;
  m.forward(x, {}, tape);
  nn::Tensor ones(x.batch, m.output_shape());
  std::fill(ones.data.begin(), ones.data.end(), 1.0f);
  nn::Tensor grad;
  m.backward(tape, ones, {}, nullptr, &grad);
  REQUIRE(grad.data.size() == x.data.size());
  auto total = [&](const nn::Tensor& t) {
    double s = 0;
    for (float v : m.forward(t).data) s += v;
    return s;
  };
  const double h = 1e-2;
  for (const std::size_t at : {std::size_t{0}, std::size_t{13}, std::size_t{45 + 21}}) {
    CAPTURE(at);
    nn::Tensor up = x, down = x;
    up.data[at] += static_cast<float>(h);
    down.data[at] -= static_cast<float>(h);
    const double numeric = (total(up) - total(down)) / (2 * h);
    CHECK(grad.data[at] == doctest::Approx(numeric).epsilon(2e-3).scale(1.0));
  }
  for (std::size_t e = 40; e < 45; ++e) CHECK(grad.data[e] == 0.0f);  // sample 0's mask
}

TEST_CASE("onnx inputs: a token dataset feeds the masks its inputs are bound to") {
  const nn::OnnxImport imp = nn::import_onnx(onnx_test_dir() / "hf_attention.onnx");
  nn::Model m = imp.model;
  // A "spam" split of hf_attention's own ids: binding gives the attention mask PyTorch got.
  const auto ids = inputs_read("hf_attention_in.h5", "input_ids");
  nn::Dataset d;
  d.name = "spam";
  d.split = "test";
  d.sample_shape = {7};
  d.classes = 3;
  d.pixels = ids.data;
  d.labels.assign(5, 0);
  const nn::Dataset bound = bind_inputs(d, m);
  CHECK(bound.sample_shape == m.input_shape());
  const nn::Tensor x = inputs_packed(m, "hf_attention");
  CHECK(bound.pixels == x.data);
  // Bound the other way round, the mask flips (and the outputs move).
  bind_features(m, {"attention_mask=padding-mask"});
  CHECK(m.graph_inputs()[1].feature == nn::InputFeature::padding_mask);
  const nn::Dataset flipped = bind_inputs(d, m);
  CHECK(flipped.pixels[7] == 1.0f - bound.pixels[7]);
  // Errors name the input and what to do.
  CHECK_THROWS_WITH_AS(bind_features(m, {"mask=sample"}),
                       doctest::Contains("no graph input 'mask' (its inputs: input_ids, "
                                         "attention_mask)"),
                       Error);
  CHECK_THROWS_WITH_AS(bind_features(m, {"attention_mask=ones"}),
                       doctest::Contains("must be one of"), Error);
  CHECK_THROWS_WITH_AS(bind_features(m, {"attention_mask"}), doctest::Contains("NAME=FEATURE"),
                       Error);
  bind_features(m, {"attention_mask=none"});
  CHECK_THROWS_WITH_AS(bind_inputs(d, m),
                       doctest::Contains("--bind attention_mask=sample|attention-mask"), Error);
  CHECK_THROWS_WITH_AS(
      bind_features(m, {"attention_mask=padding-mask", "attention_mask=attention-mask"}),
      doctest::Contains("input 'attention_mask' is bound twice"), Error);
  bind_features(m, {"attention_mask=attention-mask", "input_ids=attention-mask"});
  CHECK_THROWS_WITH_AS(bind_inputs(d, m), doctest::Contains("0 graph inputs take the samples"),
                       Error);
  bind_features(m, {"attention_mask=attention-mask", "input_ids=sample"});
  d.name = "fashion-mnist";
  CHECK_THROWS_WITH_AS(bind_inputs(d, m), doctest::Contains("has no padding"), Error);
}

TEST_CASE("onnx inputs: lumac infer reads one dataset per graph input") {
  TempDir tmp;
  const std::string model = (onnx_test_dir() / "hf_attention.onnx").string();
  const std::string in = (onnx_test_dir() / "hf_attention_in.h5").string();
  const RunResult r =
      run_lumac({"infer", "--model", model, "--input", in, "--out", (tmp / "o.h5").string()});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("(input_ids, attention_mask)") != std::string::npos);
  const H5::H5File f = h5::open_for_reading(tmp / "o.h5", "out");
  const auto y = h5::read_floats(f.openGroup("/"), "output");
  nn::Tensor t(5, {3});
  t.data = y.data;
  CHECK(relative_error(t.data, inputs_read("hf_attention_ref.h5", "output").data) < 1e-4);
  // The bool mask of key_padding (h5py's bool) is read too.
  const RunResult kp = run_lumac(
      {"infer", "--model", (onnx_test_dir() / "key_padding.onnx").string(), "--input",
       (onnx_test_dir() / "key_padding_in.h5").string(), "--out", (tmp / "k.h5").string()});
  CHECK(kp.exit_code == 0);

  auto one_line = [&](const std::string& file, const std::string& expect) {
    CAPTURE(file);
    const RunResult e =
        run_lumac({"infer", "--model", model, "--input", file, "--out", (tmp / "bad.h5").string()});
    CHECK(e.exit_code == 2);
    CHECK(e.err_lines() == 1);
    CHECK(e.err.find(expect) != std::string::npos);
    CHECK_FALSE(fs::exists(tmp / "bad.h5"));
  };
  const auto mask = inputs_read("hf_attention_in.h5", "attention_mask");
  auto write = [&](const std::string& name,
                   const std::vector<std::pair<std::string, h5::Array<float>>>& sets) {
    h5::OutputFile out(tmp / name, true);
    H5::Group root = out.file().openGroup("/");
    for (const auto& [n, a] : sets) h5::write_dataset(root, n, a.data, a.dims, "1");
    out.commit();
    return (tmp / name).string();
  };
  one_line(write("only_ids.h5", {{"input_ids", inputs_read("hf_attention_in.h5", "input_ids")}}),
           "no dataset 'attention_mask'");
  h5::Array<float> short_mask = mask;
  short_mask.dims[0] = 4;
  short_mask.data.resize(4 * 7);
  one_line(write("short.h5", {{"input_ids", inputs_read("hf_attention_in.h5", "input_ids")},
                              {"attention_mask", short_mask}}),
           "has 4 samples");
  h5::Array<float> big = inputs_read("hf_attention_in.h5", "input_ids");
  big.data[3] = 25;  // the embedding has 20 rows
  one_line(write("big.h5", {{"input_ids", big}, {"attention_mask", mask}}),
           "graph input 'input_ids' read by node");
  one_line((tmp / "big.h5").string(), "sample 0 position 3: id 25 is not an integer in [0, 20)");
  {  // int64 ids beyond 2^24 are named exactly (a float32 would have rounded them)
    h5::OutputFile out(tmp / "huge.h5", true);
    H5::Group root = out.file().openGroup("/");
    std::vector<std::int64_t> ids(5 * 7, 1);
    ids[9] = 16777217;
    h5::write_dataset(root, "input_ids", ids, {5, 7}, "1");
    h5::write_dataset(root, "attention_mask", mask.data, mask.dims, "1");
    out.commit();
  }
  one_line((tmp / "huge.h5").string(), "element 9: 16777217 is beyond 2^24");
  {  // a scalar
    h5::OutputFile out(tmp / "odd.h5", true);
    H5::Group root = out.file().openGroup("/");
    h5::write_dataset(root, "input_ids", std::vector<float>{1.0f}, {}, "1");
    out.commit();
  }
  one_line((tmp / "odd.h5").string(), "has shape () (a scalar)");
}

TEST_CASE("onnx inputs: a version 2 model file's one input keeps its ONNX name and type") {
  // data/models/spam_transformer.h5 was written before /inputs: its input is the ONNX graph's
  // `tokens`, int64 because it feeds an embedding; fmnist_resnet.h5's is a float `input`.
  const nn::Model spam = nn::load_model(source_dir() / "data" / "models" / "spam_transformer.h5");
  REQUIRE(spam.graph_inputs().size() == 1);
  CHECK(spam.graph_inputs()[0].name == "tokens");
  CHECK(spam.graph_inputs()[0].type == nn::InputType::int64);
  CHECK(spam.graph_inputs()[0].shape == spam.input_shape());
  const nn::Model cnn = nn::load_model(source_dir() / "data" / "models" / "fmnist_cnn.h5");
  CHECK(cnn.graph_inputs()[0].name == "input");
  CHECK(cnn.graph_inputs()[0].type == nn::InputType::float32);
}
