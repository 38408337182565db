#!/usr/bin/env python
"""Reproduce the H-reflex and M-wave of the healthy circuit and the depression of the
H-reflex at higher stimulation rates, with the smaller depression of chronic SCI.

    .venv/bin/python scripts/reproduce_h_reflex.py [--seeds 3] [--out DIR]

configs/h_reflex.toml stimulates the tibial nerve (Ia volley + the motor axons of the
20 largest units) at 0.1, 0.3, 1 and 2 Hz, for two conditions:

- healthy   post-activation depression at the Ia terminals: each spike uses 60 % of
            the release resource, recovering with tau = 3 s;
- sci       reduced depression, as after chronic SCI: 25 %, tau = 2 s.

Metric "h_reflex" (mnsim.analysis.h_reflex): M-wave (1-15 ms) and H-reflex (15-60 ms)
after each stimulus; h_depression = mean H amplitude of the later stimuli / the first.
Writes results/h_reflex/ (see scripts/_conditions.py) and its figure.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

import mnsim
from mnsim.analysis import h_reflex, stimulus_times_ms

from _conditions import main

FREQUENCIES_Hz = (0.1, 0.3, 1.0, 2.0)
SCI = ["sources.tibial_ia.release_depression=0.25",
       "sources.tibial_ia.release_recovery_ms=2000"]
KEY = "tibial_motor.muscle"


def protocol(frequency_Hz: float) -> list[str]:
    pulses = 4 if frequency_Hz < 0.2 else 6
    over = [f"simulation.duration_ms={100 + pulses / frequency_Hz * 1000:.0f}"]
    for src in ("tibial_ia", "tibial_motor"):
        over += [f"sources.{src}.frequency_Hz={frequency_Hz}",
                 f"sources.{src}.pulses={pulses}"]
    return over


CONDITIONS = [(f"{name}_{f:g}Hz", "h_reflex", [*extra, *protocol(f)])
              for name, extra in (("healthy", []), ("sci", SCI)) for f in FREQUENCIES_Hz]
METRICS = ("h_reflex",)
COLUMNS = {f"m_amplitude_mV.{KEY}": "M-wave, first stimulus (mV)",
           f"h_amplitude_mV.{KEY}": "H-reflex, first stimulus (mV)",
           f"h_latency_ms.{KEY}": "H-reflex onset latency (ms)",
           f"h_depression.{KEY}": "H later / H first"}


def figure(df: pd.DataFrame, out: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ar) = plt.subplots(1, 2, figsize=(9, 3.6),
                                 gridspec_kw={"width_ratios": [1.3, 1]})
    # left: EMG after each stimulus at 1 Hz, healthy (first seed)
    res = mnsim.open(out / df[df.condition == "healthy_1Hz"].file.iloc[0])
    m = res.muscle("muscle")
    t, emg = m.emg_time_ms.to_numpy(), m.emg_mV.to_numpy()
    stims = stimulus_times_ms(res, "tibial_ia")
    for j, s in enumerate(stims):
        sel = (t >= s - 2) & (t < s + 50)
        ax.plot(t[sel] - s, emg[sel] - 6.0 * j, color=plt.cm.viridis(j / len(stims)),
                lw=0.7)
    hr = h_reflex(res, "muscle", stims)
    ax.text(hr.m_latency_ms.iloc[0], 3.5, "M", fontsize=8)
    ax.text(hr.h_latency_ms.iloc[0], 3.5, "H", fontsize=8)
    ax.set_xlabel("time after stimulus (ms)", fontsize=8)
    ax.set_ylabel("EMG (mV), one row per stimulus", fontsize=8)
    ax.set_yticks([])
    ax.set_title("healthy, 1 Hz: the H-reflex shrinks, the M-wave does not", fontsize=8.5)
    # right: H depression over stimulation frequency
    for name, color in (("healthy", "C0"), ("sci", "C3")):
        g = df[df.condition.str.startswith(name + "_")]
        f = g.condition.str.extract(r"_([\d.]+)Hz")[0].astype(float)
        stats = g.assign(f=f).groupby("f")[f"h_depression.{KEY}"].agg(["mean", "std"])
        ar.errorbar(stats.index, stats["mean"], stats["std"].fillna(0.0), marker="o",
                    ms=3, color=color, lw=1, capsize=2,
                    label={"healthy": "healthy", "sci": "reduced depression (chronic SCI)"}
                    [name])
    ar.set_xscale("log")
    ar.set_xticks(FREQUENCIES_Hz, [f"{f:g}" for f in FREQUENCIES_Hz])
    ar.set_ylim(0, 1.1)
    ar.set_xlabel("stimulation rate (Hz)", fontsize=8)
    ar.set_ylabel("H amplitude / first H", fontsize=8)
    ar.legend(fontsize=7, frameon=False)
    ar.set_title(f"rate-dependent depression ({df.seed.nunique()} seeds)", fontsize=8.5)
    for a in (ax, ar):
        a.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main("h_reflex", __doc__, CONDITIONS, METRICS, COLUMNS, figure, seeds=3)
