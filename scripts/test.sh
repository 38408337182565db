#!/usr/bin/env bash
# Set up (if needed) and run the test suite. Extra arguments go to pytest.
# In CI (CI=true), or with MNSIM_TEST_SLURM=1, a one-node SLURM cluster is started first
# (scripts/slurm_local.sh, needs root on Debian) and the SLURM sweep tests must run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${CI:-}" = "true" ] || [ "${MNSIM_TEST_SLURM:-}" = "1" ]; then
    bash scripts/slurm_local.sh >/dev/null
    export MNSIM_REQUIRE_SLURM=1
fi
exec .venv/bin/python -m pytest "$@"
