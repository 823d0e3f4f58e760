#!/usr/bin/env bash
# Strong scaling of a distributed sweep on this machine (docs/cluster.md): the same 16-point
# network sweep (bundled CNN, laser power from 0.1 mW to 100 mW) run serially and under
# `mpirun -np 1` and `-np 2`, one OpenMP thread per process, plus a serial run with 2 OpenMP
# threads for comparison. Prints the wall times, speed-ups and efficiencies against the serial
# run of the same invocation (the machine is shared: compare within one run only), checks that
# every file is byte-identical to the serial one, and prints what a point costs and sends.
#
# Usage: scripts/cluster_scaling.sh [test-images]   (default 10000: the whole test set)
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-10000}"
lumac="$PWD/build/app/lumac"
[ -x "$lumac" ] || { echo "cluster_scaling: build first (scripts/setup.sh)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
args=(sweep --model "$PWD/data/models/fmnist_cnn.h5" --limit "$limit"
      --param laser.power_W=1e-4:1e-1:16:log --out s.h5)

calc() { /usr/bin/python3 -c "print($1)"; }

# Runs one configuration in its own folder twice; prints the shorter wall time in seconds (the
# machine is shared: the shorter run is the one less disturbed).
run() {
  local name="$1" threads="$2"
  shift 2
  mkdir -p "$work/$name"
  local best="" start end t
  for _ in 1 2; do
    start=$(date +%s.%N)
    (cd "$work/$name" && OMP_NUM_THREADS="$threads" "$@" "$lumac" "${args[@]}" --force >/dev/null)
    end=$(date +%s.%N)
    t=$(calc "$end - $start")
    best=$(calc "min($t, ${best:-$t})")
  done
  echo "$best"
}

echo "16-point network sweep, fmnist_cnn, $limit test images per point, $(nproc) cores"
# A warm-up run (not timed): the model and dataset files in the page cache.
(cd "$work" && OMP_NUM_THREADS=1 "$lumac" "${args[@]/laser.power_W=1e-4:1e-1:16:log/laser.power_W=1e-3:1e-3:1}" >/dev/null)
t_serial=$(run serial 1)
t_np1=$(run np1 1 mpirun -np 1)
t_np2=$(run np2 1 mpirun -np 2)
t_omp2=$(run omp2 2)
for name in np1 np2 omp2; do
  cmp -s "$work/serial/s.h5" "$work/$name/s.h5" ||
    { echo "cluster_scaling: $name wrote a different file" >&2; exit 1; }
done
printf '%-34s %9s %9s %11s\n' "run" "wall s" "speed-up" "efficiency"
row() { printf '%-34s %9.2f %9.2f %10.0f%%\n' "$1" "$2" "$(calc "$t_serial / $2")" \
          "$(calc "100 * $t_serial / $2 / $3")"; }
row "serial, 1 thread (reference)" "$t_serial" 1
row "mpirun -np 1, 1 thread" "$t_np1" 1
row "mpirun -np 2, 1 thread per rank" "$t_np2" 2
row "serial, 2 OpenMP threads" "$t_omp2" 2
echo "all four files are byte-identical"
# A point's message: the index, then four counted arrays (accuracy per seed, ENOB per layer,
# energy components, extra ENOBs) and three energies, 8 bytes each.
/usr/bin/python3 - "$work/serial/s.h5" "$t_serial" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
points = f["done"].shape[0]
values = 1 + 4 + f["accuracy"].shape[1] + f["enob"].shape[1] + f["energy_components"].shape[1] + 3
print(f"per point: {float(sys.argv[2]) / points:.3f} s of computation (serial), "
      f"{8 * values} bytes sent to rank 0, a partial file of {sum(1 for _ in f)} objects rewritten")
PY
ls -l "$work/serial/s.h5" | awk '{print "sweep file: " $5 " bytes"}'
