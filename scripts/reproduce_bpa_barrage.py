#!/usr/bin/env python
"""Brachial plexus avulsion: twitches at rest and their growth with emotional tone.

    .venv/bin/python scripts/reproduce_bpa_barrage.py [--seeds 5] [--tones 1,1.25,...]

Runs configs/bpa_barrage.toml for every seed at each tone level, and two controls per
seed: healthy.toml at rest (its stimulus train moved after the end of the run) and
bpa_barrage without the barrage (burst rate 0) at the highest tone. Writes, under
results/bpa_barrage/:

- runs/<condition>_seed<k>.h5   one run file each, with the twitches and rates metrics;
- metrics.csv                   one row per run (definitions below);
- bpa_barrage.png               example rasters and EMG/force at baseline and highest
                                tone, twitch rate and spasm measures over tone.

Definitions (mnsim.analysis.twitches: EMG episodes, gaps < 100 ms bridged):
twitches = number of episodes; twitch_rate_per_min = episodes per minute; spasms =
episodes of at least 500 ms [M]; longest_episode_ms; active_fraction = time in
episodes / run duration.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import mnsim
from _reproduce import save_with_gallery_copy
from mnsim.analysis import compute_metrics, twitches, write_metrics

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
OUT = ROOT / "results" / "bpa_barrage"
FIGURE = ROOT / "docs" / "figures" / "bpa_barrage.png"
SPASM_ms = 500.0


def conditions(tones: list[float]) -> list[tuple[str, str, float, list[str]]]:
    """(condition, config name, tone, overrides) of every run per seed."""
    rows = [("healthy", "healthy", 1.0, ["simulation.duration_ms=10000",
                                         "sources.cutaneous.start_ms=2e4"])]
    rows += [(f"tone_{t:g}", "bpa_barrage", t, [f"neuromodulation.tone={t}"])
             for t in tones]
    rows.append((f"no_barrage_tone_{max(tones):g}", "bpa_barrage", max(tones),
                 [f"neuromodulation.tone={max(tones)}", "sources.damaged.burst_rate_Hz=0"]))
    return rows


def measure(res: mnsim.Result) -> dict[str, float]:
    ep, per_min = twitches(res, "muscle")
    d = ep.duration_ms.to_numpy()
    rates = res.rates()["rate_Hz"]
    return {"twitches": len(ep), "twitch_rate_per_min": per_min,
            "spasms": int(np.sum(d >= SPASM_ms)),
            "longest_episode_ms": float(d.max()) if d.size else 0.0,
            "active_fraction": float(d.sum() / res.duration_ms),
            **{f"rate_Hz.{k}": float(v) for k, v in rates.items()}}


def run_all(seeds: list[int], tones: list[float], out: Path) -> pd.DataFrame:
    (out / "runs").mkdir(parents=True, exist_ok=True)
    jobs = [(c, s) for s in seeds for c in conditions(tones)]
    rows = []
    for (cond, name, tone, over), seed in tqdm(jobs, unit="run", desc="bpa_barrage"):
        cfg = mnsim.load_config(CONFIGS / f"{name}.toml",
                                over + [f"simulation.seed={seed}"])
        path = out / "runs" / f"{cond}_seed{seed}.h5"
        res = mnsim.simulate(cfg, path, overwrite=True)
        write_metrics(path, compute_metrics(res, ["twitches", "rates"]),
                      ["twitches", "rates"])
        rows.append({"condition": cond, "config": name, "tone": tone, "seed": seed,
                     "file": str(path.relative_to(out)), **measure(res)})
    return pd.DataFrame(rows)


def raster(ax, res: mnsim.Result, title: str) -> None:
    offset, ticks = 0, []
    for j, name in enumerate(("damaged", "ex_in", "inh_in", "mn")):
        t, ids = res.spike_arrays(name)
        size = res.populations[name]["size"]
        ax.scatter(t / 1000.0, ids.astype(np.int64) + offset, s=3.0, marker="|",
                   color=f"C{j}", linewidths=0.9)
        ticks.append((offset + size / 2, name))
        offset += size + 10
    ax.set_yticks([p for p, _ in ticks], [n for _, n in ticks], fontsize=7)
    ax.set_ylim(-5, offset)
    ax.set_title(title, fontsize=9)


def muscle(ax, res: mnsim.Result) -> None:
    m = res.muscle("muscle")
    ax2 = ax.twinx()
    ax2.plot(m.emg_time_ms / 1000.0, m.emg_mV, color="0.7", lw=0.3)
    ax2.set_ylabel("EMG (mV)", fontsize=7, color="0.5")
    ax2.tick_params(labelsize=7)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(m.force_mN.time_ms / 1000.0, m.force_mN, color="C3", lw=1.0)
    ax.set_ylabel("force (mN)", fontsize=7)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(labelsize=7)
    ep, _ = twitches(res, "muscle")
    for a, b in zip(ep.start_ms, ep.end_ms):
        ax.axvspan(a / 1000.0, b / 1000.0, color="C1", alpha=0.15, lw=0)


def figure(df: pd.DataFrame, out: Path, tones: list[float]) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seed = int(df.seed.min())
    fig = plt.figure(figsize=(11, 6.2))
    gs = fig.add_gridspec(2, 3, height_ratios=[2.2, 1], width_ratios=[1.25, 1.25, 1],
                          hspace=0.3, wspace=0.55)
    for col, tone in enumerate((min(tones), max(tones))):
        row = df[(df.condition == f"tone_{tone:g}") & (df.seed == seed)].iloc[0]
        res = mnsim.open(out / row.file)
        top = fig.add_subplot(gs[0, col])
        raster(top, res, f"tone {tone:g}, seed {seed}: {row.twitches} EMG episodes, "
                         f"longest {row.longest_episode_ms / 1000:.1f} s")
        muscle(fig.add_subplot(gs[1, col], sharex=top), res)
        top.tick_params(labelbottom=False)
    bpa = df[df.config == "bpa_barrage"]
    bpa = bpa[~bpa.condition.str.startswith("no_barrage")]
    g = bpa.groupby("tone")
    healthy = df[df.condition == "healthy"].twitch_rate_per_min.mean()
    ax = fig.add_subplot(gs[0, 2])
    for _, s in bpa.groupby("seed"):
        ax.plot(s.tone, s.twitch_rate_per_min, color="0.8", lw=0.8)
    ax.errorbar(g.tone.first(), g.twitch_rate_per_min.mean(),
                yerr=g.twitch_rate_per_min.std(), color="C0", marker="o", capsize=3,
                label="barrage")
    ax.axhline(healthy, color="C2", ls="--", lw=1, label="healthy rest")
    ax.set_xlabel("emotional tone (neuromodulation.tone)", fontsize=8)
    ax.set_ylabel("twitch rate (EMG episodes / min)", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.tick_params(labelsize=7)
    ax = fig.add_subplot(gs[1, 2])
    ax.errorbar(g.tone.first(), g.longest_episode_ms.mean() / 1000.0,
                yerr=g.longest_episode_ms.std() / 1000.0, color="C3", marker="o",
                capsize=3, label="longest episode (s)")
    ax.errorbar(g.tone.first(), g.spasms.mean(), yerr=g.spasms.std(), color="C1",
                marker="s", capsize=3, label=f"spasms (>= {SPASM_ms / 1000:g} s) per run")
    ax.set_xlabel("emotional tone", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)
    fig.suptitle("Partial brachial plexus avulsion: ectopic barrage from damaged dorsal "
                 "roots, over emotional tone", fontsize=10)
    return save_with_gallery_copy(fig, out / "bpa_barrage.png", 120, FIGURE, 80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1 ... N")
    ap.add_argument("--tones", default="1,1.25,1.5,1.75,2",
                    help="comma-separated neuromodulation.tone levels")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    tones = sorted(float(t) for t in args.tones.split(","))
    if args.out.exists():
        shutil.rmtree(args.out / "runs", ignore_errors=True)
    df = run_all(list(range(1, args.seeds + 1)), tones, args.out)
    df.to_csv(args.out / "metrics.csv", index=False)
    summary = df.groupby(["condition", "tone"], sort=False)[
        ["twitches", "spasms", "longest_episode_ms", "active_fraction", "rate_Hz.mn"]
    ].agg(["mean", "std"])
    pd.set_option("display.width", 160)
    print(summary.round(2).to_string())
    path = figure(df, args.out, tones)
    print(f"\nwrote {args.out}/runs/*.h5, metrics.csv, {path.name}; {FIGURE}")


if __name__ == "__main__":
    main()
