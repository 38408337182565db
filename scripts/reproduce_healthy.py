#!/usr/bin/env python
"""Reproduce the healthy scenario: a brief cutaneous train evokes a short reflex.

    .venv/bin/python scripts/reproduce_healthy.py [--seeds 5] [--out DIR] [--set KEY=VALUE]

Runs configs/healthy.toml once per seed and writes results/healthy/: one HDF5 file per
seed (metrics stored in the file), metrics.csv, summary.json and healthy.png
(see scripts/_reproduce.py). Then measures the motoneuron pool as in current clamp
(mnsim.cells) and writes mn_cells.csv and mn_cells.png (also docs/figures/
healthy_cells.png), with the rat MG ranges the pool is built from.
"""
from __future__ import annotations

import shutil

import pandas as pd

import mnsim
from mnsim.cells import RAT_MG_RANGES, compare, intrinsic_properties
from mnsim.plot import plot_cells
from _reproduce import ROOT, _to_palette, main

if __name__ == "__main__":
    out, overrides = main("healthy", __doc__)
    cfg = mnsim.load_config(ROOT / "configs" / "healthy.toml", overrides)
    props = intrinsic_properties(cfg, "mn")
    props.to_csv(out / "mn_cells.csv")
    with pd.option_context("display.width", 160):
        print("\nmotoneuron pool, unit 0 -> unit 99, against rat MG (Bakels & Kernell 1993):")
        print(compare(props, RAT_MG_RANGES).round(2).to_string())
        print(f"  AHP half-decay {props.ahp_half_decay_ms.iloc[0]:.1f} -> "
              f"{props.ahp_half_decay_ms.iloc[-1]:.1f} ms (Cormery et al. 2005: slow "
              f"28.6, fast 14.4); membrane tau {props.membrane_tau_ms.iloc[0]:.1f} -> "
              f"{props.membrane_tau_ms.iloc[-1]:.1f} ms")
    fig = plot_cells(props, out / "mn_cells.png", RAT_MG_RANGES,
                     "healthy motoneuron pool, measured as in current clamp "
                     "(grey: rat MG, Bakels & Kernell 1993)")
    _to_palette(fig)
    if not overrides and out.resolve() == (ROOT / "results" / "healthy").resolve():
        shutil.copyfile(fig, ROOT / "docs" / "figures" / "healthy_cells.png")
    print(f"wrote {out}/mn_cells.csv, mn_cells.png")
