#!/usr/bin/env bash
# Reproduces docs/results.md: learned versus uniform per-layer precision for the bundled
# Fashion-MNIST models under shot, thermal and weight noise, at -1 and -2 points of accuracy
# (the default targets), with the default 1500 learning steps on the full test set.
# Writes results/precision_<model>_<noise>.{json,h5}. About 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
for model in fmnist_mlp fmnist_cnn; do
  for noise in shot thermal weight; do
    echo "== $model $noise" >&2
    build/app/lumac precision --model "data/models/$model.h5" --noise "$noise" --json --force \
      --out "results/precision_${model}_${noise}.h5" > "results/precision_${model}_${noise}.json"
  done
done
/usr/bin/python3 scripts/results_table.py results
