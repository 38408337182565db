#!/usr/bin/env python
"""Spasm-duration phase map: PIC gain x motoneuron chloride reversal (sci_spasm circuit).

    .venv/bin/python scripts/sci_phase_map.py [--workers N]

Runs (or resumes) the sweep configs/sweeps/sci_phase_map.toml into
results/sweeps/sci_phase_map/, prints the table of mean spasm duration (s) over
replicates, and draws the heatmap results/sweeps/sci_phase_map/spasm_duration.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import mnsim

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "configs" / "sweeps" / "sci_phase_map.toml"
OUT = ROOT / "results" / "sweeps" / "sci_phase_map"
METRIC = "reflex_duration_ms.muscle"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=0, help="local processes (0 = all)")
    args = ap.parse_args()
    sw = mnsim.run_sweep(OUT if (OUT / "plan.json").exists() else SPEC, OUT,
                         workers=args.workers)
    print(sw)
    ds = sw.to_dataset()
    mean_s = ds[METRIC].mean("replicate") / 1000.0
    table = mean_s.to_pandas()
    table.index = [f"gain {g:.2f}" for g in table.index]
    table.columns = [f"{e:.0f} mV" for e in table.columns]
    print("mean spasm duration (s) over replicates: rows PIC gain, columns E_Cl of mn")
    print(table.round(2).to_string())
    fig = sw.plot(METRIC, "populations.mn.pic_gain", "populations.mn.inh_reversal_mV",
                  OUT / "spasm_duration.png")
    print(f"wrote {fig}")


if __name__ == "__main__":
    main()
