#!/usr/bin/env python3
"""Prints the tables of docs/results.md from the JSON files of scripts/results.sh.

Usage: scripts/results_table.py [results-dir]   (default: results)
"""
import json
import pathlib
import sys

MODELS = ["fmnist_mlp", "fmnist_cnn"]
NOISES = ["shot", "thermal", "weight"]


def load(folder, model, noise):
    path = folder / f"precision_{model}_{noise}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        sys.exit(f"results_table: {path}: {error}")


def main():
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    print("| model | noise (E unit) | target | uniform E | learned E | saving "
          "| accuracy uniform / learned | detected optical aJ/MAC uniform → learned |")
    print("|---|---|---|---|---|---|---|---|")
    for model in MODELS:
        for noise in NOISES:
            d = load(folder, model, noise)
            for t in d["targets"]:
                u, l = t["uniform"], t["learned"]
                if not (u["reached"] and l["reached"]):
                    sys.exit(f"results_table: {model} {noise}: a target was not reached")
                print(f"| {model} | {noise} ({d['energy_unit']}) | -{100 * t['drop']:.0f} pt "
                      f"({t['target_accuracy']:.4f}) | {u['energy_per_mac']:.4g} "
                      f"| {l['energy_per_mac']:.4g} | **{100 * t['saving_fraction']:.1f}%** "
                      f"| {u['accuracy']:.4f} / {l['accuracy']:.4f} "
                      f"| {u['detected_optical_aJ_per_mac']:.4g} → "
                      f"{l['detected_optical_aJ_per_mac']:.4g} |")
    print()
    print("Learned allocation (E per layer, first target) against the uniform one, with ENOB:")
    print()
    for model in MODELS:
        layers = [x["name"] for x in load(folder, model, "shot")["layers"]]
        macs = [x["macs"] for x in load(folder, model, "shot")["layers"]]
        total = sum(macs)
        print("| " + model + " | " + " | ".join(
            f"{n} ({100 * m / total:.2g}% of MACs)" for n, m in zip(layers, macs)) + " |")
        print("|---" * (len(layers) + 1) + "|")
        for noise in NOISES:
            t = load(folder, model, noise)["targets"][0]
            u, l = t["uniform"]["layers"], t["learned"]["layers"]
            print(f"| {noise}: uniform | " + " | ".join(
                f"{x['energy_per_mac']:.3g} ({x['enob']:.2f} b)" for x in u) + " |")
            print(f"| {noise}: learned | " + " | ".join(
                f"{x['energy_per_mac']:.3g} ({x['enob']:.2f} b)" for x in l) + " |")
        print()


if __name__ == "__main__":
    main()
