#!/usr/bin/python3
"""The noisy forward pass of the seed authors' code, in PyTorch, for a side-by-side benchmark.

    /usr/bin/python3 bench/torch_reference.py MODEL.h5 [--photons-per-mac E] [--threads T]
                                              [--repeats R] [--batch 256]

Builds the network of a lumac model file (docs/model_file.md) in PyTorch with the same weights,
runs the 10,000 Fashion-MNIST test images (Debian's dataset-fashion-mnist) in batches of 256
and adds, after every matrix product, shot noise of std ||w_i|| ||x|| / sqrt(D E) per output
(for a convolution, x is the input patch of that output): what users of the seed's code run.
Prints one JSON line: images_per_s (median over R timed runs after a warm-up), accuracy (first
run), threads. Needs python3-torch, python3-h5py and python3-numpy (run with /usr/bin/python3).
"""
import argparse
import gzip
import json
import statistics
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def load_images(path="/usr/share/datasets/fashion-mnist"):
    with gzip.open(f"{path}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{path}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load_layers(path):
    f = h5py.File(path, "r")
    layers = []
    for i in range(int(f["layers"].attrs["count"])):
        g = f["layers"][f"{i:02d}"]
        t = text(g.attrs["type"])
        entry = {"type": t}
        if t in ("dense", "conv2d"):
            entry["weight"] = torch.from_numpy(g["weight"][()])
            entry["bias"] = torch.from_numpy(g["bias"][()])
        if t == "conv2d":
            entry["stride"] = int(g.attrs["stride"])
            entry["padding"] = int(g.attrs["padding"])
        if t in ("maxpool2d", "avgpool2d"):
            entry["kernel"] = int(g.attrs["kernel"])
            entry["stride"] = int(g.attrs["stride"])
        layers.append(entry)
    return layers


def forward(layers, x, photons):
    for l in layers:
        t = l["type"]
        if t == "dense":
            w = l["weight"]
            y = x @ w.t()
            d = w.shape[1]
            std = torch.outer(x.norm(dim=1), w.norm(dim=1)) / (d * photons) ** 0.5
            x = y + std * torch.randn_like(y) + l["bias"]
        elif t == "conv2d":
            w = l["weight"]
            y = F.conv2d(x, w, stride=l["stride"], padding=l["padding"])
            d = w[0].numel()
            ones = torch.ones((1,) + tuple(w.shape[1:]))
            patch = F.conv2d(x * x, ones, stride=l["stride"], padding=l["padding"]).sqrt()
            std = patch * w.flatten(1).norm(dim=1).view(1, -1, 1, 1) / (d * photons) ** 0.5
            x = y + std * torch.randn_like(y) + l["bias"].view(1, -1, 1, 1)
        elif t == "relu":
            x = F.relu(x)
        elif t == "maxpool2d":
            x = F.max_pool2d(x, l["kernel"], l["stride"])
        elif t == "avgpool2d":
            x = F.avg_pool2d(x, l["kernel"], l["stride"])
        elif t == "flatten":
            x = x.flatten(1)
        else:
            sys.exit(f"torch_reference.py: unknown layer type {t}")
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--photons-per-mac", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    layers = load_layers(a.model)
    images, labels = load_images()
    flat = layers[0]["type"] == "dense"

    def run():
        correct = 0
        with torch.no_grad():
            for i in range(0, len(images), a.batch):
                x = images[i:i + a.batch]
                if flat:
                    x = x.flatten(1)
                correct += (forward(layers, x, a.photons_per_mac).argmax(1) == labels[i:i + a.batch]).sum().item()
        return correct / len(images)

    accuracy = run()
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        run()
        rates.append(len(images) / (time.perf_counter() - t0))
    print(json.dumps({"images_per_s": statistics.median(rates), "accuracy": accuracy, "threads": a.threads}))


if __name__ == "__main__":
    main()
