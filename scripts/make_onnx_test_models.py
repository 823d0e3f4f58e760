#!/usr/bin/python3
"""Builds the small ONNX test models of tests/data/onnx/ and their reference data.

    /usr/bin/python3 scripts/make_onnx_test_models.py [--out tests/data/onnx] [--check-only]
                                                      [--only NAME ...]

For each model NAME it writes, into the output folder:

  NAME.onnx    the model, exported by torch.onnx.export (graph input "input", output "output";
               hf_attention's inputs are "input_ids" and "attention_mask", key_padding's
               "input" and "key_padding_mask");
  NAME_in.h5   one dataset per graph input, named after it, shape (N, ...), N = 5 samples:
               float32 from a standard normal with a fixed seed, or, for the models with a
               `tokens` method, what it draws (int64 token ids, int64 or bool masks);
  NAME_ref.h5  one float32 dataset per graph output ("output"), shape (N, ...): what the torch
               module in eval mode computes from exactly those inputs, in float32.

Both .h5 files carry the root attributes `source` (this script) and `torch_version`.

Every model is built with a fixed seed (torch.manual_seed); batch-norm layers get random
running statistics and affine parameters, so that they are not the identity. Each graph is
checked with onnx.checker (full check, with shape inference), with onnxruntime when it is
installed, and always with the small numpy interpreter of ONNX below (an independent reading
of the ONNX operator specification, not of torch): its outputs must match the torch reference.
The op types of every graph are printed.

Written for Debian 12's python3-torch 1.13 and python3-onnx 1.12; one thread, CPU only.
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

SOURCE = "scripts/make_onnx_test_models.py"
N_SAMPLES = 5
DYNAMIC_AXES = {"input": {0: "N"}, "output": {0: "N"}}


# ---- models ---------------------------------------------------------------------------------


def randomize_bn(module, generator):
    """Gives every BatchNorm2d of module non-trivial running statistics and affine parameters."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(0.2 * torch.randn(c, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(c, generator=generator))
                m.weight.copy_(0.75 + 0.5 * torch.rand(c, generator=generator))
                m.bias.copy_(0.2 * torch.randn(c, generator=generator))


class Mlp(nn.Module):
    """Linear(16,32)-ReLU-Linear(32,10): ONNX Gemm, Relu."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class MatmulActivations(nn.Module):
    """x @ W + b with torch.matmul on parameters (MatMul, Add) and the activations that export
    as LeakyRelu, Sigmoid, Tanh and Clip."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(0.3 * torch.randn(16, 24))
        self.b1 = nn.Parameter(0.1 * torch.randn(24))
        self.w2 = nn.Parameter(0.3 * torch.randn(24, 24))
        self.b2 = nn.Parameter(0.1 * torch.randn(24))
        self.w3 = nn.Parameter(0.3 * torch.randn(24, 8))
        self.leaky = nn.LeakyReLU(0.1)
        self.hardtanh = nn.Hardtanh(0.0, 6.0)
        self.relu6 = nn.ReLU6()

    def forward(self, x):
        h = self.leaky(torch.matmul(x, self.w1) + self.b1)              # MatMul, Add, LeakyRelu
        a, b = h[:, :12], h[:, 12:]                                     # Slice
        a = torch.sigmoid(a)                                            # Sigmoid
        b = torch.tanh(b)                                               # Tanh
        h = torch.cat([a, b], dim=1)                                    # Concat
        h = torch.matmul(4.0 * h, self.w2) + self.b2                    # Mul, MatMul, Add
        h = self.hardtanh(3.0 * h) - self.relu6(2.0 * h - 1.0)          # Clip, Clip
        return torch.matmul(h, self.w3)                                 # MatMul (no bias)


class ConvBnPool(nn.Module):
    """Conv(stride 2, padding 1)-BN-ReLU, MaxPool(3, 2, 1, ceil_mode), AvgPool(2, padding 1,
    count_include_pad=False), Flatten, Linear. Input 3x12x12."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)  # 12 -> 6
        self.bn = nn.BatchNorm2d(8)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)  # 6 -> 4
        self.avgpool = nn.AvgPool2d(2, padding=1, count_include_pad=False)  # 4 -> 3
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.avgpool(self.maxpool(x))
        return self.fc(self.flatten(x))


class ConvBnPreserve(nn.Module):
    """A BN after a Conv (foldable) and a BN after an Add (not foldable into any conv), exported
    with TrainingMode.PRESERVE from eval mode so that BatchNormalization nodes stay. Input
    3x10x10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.conv3 = nn.Conv2d(6, 6, 1)
        self.bn2 = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2)  # 10 -> 5
        self.fc = nn.Linear(6 * 5 * 5, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x) + self.conv3(x)))
        x = self.pool(x)
        return self.fc(torch.flatten(x, 1))


class Grouped(nn.Module):
    """Grouped, depthwise, dilated, per-axis padded and 'same'-padded convolutions,
    AdaptiveAvgPool2d(1) (GlobalAveragePool), Flatten, Linear. Input 4x10x10.

    torch 1.13 cannot export padding='same' (aten::_convolution_mode, at any opset), so the
    'same' convolution (kernel 3x5, dilation 1x2) is written with the explicit padding (1, 4)
    that 'same' means for it; build() checks that it equals torch's padding='same' module."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 8, 3, padding=1, groups=2)                    # 10x10
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)                  # 10x10
        self.dilated = nn.Conv2d(8, 8, 3, dilation=2, padding=(1, 2))             # 8x10
        self.same = nn.Conv2d(8, 6, (3, 5), dilation=(1, 2), padding=(1, 4))      # 'same': 8x10
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(6, 5)

    def features(self, x):
        x = F.relu(self.grouped(x))
        x = F.relu(self.depthwise(x))
        return F.relu(self.dilated(x))

    def forward(self, x):
        x = self.same(self.features(x))
        return self.fc(self.flatten(self.gap(x)))

    def check_same(self, x):
        """The explicit padding equals torch's own padding='same' convolution."""
        ref = nn.Conv2d(8, 6, (3, 5), dilation=(1, 2), padding="same")
        ref.load_state_dict(self.same.state_dict())
        h = self.features(x)
        assert torch.allclose(ref(h), self.same(h), atol=1e-6)


class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU; the shortcut is the
    identity, or conv1x1 stride 2 + BN when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class Residual(nn.Module):
    """Stem conv, a block with a 1x1 stride-2 shortcut, a block with the identity shortcut,
    torch.cat along channels, mean over (2, 3) (ReduceMean), Linear. Input 3x12x12."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.block1 = BasicBlock(6, 8, 2)   # 12 -> 6
        self.block2 = BasicBlock(8, 8, 1)
        self.side = nn.Conv2d(6, 4, 2, stride=2)  # 12 -> 6
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        y = self.block2(self.block1(x))
        y = torch.cat([y, self.side(x)], dim=1)
        return self.fc(y.mean(dim=(2, 3)))


class Broadcast(nn.Module):
    """Elementwise ops with broadcasting, Pad, Transpose + Reshape, Flatten, Dropout, Identity.
    Input 3x10x10."""

    def __init__(self):
        super().__init__()
        c = 4
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.conv_y = nn.Conv2d(3, c, 1)
        self.bias = nn.Parameter(0.5 * torch.randn(c, 1, 1))
        self.scale = nn.Parameter(1.0 + 0.3 * torch.randn(1, c, 1, 1))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.5)
        self.identity = nn.Identity()
        self.fc = nn.Linear(c * 12 * 12, 7)

    def forward(self, x):
        h = self.conv(x)
        y = self.conv_y(x)
        h = h + self.bias                       # (N,C,H,W) + (C,1,1)
        h = h * self.scale                      # (N,C,H,W) * (1,C,1,1)
        h = h - y                               # (N,C,H,W) - (N,C,H,W)
        h = h / 3.0                             # Div by a constant
        h = h * torch.sigmoid(self.gap(h))      # SE gate: (N,C,H,W) * (N,C,1,1)
        h = F.pad(h, (1, 1, 2, 0))              # Pad 10x10 -> 12x12, zeros, asymmetric
        h = self.dropout(self.identity(h))
        t = h.permute(0, 2, 3, 1)               # (N,H,W,C): Transpose keeping the batch first
        t = t.reshape(t.shape[0], -1)           # Reshape with the dynamic batch
        f = torch.flatten(h, 1)                 # Flatten
        return self.fc(t) - 0.5 * self.fc(f)


class Attention(nn.Module):
    """Hand-written two-head self-attention on (N, L, d) tokens: token-wise Linear layers (MatMul
    and Add on a rank-3 input), Reshape and Transpose of the heads, Q K^T and softmax(.) V (MatMul
    of two activations), Div by a constant, Softmax, a residual Add, ReduceMean over the tokens
    and a Linear classifier (Gemm)."""

    def __init__(self, d=8, heads=2, classes=5):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        n, l, d = x.shape
        h = self.heads

        def split(t):  # (N, L, d) -> (N, h, L, d / h)
            return t.reshape(n, l, h, d // h).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        a = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // h), dim=-1)
        y = torch.matmul(a, v).transpose(1, 2).reshape(n, l, d)
        return self.fc((x + self.o(y)).mean(dim=1))


class EncoderBlock(nn.Module):
    """A pre-norm transformer encoder block on (N, L, d) tokens and a classifier: LayerNorm
    (decomposed into ReduceMean, Sub, Pow, Add, Sqrt, Div, Mul, Add below opset 17; one
    LayerNormalization from 17 on), two-head attention written out, residual adds, an MLP with
    GELU (`gelu`: "none" exports Erf, "tanh" the tanh form with Pow and Tanh), a mean over the
    tokens and a Linear."""

    def __init__(self, gelu="none", d=8, heads=2, hidden=16, classes=5):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        with torch.no_grad():  # non-trivial affine parameters
            for norm in (self.norm1, self.norm2):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.3, 0.3)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate=gelu), nn.Linear(hidden, d))
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        n, l, d = x.shape
        h = self.heads

        def split(t):
            return t.reshape(n, l, h, d // h).transpose(1, 2)

        y = self.norm1(x)
        q, k, v = split(self.q(y)), split(self.k(y)), split(self.v(y))
        a = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(d // h)), dim=-1)
        x = x + self.o(torch.matmul(a, v).transpose(1, 2).reshape(n, l, d))
        x = x + self.mlp(self.norm2(x))
        return self.fc(x.mean(dim=1))


class MaskedAttention(nn.Module):
    """Token ids (N, L), 0 the padding: an embedding (Gather), one Linear for Q, K and V cut by
    Split, two-head attention whose padded keys are masked with masked_fill(-inf) (Equal and Not
    on the ids, Cast of the mask to float and back to bool, Unsqueeze, Where), a residual, a mean
    over the real tokens (Mul, ReduceSum, Clip, Div) and a Linear. Inputs: `tokens` (below)."""

    def __init__(self, vocab=20, d=8, heads=2, classes=3):
        super().__init__()
        self.d, self.heads = d, heads
        self.emb = nn.Embedding(vocab, d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.fc = nn.Linear(d, classes)

    def forward(self, ids):
        n, l = ids.shape
        h, d = self.heads, self.d
        keep = (ids != 0).float()                      # Equal, Not, Cast
        x = self.emb(ids)

        def split(t):
            return t.reshape(n, l, h, d // h).transpose(1, 2)

        q, k, v = (split(t) for t in self.qkv(x).split(d, dim=-1))
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // h)
        s = s.masked_fill(~keep.bool()[:, None, None, :], float("-inf"))
        y = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(n, l, d)
        x = x + self.o(y)
        w = keep.unsqueeze(-1)
        return self.fc((x * w).sum(1) / w.sum(1).clamp_min(1.0))

    @staticmethod
    def tokens(generator, n=N_SAMPLES, l=7, vocab=20):
        """Ids in [1, vocab) with a padded tail of random length (at least one real token)."""
        ids = torch.randint(1, vocab, (n, l), generator=generator)
        for i in range(n):
            real = int(torch.randint(1, l + 1, (1,), generator=generator))
            ids[i, real:] = 0
        return ids


class HfAttention(nn.Module):
    """Two int64 inputs as Hugging Face's BERT takes them: `input_ids` (N, L) and
    `attention_mask` (N, L), 1 for a real token and 0 for padding. The mask becomes the
    additive (1 - mask) * -10000 on the scores (Unsqueeze, Cast, Sub, Mul, Add) and weights the
    mean over the tokens. One-head attention on 8 features and a Linear classifier."""

    INPUTS = ("input_ids", "attention_mask")

    def __init__(self, vocab=20, d=8, classes=3):
        super().__init__()
        self.d = d
        self.emb = nn.Embedding(vocab, d)
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.fc = nn.Linear(d, classes)

    def forward(self, input_ids, attention_mask):
        x = self.emb(input_ids)
        s = torch.matmul(self.q(x), self.k(x).transpose(-2, -1)) / math.sqrt(self.d)
        s = s + (1.0 - attention_mask[:, None, :].float()) * -10000.0
        x = x + torch.matmul(torch.softmax(s, dim=-1), self.v(x))
        w = attention_mask.float().unsqueeze(-1)
        return self.fc((x * w).sum(1) / w.sum(1).clamp_min(1.0))

    @staticmethod
    def tokens(generator, n=N_SAMPLES, l=7, vocab=20):
        ids = MaskedAttention.tokens(generator, n, l, vocab)
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}


class KeyPadding(nn.Module):
    """Float features `input` (N, L, 8) and a bool `key_padding_mask` (N, L), True where a
    token is padding, into nn.MultiheadAttention (batch_first, 2 heads) as torch users pass
    it; a classifier on the mean over the tokens."""

    INPUTS = ("input", "key_padding_mask")

    def __init__(self, d=8, classes=3):
        super().__init__()
        self.att = nn.MultiheadAttention(d, 2, batch_first=True)
        self.fc = nn.Linear(d, classes)

    def forward(self, input, key_padding_mask):  # noqa: A002 (the graph input's name)
        x = input
        y, _ = self.att(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)
        return self.fc((x + y).mean(dim=1))

    @staticmethod
    def tokens(generator, n=N_SAMPLES, l=5, d=8):
        x = torch.randn((n, l, d), generator=generator)
        pad = torch.zeros((n, l), dtype=torch.bool)
        for i in range(n):
            real = int(torch.randint(1, l + 1, (1,), generator=generator))
            pad[i, real:] = True
        return {"input": x, "key_padding_mask": pad}


class GatherPositions(nn.Module):
    """Fixed positions of an activation, as BERT's pooler takes the first token: h[:, 0]
    (Gather with a scalar index, the axis removed) plus h[:, [1, 3]].sum(1) (Gather with evenly
    spaced indices), then a Linear."""

    def __init__(self, d=8, classes=3):
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        h = torch.tanh(self.lin(x))
        return self.fc(h[:, 0] + h[:, [1, 3]].sum(1))


class TorchEncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer itself (batch_first, dropout 0, 2 heads on 8 features, FFN 16)
    and a classifier on the mean over the tokens. torch 1.13 writes its multi-head attention
    through (L, N, E), (L, N*H, d) and (N*H, L, d) tensors: Transpose and Reshape move the batch
    axis and merge it with the heads and the tokens, and the output projection is a Gemm on
    (L*N, E). (Exported with gradients enabled: under no_grad torch takes its fused fast path,
    aten::_transformer_encoder_layer_fwd, which has no ONNX form.)"""

    def __init__(self, activation="relu", norm_first=False, d=8, classes=3, causal=False):
        super().__init__()
        self.causal = causal
        self.enc = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, activation=activation,
                                              batch_first=True, norm_first=norm_first)
        with torch.no_grad():  # non-trivial affine parameters
            for norm in (self.enc.norm1, self.enc.norm2):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.3, 0.3)
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        # causal: the mask built from the tokens' count as users write it (torch exports
        # ConstantOfShape, Trilu and Where, which lumac folds at import)
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1]) if self.causal else None
        return self.fc(self.enc(x, src_mask=mask).mean(dim=1))


class BatchMix(nn.Module):
    """A legal torch program that lumac must refuse: x.transpose(0, 1).reshape(n, l, d) puts
    values of different samples into one sample (a per-sample engine cannot compute it).
    tests/nn/test_onnx.cpp checks the one-line refusal; lumac never runs it."""

    def __init__(self, d=8, classes=3):
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        n, l, d = x.shape
        return self.fc(self.lin(x).transpose(0, 1).reshape(n, l, d).mean(dim=1))


# name, constructor, per-sample input shape, export options
MODELS = [
    ("mlp", Mlp, (16,), dict(dynamic=True)),
    ("matmul", MatmulActivations, (16,), dict(dynamic=True)),
    ("conv_bn_fused", ConvBnPool, (3, 12, 12), dict(dynamic=True)),
    ("conv_bn_preserve", ConvBnPreserve, (3, 10, 10), dict(dynamic=True, preserve=True)),
    ("grouped", Grouped, (4, 10, 10), dict(dynamic=True)),
    ("residual", Residual, (3, 12, 12), dict(dynamic=True)),
    ("broadcast", Broadcast, (3, 10, 10), dict(dynamic=True)),
    ("opset17", Residual, (3, 12, 12), dict(dynamic=True, opset=17)),
    ("attention", Attention, (6, 8), dict(dynamic=True)),
    ("block13", lambda: EncoderBlock("tanh"), (6, 8), dict(dynamic=True, opset=13)),
    ("block17", lambda: EncoderBlock("none"), (6, 8), dict(dynamic=True, opset=17)),
    ("masked_attention", MaskedAttention, (7,), dict(dynamic=True, opset=17, tokens=True)),
    ("encoder_post_relu", lambda: TorchEncoderLayer("relu", False), (5, 8), dict(dynamic=True, opset=17)),
    ("encoder_pre_gelu", lambda: TorchEncoderLayer("gelu", True), (5, 8), dict(dynamic=True, opset=17)),
    ("batch_mix", BatchMix, (5, 8), dict(dynamic=True, opset=17, mixes=True)),
    ("encoder_causal", lambda: TorchEncoderLayer("gelu", False, causal=True), (5, 8),
     dict(dynamic=True, opset=17)),
    ("hf_attention", HfAttention, (7,), dict(dynamic=True, opset=17, tokens=True)),
    ("key_padding", KeyPadding, (5, 8), dict(dynamic=True, opset=17, tokens=True)),
    ("gather_positions", GatherPositions, (5, 8), dict(dynamic=True, opset=17)),
]


# ---- export and data ------------------------------------------------------------------------


def write_h5(path, datasets):
    with h5py.File(path, "w") as f:
        f.attrs["source"] = SOURCE
        f.attrs["torch_version"] = str(torch.__version__)
        for name, value in datasets.items():  # float32, int64 (token ids) or bool (masks)
            value = np.asarray(value)
            dtype = (np.bool_ if value.dtype == np.bool_ else
                     np.int64 if np.issubdtype(value.dtype, np.integer) else np.float32)
            f.create_dataset(name, data=np.ascontiguousarray(value, dtype=dtype))


def export(model, x, path, opset=13, dynamic=True, preserve=False):
    """x: the input tensor, or a dict of them by graph input name (in the forward's order)."""
    feeds = x if isinstance(x, dict) else {"input": x}
    kwargs = dict(input_names=list(feeds), output_names=["output"], opset_version=opset)
    if dynamic:
        kwargs["dynamic_axes"] = {name: {0: "N"} for name in list(feeds) + ["output"]}
    if preserve:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, tuple(feeds.values()), path, **kwargs)


def build(name, ctor, shape, opts, out_dir, index):
    torch.manual_seed(1000 + index)
    model = ctor()
    generator = torch.Generator().manual_seed(2000 + index)
    randomize_bn(model, generator)
    model.eval()
    g = torch.Generator().manual_seed(3000 + index)
    x = ctor.tokens(g) if opts.get("tokens") else torch.randn((N_SAMPLES,) + tuple(shape), generator=g)
    with torch.no_grad():
        y = model(**x) if isinstance(x, dict) else model(x)
        if hasattr(model, "check_same"):
            model.check_same(x)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    export(model, x, onnx_path, opset=opts.get("opset", 13), dynamic=opts.get("dynamic", True),
           preserve=opts.get("preserve", False))
    feeds = x if isinstance(x, dict) else {"input": x}
    write_h5(os.path.join(out_dir, name + "_in.h5"), {k: v.numpy() for k, v in feeds.items()})
    write_h5(os.path.join(out_dir, name + "_ref.h5"), {"output": y.numpy()})


# ---- a small numpy interpreter of the ONNX operators these graphs use -----------------------


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    n, c, hi, wi = x.shape
    m, cg, kh, kw = w.shape
    group = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"), "auto_pad not handled"
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ho = (xp.shape[2] - (dh * (kh - 1) + 1)) // sh + 1
    wo = (xp.shape[3] - (dw * (kw - 1) + 1)) // sw + 1
    y = np.zeros((n, m, ho, wo), dtype=np.float64)
    mg = m // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg].astype(np.float64)
        ws = w[g * mg:(g + 1) * mg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y.astype(np.float32)


def _pool_out(size, k, s, p0, p1, d, ceil):
    span = size + p0 + p1 - (d * (k - 1) + 1)
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p0:  # the last window must start inside input + left pad
        out -= 1
    return out


def _pool(x, a, kind):
    n, c, h, w = x.shape
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    ceil = a.get("ceil_mode", 0)
    include_pad = a.get("count_include_pad", 0)
    assert a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"), "auto_pad not handled"
    ho = _pool_out(h, kh, sh, pads[0], pads[2], 1, ceil)
    wo = _pool_out(w, kw, sw, pads[1], pads[3], 1, ceil)
    y = np.zeros((n, c, ho, wo), dtype=np.float32)
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sh - pads[0], j * sw - pads[1]
            r1, c1 = r0 + kh, c0 + kw
            rr0, cc0, rr1, cc1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
            win = x[:, :, rr0:rr1, cc0:cc1]
            if kind == "max":
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                if include_pad:  # the window clipped to input + explicit pads
                    count = (min(r1, h + pads[2]) - r0) * (min(c1, w + pads[3]) - c0)
                else:
                    count = (rr1 - rr0) * (cc1 - cc0)
                y[:, :, i, j] = win.astype(np.float64).sum(axis=(2, 3)) / count
    return y


def _axes(node, inputs, a, opset, input_index=1):
    """Axes of Unsqueeze/ReduceMean/...: an attribute or, in newer opsets, an input."""
    if "axes" in a:
        return list(a["axes"])
    if len(inputs) > input_index and inputs[input_index] is not None:
        return [int(v) for v in inputs[input_index]]
    return None


def run_numpy(model_proto, feeds):
    opset = max(o.version for o in model_proto.opset_import if o.domain in ("", "ai.onnx"))
    env = {t.name: numpy_helper.to_array(t) for t in model_proto.graph.initializer}
    env.update(feeds)
    for node in model_proto.graph.node:
        ins = [env[i] if i else None for i in node.input]
        a = _attrs(node)
        op = node.op_type
        if op == "Constant":
            out = [numpy_helper.to_array(a["value"])]
        elif op == "Identity" or op == "Dropout":
            out = [ins[0]]
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A.astype(np.float64) @ B.astype(np.float64))
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
            out = [y.astype(np.float32)]
        elif op == "MatMul":
            out = [np.matmul(ins[0].astype(np.float64), ins[1].astype(np.float64)).astype(np.float32)]
        elif op in ("Add", "Sub", "Mul", "Div"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
            r = f(ins[0], ins[1])
            out = [r.astype(np.result_type(ins[0], ins[1]))]
        elif op == "Equal":
            out = [np.equal(ins[0], ins[1])]
        elif op == "Trilu":
            k = int(ins[1]) if len(ins) > 1 and ins[1] is not None else 0
            out = [np.triu(ins[0], k) if a.get("upper", 1) else np.tril(ins[0], k)]
        elif op == "Not":
            out = [np.logical_not(ins[0])]
        elif op == "Expand":
            out = [ins[0] * np.ones([int(d) for d in ins[1]], dtype=ins[0].dtype)]
        elif op == "Where":
            out = [np.where(ins[0], ins[1], ins[2])]
        elif op == "Split":
            axis = a.get("axis", 0)
            dim = ins[0].shape[axis]
            sizes = ([int(v) for v in ins[1]] if len(ins) > 1 and ins[1] is not None
                     else [dim // len(node.output)] * len(node.output))
            out = np.split(ins[0], np.cumsum(sizes)[:-1], axis=axis)
        elif op == "Relu":
            out = [np.maximum(ins[0], 0)]
        elif op == "LeakyRelu":
            alpha = a.get("alpha", 0.01)
            out = [np.where(ins[0] >= 0, ins[0], np.float32(alpha) * ins[0])]
        elif op == "Sigmoid":
            out = [(1.0 / (1.0 + np.exp(-ins[0].astype(np.float64)))).astype(np.float32)]
        elif op == "Tanh":
            out = [np.tanh(ins[0])]
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min", -np.inf)
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max", np.inf)
            out = [np.minimum(np.maximum(ins[0], lo), hi).astype(ins[0].dtype)]
        elif op == "Conv":
            out = [_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)]
        elif op == "BatchNormalization":
            x, s, bb, mean, var = ins[:5]
            eps = a.get("epsilon", 1e-5)
            assert not a.get("training_mode", 0), "training-mode BatchNormalization"
            sh = (1, -1) + (1,) * (x.ndim - 2)
            y = (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * s.reshape(sh) + bb.reshape(sh)
            out = [y.astype(np.float32)]
        elif op == "MaxPool":
            assert a.get("dilations", [1, 1]) == [1, 1]
            out = [_pool(ins[0], a, "max")]
        elif op == "AveragePool":
            out = [_pool(ins[0], a, "avg")]
        elif op == "GlobalAveragePool":
            out = [ins[0].astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32)]
        elif op == "Flatten":
            axis = a.get("axis", 1)
            x = ins[0]
            out = [x.reshape(int(np.prod(x.shape[:axis])), -1)]
        elif op == "Reshape":
            shape = [int(v) for v in ins[1]]
            shape = [ins[0].shape[i] if v == 0 and not a.get("allowzero", 0) else v
                     for i, v in enumerate(shape)]
            out = [ins[0].reshape(shape)]
        elif op == "ConstantOfShape":
            value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            out = [np.full([int(v) for v in ins[0]], value.reshape(-1)[0], dtype=value.dtype)]
        elif op == "Cast":
            to = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]
            out = [ins[0].astype(to)]
        elif op == "Shape":
            out = [np.array(ins[0].shape, dtype=np.int64)]
        elif op == "Gather":
            out = [np.take(ins[0], ins[1], axis=a.get("axis", 0))]
        elif op == "Unsqueeze":
            axes = _axes(node, ins, a, opset)
            y = ins[0]
            for ax in sorted(v % (y.ndim + len(axes)) for v in axes):
                y = np.expand_dims(y, ax)
            out = [y]
        elif op == "Squeeze":
            axes = _axes(node, ins, a, opset)
            out = [np.squeeze(ins[0], axis=tuple(axes)) if axes is not None else np.squeeze(ins[0])]
        elif op == "Concat":
            out = [np.concatenate(ins, axis=a["axis"])]
        elif op == "ReduceMean":
            axes = _axes(node, ins, a, opset)
            keep = bool(a.get("keepdims", 1))
            ax = tuple(axes) if axes is not None else None
            out = [ins[0].astype(np.float64).mean(axis=ax, keepdims=keep).astype(np.float32)]
        elif op == "ReduceSum":  # axes an input from opset 13 on
            axes = _axes(node, ins, a, opset)
            keep = bool(a.get("keepdims", 1))
            if axes is None and a.get("noop_with_empty_axes", 0):
                out = [ins[0]]
            else:
                ax = tuple(axes) if axes is not None else None
                out = [ins[0].astype(np.float64).sum(axis=ax, keepdims=keep).astype(ins[0].dtype)]
        elif op == "LayerNormalization":
            x = ins[0].astype(np.float64)
            axis = a.get("axis", -1)
            axes = tuple(range(axis % x.ndim, x.ndim))
            mean = x.mean(axis=axes, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
            y = (x - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * ins[1]
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2]
            out = [y.astype(np.float32)]
        elif op == "Erf":
            out = [np.vectorize(math.erf)(ins[0].astype(np.float64)).astype(np.float32)]
        elif op == "Sqrt":
            out = [np.sqrt(ins[0])]
        elif op == "Pow":
            out = [np.power(ins[0].astype(np.float64), ins[1].astype(np.float64)).astype(ins[0].dtype)]
        elif op == "Softmax":
            x = ins[0].astype(np.float64)
            axis = a.get("axis", -1)
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            out = [(e / e.sum(axis=axis, keepdims=True)).astype(np.float32)]
        elif op == "Transpose":
            out = [np.transpose(ins[0], a.get("perm"))]
        elif op == "Slice":
            x = ins[0]
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
            sl = [slice(None)] * x.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                sl[int(ax)] = slice(int(s), int(min(e, np.iinfo(np.int64).max)), int(st))
            out = [x[tuple(sl)]]
        elif op == "Pad":
            mode = a.get("mode", b"constant")
            assert mode in (b"constant", "constant")
            pads = [int(v) for v in (ins[1] if len(ins) > 1 else a["pads"])]
            value = ins[2] if len(ins) > 2 and ins[2] is not None and ins[2].size else 0.0
            r = ins[0].ndim
            width = [(pads[i], pads[i + r]) for i in range(r)]
            assert all(p >= 0 for w in width for p in w), "negative pads"
            out = [np.pad(ins[0], width, constant_values=value)]
        else:
            raise NotImplementedError(f"numpy interpreter: op {op}")
        for name, value in zip(node.output, out):
            if name:
                env[name] = np.asarray(value)
    return [env[o.name] for o in model_proto.graph.output]


# ---- checks ---------------------------------------------------------------------------------


def op_types(model_proto):
    """Distinct op types in node order of first appearance."""
    seen = []
    for node in model_proto.graph.node:
        if node.op_type not in seen:
            seen.append(node.op_type)
    return seen


def check(name, out_dir, mixes=False):
    path = os.path.join(out_dir, name + ".onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    with h5py.File(os.path.join(out_dir, name + "_in.h5"), "r") as f:
        feeds = {k: f[k][()] for k in f.keys()}
    with h5py.File(os.path.join(out_dir, name + "_ref.h5"), "r") as f:
        ref = f["output"][()]
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    assert sorted(inputs) == sorted(feeds), (inputs, list(feeds))
    assert outputs == ["output"], outputs
    assert all(v.dtype in (np.float32, np.int64, np.bool_) for v in feeds.values())
    assert ref.dtype == np.float32
    (y,) = run_numpy(proto, feeds)
    assert y.shape == ref.shape, (y.shape, ref.shape)
    err = float(np.max(np.abs(y - ref)))
    scale = float(np.max(np.abs(ref)))
    assert err <= 1e-4 * max(1.0, scale), f"{name}: numpy interpreter differs from torch by {err}"
    # the interpreter on a batch of 1 (the dynamic batch axis) must give the first row (not
    # for a model that mixes samples on purpose)
    (y1,) = run_numpy(proto, {k: v[:1] for k, v in feeds.items()})
    dynamic = proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    if dynamic and not mixes:
        assert np.max(np.abs(y1 - ref[:1])) <= 1e-4 * max(1.0, scale)
    ort = ""
    try:
        import onnxruntime  # noqa: F401  (not packaged by Debian 12; used when present)
        sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        (yo,) = sess.run(None, feeds)
        ort_err = float(np.max(np.abs(yo - ref)))
        assert ort_err <= 1e-4 * max(1.0, scale), f"{name}: onnxruntime differs by {ort_err}"
        ort = f", onnxruntime max |diff| {ort_err:.2e}"
    except ImportError:
        ort = ", onnxruntime not installed"
    opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    size = os.path.getsize(path)
    print(f"{name}: opset {opset}, {size} bytes, dynamic batch {dynamic}, "
          f"inputs {', '.join(f'{k} {list(v.shape)}' for k, v in feeds.items())}, "
          f"output {list(ref.shape)}; checker ok; numpy interpreter max |diff| {err:.2e}{ort}")
    print(f"  op types: {', '.join(op_types(proto))}")
    return proto


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "tests", "data", "onnx"))
    parser.add_argument("--check-only", action="store_true", help="check the existing files only")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="build only this model (repeatable); every model is still checked")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, h5py {h5py.__version__}")
    for index, (name, ctor, shape, opts) in enumerate(MODELS):
        if not args.check_only and (not args.only or name in args.only):
            build(name, ctor, shape, opts, args.out, index)
        proto = check(name, args.out, mixes=opts.get("mixes", False))
        if opts.get("preserve"):
            assert "BatchNormalization" in op_types(proto), "PRESERVE export lost BatchNormalization"
    return 0


if __name__ == "__main__":
    sys.exit(main())
