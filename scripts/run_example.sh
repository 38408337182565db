#!/usr/bin/env bash
# Set up (if needed) and run the main scenario end to end: the same brief cutaneous
# stimulus in a healthy spinal circuit and after chronic spinal cord injury.
# Writes results/healthy.h5 + .png and results/sci_spasm.h5 + .png (SONATA spikes,
# traces, muscle force and EMG, provenance), then describes the spasm run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mnsim run configs/healthy.toml -o results/healthy.h5 --overwrite "$@"
.venv/bin/mnsim run configs/sci_spasm.toml -o results/sci_spasm.h5 --overwrite "$@"
.venv/bin/mnsim info results/sci_spasm.h5
