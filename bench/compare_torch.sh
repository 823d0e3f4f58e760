#!/usr/bin/env bash
# lumac against the PyTorch reference (bench/torch_reference.py) on the same noisy forward pass:
# shot noise of std ||w_i|| ||x|| / sqrt(D E), E = 10 detected photons per MAC, after every
# matrix product, the 10,000 Fashion-MNIST test images in batches of 256, both models, one and
# two threads. Installs Debian's python3-torch if it is missing (a benchmark dependency only).
# Prints a table, then one JSON line: per model lumac_images_per_s, torch_images_per_s,
# speedup (lumac over torch), lumac_accuracy, torch_accuracy (at two threads), and per thread
# count the same under "threads".
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "compare_torch: installing python3-torch" >&2
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-torch >/dev/null
fi
test -x build/app/lumac || scripts/setup.sh build
repeats=5
json="{"
for model in fmnist_mlp fmnist_cnn; do
  json+="\"$model\": {\"threads\": {"
  for threads in 1 2; do
    lumac_json=$(OMP_NUM_THREADS=$threads build/app/lumac eval --model "data/models/$model.h5" \
      --noise shot --photons-per-mac 10 --seeds "$repeats" --json)
    torch_json=$(/usr/bin/python3 bench/torch_reference.py "data/models/$model.h5" \
      --photons-per-mac 10 --threads "$threads" --repeats "$repeats")
    line=$(/usr/bin/python3 - "$lumac_json" "$torch_json" <<'PY'
import json, sys
l, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"lumac_images_per_s": l["images_per_s"], "torch_images_per_s": t["images_per_s"],
                  "speedup": l["images_per_s"] / t["images_per_s"], "lumac_accuracy": l["accuracy_mean"],
                  "lumac_accuracy_std": l["accuracy_std"], "torch_accuracy": t["accuracy"]}))
PY
)
    printf '%-11s %d thread(s): %s\n' "$model" "$threads" "$line" >&2
    json+="\"$threads\": $line, "
  done
  json="${json%, }}, \"top\": $line}, "
done
json="${json%, }}"
/usr/bin/python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
out = {}
for model, v in d.items():
    out[model] = dict(v["top"])
    out[model]["threads"] = v["threads"]
print(json.dumps(out))
PY
