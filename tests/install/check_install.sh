#!/usr/bin/env bash
# Installs lumac from a build folder into a scratch prefix, builds the outside project of
# tests/install/project against it with find_package(lumac), runs it and checks that its
# figures equal the lumac CLI's for the same config and seed, and that none of lumac's own
# compile options (-march=native) reached the outside project.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR LUMAC_BINARY
set -euo pipefail
build=$1 src=$2 lumac=$3
prefix=$(mktemp -d "${TMPDIR:-/tmp}/lumac-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix/usr" >"$prefix/install.log"
cmake -S "$src/tests/install/project" -B "$prefix/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix/usr" >"$prefix/configure.log"
cmake --build "$prefix/build" >"$prefix/build.log" 2>&1 || { cat "$prefix/build.log"; exit 1; }
if grep -q -- "-march=native" "$prefix/build/compile_commands.json"; then
  echo "lumac's -march=native reached the outside project" >&2
  exit 1
fi
model="$src/data/models/fmnist_mlp.h5"
read -r enob accuracy < <("$prefix/build/consumer" "$model")
cli_enob=$("$lumac" enob --fan-in 1000 --photons-per-mac 1 --encoding norm-adaptive --sources shot --json |
  /usr/bin/python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["enob_analytic"]))')
cli_accuracy=$("$lumac" eval --model "$model" --limit 500 --noise shot --json |
  /usr/bin/python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["accuracy_mean"]))')
/usr/bin/python3 - "$enob" "$cli_enob" "$accuracy" "$cli_accuracy" <<'PY'
import sys
enob, cli_enob, acc, cli_acc = map(float, sys.argv[1:])
assert enob == cli_enob, f"ENOB {enob} from the installed library, {cli_enob} from the CLI"
assert acc == cli_acc, f"accuracy {acc} from the installed library, {cli_acc} from the CLI"
assert abs(enob - 4.19) < 0.01 and 0.5 < acc <= 1, (enob, acc)
print(f"installed lumac: ENOB {enob:.4f} bits, accuracy {acc:.4f}, equal to the CLI's")
PY
