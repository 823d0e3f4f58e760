"""The circuit calls: the analytic oracle, bit equality with the CLI, traces as numpy arrays."""

import math

import h5py
import numpy as np
import pytest

import lumac
from conftest import ROOT, cli_json, without_wall_clock


def test_shot_noise_oracle():
    # Shot noise alone with norm-adaptive encoding: ENOB = 0.5 log2(N n / 3) = 4.19 bits at
    # N = 1000 and n = 1 detected photon per MAC (PHYSICS.md).
    r = lumac.enob(1000, config="shot_limited", photons_per_mac=1, sources="shot",
                   encoding="norm-adaptive")
    assert abs(r.enob_analytic - 0.5 * math.log2(1000 / 3)) < 0.01
    assert abs(r.enob_analytic - 4.19) < 0.01


def test_enob_with_monte_carlo_equals_the_cli():
    r = lumac.enob(400, photons_per_mac=50, monte_carlo=20000, seed=3)
    cli = cli_json("enob", "--fan-in", 400, "--photons-per-mac", 50, "--monte-carlo", 20000,
                   "--seed", 3)
    assert without_wall_clock(r.to_dict()) == without_wall_clock(cli)
    # Its Monte Carlo ENOB agrees with the analytic one: 20,000 samples estimate the noise
    # variance to a relative std of sqrt(2 / 20000) = 1%, i.e. 0.007 bits; 0.1 bits is > 10 sigma
    # of that, and covers the budget's Gaussian approximation of the ADC term.
    assert abs(r.enob_monte_carlo - r.enob_analytic) < 0.1


def test_circuit_energy_equals_the_cli():
    r = lumac.circuit_energy(1000, photons_per_mac=10)
    assert r.to_dict() == cli_json("energy", "--fan-in", 1000, "--photons-per-mac", 10)


def test_trace_arrays_and_file(tmp_path):
    out = tmp_path / "t.h5"
    t = lumac.trace(16, samples_per_symbol=8, seed=2, out=out)
    assert t.samples == len(t.time_s) > 0
    assert t.time_s.dtype == np.float64 and np.all(np.diff(t.time_s) > 0)
    # The arrays hold lumac's own memory (no copy): numpy does not own it.
    assert not t.time_s.flags.owndata
    assert t.readouts == len(t.readout_charge_C) == len(t.adc_codes)
    assert np.isclose(t.ideal, float(np.dot(t.x, t.w)))
    # The file holds the same arrays (docs/trace_file.md).
    with h5py.File(out, "r") as f:
        assert f.attrs["kind"] == "lumac-trace"
        for name in ["time_s", "charge_C", "current_plus_A", "adc_codes", "x", "w"]:
            assert np.array_equal(f[name][...], t.arrays[name]), name
    cli_out = tmp_path / "cli.h5"
    cli = cli_json("trace", "--fan-in", 16, "--samples-per-symbol", 8, "--seed", 2, "--out",
                   cli_out)
    cli["out"] = str(out)
    assert t.to_dict() == cli


def test_trace_refuses_an_existing_file(tmp_path):
    out = tmp_path / "t.h5"
    out.write_text("keep")
    with pytest.raises(OSError, match="already exists"):
        lumac.trace(8, out=out)
    assert out.read_text() == "keep"
