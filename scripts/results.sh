#!/usr/bin/env bash
# Reproduces docs/results.md: learned versus uniform per-layer precision for the bundled
# Fashion-MNIST models under shot, thermal and weight noise, at -1 and -2 points of accuracy
# (the default targets), with the default 1500 learning steps on the full test set.
#
# Usage: scripts/results.sh [seed ...]   (default: 1)
#
# Seed 1 writes results/precision_<model>_<noise>.{json,h5} and prints the tables of
# docs/results.md (scripts/results_table.py); every other seed k writes the same files under
# results/seed<k>/. With more than one seed it then prints the saving of every row per seed,
# with their mean and spread (scripts/results_seeds.py). About 4 minutes per seed on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
((${#seeds[@]})) || seeds=(1)
dirs=()
for seed in "${seeds[@]}"; do
  [[ "$seed" =~ ^[0-9]+$ ]] || { echo "results: seed '$seed' is not a whole number" >&2; exit 2; }
  dir=results
  [ "$seed" = 1 ] || dir="results/seed$seed"
  mkdir -p "$dir"
  dirs+=("$dir")
  for model in fmnist_mlp fmnist_cnn; do
    for noise in shot thermal weight; do
      echo "== seed $seed: $model $noise" >&2
      build/app/lumac precision --model "data/models/$model.h5" --noise "$noise" --seed "$seed" \
        --json --force --out "$dir/precision_${model}_${noise}.h5" > "$dir/precision_${model}_${noise}.json.part"
      mv "$dir/precision_${model}_${noise}.json.part" "$dir/precision_${model}_${noise}.json"
    done
  done
done
for seed in "${seeds[@]}"; do
  if [ "$seed" = 1 ]; then /usr/bin/python3 scripts/results_table.py results; fi
done
if ((${#seeds[@]} > 1)); then
  /usr/bin/python3 scripts/results_seeds.py "${dirs[@]}"
fi
