#!/usr/bin/env bash
# Reproduces the ResNet rows of docs/results.md on the bundled fmnist_resnet (data/models):
#   1. clean accuracy and the graph (lumac import's summary of the committed model file);
#   2. accuracy against detected photons per MAC under shot noise (lumac eval, 2 seeds a point);
#   3. accuracy against laser power under physical noise (lumac sweep, 2 seeds a point);
#   4. learned against uniform per-node precision at -1 and -2 points under shot noise, for
#      each seed given (lumac precision), then the savings per seed with their mean and spread.
#
# Usage: scripts/results_resnet.sh [seed ...]   (default: 1 2 3)
# Writes results/resnet/; about 15 minutes per seed on 2 idle cores (the precision study), plus
# 10 minutes for the two curves.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
((${#seeds[@]})) || seeds=(1 2 3)
lumac=build/app/lumac
model=data/models/fmnist_resnet.h5
out=results/resnet
mkdir -p "$out"

echo "== shot noise: accuracy against detected photons per MAC" >&2
for e in 1 2 4 8 16 32 64 128; do
  "$lumac" eval --model "$model" --noise shot --photons-per-mac "$e" --seeds 2 --json > "$out/shot_E$e.json"
  /usr/bin/python3 -c "import json,sys; j=json.load(open('$out/shot_E$e.json')); print('E = $e photons/MAC: accuracy %.4f +- %.4f (clean %.4f)' % (j['accuracy_mean'], j['accuracy_std'], j['clean_accuracy']))"
done

echo "== physical noise: accuracy against laser power" >&2
"$lumac" sweep --model "$model" --noise physical --param laser.power_W=1e-4:1e-1:7:log --seeds 2 \
  --out "$out/laser_sweep.h5" --csv "$out/laser_sweep.csv" --force > /dev/null
cat "$out/laser_sweep.csv" | cut -d, -f1-4

dirs=()
for seed in "${seeds[@]}"; do
  [[ "$seed" =~ ^[0-9]+$ ]] || { echo "results_resnet: seed '$seed' is not a whole number" >&2; exit 2; }
  echo "== learned against uniform precision, shot noise, seed $seed" >&2
  dir="$out/seed$seed"
  mkdir -p "$dir"
  "$lumac" precision --model "$model" --noise shot --seed "$seed" --json --force \
    --out "$dir/precision_fmnist_resnet_shot.h5" > "$dir/precision_fmnist_resnet_shot.json.part"
  mv "$dir/precision_fmnist_resnet_shot.json.part" "$dir/precision_fmnist_resnet_shot.json"
  dirs+=("$dir")
done
/usr/bin/python3 - "${dirs[@]}" <<'PY'
import json, statistics, sys
runs = [json.load(open(f"{d}/precision_fmnist_resnet_shot.json")) for d in sys.argv[1:]]
print("| seed | target | uniform E | learned E | saving | accuracy uniform / learned "
      "| detected optical aJ/MAC uniform -> learned |")
print("|---|---|---|---|---|---|---|")
for d, r in zip(sys.argv[1:], runs):
    for t in r["targets"]:
        u, l = t["uniform"], t["learned"]
        print(f"| {d.rsplit('seed', 1)[1]} | -{100 * t['drop']:.0f} pt ({t['target_accuracy']:.4f}) "
              f"| {u['energy_per_mac']:.4g} | {l['energy_per_mac']:.4g} "
              f"| {100 * t['saving_fraction']:.1f}% | {u['accuracy']:.4f} / {l['accuracy']:.4f} "
              f"| {u['detected_optical_aJ_per_mac']:.4g} -> {l['detected_optical_aJ_per_mac']:.4g} |")
for i, t in enumerate(runs[0]["targets"]):
    s = [100 * r["targets"][i]["saving_fraction"] for r in runs]
    sd = statistics.stdev(s) if len(s) > 1 else 0.0
    print(f"-{100 * t['drop']:.0f} pt: saving {statistics.mean(s):.1f}% +- {sd:.1f} over {len(s)} seed(s)")
# Where the learned allocation puts energy (first target, first seed): E per node with its MACs.
r = runs[0]
layers = r["layers"]
total = sum(x["macs"] for x in layers)
t = r["targets"][0]
print()
print("| node | MACs | uniform E (ENOB) | learned E (ENOB) |")
print("|---|---|---|---|")
for x, u, l in zip(layers, t["uniform"]["layers"], t["learned"]["layers"]):
    print(f"| {x['name']} | {100 * x['macs'] / total:.2g}% | {u['energy_per_mac']:.3g} ({u['enob']:.2f} b) "
          f"| {l['energy_per_mac']:.3g} ({l['enob']:.2f} b) |")
PY
