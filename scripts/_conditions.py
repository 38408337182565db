"""Shared body of the reproductions that compare conditions (hemifacial and
hemimasticatory spasm, H-reflex): each condition (a config plus overrides) runs once
per seed.

Under results/<scenario>/ it writes

- runs/<condition>_seed<k>.h5   every run, its metrics stored in /metrics
                                (mnsim.analysis.write_metrics, definitions included);
- metrics.csv                   one row per run;
- summary.json                  mean and sd per condition of every metric, the metric
                                definitions and the commands' settings;
- <scenario>.png                the scenario's figure (drawn by the calling script).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import mnsim
from mnsim.analysis import METRICS, compute_metrics, write_metrics

from _reproduce import _to_palette

ROOT = Path(__file__).resolve().parents[1]

Condition = tuple[str, str, list[str]]   # (name, config name, overrides)


def run_conditions(scenario: str, conditions: list[Condition], seeds: list[int],
                   metric_names: tuple[str, ...], out: Path, progress: bool = True
                   ) -> pd.DataFrame:
    """Every condition x seed into ``out/runs``; returns the metrics, a row per run."""
    from tqdm.auto import tqdm

    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    rows = []
    jobs = [(c, s) for c in conditions for s in seeds]
    for (cond, config, overrides), seed in tqdm(jobs, desc=scenario, unit="run",
                                                disable=not progress):
        cfg = mnsim.load_config(ROOT / "configs" / f"{config}.toml",
                                [*overrides, f"simulation.seed={seed}"])
        path = runs / f"{cond}_seed{seed}.h5"
        res = mnsim.simulate(cfg, path, overwrite=True)
        values = compute_metrics(res, metric_names)
        write_metrics(path, values, metric_names)
        rows.append({"condition": cond, "seed": seed, "file": f"runs/{path.name}",
                     **values})
    return pd.DataFrame(rows)


def save_tables(scenario: str, df: pd.DataFrame, conditions: list[Condition],
                metric_names: tuple[str, ...], out: Path) -> dict:
    df.to_csv(out / "metrics.csv", index=False)
    num = df.drop(columns=["seed", "file"]).groupby("condition", sort=False)
    summary = {
        "scenario": scenario,
        "conditions": {c: {"config": f"configs/{cfg}.toml", "overrides": o}
                       for c, cfg, o in conditions},
        "seeds": sorted({int(s) for s in df.seed}),
        "mean": num.mean().to_dict(orient="index"),
        "sd": num.std().to_dict(orient="index"),
        "definitions": {n: METRICS[n][1] for n in metric_names},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary


def print_table(df: pd.DataFrame, columns: dict[str, str]) -> None:
    """Mean ± sd over seeds of the chosen metrics, one block per condition."""
    for cond, g in df.groupby("condition", sort=False):
        print(f"{cond} ({len(g)} seeds)")
        for key, label in columns.items():
            v = g[key].to_numpy(float)
            sd = np.nanstd(v, ddof=1) if np.sum(~np.isnan(v)) > 1 else 0.0
            print(f"  {label:46s} {np.nanmean(v):8.2f} ± {sd:6.2f}   "
                  f"[{', '.join(f'{x:.3g}' for x in v)}]")


def main(scenario: str, doc: str, conditions: list[Condition],
         metric_names: tuple[str, ...], columns: dict[str, str],
         figure: Callable[[pd.DataFrame, Path, Path], None], seeds: int = 5) -> None:
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--seeds", type=int, default=seeds, help=f"seeds 1..N [{seeds}]")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / scenario,
                    help=f"output folder [results/{scenario}]")
    ap.add_argument("--figure-copy", type=Path, default=None,
                    help="also copy the figure here (e.g. docs/figures/)")
    args = ap.parse_args()
    out = args.out
    df = run_conditions(scenario, conditions, list(range(1, args.seeds + 1)),
                        metric_names, out)
    save_tables(scenario, df, conditions, metric_names, out)
    print_table(df, columns)
    png = out / f"{scenario}.png"
    figure(df, out, png)
    _to_palette(png)
    if args.figure_copy is not None:
        args.figure_copy.parent.mkdir(parents=True, exist_ok=True)
        args.figure_copy.write_bytes(png.read_bytes())
    print(f"wrote {out}/: {len(df)} run files, metrics.csv, summary.json, {png.name}")
