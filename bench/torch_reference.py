#!/usr/bin/python3
"""The noisy forward pass of the seed authors' code, in PyTorch, for a side-by-side benchmark.

    /usr/bin/python3 bench/torch_reference.py MODEL.h5 [--photons-per-mac E] [--threads T]
        [--repeats R] [--batch 256] [--images 10000] [--memory-format contiguous|channels_last]

Builds the network of a lumac model file (docs/model_file.md) in PyTorch with the same weights,
runs the 10,000 Fashion-MNIST test images (Debian's dataset-fashion-mnist) in batches of 256
and adds, after every matrix product, shot noise of std ||w_i|| ||x|| / sqrt(D E) per output
(for a convolution, x is the input patch of that output): the noise model of the seed's code,
computed as a careful PyTorch user would (bias fused into the product, ||x|| of the patches as
a box sum of the channel sum of x*x, in-place adds; bench/torch_onnx_reference.py conv_noise_
and dense_noise_). --photons-per-mac 0 runs the clean network only.
Times the clean and the noisy pass alternately in one process (bench/torch_onnx_reference.py
time_clean_noisy: one warm-up of each, then R pairs in an order swapped from pair to pair) and
prints one JSON line: clean_images_per_s and noisy_images_per_s (medians over the R timed runs),
noisy_over_clean_time (median of the per-pair ratios), clean_accuracy and noisy_accuracy (the
warm-up runs), images_per_s and accuracy (the noisy ones; the clean ones with E = 0),
peak_resident_MiB, the BLAS library torch loaded, threads. --memory-format channels_last
stores the images and convolution weights in NHWC order (faster convolutions in torch 1.13).
Needs python3-torch, python3-h5py and python3-numpy (run with /usr/bin/python3).
"""
import argparse
import json
import resource
import statistics
import sys
import time

import h5py
import torch
import torch.nn.functional as F

# the one implementation of the noise, the timing loop and the layouts
from torch_onnx_reference import (FORMATS, blas_library, conv_noise_, dense_noise_,
                                  fmnist_test, time_clean_noisy)


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
            entry["wnorm"] = entry["weight"].flatten(1).norm(dim=1)
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
            y = F.linear(x, l["weight"], l["bias"])
            if photons > 0:
                dense_noise_(y, x, l["weight"], photons, l["wnorm"])
            x = y
        elif t == "conv2d":
            y = F.conv2d(x, l["weight"], l["bias"], stride=l["stride"], padding=l["padding"])
            if photons > 0:
                conv_noise_(y, x, l["weight"], l["stride"], l["padding"], 1, 1, photons,
                            l["wnorm"])
            x = y
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
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--memory-format", choices=sorted(FORMATS), default="contiguous")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    fmt = FORMATS[a.memory_format]
    layers = load_layers(a.model)
    for l in layers:
        if l["type"] == "conv2d":
            l["weight"] = l["weight"].contiguous(memory_format=fmt)
    images, labels = fmnist_test()
    images, labels = images[:a.images], labels[:a.images]
    flat = layers[0]["type"] == "dense"
    batches = []
    for i in range(0, len(images), a.batch):
        x = images[i:i + a.batch]
        batches.append((x.flatten(1) if flat else x.contiguous(memory_format=fmt),
                        labels[i:i + a.batch]))
    accuracy = {}

    def run(photons):
        correct = 0
        with torch.inference_mode():
            t0 = time.perf_counter()
            for x, y in batches:
                correct += (forward(layers, x, photons).argmax(1) == y).sum().item()
            dt = time.perf_counter() - t0
        accuracy.setdefault(photons, correct / len(images))  # the first (warm-up) run's
        return dt

    clean, noisy, ratios = time_clean_noisy(run, a.repeats, a.photons_per_mac)
    n = len(images)
    out = {"clean_images_per_s": n / statistics.median(clean), "clean_accuracy": accuracy[0.0]}
    if noisy:
        out.update(noisy_images_per_s=n / statistics.median(noisy),
                   noisy_accuracy=accuracy[a.photons_per_mac],
                   noisy_over_clean_time=statistics.median(ratios),
                   photons_per_mac=a.photons_per_mac)
    key = "noisy" if noisy else "clean"
    out.update(images_per_s=out[f"{key}_images_per_s"], accuracy=out[f"{key}_accuracy"],
               threads=a.threads, images=n, batch=a.batch, repeats=a.repeats,
               memory_format=a.memory_format,
               peak_resident_MiB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
               blas=blas_library(), torch_version=torch.__version__)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
