#!/usr/bin/env python
"""Reproduce the chronic-SCI scenario: the same train triggers a spasm of over a second.

    .venv/bin/python scripts/reproduce_sci_spasm.py [--seeds 5] [--out DIR] [--set KEY=VALUE]

Runs configs/sci_spasm.toml once per seed and writes results/sci_spasm/: one HDF5 file per
seed (metrics stored in the file), metrics.csv, summary.json and sci_spasm.png
(see scripts/_reproduce.py).
"""
from __future__ import annotations

from _reproduce import main

if __name__ == "__main__":
    main("sci_spasm", __doc__)
