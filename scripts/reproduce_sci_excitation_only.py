#!/usr/bin/env python
"""Reproduce the excitation-only control: a large but short reflex.

    .venv/bin/python scripts/reproduce_sci_excitation_only.py [--seeds 5] [--out DIR] [--set KEY=VALUE]

Runs configs/sci_excitation_only.toml once per seed and writes results/sci_excitation_only/: one HDF5 file per
seed (metrics stored in the file), metrics.csv, summary.json and sci_excitation_only.png
(see scripts/_reproduce.py).
"""
from __future__ import annotations

from _reproduce import main

if __name__ == "__main__":
    main("sci_excitation_only", __doc__)
