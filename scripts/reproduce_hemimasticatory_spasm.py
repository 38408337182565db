#!/usr/bin/env python
"""Reproduce hemimasticatory spasm: involuntary bursts and prolonged contractions of one
masseter, the other side quiet.

    .venv/bin/python scripts/reproduce_hemimasticatory_spasm.py [--seeds 5] [--out DIR]

Two conditions, each over seeds 1..N (10 s of rest per run):

- spasm        configs/hemimasticatory_spasm.toml: the left trigeminal motor axons
               have a demyelinated segment that fires ectopic bursts;
- no_ectopic   the same with the ectopic generator off (burst rate 0).

Metrics (mnsim.analysis "twitches", "bursts", "rates"): EMG episodes per minute per
masseter, the longest episode (prolonged contraction) and the fraction of time in
episodes; synchronous bursts (>= 5 units within 10 ms). Writes
results/hemimasticatory_spasm/ (see scripts/_conditions.py) and its figure.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

import mnsim
from mnsim.analysis import motor_spikes

from _conditions import main

CONDITIONS = [("spasm", "hemimasticatory_spasm", []),
              ("no_ectopic", "hemimasticatory_spasm",
               ["sources.ectopic_left.burst_rate_Hz=0"])]
METRICS = ("twitches", "bursts", "rates")
COLUMNS = {"twitch_rate_per_min.masseter_left": "left masseter: EMG episodes (/min)",
           "longest_episode_ms.masseter_left": "left masseter: longest episode (ms)",
           "episode_fraction.masseter_left": "left masseter: time in episodes",
           "burst_rate_per_min.mn_left": "left: synchronous bursts (/min)",
           "twitch_rate_per_min.masseter_right": "right masseter: EMG episodes (/min)",
           "rate_Hz.mn_right": "right motoneurons: mean rate (Hz)"}


def figure(df: pd.DataFrame, out: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = mnsim.open(out / df[df.condition == "spasm"].file.iloc[0])
    fig, axes = plt.subplots(3, 1, figsize=(8, 5.6), sharex=True,
                             gridspec_kw={"height_ratios": [1.6, 1, 1]})
    ax = axes[0]
    for j, side in enumerate(("left", "right")):
        t, ids = motor_spikes(res, f"mn_{side}")
        ax.scatter(t / 1000.0, ids + 110 * j, s=1, marker="|", color=f"C{j}",
                   linewidths=0.5, rasterized=True)
        ax.text(0.05, 110 * j + 88, f"{side} masseter units", fontsize=7)
    ax.set_ylim(-5, 215)
    ax.set_ylabel("motor unit", fontsize=8)
    for j, side in enumerate(("left", "right")):
        m = res.muscle(f"masseter_{side}")
        axes[1].plot(m.time_ms / 1000.0, m.force_mN / 1000.0, color=f"C{j}", lw=0.8,
                     label=side)
        axes[2].plot(m.emg_time_ms / 1000.0, m.emg_mV - 3.0 * j, color=f"C{j}", lw=0.3)
    axes[1].set_ylabel("force (N)", fontsize=8)
    axes[1].legend(fontsize=7, frameon=False, loc="upper right")
    axes[2].set_ylabel("EMG (mV),\nright offset", fontsize=8)
    axes[2].set_xlabel("time at rest (s)", fontsize=8)
    for a in axes:
        a.tick_params(labelsize=7)
    g = df[df.condition == "spasm"]
    axes[0].set_title(
        "Hemimasticatory spasm, seed 1: ectopic bursts of the demyelinated left axons\n"
        f"over {len(g)} seeds: left {g['twitch_rate_per_min.masseter_left'].mean():.0f} "
        f"episodes/min, longest {g['longest_episode_ms.masseter_left'].mean() / 1000:.1f}"
        f" s; right {g['twitch_rate_per_min.masseter_right'].mean():.0f}/min",
        fontsize=8.5)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main("hemimasticatory_spasm", __doc__, CONDITIONS, METRICS, COLUMNS, figure)
