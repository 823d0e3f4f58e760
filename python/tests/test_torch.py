"""lumac.from_torch on a small module (skipped, and said so, without PyTorch)."""

import numpy as np
import pytest

import lumac

torch = pytest.importorskip("torch", reason="PyTorch is not installed (Debian: python3-torch)")


def test_from_torch_equals_pytorch():
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10))
    x = torch.rand(5, 1, 28, 28)
    model = lumac.from_torch(module, x, dataset="fashion-mnist", calibration_samples=100)
    assert model.input_shape == (1, 28, 28) and model.calibrated
    with torch.no_grad():
        ref = module(x).numpy()
    y = model.infer(x.numpy())
    assert np.max(np.abs(y - ref)) <= 1e-4 * np.max(np.abs(ref))
    r = model.evaluate(noise="shot", photons_per_mac=100, limit=100)
    assert 0 <= r.accuracy_mean <= 1


def test_module_imports_without_torch():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; import lumac; "
            "print(lumac.enob(100).enob_analytic > 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "True", p.stderr
    code = ("import sys; sys.modules['torch'] = None; import lumac\n"
            "try:\n    lumac.from_torch(None, None)\nexcept ImportError as e:\n    print(e)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "needs PyTorch" in p.stdout, p.stderr
