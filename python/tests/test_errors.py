"""Bad input from Python: one line naming the problem (TypeError for a wrong type, ValueError
for a bad value, OSError for files), never pybind11's dump of every argument."""

import pathlib

import numpy as np
import pytest

import lumac
from conftest import CNN, MLP, ROOT, cli_json, without_wall_clock


def one_line(e):
    text = str(e.value)
    assert "\n" not in text and len(text) < 300, text
    return text


def test_wrong_types_name_the_keyword(cnn):
    x = np.zeros((2, 1, 28, 28), np.float32)
    with pytest.raises(ValueError) as e:
        cnn.infer(x, noise="shot", photons_per_mac=5, seed=-1)
    assert one_line(e) == "seed = -1: must be a whole number >= 0"
    with pytest.raises(TypeError) as e:
        cnn.evaluate(seeds=2.0)
    assert "seeds must be a whole number" in one_line(e)
    with pytest.raises(TypeError) as e:
        cnn.infer(x, noise="shot", photons_per_mac="10")
    assert "photons_per_mac must be a real number" in one_line(e)
    with pytest.raises(TypeError) as e:
        lumac.enob(10.5)
    assert "fan_in must be a whole number" in one_line(e)
    with pytest.raises(TypeError) as e:
        cnn.infer("abc")
    assert "x must be an array of real numbers" in one_line(e)
    with pytest.raises(TypeError) as e:
        cnn.infer(x.astype(np.complex64))
    one_line(e)
    # numpy scalars are numbers like any other.
    assert cnn.infer(x, seed=np.uint64(3), batch=np.int32(1)).shape == (2, 10)


def test_evaluate_data_and_limit(cnn):
    images, labels = lumac.load_dataset("fashion-mnist", limit=200)
    with pytest.raises(TypeError) as e:
        cnn.evaluate(images)
    assert "pair (inputs, labels)" in one_line(e)
    r = cnn.evaluate((images, labels), noise="none", limit=50)
    assert r.samples == 50
    with pytest.raises(ValueError, match=r"limit = 300: there are 200 samples"):
        cnn.evaluate((images, labels), noise="none", limit=300)
    with pytest.raises(ValueError, match=r"label -1 of sample 0 is not a class of the model "
                                         r"\(0 to 9\)"):
        cnn.evaluate((images[:1], np.array([-1])), noise="none")
    with pytest.raises(ValueError, match="limit = 20000: the mnist test set has only"):
        lumac.load_dataset("mnist", limit=20000)


def test_bits_alone_is_the_digital_baseline_as_in_the_cli(cnn):
    r = cnn.evaluate(bits=4, limit=200)
    cli = cli_json("eval", "--model", CNN, "--bits", 4, "--limit", 200)
    assert without_wall_clock(r.to_dict()) == without_wall_clock(cli)
    assert r.noise == "none" and r.bits == 4


def test_search_without_noise_is_refused():
    mlp = lumac.load_model(MLP)
    with pytest.raises(ValueError) as e:
        mlp.search("laser.power_W", noise="none", limit=100)
    assert "nothing to search" in one_line(e)


def test_uncalibrated_model_says_how_to_calibrate():
    bare = lumac.load_model(ROOT / "data" / "models" / "fmnist_resnet.onnx")
    with pytest.raises(ValueError) as e:
        bare.evaluate(noise="none", limit=10)
    assert "dataset=" in one_line(e)


def test_config_values_and_paths(tmp_path):
    cfg = lumac.Config(pathlib.Path(lumac.data_dir()) / "presets" / "homodyne_1550.toml")
    cfg["adc.bits"] = np.int64(7)
    cfg["laser.power_W"] = np.float32(0.5) * np.float32(4e-3)
    cfg["modulator.predistortion"] = np.bool_(False)
    assert cfg["adc.bits"] == 7 and abs(cfg["laser.power_W"] - 2e-3) < 1e-9
    assert cfg["modulator.predistortion"] is False
    copy = cfg.copy()
    assert isinstance(copy, lumac.Config) and copy.to_dict() == cfg.to_dict()
    with pytest.raises(TypeError):
        cfg["adc.bits"] = [7]


def test_file_messages_name_the_python_keyword(tmp_path):
    out = tmp_path / "t.h5"
    out.write_text("keep")
    with pytest.raises(OSError) as e:
        lumac.trace(8, out=out)
    assert "pass force=True to overwrite it" in one_line(e)


def test_array_results_are_items_too():
    t = lumac.trace(8)
    assert t["time_s"] is t.time_s and t["samples"] == t.samples
    with pytest.raises(AttributeError, match="arrays: time_s"):
        t.nonexistent
