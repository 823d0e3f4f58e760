#!/usr/bin/python3
"""PyTorch's side of bench/compare_torch.sh for ONNX models: the bundled residual network and
torchvision's ResNet-18 and ResNet-50 (random weights), clean and with shot noise.

    /usr/bin/python3 bench/torch_onnx_reference.py export NAME OUT.onnx
    /usr/bin/python3 bench/torch_onnx_reference.py run MODEL [--images N] [--batch B]
        [--repeats R] [--threads T] [--photons-per-mac E] [--memory-format F]
    /usr/bin/python3 bench/torch_onnx_reference.py check MODEL [--onnx FILE]

MODEL is fmnist_resnet (data/models/fmnist_resnet.onnx) or resnet18 / resnet50 (torchvision,
weights=None after torch.manual_seed(0), every batch norm given non-trivial running statistics
and affine parameters from a second fixed seed, eval mode). `export` writes such a torchvision
model to ONNX (opset 13, input "input", output "output", dynamic batch axis; the exporter folds
each batch norm into its convolution) for lumac; it is its own process, so that the export does
not count in the peak memory of `run`.

What `run` executes is what a careful PyTorch user runs on the same graph and weights:
- torchvision models: the torchvision module itself (the ONNX file was exported from it), in
  eval mode under torch.inference_mode();
- fmnist_resnet: its ONNX graph executed node by node with torch functional ops (F.conv2d,
  F.linear, ...) on the graph's own initializers (the trained module is not bundled; the graph's
  convolutions already carry their folded batch norms).
--memory-format channels_last puts the inputs and the convolution weights in NHWC order (torch's
channels_last, the layout PyTorch's CPU performance guide recommends for convolutional networks:
oneDNN then skips its layout reorders; 1.5-1.7x faster here on torch 1.13); the default is
torch's contiguous NCHW. compare_torch.sh times both and compares lumac with the faster.
Inputs as `lumac bench --model`: the first N Fashion-MNIST test images (pixels / 255) for a
1x28x28 input, N random inputs uniform in [0, 1) (fixed seed) otherwise; batches of B.

Shot noise (E detected photons per MAC; 0 = none), the model of bench/torch_reference.py: after
every matrix product (Conv, Gemm/Linear, MatMul) each output gets Gaussian noise of std
||w_i|| ||x|| / sqrt(D E), D the fan-in, x the input vector (for a convolution, the input patch
of that output, within its group). ||x||^2 over the patches is a convolution of x*x with a
ones kernel; since every input channel of a group has the same ones kernel, the channels are
summed first and the box sum runs on one plane per group (the same numbers, C_in times fewer
operations). In the torchvision module the noise goes after the convolution and before its
batch norm: the batch norm scales output channel i by s_i, so the noise std becomes
|s_i| ||w_i|| ||x|| / sqrt(D E) = ||w'_i|| ||x|| / sqrt(D E) with w' = s_i w_i the folded
weight lumac sees in the ONNX file: the same noise model.

`run` prints one JSON line: clean_images_per_s, noisy_images_per_s (median of R timed runs
after one warm-up of each; clean and noisy alternate within each repeat, their order swapped
from repeat to repeat), noisy_over_clean_time (median of the per-repeat ratios),
peak_resident_MiB (getrusage: the process's peak RSS), threads, images, batch, the BLAS
library torch loaded and the torch version.

`check` compares the clean outputs of the runner: fmnist_resnet against
tests/data/onnx/fmnist_resnet_ref.h5 (PyTorch's outputs of the trained module on the first 8
test images); a torchvision model's module against the ONNX runner on its exported graph
(--onnx FILE, else exported to a temporary folder), batch 2. Relative error max|diff|/max|ref|
must be below 1e-4 (exit 1 otherwise).
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCHVISION = ("resnet18", "resnet50")
SEED = 0
INPUT_SEED = 1
FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


# ---------------------------------------------------------------------------------- models


def torchvision_model(name):
    import torchvision
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    # Non-trivial batch norms (a fresh torchvision model's are the identity), as the
    # validation script sets them.
    from validate_torchvision import randomize_bn
    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None)
    randomize_bn(model, SEED + 1)
    return model.eval()


def export(name, path):
    model = torchvision_model(name)
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})


# ------------------------------------------------------------------------------- the noise


def normals_like(y):
    """Standard normals shaped and strided like y. torch.randn_like takes a slow element-wise
    path (about 40 ns a value here, against 7-10) when y is not in contiguous NCHW order, e.g.
    channels_last: drawing a flat vector and viewing it with y's strides avoids it."""
    if y.is_contiguous():
        return torch.randn_like(y)
    return torch.randn(y.numel(), dtype=y.dtype).as_strided(y.shape, y.stride())


def conv_noise_(y, x, weight, stride, padding, dilation, groups, photons, wnorm=None):
    """Adds shot noise in place to y = conv(x, weight): std ||w_i|| ||patch|| / sqrt(D E)."""
    n, cin = x.shape[:2]
    kh, kw = weight.shape[-2:]
    d = weight[0].numel()
    if wnorm is None:
        wnorm = weight.flatten(1).norm(dim=1)
    if groups == 1:
        sq = (x * x).sum(1, keepdim=True)  # (N, 1, H, W)
    else:
        sq = (x * x).reshape(n, groups, cin // groups, *x.shape[2:]).sum(2)  # (N, g, H, W)
    ones = torch.ones(groups, 1, kh, kw, dtype=x.dtype)
    patch = F.conv2d(sq, ones, stride=stride, padding=padding, dilation=dilation,
                     groups=groups).clamp_min_(0).sqrt_()  # (N, g, Ho, Wo)
    if groups > 1:
        patch = patch.repeat_interleave(y.shape[1] // groups, dim=1)
    z = normals_like(y)
    z.mul_((wnorm / (d * photons) ** 0.5).view(1, -1, 1, 1)).mul_(patch)
    return y.add_(z)


def dense_noise_(y, x, weight, photons, wnorm=None):
    """Adds shot noise in place to y = x @ weight.T (+ bias): std ||w_i|| ||x|| / sqrt(D E)."""
    d = weight.shape[1]
    if wnorm is None:
        wnorm = weight.norm(dim=1)
    z = torch.randn_like(y)
    z.mul_(x.norm(dim=1, keepdim=True)).mul_(wnorm / (d * photons) ** 0.5)
    return y.add_(z)


def add_noise_hooks(model, photons):
    """Forward hooks on every Conv2d and Linear of a module: shot noise on their outputs."""
    handles = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            wn = m.weight.detach().flatten(1).norm(dim=1)

            def hook(mod, inp, out, wn=wn):
                return conv_noise_(out, inp[0], mod.weight, mod.stride, mod.padding,
                                   mod.dilation, mod.groups, photons, wn)
            handles.append(m.register_forward_hook(hook))
        elif isinstance(m, torch.nn.Linear):
            wn = m.weight.detach().norm(dim=1)

            def hook(mod, inp, out, wn=wn):
                return dense_noise_(out, inp[0], mod.weight, photons, wn)
            handles.append(m.register_forward_hook(hook))
    return handles


# -------------------------------------------------------------------------- the ONNX runner


class OnnxRunner:
    """Executes an ONNX graph node by node with torch functional ops (the operators of the
    bundled residual network and of torchvision ResNets as torch exports them)."""

    def __init__(self, path, memory_format=torch.contiguous_format):
        import onnx
        from onnx import numpy_helper
        m = onnx.load(path)
        self.init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                     for t in m.graph.initializer}
        self.input = [i.name for i in m.graph.input if i.name not in self.init][0]
        self.output = m.graph.output[0].name
        self.nodes = []
        for n in m.graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if n.op_type == "Constant":
                self.init[n.output[0]] = torch.from_numpy(
                    numpy_helper.to_array(attrs["value"]).copy())
                continue
            self.nodes.append((n.op_type, list(n.input), list(n.output), attrs))
        self.wnorm = {}
        for op, ins, _, _ in self.nodes:
            if op == "Conv":
                self.wnorm[ins[1]] = self.init[ins[1]].flatten(1).norm(dim=1)
                self.init[ins[1]] = self.init[ins[1]].contiguous(memory_format=memory_format)
        self.ops = sorted({n[0] for n in self.nodes})

    @staticmethod
    def _pads(attrs, k):
        p = attrs.get("pads", [0] * (2 * k))
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ValueError("auto_pad is not supported")
        if p[:k] != p[k:]:
            raise ValueError(f"asymmetric pads {p} are not supported")
        return tuple(p[:k])

    def __call__(self, x, photons=0.0):
        v = dict(self.init)
        v[self.input] = x
        for op, ins, outs, a in self.nodes:
            i = [v[n] if n else None for n in ins]
            if op == "Conv":
                w = i[1]
                k = w.dim() - 2
                stride = tuple(a.get("strides", [1] * k))
                pad = self._pads(a, k)
                dil = tuple(a.get("dilations", [1] * k))
                g = a.get("group", 1)
                y = F.conv2d(i[0], w, i[2] if len(i) > 2 else None, stride, pad, dil, g)
                if photons > 0:
                    conv_noise_(y, i[0], w, stride, pad, dil, g, photons, self.wnorm[ins[1]])
            elif op == "Gemm":
                A, B = i[0], i[1]
                if a.get("transA", 0):
                    A = A.t()
                if not a.get("transB", 0):
                    B = B.t()  # F.linear wants (out, in)
                alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
                C = i[2] if len(i) > 2 else None
                y = F.linear(A, B if alpha == 1.0 else alpha * B,
                             None if C is None else (C if beta == 1.0 else beta * C))
                if photons > 0:
                    dense_noise_(y, A, alpha * B, photons)
            elif op == "MatMul":
                y = torch.matmul(i[0], i[1])
                if photons > 0:
                    dense_noise_(y, i[0], i[1].t(), photons)
            elif op == "BatchNormalization":
                y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0,
                                 a.get("epsilon", 1e-5))
            elif op == "Relu":
                y = F.relu(i[0])
            elif op == "Add":
                y = i[0] + i[1]
            elif op == "MaxPool":
                k = len(a["kernel_shape"])
                y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", [1] * k),
                                 self._pads(a, k), a.get("dilations", [1] * k),
                                 ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "AveragePool":
                k = len(a["kernel_shape"])
                y = F.avg_pool2d(i[0], a["kernel_shape"], a.get("strides", [1] * k),
                                 self._pads(a, k), ceil_mode=bool(a.get("ceil_mode", 0)),
                                 count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "GlobalAveragePool":
                y = i[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                ax = a.get("axis", 1)
                y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
            elif op == "Reshape":
                shape = [int(s) for s in i[1].tolist()]
                shape = [i[0].shape[j] if s == 0 else s for j, s in enumerate(shape)]
                y = i[0].reshape(shape)
            elif op == "Identity":
                y = i[0]
            else:
                raise ValueError(f"ONNX operator {op} is not supported by this runner")
            v[outs[0]] = y
        return v[self.output]


# ---------------------------------------------------------------------------------- inputs


def fmnist_test(path="/usr/share/datasets/fashion-mnist"):
    """The 10,000 Fashion-MNIST test images (N, 1, 28, 28) in [0, 1] and their labels."""
    with gzip.open(f"{path}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{path}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return (torch.from_numpy(images.astype(np.float32) / 255.0),
            torch.from_numpy(labels.astype(np.int64)))


def fmnist_images(n):
    images = fmnist_test()[0]
    if n > len(images):
        raise SystemExit(f"torch_onnx_reference.py: --images {n} is above the "
                         f"{len(images)} test images")
    return images[:n]


def build(name, memory_format=torch.contiguous_format):
    """(forward(x, photons), input shape) for a model name."""
    if name in TORCHVISION:
        model = torchvision_model(name).to(memory_format=memory_format)
        state = {"photons": 0.0, "handles": []}

        def forward(x, photons):
            if photons != state["photons"]:  # hooks change with the noise level, not per call
                for h in state["handles"]:
                    h.remove()
                state["handles"] = add_noise_hooks(model, photons) if photons > 0 else []
                state["photons"] = photons
            return model(x)
        return forward, (3, 224, 224)
    path = name if name.endswith(".onnx") else os.path.join(REPO, "data", "models", name + ".onnx")
    runner = OnnxRunner(path, memory_format)
    return runner, None


def inputs_for(name, n, shape):
    if shape is None or tuple(shape) == (1, 28, 28):
        return fmnist_images(n)
    g = torch.Generator().manual_seed(INPUT_SEED)
    return torch.rand((n,) + tuple(shape), generator=g)


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(os.path.realpath(p) for p in libs)
    except OSError:
        return []


# ------------------------------------------------------------------------------- commands


def time_clean_noisy(run, repeats, photons):
    """run(photons) -> seconds. One warm-up of each, then `repeats` timed pairs, clean and
    noisy in an order swapped from repeat to repeat. Returns the clean times, the noisy times
    and the per-repeat noisy/clean ratios (no noisy runs when photons is 0)."""
    run(0.0)  # warm-up (one-off allocations, oneDNN primitive caches)
    if photons > 0:
        run(photons)
    clean, noisy, ratios = [], [], []
    for r in range(repeats):
        if photons > 0:
            if r % 2 == 0:
                tc = run(0.0)
                tn = run(photons)
            else:
                tn = run(photons)
                tc = run(0.0)
            noisy.append(tn)
            ratios.append(tn / tc)
        else:
            tc = run(0.0)
        clean.append(tc)
    return clean, noisy, ratios


def cmd_run(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    fmt = FORMATS[a.memory_format]
    fwd, shape = build(a.model, fmt)
    x = inputs_for(a.model, a.images, shape)
    batches = [x[i:i + a.batch].contiguous(memory_format=fmt) for i in range(0, len(x), a.batch)]
    n = len(x)
    del x  # (channels_last batches are copies)

    def run(photons):
        with torch.inference_mode():
            t0 = time.perf_counter()
            for b in batches:
                fwd(b, photons)
            return time.perf_counter() - t0

    clean, noisy, ratios = time_clean_noisy(run, a.repeats, a.photons_per_mac)
    out = {"model": os.path.splitext(os.path.basename(a.model))[0],
           "clean_images_per_s": n / statistics.median(clean),
           "clean_images_per_s_min_max": [n / max(clean), n / min(clean)],
           "threads": a.threads, "images": n, "batch": a.batch, "repeats": a.repeats,
           "memory_format": a.memory_format}
    if noisy:
        out["noisy_images_per_s"] = n / statistics.median(noisy)
        out["noisy_images_per_s_min_max"] = [n / max(noisy), n / min(noisy)]
        out["noisy_over_clean_time"] = statistics.median(ratios)
        out["photons_per_mac"] = a.photons_per_mac
    out["peak_resident_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["blas"] = blas_library()
    out["torch_version"] = torch.__version__
    print(json.dumps(out))


def relative_error(out, ref):
    scale = float(ref.abs().max())
    return float((out.double() - ref.double()).abs().max()) / scale


def cmd_check(a):
    torch.set_num_threads(a.threads)
    ok = True
    if a.model in TORCHVISION:
        model = torchvision_model(a.model)
        x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(INPUT_SEED))
        with tempfile.TemporaryDirectory(prefix="lumac_check_") as tmp:
            path = a.onnx
            if path is None:
                path = os.path.join(tmp, a.model + ".onnx")
                export(a.model, path)
            runner = OnnxRunner(path)
            with torch.inference_mode():
                ref = model(x)
                out = runner(x)
        rel = relative_error(out, ref)
        print(f"{a.model}: ONNX runner ({','.join(runner.ops)}) against the torchvision module, "
              f"batch 2: max|diff|/max|ref| = {rel:.3g}")
        cl = torch.channels_last
        with torch.inference_mode():
            out_cl = torchvision_model(a.model).to(memory_format=cl)(x.contiguous(memory_format=cl))
        rel_cl = relative_error(out_cl, ref)
        print(f"{a.model}: the module in channels_last against contiguous: {rel_cl:.3g}")
        ok = rel < 1e-4 and rel_cl < 1e-4
        # the noise hooks on the module against the noise in the runner: same std per output
        torch.manual_seed(3)
        with torch.inference_mode():
            hooks = add_noise_hooks(model, 10.0)
            n_mod = torch.stack([model(x) for _ in range(8)]).std(0)
            for h in hooks:
                h.remove()
            n_run = torch.stack([runner(x, 10.0) for _ in range(8)]).std(0)
        print(f"{a.model}: noise std of the logits (8 draws, E = 10): module with hooks "
              f"{float(n_mod.mean()):.4g}, ONNX runner {float(n_run.mean()):.4g}")
    else:
        import h5py
        runner = OnnxRunner(os.path.join(REPO, "data", "models", a.model + ".onnx"))
        with h5py.File(os.path.join(REPO, "tests", "data", "onnx", a.model + "_in.h5")) as f:
            x = torch.from_numpy(f["input"][()])
        with h5py.File(os.path.join(REPO, "tests", "data", "onnx", a.model + "_ref.h5")) as f:
            ref = torch.from_numpy(f["output"][()])
        cl = torch.channels_last
        runner_cl = OnnxRunner(os.path.join(REPO, "data", "models", a.model + ".onnx"), cl)
        with torch.inference_mode():
            out = runner(x)
            out_cl = runner_cl(x.contiguous(memory_format=cl))
        rel, rel_cl = relative_error(out, ref), relative_error(out_cl, ref)
        ok = rel < 1e-4 and rel_cl < 1e-4
        print(f"{a.model}: ONNX runner ({','.join(runner.ops)}) against "
              f"tests/data/onnx/{a.model}_ref.h5 ({len(x)} images): "
              f"max|diff|/max|ref| = {rel:.3g} (contiguous), {rel_cl:.3g} (channels_last)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("model", choices=TORCHVISION)
    e.add_argument("out")
    r = sub.add_parser("run")
    r.add_argument("model")
    r.add_argument("--images", type=int, default=10000)
    r.add_argument("--batch", type=int, default=256)
    r.add_argument("--repeats", type=int, default=5)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--photons-per-mac", type=float, default=10.0)
    r.add_argument("--memory-format", choices=sorted(FORMATS), default="contiguous")
    c = sub.add_parser("check")
    c.add_argument("model")
    c.add_argument("--onnx")
    c.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.cmd == "export":
        export(a.model, a.out)
        return 0
    if a.cmd == "run":
        cmd_run(a)
        return 0
    return cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
