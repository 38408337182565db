#!/usr/bin/env python
"""Reproduce hemifacial spasm: the lateral spread response and spontaneous bursts, and
what removes them.

    .venv/bin/python scripts/reproduce_hemifacial_spasm.py [--seeds 5] [--out DIR]

Three conditions, each over seeds 1..N (10 s of biological time per run):

- spasm          configs/hemifacial_spasm.toml: ectopic firing, after-discharges and
                 ephaptic cross-talk at the root exit zone;
- decompressed   configs/hemifacial_decompressed.toml: the same nerve after
                 microvascular decompression (lesion silent);
- nucleus        configs/hemifacial_nucleus.toml: intact nerve, hyperexcitable nucleus
                 (PIC gain x3).

The zygomatic branch is stimulated every 2 s. Metrics (mnsim.analysis "evoked",
"bursts", "twitches"): the response of the mentalis to zygomatic stimulation is the
lateral spread response (presence, onset latency, amplitude); that of the orbicularis
oculi is the direct M-response; bursts = >= 5 motor units within 10 ms at rest.
Writes results/hemifacial_spasm/ (see scripts/_conditions.py) and its figure.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

import mnsim
from mnsim.analysis import motor_spikes, stimulus_times_ms

from _conditions import main

CONDITIONS = [("spasm", "hemifacial_spasm", []),
              ("decompressed", "hemifacial_decompressed", []),
              ("nucleus", "hemifacial_nucleus", [])]
METRICS = ("evoked", "bursts", "twitches", "rates")
LSR, DIRECT = "stim_zyg.mentalis", "stim_zyg.orbicularis_oculi"
COLUMNS = {f"evoked_present.{LSR}": "LSR present (fraction of stimuli)",
           f"evoked_latency_ms.{LSR}": "LSR onset latency (ms)",
           f"evoked_amplitude_mV.{LSR}": "LSR amplitude, peak to peak (mV)",
           f"evoked_latency_ms.{DIRECT}": "direct M-response latency (ms)",
           "burst_rate_per_min.mn_zyg": "bursts at rest, zygomatic pool (/min)",
           "burst_rate_per_min.mn_mand": "bursts at rest, mandibular pool (/min)",
           "burst_units.mn_mand": "motor units per burst, mandibular pool"}


def figure(df: pd.DataFrame, out: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9, 5.6),
                             gridspec_kw={"width_ratios": [1, 1.7]})
    colors = {"spasm": "C3", "decompressed": "C0", "nucleus": "C2"}
    # left: EMG around every zygomatic stimulus, first seed of each condition
    for row, (muscle, title) in enumerate((("mentalis", "mentalis: LSR"),
                                           ("orbicularis_oculi", "orb. oculi: M-response"))):
        ax = axes[row, 0]
        for k, cond in enumerate(df.condition.unique()):
            res = mnsim.open(out / df[df.condition == cond].file.iloc[0])
            m = res.muscle(muscle)
            t, emg = m.emg_time_ms.to_numpy(), m.emg_mV.to_numpy()
            for j, s in enumerate(stimulus_times_ms(res, "stim_zyg")):
                sel = (t >= s - 5) & (t < s + 40)
                ax.plot(t[sel] - s, emg[sel] - 4.0 * k, color=colors[cond], lw=0.6,
                        alpha=0.8, label=cond if j == 0 else None)
        ax.axvline(0, color="0.5", lw=0.5, ls=":")
        lat = df[df.condition == "spasm"][f"evoked_latency_ms.stim_zyg.{muscle}"]
        ax.axvline(lat.mean(), color="C3", lw=0.6, ls="--")
        ax.set_title(f"{title} (onset {lat.mean():.1f} ms)", fontsize=8.5)
        ax.set_ylabel("EMG (mV), offset", fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    axes[1, 0].set_xlabel("time after zygomatic stimulus (ms)", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="lower right", frameon=False)
    # right: spikes at the muscles and mentalis EMG over the whole spasm run
    res = mnsim.open(out / df[df.condition == "spasm"].file.iloc[0])
    ax = axes[0, 1]
    for j, (pool, label) in enumerate((("mn_zyg", "zygomatic"), ("mn_mand",
                                                                  "mandibular"))):
        t, ids = motor_spikes(res, pool)
        ax.scatter(t / 1000.0, ids + 110 * j, s=1, marker="|", color=f"C{j}",
                   linewidths=0.5, rasterized=True)
        ax.text(0.05, 110 * j + 90, label, fontsize=7)
    for s in stimulus_times_ms(res, "stim_zyg"):
        ax.axvline(s / 1000.0, color="0.6", lw=0.5, ls=":")
    ax.set_ylabel("motor unit", fontsize=8)
    ax.set_title("spasm: spikes at the muscles; dotted: stimuli, others spontaneous",
                 fontsize=8.5)
    ax.tick_params(labelsize=7)
    ax = axes[1, 1]
    for cond in ("decompressed", "spasm"):
        r = mnsim.open(out / df[df.condition == cond].file.iloc[0])
        m = r.muscle("mentalis")
        ax.plot(m.emg_time_ms / 1000.0, m.emg_mV, color=colors[cond], lw=0.4,
                label=cond)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("mentalis EMG (mV)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.tick_params(labelsize=7)
    rate = df.groupby("condition", sort=False)["burst_rate_per_min.mn_mand"].mean()
    lsr = df.groupby("condition", sort=False)[f"evoked_present.{LSR}"].mean()
    fig.suptitle("Hemifacial spasm: LSR at "
                 f"{df[df.condition == 'spasm'][f'evoked_latency_ms.{LSR}'].mean():.1f} ms "
                 f"and {rate['spasm']:.0f} bursts/min at rest; decompression: "
                 f"{rate['decompressed']:.0f}/min, LSR after "
                 f"{100 * lsr['decompressed']:.0f} % of stimuli ({df.seed.nunique()} seeds)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main("hemifacial_spasm", __doc__, CONDITIONS, METRICS, COLUMNS, figure)
