#!/usr/bin/env bash
# Sets up, builds and runs lumac's main job on the default preset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
lumac=build/app/lumac
echo "== lumac devices (default preset data/presets/homodyne_1550.toml)"
"$lumac" devices
