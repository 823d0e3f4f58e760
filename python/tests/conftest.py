"""Shared helpers of the lumac Python tests: the CLI built beside the module, and JSON
comparison without wall-clock fields."""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CNN = str(ROOT / "data" / "models" / "fmnist_cnn.h5")
MLP = str(ROOT / "data" / "models" / "fmnist_mlp.h5")


def cli_path():
    return os.environ.get("LUMAC_CLI", str(ROOT / "build" / "app" / "lumac"))


def run_cli(*args, check=True):
    """Runs the lumac CLI from the repository root; returns (exit code, stdout, stderr)."""
    p = subprocess.run([cli_path(), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"lumac {' '.join(map(str, args))} failed: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def cli_json(*args):
    return json.loads(run_cli(*args, "--json")[1])


WALL_CLOCK = {"seconds", "images_per_s", "learning_seconds", "eval_seconds", "command_line"}


def without_wall_clock(value):
    """The value with every wall-clock field removed (they differ between any two runs)."""
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value


def cli_error(*args):
    """The one-line message of a CLI run that fails with exit code 2."""
    code, _, err = run_cli(*args, check=False)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lumac: error: "), err
    return lines[0][len("lumac: error: "):]


@pytest.fixture(scope="session")
def cnn():
    import lumac
    return lumac.load_model(CNN)
