"""Models: loading, inference on numpy batches, evaluation and energy, bit for bit with the
CLI, and the errors of bad input."""

import tracemalloc

import h5py
import numpy as np
import pytest

import lumac
from conftest import CNN, MLP, ROOT, cli_error, cli_json, run_cli, without_wall_clock


def test_model_description(cnn):
    assert cnn.input_shape == (1, 28, 28)
    assert cnn.output_shapes == [(10,)]
    assert cnn.dataset == "fashion-mnist" and cnn.calibrated
    analog = [n for n in cnn.nodes if n["analog"]]
    assert [n["name"] for n in analog] == ["conv1", "conv2", "fc1", "fc2"]
    assert cnn.macs_per_sample == sum(n["macs"] for n in analog)
    assert cnn.nodes[0]["inputs"] == ["input"]


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32)


def test_infer_equals_lumac_infer(cnn, tmp_path):
    x = images(37)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["input"] = x
    for noise, hardware in [("none", []), ("shot", ["--photons-per-mac", 20])]:
        y = cnn.infer(x, noise=noise, seed=5, batch=16,
                      photons_per_mac=20 if noise == "shot" else None)
        assert y.shape == (37, 10) and y.dtype == np.float32
        out = tmp_path / f"out_{noise}.h5"
        run_cli("infer", "--model", CNN, "--input", tmp_path / "in.h5", "--out", out, "--noise",
                noise, *hardware, "--seed", 5)
        with h5py.File(out, "r") as f:
            assert np.array_equal(f["output"][...], y)
    # The noise of sample i depends only on (seed, i): any batch size gives the same bits.
    assert np.array_equal(cnn.infer(x, noise="shot", photons_per_mac=20, seed=5, batch=1),
                          cnn.infer(x, noise="shot", photons_per_mac=20, seed=5, batch=256))


def test_infer_reads_float32_in_place_and_returns_without_copy(cnn):
    x = images(2000)
    y = cnn.infer(x[:4])
    assert not y.flags.owndata  # lumac's buffer, handed over without a copy
    # A float32 C-contiguous batch is not copied by numpy: the allocations numpy makes during
    # the call stay far below the batch's 6.3 MB. A float64 batch is converted once.
    tracemalloc.start()
    cnn.infer(x)
    _, peak32 = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    cnn.infer(x.astype(np.float64))
    _, peak64 = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak32 < x.nbytes / 10
    assert peak64 >= x.nbytes


def test_infer_bad_input(cnn):
    with pytest.raises(ValueError, match=r"the inputs have shape \(3, 28, 28\), the model takes "
                                         r"\(N, 1, 28, 28\)"):
        cnn.infer(np.zeros((3, 28, 28), np.float32))
    x = images(2)
    x[1, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        cnn.infer(x)
    with pytest.raises(ValueError, match="noise"):
        cnn.infer(images(2), noise="loud")
    with pytest.raises(ValueError, match="batch"):
        cnn.infer(images(2), batch=0)


def test_evaluate_equals_lumac_eval(cnn):
    r = cnn.evaluate(noise="physical", config={"laser.power_W": 5e-4}, seeds=2, limit=300)
    cli = cli_json("eval", "--model", CNN, "--noise", "physical", "--set",
                   "laser.power_W=5e-4", "--seeds", 2, "--limit", 300)
    assert without_wall_clock(r.to_dict()) == without_wall_clock(cli)
    assert 0.5 < r.accuracy_mean < 1 and len(r.accuracy) == 2
    assert all(layer["enob"] > 0 for layer in r.layers)


def test_evaluate_on_given_samples_equals_the_dataset():
    # The first 200 test images as arrays draw the same noise as the dataset's first 200.
    mlp = lumac.load_model(MLP)
    from_dataset = mlp.evaluate(noise="shot", photons_per_mac=5, limit=200, seed=4)
    images_, labels = lumac.load_dataset("fashion-mnist", limit=200)
    assert images_.shape == (200, 1, 28, 28) and images_.dtype == np.float32
    assert labels.shape == (200,) and 0 <= labels.min() and labels.max() <= 9
    from_arrays = mlp.evaluate((images_, labels), noise="shot", photons_per_mac=5, seed=4)
    assert from_arrays.accuracy == from_dataset.accuracy
    with pytest.raises(ValueError, match="label 10 of sample 0"):
        mlp.evaluate((images_[:1], np.array([10])), noise="none")
    with pytest.raises(ValueError, match="2 inputs for 1 labels"):
        mlp.evaluate((images_[:2], labels[:1]), noise="none")


def test_energy_equals_lumac_energy(cnn):
    r = cnn.energy(noise="shot", photons_per_mac=10)
    assert r.to_dict() == cli_json("energy", "--model", CNN, "--noise", "shot",
                                   "--photons-per-mac", 10)


def test_load_errors():
    with pytest.raises(OSError) as e:
        lumac.load_model("/nonexistent/m.h5")
    assert str(e.value) == cli_error("eval", "--model", "/nonexistent/m.h5")
    onnx = str(ROOT / "data" / "models" / "fmnist_resnet.onnx")
    bare = lumac.load_model(onnx)  # no dataset: runs without noise only
    assert not bare.calibrated
    with pytest.raises(ValueError, match="calibration"):
        bare.infer(images(1), noise="shot", photons_per_mac=10)


def test_onnx_model_clean_equals_its_h5(tmp_path):
    onnx = lumac.load_model(ROOT / "data" / "models" / "fmnist_resnet.onnx")
    h5 = lumac.load_model(ROOT / "data" / "models" / "fmnist_resnet.h5")
    x = images(8)
    assert np.array_equal(onnx.infer(x), h5.infer(x))


def test_spam_transformer_reads_token_ids():
    # The SpamAssassin test messages as token ids; the model's clean predictions; an id past the
    # vocabulary is a ValueError naming the embedding node, the sample and the position.
    x, y = lumac.load_dataset("spam", limit=64)
    assert x.shape == (64, 128) and x.dtype == np.float32
    assert np.array_equal(x, np.floor(x)) and x.min() >= 0 and x.max() < 8000
    assert set(np.unique(y)) == {0, 1}
    m = lumac.load_model(f"{ROOT}/data/models/spam_transformer.h5")
    assert m.input_shape == (128,) and m.dataset == "spam"
    assert sum(1 for n in m.nodes if n["analog"]) == 17
    assert np.array_equal(m.infer(x).argmax(axis=1), m.infer(x[::-1]).argmax(axis=1)[::-1])
    bad = x[:4].copy()
    bad[2, 3] = 8000
    message = r"sample 2 position 3: id 8000 is not an integer in \[0, 8000\)"
    with pytest.raises(ValueError, match=message):
        m.infer(bad)


def test_several_graph_inputs_take_a_dict():
    # Hugging Face's (input_ids, attention_mask): a dict of arrays by input name, integer or
    # bool, gives PyTorch's stored outputs; a missing or unknown name, a mask value other than
    # 0 and 1, or a bare array is a ValueError naming it.
    data = ROOT / "tests" / "data" / "onnx"
    m = lumac.load_model(data / "hf_attention.onnx")
    assert [i["name"] for i in m.inputs] == ["input_ids", "attention_mask"]
    assert [i["type"] for i in m.inputs] == ["int64", "int64"]
    assert [i["feature"] for i in m.inputs] == ["sample", "attention-mask"]
    with h5py.File(data / "hf_attention_in.h5") as f:
        feeds = {k: f[k][()] for k in f}
    with h5py.File(data / "hf_attention_ref.h5") as f:
        ref = f["output"][()]
    y = m.infer(feeds)
    assert np.max(np.abs(y - ref)) <= 1e-4 * np.max(np.abs(ref))
    # bool masks are read as 0 and 1
    y_bool = m.infer({"input_ids": feeds["input_ids"],
                      "attention_mask": feeds["attention_mask"].astype(bool)})
    assert np.array_equal(y, y_bool)
    with pytest.raises(ValueError, match="no array for graph input 'attention_mask'"):
        m.infer({"input_ids": feeds["input_ids"]})
    with pytest.raises(ValueError, match="no graph input 'mask'"):
        m.infer({**feeds, "mask": feeds["attention_mask"]})
    bad = feeds["attention_mask"].astype(np.float32)
    bad[1, 2] = 0.5
    with pytest.raises(ValueError, match=r"'attention_mask', sample 1 position 2: 0.5 is not an "
                                         r"integer"):
        m.infer({"input_ids": feeds["input_ids"], "attention_mask": bad})
    with pytest.raises(ValueError, match="2 graph inputs: give a dict"):
        m.infer(feeds["input_ids"])
    with pytest.raises(ValueError, match="different numbers of samples: input_ids 5, "
                                         "attention_mask 4"):
        m.infer({"input_ids": feeds["input_ids"], "attention_mask": feeds["attention_mask"][:4]})
    big = feeds["input_ids"].copy()
    big[0, 0] = 2 ** 24 + 1
    with pytest.raises(ValueError, match="'input_ids' holds 16777217, beyond 2"):
        m.infer({"input_ids": big, "attention_mask": feeds["attention_mask"]})
    # evaluate takes the same dict (with labels), packed one input after the other per sample
    # as the model's input_shape (no dataset fits this test model to run evaluate itself)
    packed = m._packed(feeds)
    assert packed.shape == (5, 14) and packed.dtype == np.float32
    assert np.array_equal(packed[:, 7:], feeds["attention_mask"])
    with pytest.raises(ValueError, match="no array for graph input 'attention_mask'"):
        m._packed({"input_ids": feeds["input_ids"]})
    with pytest.raises(TypeError, match="both strings"):
        lumac.import_onnx(data / "hf_attention.onnx", dataset="spam", bind={"attention_mask": None})
