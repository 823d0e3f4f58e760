#!/usr/bin/python3
"""Trains the small Fashion-MNIST vision transformer of data/models/fmnist_vit.onnx.

    /usr/bin/python3 scripts/train_fmnist_vit.py [--epochs 15] [--threads 2] [--seed 1]

Data: the Fashion-MNIST files as lumac reads them (pixels byte / 255.0f in [0, 1]), loaded by
scripts/train_fmnist_resnet.py's reader; the same augmentation (random 28x28 crop of the image
zero-padded by 2, horizontal flip with probability 1/2).

Network (about 2.2M MACs per image, 4 blocks of 4 heads):
  patch embedding  conv 7x7 stride 7, 1 -> 64 channels: 16 tokens of 64 features, plus a
                   learned position embedding (16 x 64)
  block x 4        pre-norm: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x));
                   attention: separate q, k, v linear layers 64 -> 64, 4 heads of 16,
                   softmax(q k^T / 4) v, output linear 64 -> 64; MLP: 64 -> 128, GELU (erf), 128 -> 64
  head             LayerNorm, mean over the 16 tokens, linear 64 -> 10
The attention is written out (matmul, softmax), not nn.MultiheadAttention, so that the exported
graph multiplies (N, heads, tokens, 16) tensors with the batch axis first throughout.

Recipe: AdamW (lr 2e-3, betas 0.9 / 0.999, weight decay 0.05 on the weights of the linear and
conv layers only), batch 128, linear warm-up over the first epoch then cosine decay to 0 (per
step), cross-entropy; fixed seeds for weights, shuffling and augmentation; --threads threads.

Writes:
  data/models/fmnist_vit.onnx        the eval-mode model, opset 17 (LayerNormalization), input
                                     "input" (N,1,28,28), output "output" (N,10), dynamic N;
  tests/data/onnx/fmnist_vit_in.h5 / _ref.h5   the first 8 test images and torch's logits;
  /tmp/fmnist_vit_state.pt           the trained state_dict (--export-only re-exports it).
The exported graph is checked with onnx.checker and against torch on the first 1000 test images
with the numpy ONNX interpreter of scripts/make_onnx_test_models.py.
"""

import argparse
import math
import os
import sys
import time

import h5py
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_onnx_test_models as tm  # noqa: E402  (numpy ONNX interpreter, .h5 writer)
import train_fmnist_resnet as tr  # noqa: E402  (the Fashion-MNIST reader and augmentation)

SOURCE = "scripts/train_fmnist_vit.py"
STATE = "/tmp/fmnist_vit_state.pt"


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, mask=None):
        """x (N, T, d); mask None, or (N, 1, 1, T) added to the scores (scripts/train_spam_transformer.py)."""
        n, t, d = x.shape
        h = self.heads
        dh = d // h

        def split(y):  # (N, T, d) -> (N, h, T, dh)
            return y.reshape(n, t, h, dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        if mask is not None:
            scores = scores + mask
        a = torch.softmax(scores, dim=-1)
        return self.o(torch.matmul(a, v).transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))

    def forward(self, x, mask=None):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, d=64, depth=4, heads=4, hidden=128, patch=7, classes=10):
        super().__init__()
        tokens = (28 // patch) ** 2
        self.embed = nn.Conv2d(1, d, patch, stride=patch)
        self.pos = nn.Parameter(0.02 * torch.randn(1, tokens, d))
        self.blocks = nn.Sequential(*(Block(d, heads, hidden) for _ in range(depth)))
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2) + self.pos  # (N, tokens, d)
        x = self.norm(self.blocks(x))
        return self.fc(x.mean(dim=1))


def count_macs(model):
    """Multiply-accumulates per image: every Conv2d and Linear, and the two attention products."""
    macs = []

    def hook(m, inp, out):
        per_out = m.in_features if isinstance(m, nn.Linear) else \
            (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        macs.append(out[0].numel() * per_out)

    def attn_hook(m, inp, out):
        n, t, d = inp[0].shape
        macs.append(2 * t * t * d)  # Q K^T and A V over all heads

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles += [m.register_forward_hook(attn_hook) for m in model.modules()
                if isinstance(m, Attention)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in handles:
        h.remove()
    return sum(macs)


def export(model, x_test, y_test, summary, onnx_path, data_dir):
    model = model.eval()
    # torch 1.13 exports LayerNorm as LayerNormalization from opset 17 on.
    torch.onnx.export(model, (x_test[:8],), onnx_path, input_names=["input"],
                      output_names=["output"], opset_version=17,
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    proto = onnx.load(onnx_path)
    proto.doc_string = ("Fashion-MNIST vision transformer (7x7 patches, 16 tokens of 64, 4 pre-norm "
                        "blocks of 4 heads), trained by " + SOURCE + "; input pixels byte/255 in "
                        "[0, 1]; output: logits of the 10 classes")
    onnx.helper.set_model_props(proto, {k: str(v) for k, v in summary.items()})
    onnx.save(proto, onnx_path)
    onnx.checker.check_model(proto, full_check=True)

    with torch.no_grad():
        ref = model(x_test[:8]).numpy()
    tm.write_h5(os.path.join(data_dir, "fmnist_vit_in.h5"), {"input": x_test[:8].numpy()})
    tm.write_h5(os.path.join(data_dir, "fmnist_vit_ref.h5"), {"output": ref})
    for suffix in ("_in.h5", "_ref.h5"):
        with h5py.File(os.path.join(data_dir, "fmnist_vit" + suffix), "a") as f:
            f.attrs["source"] = SOURCE
            f.attrs["images"] = "the first 8 Fashion-MNIST test images (t10k), pixels byte/255"
            if suffix == "_ref.h5":
                f.attrs["labels"] = y_test[:8].numpy()

    n_check = 1000
    worst, agree = 0.0, 0
    for i in range(0, n_check, 250):
        xb = x_test[i:i + 250]
        (yo,) = tm.run_numpy(proto, {"input": xb.numpy()})
        with torch.no_grad():
            yt = model(xb).numpy()
        worst = max(worst, float(np.max(np.abs(yo - yt))))
        agree += int((yo.argmax(1) == yt.argmax(1)).sum())
    print(f"onnx: {onnx_path} ({os.path.getsize(onnx_path)} bytes), checker ok; numpy interpreter vs "
          f"torch on the first {n_check} test images: max |diff| {worst:.2e}, argmax agrees on {agree}")
    print(f"  op types: {', '.join(tm.op_types(proto))}")
    assert worst < 1e-3 and agree == n_check


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=os.path.join(ROOT, "data", "models", "fmnist_vit.onnx"))
    p.add_argument("--data-out", default=os.path.join(ROOT, "tests", "data", "onnx"))
    p.add_argument("--export-only", action="store_true", help=f"re-export from {STATE}")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    command = "/usr/bin/python3 scripts/train_fmnist_vit.py " + " ".join(sys.argv[1:])
    t_wall = time.time()
    load_start = os.getloadavg()

    x_test, y_test = tr.load("test", 10000)
    torch.manual_seed(args.seed)
    model = ViT()
    n_params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model)
    print(f"torch {torch.__version__}, {args.threads} threads; ViT: {n_params} parameters, "
          f"{macs} MACs per image; load average at start {load_start[0]:.2f}", flush=True)

    if args.export_only:
        model.load_state_dict(torch.load(STATE))
        summary = torch.load(STATE + ".summary")
    else:
        x_train, y_train = tr.load("train", 60000)
        opt = tr.adamw_on_matrices(model, args.lr, args.wd)
        steps_per_epoch = (x_train.shape[0] + args.batch - 1) // args.batch
        lr_at = tr.warmup_cosine(args.lr, steps_per_epoch, args.epochs)

        gen = torch.Generator().manual_seed(args.seed + 100)
        step = 0
        t0 = time.time()
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(x_train.shape[0], generator=gen)
            loss_sum, seen, te = 0.0, 0, time.time()
            for i in range(0, x_train.shape[0], args.batch):
                idx = perm[i:i + args.batch]
                xb = tr.augment(x_train[idx], gen)
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xb), y_train[idx])
                loss.backward()
                opt.step()
                step += 1
                loss_sum += float(loss) * idx.numel()
                seen += idx.numel()
            acc = tr.evaluate(model, x_test, y_test)
            print(f"epoch {epoch + 1}/{args.epochs}: loss {loss_sum / seen:.4f}, test accuracy {acc:.4f}, "
                  f"{time.time() - te:.1f} s, elapsed {time.time() - t0:.1f} s, load {os.getloadavg()[0]:.2f}",
                  flush=True)
        train_seconds = time.time() - t0
        acc = tr.evaluate(model, x_test, y_test)
        summary = dict(test_accuracy=f"{acc:.4f}", test_correct=int(round(acc * 10000)),
                       train_seconds=f"{train_seconds:.1f}", epochs=args.epochs, batch=args.batch,
                       lr=args.lr, weight_decay=args.wd, seed=args.seed, threads=args.threads,
                       parameters=n_params, macs_per_image=macs, torch_version=str(torch.__version__),
                       command=command, source=SOURCE)
        torch.save(model.state_dict(), STATE)
        torch.save(summary, STATE + ".summary")

    acc = tr.evaluate(model, x_test, y_test)
    export(model, x_test, y_test, summary, args.out, args.data_out)
    load_end = os.getloadavg()
    print(f"SUMMARY test accuracy {acc:.4f} ({int(round(acc * 10000))}/10000); training {summary['train_seconds']} s; "
          f"wall {time.time() - t_wall:.1f} s; parameters {n_params}; MACs per image {macs}; "
          f"load average start {load_start[0]:.2f} end {load_end[0]:.2f} (5 min {load_end[1]:.2f}, 15 min {load_end[2]:.2f})")
    print(f"command: {summary['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
