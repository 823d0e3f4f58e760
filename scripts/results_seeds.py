#!/usr/bin/env python3
"""Prints the saving of every row of docs/results.md for several noise seeds, with their mean
and sample standard deviation, from the JSON files of scripts/results.sh.

Usage: scripts/results_seeds.py DIR DIR [DIR ...]   (results = seed 1, results/seed<k> = seed k)
"""
import pathlib
import re
import statistics
import sys

# The same files and rows as the tables of docs/results.md (this script's folder is on sys.path).
from results_table import MODELS, NOISES, load


def seed_of(folder):
    match = re.fullmatch(r"seed(\d+)", folder.name)
    return int(match.group(1)) if match else 1


def main():
    folders = [pathlib.Path(a) for a in sys.argv[1:]]
    if len(folders) < 2:
        sys.exit("results_seeds: give at least two result folders (see the usage line)")
    seeds = [seed_of(f) for f in folders]
    if len(set(seeds)) != len(seeds):
        sys.exit(f"results_seeds: the folders {', '.join(map(str, folders))} repeat a seed")
    print("| model | noise | target | " + " | ".join(f"seed {s}" for s in seeds)
          + " | mean ± std |")
    print("|---|---|---|" + "---|" * len(seeds) + "---|")
    for model in MODELS:
        for noise in NOISES:
            runs = [load(f, model, noise)["targets"] for f in folders]
            for i, target in enumerate(runs[0]):
                savings = []
                for f, r in zip(folders, runs):
                    if len(r) != len(runs[0]) or r[i]["drop"] != target["drop"]:
                        sys.exit(f"results_seeds: {f}: {model} {noise} has other targets")
                    if not (r[i]["uniform"]["reached"] and r[i]["learned"]["reached"]):
                        sys.exit(f"results_seeds: {f}: {model} {noise}: a target was not reached")
                    savings.append(100 * r[i]["saving_fraction"])
                print(f"| {model} | {noise} | -{100 * target['drop']:.0f} pt | "
                      + " | ".join(f"{s:.1f}%" for s in savings)
                      + f" | {statistics.mean(savings):.1f}% ± {statistics.stdev(savings):.1f} |")


if __name__ == "__main__":
    main()
