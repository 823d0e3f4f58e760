#!/usr/bin/env python3
"""Checks lumac's ONNX import against PyTorch on torchvision's ResNet-18, ResNet-50 and
MobileNetV2 (not part of CI: it needs torch and torchvision, and takes minutes).

    /usr/bin/python3 scripts/validate_torchvision.py [--models resnet18,resnet50,mobilenet_v2]
        [--lumac build/app/lumac] [--keep DIR] [--bn-from-data]

For each model: torchvision builds it with random weights (weights=None, fixed seed), in eval
mode, with every batch norm given non-trivial running statistics and affine parameters
(running_mean ~ N(0, 0.1), running_var ~ U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1),
fixed seed: otherwise batch norm is the identity); it is exported to ONNX (opset 13, input
"input", output "output", dynamic batch axis) in a temporary folder, never in the repository
(ResNet-50 is ~100 MB). A batch of 2 random 3x224x224 inputs (fixed seed) goes through torch
(2 threads, float32) and through `lumac infer` (clean, its default), and the script prints per
model max |lumac - torch| / max |torch|, max |lumac - torch|, whether the top-1 classes agree,
both wall times, and the input sensitivity max |torch[0] - torch[1]| / max |torch| (with a
warning below 1e-3: the check then mostly sees the constant path). A model passes when the
relative error is below 1e-4; the exit code is 0 only when every model passes (1 otherwise, 2 for
a usage error or missing torch/torchvision).

--bn-from-data first sets the batch norms' statistics from a random calibration batch, then
perturbs them (mean + N(0, 0.1) x std, var x U(0.5, 2)): without it, MobileNetV2's outputs hardly
depend on the input (torchvision's kaiming init makes its depthwise weights ~sqrt(C) too small,
and blindly drawn statistics do not renormalise them).

--keep DIR keeps the exported .onnx files and the input/output .h5 files in DIR (outside the
repository). Written for Debian 12's python3-torch 1.13 / python3-torchvision 0.14.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_MODELS = ["resnet18", "resnet50", "mobilenet_v2"]
BATCH = 2
SEED = 0
REL_TOL = 1e-4
WEAK_SENSITIVITY = 1e-3  # below this, the outputs hardly depend on the input: a weak check
CALIB_BATCH = 8
DYNAMIC_AXES = {"input": {0: "N"}, "output": {0: "N"}}

try:
    import h5py
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(
        f"validate_torchvision: {e}: this script needs torch, torchvision, numpy and h5py.\n"
        "  install them with: DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "--no-install-recommends python3-torchvision python3-h5py\n"
        "  and run the script with /usr/bin/python3",
        file=sys.stderr,
    )
    sys.exit(2)


def randomize_bn(model, seed):
    """Gives every batch norm of model non-trivial running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
            n += 1
    return n


def bn_from_data(model, seed):
    """Sets every batch norm's statistics to those of its real input on a calibration batch
    (random, not the validation batch), then perturbs them the same way: mean + N(0, 0.1) x std,
    var x U(0.5, 2). Keeps the signal alive through the network (see --bn-from-data)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives exactly its statistics
    xc = torch.from_numpy(np.random.default_rng(seed).standard_normal(
        (CALIB_BATCH, 3, 224, 224)).astype(np.float32))
    model.train()
    with torch.no_grad():
        model(xc)
    model.eval()
    g = torch.Generator().manual_seed(seed)
    for m in bns:
        c = m.num_features
        with torch.no_grad():
            std = m.running_var.clamp_min(1e-12).sqrt()
            m.running_mean.add_(0.1 * torch.randn(c, generator=g) * std)
            m.running_var.mul_(0.5 + 1.5 * torch.rand(c, generator=g))


def build(name, from_data=False):
    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None)
    n_bn = randomize_bn(model, SEED + 1)
    if from_data:
        bn_from_data(model, SEED + 2)
    return model.eval(), n_bn


def run_lumac(lumac, onnx_path, in_path, out_path):
    """Runs `lumac infer`; returns (CompletedProcess, wall seconds). Waits and retries a few
    times if the binary is missing or does not start (it may be being rebuilt)."""
    cmd = [lumac, "infer", "--model", onnx_path, "--input", in_path, "--out", out_path, "--force"]
    last = None
    for attempt in range(4):
        if attempt:
            print(f"  lumac missing or did not start; retrying in 60 s ({attempt}/3)", flush=True)
            time.sleep(60)
        try:
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            dt = time.perf_counter() - t0
        except OSError as e:
            last = e
            continue
        if p.returncode in (126, 127):
            last = p
            continue
        return p, dt
    raise RuntimeError(f"could not run {lumac}: {last}")


def validate(name, lumac, folder, from_data):
    print(f"== {name}", flush=True)
    model, n_bn = build(name, from_data)
    n_params = sum(p.numel() for p in model.parameters())
    x = torch.from_numpy(
        np.random.default_rng(SEED).standard_normal((BATCH, 3, 224, 224)).astype(np.float32))

    onnx_path = os.path.join(folder, f"{name}.onnx")
    in_path = os.path.join(folder, f"{name}_in.h5")
    out_path = os.path.join(folder, f"{name}_out.h5")
    t0 = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(model, x[:1], onnx_path, opset_version=13, input_names=["input"],
                          output_names=["output"], dynamic_axes=DYNAMIC_AXES)
    print(f"  {n_params / 1e6:.1f} M parameters, {n_bn} batch norms randomised"
          f"{' (statistics from data)' if from_data else ''}; exported to "
          f"{onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB) in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    with torch.no_grad():
        ref = model(x).numpy().astype(np.float32)
    t_torch = time.perf_counter() - t0
    with h5py.File(in_path, "w") as f:
        f["input"] = x.numpy()

    p, t_lumac = run_lumac(lumac, onnx_path, in_path, out_path)
    scale = float(np.max(np.abs(ref)))
    sens = float(np.max(np.abs(ref[0].astype(np.float64) - ref[1]))) / scale if scale > 0 else 0.0
    res = dict(model=name, t_torch=t_torch, t_lumac=t_lumac, rel=float("nan"),
               absd=float("nan"), sens=sens, top1="-", ok=False, error="")
    if p.returncode != 0:
        msg = (p.stderr.strip() or p.stdout.strip() or f"exit code {p.returncode}")
        res["error"] = f"lumac exit code {p.returncode}: {msg}"
        print(f"  FAIL: {res['error']}", flush=True)
        return res
    with h5py.File(out_path, "r") as f:
        out = f["output"][()].astype(np.float32)
    if out.shape != ref.shape:
        res["error"] = f"lumac output shape {out.shape}, torch {ref.shape}"
        print(f"  FAIL: {res['error']}", flush=True)
        return res
    absd = float(np.max(np.abs(out.astype(np.float64) - ref)))
    rel = absd / scale if scale > 0 else absd
    top_l, top_t = out.reshape(BATCH, -1).argmax(1), ref.reshape(BATCH, -1).argmax(1)
    agree = top_l == top_t
    res.update(rel=rel, absd=absd, ok=bool(np.isfinite(rel) and rel < REL_TOL),
               top1=" ".join("yes" if a else "no" for a in agree))
    print(f"  max|torch| {scale:.4g}, max|lumac-torch| {absd:.3g}, relative {rel:.3g}; "
          f"top-1 torch {top_t.tolist()} lumac {top_l.tolist()}; "
          f"torch {t_torch:.2f} s, lumac {t_lumac:.2f} s: {'PASS' if res['ok'] else 'FAIL'}",
          flush=True)
    print(f"  input sensitivity max|torch[0]-torch[1]|/max|torch| = {sens:.3g}", flush=True)
    if sens < WEAK_SENSITIVITY:
        print(f"  WARNING: {name}'s outputs hardly depend on the input (sensitivity {sens:.2g}): "
              "the comparison mostly checks the constant (bias) path; try --bn-from-data",
              flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(ALL_MODELS),
                    help="comma-separated subset of " + ",".join(ALL_MODELS))
    ap.add_argument("--lumac", default=os.path.join(REPO, "build", "app", "lumac"),
                    help="the lumac binary (default build/app/lumac of the repository)")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the exported .onnx and the .h5 files in DIR (not in the repository)")
    ap.add_argument("--bn-from-data", action="store_true",
                    help="set the batch norms' statistics from a random calibration batch before "
                    "perturbing them (mean + N(0,0.1) x std, var x U(0.5,2)); without it the "
                    "statistics are drawn blindly, and MobileNetV2's signal dies out (its "
                    "depthwise weights are initialised ~sqrt(C) too small), so its outputs "
                    "hardly depend on the input")
    args = ap.parse_args()

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in ALL_MODELS]
    if bad or not models:
        ap.error(f"unknown model(s) {bad}; choose from {','.join(ALL_MODELS)}")
    lumac = os.path.abspath(args.lumac)
    if args.keep:
        keep = os.path.realpath(args.keep)
        if os.path.commonpath([keep, os.path.realpath(REPO)]) == os.path.realpath(REPO):
            ap.error(f"--keep {args.keep} is inside the repository: choose a folder outside it")
        os.makedirs(keep, exist_ok=True)

    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, lumac {lumac}, "
          f"batch {BATCH}, seed {SEED}, batch norms "
          f"{'from data' if args.bn_from_data else 'drawn blindly'}", flush=True)

    results = []
    with tempfile.TemporaryDirectory(prefix="lumac_tv_") as tmp:
        folder = keep if args.keep else tmp
        for name in models:
            try:
                results.append(validate(name, lumac, folder, args.bn_from_data))
            except Exception as e:  # a failed export or a lumac that never starts
                print(f"  FAIL: {type(e).__name__}: {e}", flush=True)
                results.append(dict(model=name, t_torch=float("nan"), t_lumac=float("nan"),
                                    rel=float("nan"), absd=float("nan"), sens=float("nan"),
                                    top1="-", ok=False,
                                    error=f"{type(e).__name__}: {e}"))

    print()
    hdr = f"{'model':<13} {'rel. error':>10} {'max abs':>10} {'top-1':>8} {'sensitiv.':>10} " \
          f"{'torch s':>8} {'lumac s':>8}  result"
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        print(f"{r['model']:<13} {r['rel']:>10.3g} {r['absd']:>10.3g} {r['top1']:>8} "
              f"{r['sens']:>10.3g} {r['t_torch']:>8.2f} {r['t_lumac']:>8.2f}  "
              f"{'PASS' if r['ok'] else 'FAIL'}")
    for r in results:
        if r["error"]:
            print(f"{r['model']}: {r['error']}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
