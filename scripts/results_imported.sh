#!/usr/bin/env bash
# Reproduces the rows of docs/results.md for an imported bundled model (data/models/NAME.h5):
#   1. accuracy against detected photons per MAC under shot noise (lumac eval, 2 seeds a point);
#   2. accuracy against laser power under physical noise (lumac sweep, 2 seeds a point);
#   3. learned against uniform per-node precision at -1 and -2 points under shot noise, for
#      each seed given (lumac precision), then the savings per seed with their mean and spread,
#      where the learned allocation puts energy, and (for a model with products of two
#      activations, attention) the share of MACs and of detected optical energy in those
#      products against the products with weights.
#
# Usage: scripts/results_imported.sh NAME [seed ...]   (default seeds: 1 2 3)
#   RESULTS_E="1 2 4 ..."   the shot-noise photons per MAC of step 1 (default 1 2 4 8 16 32 64 128)
#   RESULTS_LASER=LO:HI:N:log  the laser powers of step 2 in W (default 1e-4:1e-1:7:log)
#   RESULTS_NOISE=physical  the noise of step 3 (default shot; E is then the detected photons
#                           per MAC that set each node's share of the laser power)
#   RESULTS_SKIP_CURVES=1   only the precision study
#   RESULTS_SKIP_PRECISION=1  only the curves
#   RESULTS_REUSE=1         keep a seed's precision JSON that is already there (summaries only)
# Writes results/NAME/. fmnist_resnet: about 10 minutes for the curves and 15 to 20 per seed on
# 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 1)) || { echo "usage: scripts/results_imported.sh NAME [seed ...]" >&2; exit 2; }
name=$1
shift
seeds=("$@")
((${#seeds[@]})) || seeds=(1 2 3)
lumac=build/app/lumac
model=data/models/$name.h5
[[ -f "$model" ]] || { echo "results_imported: '$model' does not exist" >&2; exit 2; }
out=results/$name
mkdir -p "$out"
read -r -a energies <<< "${RESULTS_E:-1 2 4 8 16 32 64 128}"
laser=${RESULTS_LASER:-1e-4:1e-1:7:log}
noise=${RESULTS_NOISE:-shot}
[[ "$noise" =~ ^(shot|thermal|weight|physical)$ ]] ||
  { echo "results_imported: RESULTS_NOISE='$noise' must be shot, thermal, weight or physical" >&2; exit 2; }

if [[ -z "${RESULTS_SKIP_CURVES:-}" ]]; then
  echo "== $name, shot noise: accuracy against detected photons per MAC" >&2
  for e in "${energies[@]}"; do
    "$lumac" eval --model "$model" --noise shot --photons-per-mac "$e" --seeds 2 --json > "$out/shot_E$e.json"
    /usr/bin/python3 -c "import json,sys; j=json.load(open('$out/shot_E$e.json')); print('E = $e photons/MAC: accuracy %.4f +- %.4f (clean %.4f)' % (j['accuracy_mean'], j['accuracy_std'], j['clean_accuracy']))"
  done

  echo "== $name, physical noise: accuracy against laser power" >&2
  "$lumac" sweep --model "$model" --noise physical --param "laser.power_W=$laser" --seeds 2 \
    --out "$out/laser_sweep.h5" --csv "$out/laser_sweep.csv" --force > "$out/laser_sweep.txt"
  cat "$out/laser_sweep.txt"
fi

[[ -z "${RESULTS_SKIP_PRECISION:-}" ]] || exit 0
dirs=()
for seed in "${seeds[@]}"; do
  [[ "$seed" =~ ^[0-9]+$ ]] || { echo "results_imported: seed '$seed' is not a whole number" >&2; exit 2; }
  echo "== $name, learned against uniform precision, $noise noise, seed $seed" >&2
  dir="$out/seed$seed"
  mkdir -p "$dir"
  dirs+=("$dir")
  if [[ -n "${RESULTS_REUSE:-}" && -f "$dir/precision_$noise.json" ]]; then
    echo "   (kept $dir/precision_$noise.json)" >&2
    continue
  fi
  "$lumac" precision --model "$model" --noise "$noise" --seed "$seed" --json --force \
    --out "$dir/precision_$noise.h5" > "$dir/precision_$noise.json.part"
  mv "$dir/precision_$noise.json.part" "$dir/precision_$noise.json"
done
/usr/bin/python3 - "$noise" "${dirs[@]}" <<'PY'
import json, statistics, sys
noise = sys.argv.pop(1)
runs = [json.load(open(f"{d}/precision_{noise}.json")) for d in sys.argv[1:]]
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
# Products of two activations against products with weights: MACs, and the detected photons
# (E x MACs) of each allocation, per target and seed.
if any(x.get("operands") == "activations" for x in layers):
    print()
    att = sum(x["macs"] for x in layers if x.get("operands") == "activations")
    print(f"products of two activations: {100 * att / total:.1f}% of the MACs")
    for d, r in zip(sys.argv[1:], runs):
        for t in r["targets"]:
            for kind in ("uniform", "learned"):
                ls = t[kind]["layers"]
                e_att = sum(l["energy_per_mac"] * x["macs"] for x, l in zip(r["layers"], ls)
                            if x.get("operands") == "activations")
                e_all = sum(l["energy_per_mac"] * x["macs"] for x, l in zip(r["layers"], ls))
                print(f"  seed {d.rsplit('seed', 1)[1]}, -{100 * t['drop']:.0f} pt, {kind}: "
                      f"{100 * e_att / e_all:.1f}% of the detected optical energy")
PY
