#!/usr/bin/env python
"""Reproduce the healthy scenario: a brief cutaneous train evokes a short reflex.

    .venv/bin/python scripts/reproduce_healthy.py [--seeds 5] [--out DIR] [--set KEY=VALUE]

Runs configs/healthy.toml once per seed and writes results/healthy/: one HDF5 file per
seed (metrics stored in the file), metrics.csv, summary.json and healthy.png
(see scripts/_reproduce.py).
"""
from __future__ import annotations

from _reproduce import main

if __name__ == "__main__":
    main("healthy", __doc__)
