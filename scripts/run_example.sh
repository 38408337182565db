#!/usr/bin/env bash
# Set up (if needed) and run the shipped motor-pool example end to end:
# writes results/motor_pool.h5 (SONATA spikes, traces, provenance) and results/motor_pool.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mnsim run configs/motor_pool.toml -o results/motor_pool.h5 --overwrite "$@"
.venv/bin/mnsim info results/motor_pool.h5
