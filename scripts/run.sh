#!/usr/bin/env bash
# lumac's main job, from a fresh machine: install what is missing, build, then the showcase on
# the bundled fmnist_cnn with the default preset (data/presets/homodyne_1550.toml):
#   1. the devices and the noise budget of one dot product of the default circuit;
#   2. a laser-power sweep of the network with physical noise (results/laser_sweep.h5 + PNGs);
#   3. the learned per-layer precision (per-layer laser power) against uniform precision at -1
#      and -2 points of accuracy (results/precision_physical.h5), ending with the table of the
#      lowest laser power and optical and total aJ/MAC for both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
lumac=build/app/lumac
model=data/models/fmnist_cnn.h5
mkdir -p results
start=$(date +%s)

echo "== 1. devices of the default preset"
"$lumac" devices
echo
echo "== 2. one dot product of fan-in 400 (conv2 of fmnist_cnn) at the default 1 mW"
"$lumac" enob --fan-in 400 --vectors positive --monte-carlo 20000
echo
echo "== 3. laser-power sweep of fmnist_cnn with physical noise (10,000 test images, 2 seeds)"
"$lumac" sweep --model "$model" --noise physical --param laser.power_W=1e-4:1e-1:13:log --seeds 2 \
  --out results/laser_sweep.h5 --force
/usr/bin/python3 scripts/plot.py results/laser_sweep.h5 --out-dir results
echo
echo "== 4. learned per-layer precision against uniform precision (physical noise)"
"$lumac" precision --model "$model" --noise physical --out results/precision_physical.h5 --force
echo
echo "main job done in $(( $(date +%s) - start )) s; results in results/"
