#!/usr/bin/python3
"""Trains the small Fashion-MNIST ResNet of data/models/fmnist_resnet.onnx.

    /usr/bin/python3 scripts/train_fmnist_resnet.py [--epochs 12] [--threads 2] [--seed 1]

Data: the gzipped IDX files of the Debian package dataset-fashion-mnist, read from
$LUMAC_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist exactly as lumac reads them
(nn/dataset.cpp): 60,000 training and 10,000 test images of 1x28x28, each pixel byte b turned
into the float32 b / 255.0f (IEEE float32 division, so the inputs are bit-identical to lumac's:
values in [0, 1], no mean subtraction, no standardisation).

Network (ResNet with batch norm, basic blocks, about 9.4M MACs per image):
  stem     conv3x3 1->16, BN, ReLU                                  28x28
  stage 1  basic block 16->16, identity shortcut                    28x28
  stage 2  basic block 16->32, stride 2, shortcut conv1x1 s2 + BN   14x14
  stage 3  basic block 32->64, stride 2, shortcut conv1x1 s2 + BN    7x7
  head     global average pool, Linear 64->10
where a basic block is conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU (convs without bias).

Recipe: SGD (momentum 0.9, Nesterov, weight decay 5e-4 on every parameter), batch 128, peak
learning rate 0.1 with a linear warm-up over the first epoch and a cosine decay to 0 over the
rest (per step), cross-entropy; augmentation: random crop of 28x28 from the image zero-padded
by 2 on each side and a horizontal flip with probability 1/2; fixed seed for the weights, the
shuffling and the augmentation. torch runs on --threads threads (the result may differ in the
last bits with another thread count).

Writes:
  data/models/fmnist_resnet.onnx     the eval-mode model (BN folded into the convs by the
                                     exporter), opset 13, input "input" (N,1,28,28), output
                                     "output" (N,10) logits, dynamic batch axis N;
  tests/data/onnx/fmnist_resnet_in.h5  / _ref.h5   the first 8 test images and torch's logits
                                     (format of scripts/make_onnx_test_models.py);
  /tmp/fmnist_resnet_state.pt        the trained state_dict (not committed; --export-only
                                     re-exports from it without training).
The exported graph is checked with onnx.checker and with the numpy ONNX interpreter of
scripts/make_onnx_test_models.py against torch on the first 1000 test images.
"""

import argparse
import gzip
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
import make_onnx_test_models as tm  # noqa: E402  (the numpy ONNX interpreter, the .h5 writer)

SOURCE = "scripts/train_fmnist_resnet.py"
STATE = "/tmp/fmnist_resnet_state.pt"


# ---- data -----------------------------------------------------------------------------------


def fashion_dir():
    return os.environ.get("LUMAC_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_images(path, count):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    assert magic == 2051 and n == count and rows == 28 and cols == 28, (path, magic, n, rows, cols)
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16, count=n * 28 * 28)
    # lumac: static_cast<float>(byte) / 255.0f, a correctly rounded float32 division
    return (pixels.astype(np.float32) / np.float32(255.0)).reshape(n, 1, 28, 28)


def read_labels(path, count):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 8, 4))
    assert magic == 2049 and n == count, (path, magic, n)
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8, count=n).astype(np.int64)
    assert labels.max() <= 9
    return labels


def load(split, count):
    d = fashion_dir()
    prefix = "train" if split == "train" else "t10k"
    x = read_images(os.path.join(d, prefix + "-images-idx3-ubyte.gz"), count)
    y = read_labels(os.path.join(d, prefix + "-labels-idx1-ubyte.gz"), count)
    return torch.from_numpy(x), torch.from_numpy(y)


def augment(x, generator):
    """Random 28x28 crop of the image zero-padded by 2, and a horizontal flip with p = 1/2."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=generator)
    dx = torch.randint(0, 5, (n,), generator=generator)
    ar = torch.arange(28)
    rows = (dy[:, None] + ar)[:, :, None]          # (n, 28, 1)
    cols = (dx[:, None] + ar)[:, None, :]          # (n, 1, 28)
    out = padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


# ---- network --------------------------------------------------------------------------------


# The basic block (conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU; a 1x1 stride-2 conv + BN
# shortcut when the shape changes) is the one of the test models' `residual` network.
BasicBlock = tm.BasicBlock


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64), blocks=(1, 1, 1), classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for stage, (w, b) in enumerate(zip(widths, blocks)):
            for i in range(b):
                layers.append(BasicBlock(cin, w, 2 if stage > 0 and i == 0 else 1))
                cin = w
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def count_macs(model):
    """Multiply-accumulates per image of every Conv2d and Linear (BN, adds, pooling excluded)."""
    macs = []

    def hook(m, inp, out):
        per_out = m.in_features if isinstance(m, nn.Linear) else \
            (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        macs.append(out[0].numel() * per_out)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in handles:
        h.remove()
    return sum(macs)


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / x.shape[0]


# ---- export ---------------------------------------------------------------------------------


def export(model, x_test, y_test, summary, onnx_path, data_dir):
    model = model.to(memory_format=torch.contiguous_format).eval()
    x_test = x_test.contiguous()
    torch.onnx.export(model, (x_test[:8],), onnx_path, input_names=["input"],
                      output_names=["output"], opset_version=13,
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    proto = onnx.load(onnx_path)
    proto.doc_string = ("Fashion-MNIST ResNet (stem 16, stages 16/32/64, one basic block each), "
                        "trained by " + SOURCE + "; input pixels byte/255 in [0, 1]; "
                        "output: logits of the 10 classes")
    onnx.helper.set_model_props(proto, {k: str(v) for k, v in summary.items()})
    onnx.save(proto, onnx_path)
    onnx.checker.check_model(proto, full_check=True)

    with torch.no_grad():
        ref = model(x_test[:8]).numpy()
    tm.write_h5(os.path.join(data_dir, "fmnist_resnet_in.h5"), {"input": x_test[:8].numpy()})
    tm.write_h5(os.path.join(data_dir, "fmnist_resnet_ref.h5"), {"output": ref})
    for suffix in ("_in.h5", "_ref.h5"):
        with h5py.File(os.path.join(data_dir, "fmnist_resnet" + suffix), "a") as f:
            f.attrs["source"] = SOURCE
            f.attrs["images"] = "the first 8 Fashion-MNIST test images (t10k), pixels byte/255"
            if suffix == "_ref.h5":
                f.attrs["labels"] = y_test[:8].numpy()

    # the exported graph, read by an independent interpreter, against torch
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


# ---- main -----------------------------------------------------------------------------------



def warmup_cosine(lr, steps_per_epoch, epochs):
    """lr_at(step), the learning rate of the training scripts at optimiser step `step`: a linear
    warm-up over the first epoch, then a cosine decay to 0 at the last step."""
    total = steps_per_epoch * epochs
    warm = steps_per_epoch

    def lr_at(step):
        if step < warm:
            return lr * (step + 1) / warm
        t = (step - warm) / max(1, total - warm)
        return lr * 0.5 * (1.0 + np.cos(np.pi * t))
    return lr_at


def adamw_on_matrices(model, lr, wd):
    """AdamW with weight decay `wd` on the weights of two or more axes (linear and convolution
    weights, embedding tables) and none on biases and norms (the transformer scripts)."""
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
    keep = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                              {"params": keep, "weight_decay": 0.0}], lr=lr)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=os.path.join(ROOT, "data", "models", "fmnist_resnet.onnx"))
    p.add_argument("--data-out", default=os.path.join(ROOT, "tests", "data", "onnx"))
    p.add_argument("--export-only", action="store_true", help=f"re-export from {STATE}")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    command = "/usr/bin/python3 scripts/train_fmnist_resnet.py " + " ".join(sys.argv[1:])
    t_wall = time.time()
    load_start = os.getloadavg()

    x_test, y_test = load("test", 10000)
    torch.manual_seed(args.seed)
    model = ResNet()
    n_params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model)
    print(f"torch {torch.__version__}, {args.threads} threads; ResNet: {n_params} parameters, "
          f"{macs} MACs per image; load average at start {load_start[0]:.2f}", flush=True)

    if args.export_only:
        model.load_state_dict(torch.load(STATE))
        summary = torch.load(STATE + ".summary")
    else:
        x_train, y_train = load("train", 60000)
        model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                              weight_decay=args.wd)
        steps_per_epoch = (x_train.shape[0] + args.batch - 1) // args.batch
        lr_at = warmup_cosine(args.lr, steps_per_epoch, args.epochs)

        gen = torch.Generator().manual_seed(args.seed + 100)
        step = 0
        t0 = time.time()
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(x_train.shape[0], generator=gen)
            loss_sum, seen, te = 0.0, 0, time.time()
            for i in range(0, x_train.shape[0], args.batch):
                idx = perm[i:i + args.batch]
                xb = augment(x_train[idx], gen).contiguous(memory_format=torch.channels_last)
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xb), y_train[idx])
                loss.backward()
                opt.step()
                step += 1
                loss_sum += float(loss) * idx.numel()
                seen += idx.numel()
            acc = evaluate(model, x_test.contiguous(memory_format=torch.channels_last), y_test)
            print(f"epoch {epoch + 1}/{args.epochs}: loss {loss_sum / seen:.4f}, test accuracy {acc:.4f}, "
                  f"{time.time() - te:.1f} s, elapsed {time.time() - t0:.1f} s, load {os.getloadavg()[0]:.2f}",
                  flush=True)
        train_seconds = time.time() - t0
        model = model.to(memory_format=torch.contiguous_format)
        acc = evaluate(model, x_test, y_test)
        summary = dict(test_accuracy=f"{acc:.4f}", test_correct=int(round(acc * 10000)),
                       train_seconds=f"{train_seconds:.1f}", epochs=args.epochs, batch=args.batch,
                       lr=args.lr, weight_decay=args.wd, seed=args.seed, threads=args.threads,
                       parameters=n_params, macs_per_image=macs, torch_version=str(torch.__version__),
                       command=command, source=SOURCE)
        torch.save(model.state_dict(), STATE)
        torch.save(summary, STATE + ".summary")

    acc = evaluate(model, x_test, y_test)
    export(model, x_test, y_test, summary, args.out, args.data_out)
    load_end = os.getloadavg()
    print(f"SUMMARY test accuracy {acc:.4f} ({int(round(acc * 10000))}/10000); training {summary['train_seconds']} s; "
          f"wall {time.time() - t_wall:.1f} s; parameters {n_params}; MACs per image {macs}; "
          f"load average start {load_start[0]:.2f} end {load_end[0]:.2f} (5 min {load_end[1]:.2f}, 15 min {load_end[2]:.2f})")
    print(f"command: {summary['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
