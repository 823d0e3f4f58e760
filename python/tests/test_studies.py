"""Sweeps, searches and precision learning: numpy arrays over the grid, the CLI's numbers and
files, progress callbacks."""

import h5py
import numpy as np
import pytest

import lumac
from conftest import CNN, MLP, cli_json, without_wall_clock


def test_circuit_sweep_arrays_and_file_equal_the_cli(tmp_path):
    calls = []
    s = lumac.sweep(["laser.power_W=1e-4:1e-2:3:log", "adc.bits=6:8:2"], fan_in=256,
                    out=tmp_path / "py.h5", progress=lambda done, total: calls.append((done, total)))
    assert list(s.axes) == ["laser.power_W", "adc.bits"]
    assert np.allclose(s.axes["laser.power_W"], [1e-4, 1e-3, 1e-2])
    assert s.enob.shape == (3, 2, 1) and s.total_aJ_per_mac.shape == (3, 2)
    assert calls[-1] == (6, 6) and len(calls) == 6
    # More power, more bits: the ENOB grows along the power axis.
    assert np.all(np.diff(s.enob[:, 1, 0]) > 0)
    cli = cli_json("sweep", "--param", "laser.power_W=1e-4:1e-2:3:log", "--param",
                   "adc.bits=6:8:2", "--fan-in", 256, "--out", tmp_path / "cli.h5")
    cli["out"] = str(tmp_path / "py.h5")
    assert s.to_dict() == cli
    with h5py.File(tmp_path / "py.h5", "r") as a, h5py.File(tmp_path / "cli.h5", "r") as b:
        names = []
        a.visit(names.append)
        for n in names:
            if isinstance(a[n], h5py.Dataset):
                assert np.array_equal(a[n][...], b[n][...]), n


def test_network_sweep_point_by_point(cnn, tmp_path):
    s = lumac.sweep("laser.power_W=3e-4:3e-3:2:log", model=cnn, seeds=2, limit=200,
                    out=tmp_path / "py.h5")
    assert s.accuracy.shape == (2, 2) and s.enob.shape == (2, 4)
    cli = cli_json("sweep", "--param", "laser.power_W=3e-4:3e-3:2:log", "--model", CNN,
                   "--seeds", 2, "--limit", 200, "--out", tmp_path / "cli.h5")
    assert s.to_dict()["points"] == cli["points"]
    # The same file but for the command line: the signature (what determines the numbers, and
    # what --resume checks) is the CLI's.
    with h5py.File(tmp_path / "py.h5", "r") as a, h5py.File(tmp_path / "cli.h5", "r") as b:
        assert a.attrs["signature"] == b.attrs["signature"]
        assert np.array_equal(a["accuracy"][...], b["accuracy"][...])


def test_search_equals_the_cli():
    mlp = lumac.load_model(MLP)
    r = mlp.search("laser.power_W", target_drop=0.02, limit=200, resolution=1.5)
    cli = cli_json("search", "--model", MLP, "--param", "laser.power_W", "--target-drop", 0.02,
                   "--limit", 200, "--resolution", 1.5)
    assert without_wall_clock(r.to_dict()) == without_wall_clock(cli)
    assert r.reached


def test_learn_precision_equals_the_cli(tmp_path):
    mlp = lumac.load_model(MLP)
    steps = []
    r = mlp.learn_precision("shot", steps=30, limit=300, out=tmp_path / "p.h5",
                            progress=lambda done, total: steps.append((done, total)))
    assert steps[-1] == (30, 30)
    cli = cli_json("precision", "--model", MLP, "--noise", "shot", "--steps", 30, "--limit", 300)
    assert without_wall_clock(r.to_dict()) == without_wall_clock(cli)
    assert (tmp_path / "p.h5").exists()
    assert len(r.targets) == 2


def test_progress_exception_stops_the_run_and_propagates(tmp_path):
    class Stop(Exception):
        pass

    def progress(done, total):
        raise Stop("from the callback")

    with pytest.raises(Stop, match="from the callback"):
        lumac.sweep("laser.power_W=1e-4:1e-2:5:log", fan_in=64, out=tmp_path / "s.h5",
                    progress=progress)
    assert not (tmp_path / "s.h5").exists()
    assert list(tmp_path.iterdir()) == []


def test_train_and_import_write_model_files(tmp_path):
    m = lumac.train(dataset="fashion-mnist", arch="mlp", epochs=1, limit=600,
                    out=tmp_path / "m.h5")
    assert m.train_report["out"] == str(tmp_path / "m.h5")
    assert m.input_shape == (1, 28, 28) and m.calibrated
    again = lumac.load_model(tmp_path / "m.h5")
    x = lumac.load_dataset("fashion-mnist", limit=16)[0]
    assert np.array_equal(m.infer(x), again.infer(x))
    with pytest.raises(OSError, match="already exists"):
        lumac.train(dataset="fashion-mnist", arch="mlp", epochs=1, limit=600,
                    out=tmp_path / "m.h5")
    with pytest.raises(ValueError, match="arch"):
        lumac.train(dataset="fashion-mnist", arch="rnn", epochs=1, out=tmp_path / "x.h5")
