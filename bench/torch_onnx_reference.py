#!/usr/bin/python3
"""PyTorch's side of bench/compare_torch.sh for ONNX models: the bundled residual network, the
bundled transformers (fmnist_vit, spam_transformer) and torchvision's ResNet-18 and ResNet-50
(random weights), clean and with shot noise.

    /usr/bin/python3 bench/torch_onnx_reference.py export NAME OUT.onnx
    /usr/bin/python3 bench/torch_onnx_reference.py run MODEL [--images N] [--batch B]
        [--repeats R] [--threads T] [--photons-per-mac E] [--memory-format F]
    /usr/bin/python3 bench/torch_onnx_reference.py check MODEL [--onnx FILE]

MODEL is fmnist_resnet, fmnist_vit or spam_transformer (data/models/NAME.onnx; a path to an
.onnx file also works) or resnet18 / resnet50 (torchvision,
weights=None after torch.manual_seed(0), every batch norm given non-trivial running statistics
and affine parameters from a second fixed seed, eval mode). `export` writes such a torchvision
model to ONNX (opset 13, input "input", output "output", dynamic batch axis; the exporter folds
each batch norm into its convolution) for lumac; it is its own process, so that the export does
not count in the peak memory of `run`.

What `run` executes is what a careful PyTorch user runs on the same graph and weights:
- torchvision models: the torchvision module itself (the ONNX file was exported from it), in
  eval mode under torch.inference_mode();
- the bundled models: their ONNX graph executed node by node with torch functional ops
  (F.conv2d, F.linear, torch.matmul, F.layer_norm, torch.softmax, ...) on the graph's own
  initializers (the trained modules are not bundled; the ResNet's convolutions already carry
  their folded batch norms). The shape arithmetic torch exports for a dynamic batch axis
  (Shape, Gather, Unsqueeze, Concat, Cast) runs per batch, as in any node-by-node runner: tiny
  tensors, a few microseconds a node.
--memory-format channels_last puts the inputs and the convolution weights in NHWC order (torch's
channels_last, the layout PyTorch's CPU performance guide recommends for convolutional networks:
oneDNN then skips its layout reorders; 1.5-1.7x faster here on torch 1.13); the default is
torch's contiguous NCHW. compare_torch.sh times both and compares lumac with the faster.
Inputs as `lumac bench --model`: the first N Fashion-MNIST test images (pixels / 255) for a
1x28x28 input; for spam_transformer the first N SpamAssassin test messages as (N, 128) int64
token ids (scripts/spam_corpus.py with data/models/spam_transformer_vocab.txt, what lumac's
`--dataset spam` reads); N random inputs uniform in [0, 1) (fixed seed) otherwise; batches of B.

Shot noise (E detected photons per MAC; 0 = none), the model of bench/torch_reference.py: after
every matrix product (Conv, Gemm/Linear, MatMul) each output gets Gaussian noise of std
||w_i|| ||x|| / sqrt(D E), D the fan-in, x the input vector (for a convolution, the input patch
of that output, within its group; for a MatMul by a constant, each token's vector). A MatMul
of two activations (attention's Q K^T and softmax(.) V) gets std ||a_i|| ||b_j|| / sqrt(D E),
a_i a row of the left operand and b_j a column of the right one: lumac's model. ||x||^2 over the patches is a convolution of x*x with a
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

`check` compares the clean outputs of the runner: a bundled model against
tests/data/onnx/NAME_ref.h5 (PyTorch's outputs of the trained module on the 8 inputs of
NAME_in.h5); a torchvision model's module against the ONNX runner on its exported graph
(--onnx FILE, else exported to a temporary folder), batch 2. Relative error max|diff|/max|ref|
must be below 1e-4 (exit 1 otherwise). For the transformers it also checks the runner's noise
against lumac's (build/app/lumac, or $LUMAC): the std of the logits over 24 draws at E = 10,
with every product noisy and with only the attention products noisy, must agree within 8%
(check_attention_noise).
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCHVISION = ("resnet18", "resnet50")
TRANSFORMERS = ("fmnist_vit", "spam_transformer")
SEED = 0
INPUT_SEED = 1
ONNX_DTYPES = {1: torch.float32, 6: torch.int32, 7: torch.int64, 9: torch.bool, 11: torch.float64}
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


def matmul_noise_(y, a, b, photons, bnorm=None):
    """Adds shot noise in place to y = a @ b (ONNX MatMul, numpy broadcasting): std
    ||a_i|| ||b_j|| / sqrt(D E), a_i a row of a, b_j a column of b, D the inner size. For a
    constant b (a token-wise linear layer) that is ||x|| ||w_j|| / sqrt(D E) per token; for two
    activations (attention) it is lumac's model of a product of two fields."""
    d = a.shape[-1]
    if bnorm is None:
        bnorm = b.norm(dim=-2, keepdim=True)  # (..., 1, P)
    z = torch.randn_like(y)
    z.mul_(a.norm(dim=-1, keepdim=True)).mul_(bnorm / (d * photons) ** 0.5)
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
            if op == "MatMul" and ins[1] in self.init:  # a constant right operand
                self.wnorm[ins[1]] = self.init[ins[1]].norm(dim=-2, keepdim=True)
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

    def products(self):
        """The matrix products (Conv, Gemm, MatMul) in graph order: 'weights' when the right
        operand is a constant, 'activations' when both are computed (attention)."""
        return ["weights" if op != "MatMul" or ins[1] in self.init else "activations"
                for op, ins, _, _ in self.nodes if op in ("Conv", "Gemm", "MatMul")]

    def __call__(self, x, photons=0.0):
        """The graph's output for input x; photons: E of every product (0 = no noise), or a
        list of one E per product in the order of products()."""
        v = dict(self.init)
        v[self.input] = x
        per_product = list(photons) if isinstance(photons, (list, tuple)) else None
        product = 0
        for op, ins, outs, a in self.nodes:
            i = [v[n] if n else None for n in ins]
            if per_product is not None and op in ("Conv", "Gemm", "MatMul"):
                photons = per_product[product]
                product += 1
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
                    matmul_noise_(y, i[0], i[1], photons, self.wnorm.get(ins[1]))
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
            # the operators of the transformers (and the shape arithmetic torch exports for
            # their dynamic batch axis, run per batch as any node-by-node runner does)
            elif op == "Shape":
                y = torch.tensor(i[0].shape, dtype=torch.int64)
            elif op == "Gather":
                ax = a.get("axis", 0) % i[0].dim()
                idx = i[1].long()
                idx = torch.where(idx < 0, idx + i[0].shape[ax], idx)
                y = i[0].index_select(ax, idx.reshape(-1)).reshape(
                    i[0].shape[:ax] + idx.shape + i[0].shape[ax + 1:])
            elif op == "Slice":
                y = i[0]
                axes = i[3].tolist() if len(i) > 3 and i[3] is not None else range(len(i[1]))
                steps = i[4].tolist() if len(i) > 4 and i[4] is not None else [1] * len(i[1])
                for s0, e0, ax, st in zip(i[1].tolist(), i[2].tolist(), axes, steps):
                    if st != 1:
                        raise ValueError("Slice with a step other than 1 is not supported")
                    ax %= y.dim()
                    s0, e0, _ = slice(s0, e0).indices(y.shape[ax])
                    y = y.narrow(ax, s0, max(e0 - s0, 0))
            elif op == "Unsqueeze":
                y = i[0]
                for ax in sorted(int(d) % (i[0].dim() + len(i[1])) for d in i[1].tolist()):
                    y = y.unsqueeze(ax)
            elif op == "Concat":
                y = torch.cat(i, dim=a["axis"])
            elif op == "Cast":
                y = i[0].to(ONNX_DTYPES[a["to"]])
            elif op == "Transpose":
                y = i[0].permute(a.get("perm", list(range(i[0].dim() - 1, -1, -1))))
            elif op in ("Sub", "Mul", "Div", "Equal"):
                if op == "Div" and not i[0].is_floating_point():
                    y = torch.div(i[0], i[1], rounding_mode="trunc")  # ONNX integer division
                else:
                    y = {"Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
                         "Equal": torch.eq}[op](i[0], i[1])
            elif op == "Clip":
                lo = i[1] if len(i) > 1 else None
                hi = i[2] if len(i) > 2 else None
                y = torch.clamp(i[0], lo, hi)
            elif op in ("ReduceMean", "ReduceSum"):
                axes = a.get("axes") if op == "ReduceMean" else (
                    i[1].tolist() if len(i) > 1 and i[1] is not None else None)
                if axes is None:
                    axes = list(range(i[0].dim()))
                f = torch.mean if op == "ReduceMean" else torch.sum
                y = f(i[0], dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
            elif op == "LayerNormalization":
                ax = a.get("axis", -1) % i[0].dim()
                y = F.layer_norm(i[0], i[0].shape[ax:], i[1], i[2] if len(i) > 2 else None,
                                 a.get("epsilon", 1e-5))
            elif op == "Softmax":
                y = torch.softmax(i[0], dim=a.get("axis", -1))
            elif op == "Erf":
                y = torch.erf(i[0])
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


def spam_test_ids(n):
    """The first n test messages of the SpamAssassin split as (n, 128) int64 token ids, as
    scripts/spam_corpus.py encodes them with the bundled vocabulary (lumac's `--dataset spam`)."""
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import spam_corpus as sc
    test = sc.load_corpus()[1]
    if n > len(test):
        raise SystemExit(f"torch_onnx_reference.py: --images {n} is above the "
                         f"{len(test)} test messages")
    vocab = sc.read_vocab(os.path.join(REPO, "data", "models", "spam_transformer_vocab.txt"))
    return torch.tensor(sc.encode_messages(test[:n], vocab), dtype=torch.int64)


def inputs_for(name, n, shape):
    if os.path.basename(name).startswith("spam_transformer"):
        return spam_test_ids(n)
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


def check_attention_noise(name, photons=10.0, draws=24, quiet=1e9):
    """The runner's shot noise against lumac's on the same graph, twice: with every product at
    E = photons, and with only the products of two activations (attention) at E = photons and
    the others at E = quiet (no noise to speak of), so that the attention noise model is
    checked on its own (at E = 10 everywhere the weight products dominate the logits). The
    figure is the std of every logit over `draws` noise draws (lumac infer --noise shot,
    --energy-per-layer, seeds 1..draws, on the .h5 model; the runner, torch seed 3) on the
    stored test inputs. Each std estimate carries a relative error of about
    1 / sqrt(2 (draws - 1)) = 15%; the mean over the logits must agree within 8% (the logits
    are few and correlated, so not the 1.6% of independent ones)."""
    import h5py
    lumac = os.environ.get("LUMAC", os.path.join(REPO, "build", "app", "lumac"))
    model = os.path.join(REPO, "data", "models", name + ".h5")
    inp = os.path.join(REPO, "tests", "data", "onnx", name + "_in.h5")
    runner = OnnxRunner(os.path.join(REPO, "data", "models", name + ".onnx"))
    with h5py.File(inp) as f:
        x = torch.from_numpy(f[runner.input][()])
    energy = json.loads(subprocess.run([lumac, "energy", "--model", model, "--json"], check=True,
                                       capture_output=True, text=True).stdout)
    operands = [layer["operands"] for layer in energy["layers"]]
    if operands != runner.products():
        print(f"{name}: lumac's products ({','.join(operands)}) are not the runner's "
              f"({','.join(runner.products())}) in order")
        return False
    ok = True
    for what, es in (("every product", [photons] * len(operands)),
                     ("attention only", [photons if o == "activations" else quiet
                                         for o in operands])):
        outs = []
        with tempfile.TemporaryDirectory(prefix="lumac_check_") as tmp:
            for seed in range(1, draws + 1):
                o = os.path.join(tmp, f"out{seed}.h5")
                subprocess.run([lumac, "infer", "--model", model, "--input", inp, "--out", o,
                                "--noise", "shot", "--energy-per-layer",
                                ",".join(f"{e:g}" for e in es), "--seed", str(seed)],
                               check=True, stdout=subprocess.DEVNULL)
                with h5py.File(o) as f:
                    outs.append(torch.from_numpy(f["output"][()]))
        std_lumac = float(torch.stack(outs).double().std(0).mean())
        torch.manual_seed(3)
        with torch.inference_mode():
            std_torch = float(torch.stack([runner(x, es) for _ in range(draws)]).double()
                              .std(0).mean())
        ratio = std_torch / std_lumac
        ok = ok and abs(ratio - 1) < 0.08
        print(f"{name}: noise std of the logits, {what} at E = {photons:g} ({draws} draws): "
              f"lumac {std_lumac:.4g}, ONNX runner {std_torch:.4g}, ratio {ratio:.3f} "
              f"({'within' if abs(ratio - 1) < 0.08 else 'outside'} 8%)")
    return ok


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
            x = torch.from_numpy(f[runner.input if runner.input in f else "input"][()])
        with h5py.File(os.path.join(REPO, "tests", "data", "onnx", a.model + "_ref.h5")) as f:
            ref = torch.from_numpy(f["output"][()])
        with torch.inference_mode():
            out = runner(x)
        rel = relative_error(out, ref)
        ok = rel < 1e-4
        what = f"{rel:.3g} (contiguous)"
        if x.dim() == 4:  # a convolutional network: its NHWC layout too
            cl = torch.channels_last
            runner_cl = OnnxRunner(os.path.join(REPO, "data", "models", a.model + ".onnx"), cl)
            with torch.inference_mode():
                rel_cl = relative_error(runner_cl(x.contiguous(memory_format=cl)), ref)
            ok = ok and rel_cl < 1e-4
            what += f", {rel_cl:.3g} (channels_last)"
        print(f"{a.model}: ONNX runner ({','.join(runner.ops)}) against "
              f"tests/data/onnx/{a.model}_ref.h5 ({len(x)} samples): max|diff|/max|ref| = {what}")
        if a.model in TRANSFORMERS:
            ok = check_attention_noise(a.model) and ok
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
