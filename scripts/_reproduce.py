"""Shared body of scripts/reproduce_<scenario>.py: one scenario over several seeds.

For configs/<name>.toml and each seed it writes

- results/<name>/<name>_seed<seed>.h5   the run, with its metrics stored in /metrics
                                        (mnsim.analysis.write_metrics, definitions
                                        included);
- results/<name>/metrics.csv            one row per seed;
- results/<name>/summary.json           mean, sd, min and max of each metric over seeds,
                                        the seeds, overrides and metric definitions;
- results/<name>/<name>.png             raster and force/EMG of the first seed, with
                                        the measured reflex duration of every seed
                                        (copied to docs/figures/gallery_<name>.png
                                        when written to the default folder without
                                        overrides).

The metrics are mnsim.analysis's "reflex", "response" and "rates" (see docs/model.md,
section "Analysis metrics").
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import mnsim
from mnsim.analysis import (METRICS, compute_metrics, emg_envelope, stimulus_ms,
                            write_metrics)

ROOT = Path(__file__).resolve().parents[1]
METRIC_NAMES = ("reflex", "response", "rates")
MUSCLE = "muscle"
POOL = "mn"


def run_seeds(name: str, seeds: list[int], out_dir: str | Path | None = None,
              overrides: list[str] | tuple[str, ...] = (), progress: bool = True
              ) -> pd.DataFrame:
    """Run configs/<name>.toml once per seed into ``out_dir`` (default results/<name>);
    store each run's metrics in its file and return them, one row per seed."""
    from tqdm.auto import tqdm

    out = Path(out_dir) if out_dir is not None else ROOT / "results" / name
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in tqdm(seeds, desc=name, unit="run", disable=not progress):
        cfg = mnsim.load_config(ROOT / "configs" / f"{name}.toml",
                                [*overrides, f"simulation.seed={seed}"])
        path = out / f"{name}_seed{seed}.h5"
        res = mnsim.simulate(cfg, path, overwrite=True)
        values = compute_metrics(res, METRIC_NAMES)
        write_metrics(path, values, METRIC_NAMES)
        rows.append({"seed": seed, "file": path.name, **values})
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean, sd (ddof 1; NaN for one seed), min and max of every numeric metric."""
    num = df.drop(columns=["seed", "file"]).astype(float)
    return {k: {"mean": float(num[k].mean()), "sd": float(num[k].std()),
                "min": float(num[k].min()), "max": float(num[k].max())}
            for k in num.columns}


def figure(name: str, df: pd.DataFrame, out_dir: Path, path: Path,
           dpi: int = 90) -> Path:
    """Raster (every neuron population, first 100 cells each) and muscle force over the
    EMG envelope of the first seed's run; the measured reflex duration of that run is
    shaded and every seed's is listed in the title. Saved as a palette PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = mnsim.open(out_dir / df.file.iloc[0])
    stim = stimulus_ms(res)
    t0, t1 = max(0.0, stim - 250.0), res.duration_ms
    fig, (ax, af) = plt.subplots(2, 1, figsize=(8, 4.6), sharex=True,
                                 gridspec_kw={"height_ratios": [2.2, 1]})
    offset, ticks, labels = 0, [], []
    pops = [p for p, s in res.populations.items()
            if s["kind"] == "neurons" and p in res.recorded]
    for j, pop in enumerate(pops):
        size = min(res.populations[pop]["size"], 100)
        t, ids = res.spike_arrays(pop)
        sel = (ids < size) & (t >= t0)
        ax.scatter(t[sel], ids[sel].astype(np.int64) + offset, s=1, marker="|",
                   color=f"C{j}", linewidths=0.5, rasterized=True)
        ticks.append(offset + size / 2)
        labels.append(pop)
        offset += size + 5
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(-2, offset)
    durations = df[f"reflex_duration_ms.{MUSCLE}"].to_numpy() / 1000.0
    ax.set_title(f"{name}: reflex duration {durations.mean():.2f} ± "
                 f"{durations.std(ddof=1) if durations.size > 1 else 0.0:.2f} s over "
                 f"{durations.size} seed(s) ({', '.join(f'{d:.2f}' for d in durations)});"
                 f" seed {df.seed.iloc[0]} shown", fontsize=8.5)
    m = res.muscle(MUSCLE)
    te = m.emg_time_ms.to_numpy()
    env = emg_envelope(m.emg_mV.to_numpy(), float(te[1] - te[0]), 50.0)
    ae = af.twinx()
    ae.fill_between(te, env, color="0.7", lw=0, step="mid")
    ae.set_ylabel("EMG env. (mV)", fontsize=8, color="0.45")
    ae.tick_params(labelsize=7)
    af.set_zorder(ae.get_zorder() + 1)
    af.patch.set_visible(False)
    af.plot(m.time_ms, m.force_mN / 1000.0, color="C3", lw=1.0)
    af.set_ylabel("force (N)", fontsize=8)
    af.tick_params(labelsize=7)
    dur = float(df[f"reflex_duration_ms.{MUSCLE}"].iloc[0])
    for a in (ax, af):
        a.axvspan(stim, stim + dur, color="C1", alpha=0.12, lw=0)
    af.set_xlim(t0, t1)
    af.set_xlabel("time (ms); shaded: measured reflex duration (reflex_duration_ms)",
                  fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    _to_palette(path)
    return path


def _to_palette(path: Path, colors: int = 64) -> None:
    """Rewrite a PNG with an adaptive palette (a few times smaller than RGBA)."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=colors)
    small.save(path, optimize=True)


def save_with_gallery_copy(fig, path: Path, dpi: int, gallery: Path,
                           gallery_dpi: int) -> Path:
    """Write a figure to ``path`` and a smaller palette copy to ``gallery`` (the README
    gallery in docs/figures/), then close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    gallery.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(gallery, dpi=gallery_dpi, bbox_inches="tight")
    plt.close(fig)
    _to_palette(gallery)
    return path


def reproduce(name: str, seeds: list[int], out_dir: str | Path | None = None,
              overrides: list[str] | tuple[str, ...] = (), progress: bool = True
              ) -> tuple[pd.DataFrame, dict]:
    """Runs, metrics table, summary and figure of one scenario (see module doc)."""
    out = Path(out_dir) if out_dir is not None else ROOT / "results" / name
    df = run_seeds(name, seeds, out, overrides, progress)
    df.to_csv(out / "metrics.csv", index=False)
    summary = {"scenario": name, "config": f"configs/{name}.toml",
               "overrides": list(overrides), "seeds": [int(s) for s in df.seed],
               "metrics": summarise(df),
               "definitions": {n: METRICS[n][1] for n in METRIC_NAMES}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    path = figure(name, df, out, out / f"{name}.png")
    default_run = not overrides and (
        out_dir is None or Path(out_dir).resolve() == (ROOT / "results" / name).resolve())
    if default_run:
        gallery = ROOT / "docs" / "figures" / f"gallery_{name}.png"
        gallery.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, gallery)  # the README gallery shows the default run
    return df, summary


HEADLINE = {f"reflex_duration_ms.{MUSCLE}": "reflex duration (ms)",
            f"initial_reflex_mV.{MUSCLE}": "initial reflex, peak EMG envelope (mV)",
            f"late_rate_Hz.{POOL}": "motoneuron rate 1-2 s after the stimulus (Hz)",
            f"rest_spikes.{POOL}": "motoneuron spikes at rest (before the stimulus)",
            f"discharge_ms.{POOL}": "last motoneuron spike after the stimulus (ms)",
            "max_rate_Hz.rc": "Renshaw peak rate, 50-ms bins (Hz)",
            "late_rate_Hz.rc": "Renshaw rate 1-2 s after the stimulus (Hz)"}


def main(name: str, doc: str | None = None) -> tuple[Path, list[str]]:
    """Command line of a reproduction script; returns the output folder and overrides."""
    ap = argparse.ArgumentParser(description=(doc or __doc__).strip().splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1..N [5]")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"output folder [results/{name}]")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="KEY.PATH=VALUE", help="config override (repeatable)")
    args = ap.parse_args()
    out = args.out or ROOT / "results" / name
    df, summary = reproduce(name, list(range(1, args.seeds + 1)), out, args.overrides)
    print(f"{name}: {len(df)} seed(s)")
    for key, label in HEADLINE.items():
        if key in df:
            v = df[key].to_numpy(float)
            print(f"  {label:50s} {np.nanmean(v):9.2f} ± "
                  f"{(np.nanstd(v, ddof=1) if v.size > 1 else 0.0):7.2f}   "
                  f"[{', '.join(f'{x:.4g}' for x in v)}]")
    print(f"wrote {out}/: {len(df)} run files, metrics.csv, summary.json, {name}.png")
    return out, list(args.overrides)
