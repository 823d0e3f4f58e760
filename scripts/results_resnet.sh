#!/usr/bin/env bash
# The ResNet rows of docs/results.md: scripts/results_imported.sh on the bundled fmnist_resnet
# (shot-noise curve, physical laser sweep, learned against uniform precision per seed).
# Usage: scripts/results_resnet.sh [seed ...]   (default: 1 2 3); writes results/fmnist_resnet/.
exec "$(dirname "$0")/results_imported.sh" fmnist_resnet "$@"
