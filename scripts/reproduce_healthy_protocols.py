#!/usr/bin/env python
"""Motor-pool protocols on the healthy circuit: triangular ramp (recruitment, Delta F),
steady drive (ISI CV) and reciprocal Ia inhibition, over seeds and knob settings.

    .venv/bin/python scripts/reproduce_healthy_protocols.py [--seeds 5] [--out DIR]

For every seed it runs

- configs/healthy_triangle.toml at pic_gain 0.7 (healthy), 0 (no PIC) and 1.0 (raised);
- configs/healthy_steady.toml;
- configs/reciprocal_inhibition.toml intact and with projections.iain_ant_mn.weight_nS=0;

and writes, under results/healthy_protocols/:

- runs/<condition>_seed<k>.h5   one run file each, with the "rates" metric (and for the
                                ramps "delta_f" and "firing") stored under /metrics;
- metrics.csv                   one row per run (columns below);
- delta_f_pairs.csv             every control/test pair of every ramp run, with the
                                validity criteria (mnsim.analysis.delta_f_pairs);
- summary.json                  mean, sd, min, max per condition and metric;
- healthy_protocols.png         the figure (copied small to docs/figures/).

Columns: delta_f_Hz (mean over test units of their mean Delta F over valid control
units), delta_f_units, delta_f_pairs, recruitment_order (Spearman of unit index with
first spike), recruited, recruit_drive_first_Hz / _last_Hz (descending rate at the
recruitment of the first and last recruited unit), isi_cv_median / isi_cv_units (units
firing throughout 3-12 s of steady drive), peak_onset_ms (agonist volley ->
monosynaptic peak), trough_onset_ms (antagonist volley -> disynaptic trough),
disynaptic_lag_ms (their difference), inhibition (1 - count / baseline over 5 ms from
the trough onset). Definitions: docs/model.md, "Analysis metrics".
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import mnsim
from _reproduce import save_with_gallery_copy
from mnsim.analysis import (compute_metrics, delta_f_pairs, psth, psth_response,
                            recruitment_order, recruitment_thresholds, smoothed_rate,
                            steady_isi_cv, stimulus_times_ms, write_metrics)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
OUT = ROOT / "results" / "healthy_protocols"
FIGURE = ROOT / "docs" / "figures" / "healthy_protocols.png"
STEADY_FROM_ms = 3000.0

#: (condition, config, overrides)
CONDITIONS = [
    ("triangle", "healthy_triangle", []),
    ("triangle_no_pic", "healthy_triangle", ["populations.mn.pic_gain=0"]),
    ("triangle_raised_pic", "healthy_triangle", ["populations.mn.pic_gain=1.0"]),
    ("steady", "healthy_steady", []),
    ("reciprocal", "reciprocal_inhibition", []),
    ("reciprocal_no_iain", "reciprocal_inhibition",
     ["projections.iain_ant_mn.weight_nS=0"]),
]


def measure(cond: str, res: mnsim.Result, path: Path) -> tuple[dict, pd.DataFrame | None]:
    """Metrics of one run (stored in its file too) and, for ramps, its pair table."""
    row: dict[str, float] = {}
    pairs = None
    names = ["rates"]
    if cond.startswith("triangle"):
        names += ["delta_f", "firing"]
        pairs = delta_f_pairs(res, "mn")
        per = pairs[pairs.valid].groupby("test").delta_f_Hz.mean()
        th = recruitment_thresholds(res, "mn", "descending").sort_values("recruit_ms")
        row.update(delta_f_Hz=per.mean(), delta_f_sd_Hz=per.std(),
                   delta_f_units=len(per), delta_f_pairs=int(pairs.valid.sum()),
                   recruitment_order=recruitment_order(res, "mn"), recruited=len(th),
                   recruit_drive_first_Hz=th.recruit_drive_Hz.iloc[0],
                   recruit_drive_last_Hz=th.recruit_drive_Hz.iloc[-1])
    elif cond == "steady":
        cv = steady_isi_cv(res, "mn", STEADY_FROM_ms)
        row.update(isi_cv_median=cv.median(), isi_cv_units=len(cv),
                   rate_Hz_median=float(np.median(
                       res.rates("mn", STEADY_FROM_ms)[cv.index])))
    else:
        ant = psth_response(res, "mn", stimulus_times_ms(res, "ia_ant"))
        ago = psth_response(res, "mn", stimulus_times_ms(res, "ia"))
        row.update(peak_onset_ms=ago["peak_onset_ms"],
                   trough_onset_ms=ant["trough_onset_ms"],
                   disynaptic_lag_ms=ant["trough_onset_ms"] - ago["peak_onset_ms"],
                   inhibition=ant["inhibition"], excitation=ago["excitation"])
    write_metrics(path, compute_metrics(res, names), names)
    return row, pairs


def run_all(seeds: list[int], out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    (out / "runs").mkdir(parents=True, exist_ok=True)
    jobs = [(c, s) for s in seeds for c in CONDITIONS]
    rows, pair_tables = [], []
    for (cond, name, over), seed in tqdm(jobs, unit="run", desc="healthy protocols"):
        cfg = mnsim.load_config(CONFIGS / f"{name}.toml", over + [f"simulation.seed={seed}"])
        path = out / "runs" / f"{cond}_seed{seed}.h5"
        res = mnsim.simulate(cfg, path, overwrite=True)
        row, pairs = measure(cond, res, path)
        rows.append({"condition": cond, "config": name, "seed": seed,
                     "file": str(path.relative_to(out)), **row})
        if pairs is not None:
            pair_tables.append(pairs.assign(condition=cond, seed=seed))
    return pd.DataFrame(rows), pd.concat(pair_tables, ignore_index=True)


def ramp_panel(ax, res: mnsim.Result, pairs: pd.DataFrame) -> None:
    """Smoothed rates of a few units over the drive; one valid pair's Delta F drawn."""
    t, ids = res.spike_arrays("mn")
    grid = np.arange(0.0, res.duration_ms, 20.0)
    v = pairs[pairs.valid]
    # the pair shown: the earliest control with the test unit whose Delta F is the median
    med = v.groupby("test").delta_f_Hz.mean()
    test = int(med.index[np.argsort(med.to_numpy())[len(med) // 2]])
    control = int(v[v.test == test].control.min())
    th = recruitment_thresholds(res, "mn", "descending")
    shown = sorted({control, test, *th.sort_values("recruit_ms").index[::6][:6]})
    for n in shown:
        tn = np.sort(t[ids == n])
        sp = th.loc[n]
        tn = tn[(tn >= sp.recruit_ms) & (tn <= sp.derecruit_ms)]
        r = smoothed_rate(tn, grid)
        r[(grid < sp.recruit_ms) | (grid > sp.derecruit_ms)] = np.nan
        style = ({"lw": 1.6, "color": "C3" if n == control else "C0"}
                 if n in (control, test) else {"lw": 0.7, "color": "0.6"})
        ax.plot(grid / 1000.0, r, **style)
    tc = np.sort(t[ids == control])
    tc = tc[(tc >= th.recruit_ms[control]) & (tc <= th.derecruit_ms[control])]
    on, off = th.recruit_ms[test], th.derecruit_ms[test]
    f_on, f_off = smoothed_rate(tc, [on, off])
    for x, f in ((on, f_on), (off, f_off)):
        ax.axvline(x / 1000.0, color="C0", ls=":", lw=0.8)
        ax.plot(x / 1000.0, f, "o", color="C3", ms=4)
    ax.annotate("", xy=(off / 1000.0 + 0.4, f_off), xytext=(off / 1000.0 + 0.4, f_on),
                arrowprops={"arrowstyle": "<->", "color": "k", "lw": 0.8})
    ax.hlines([f_on, f_off], on / 1000.0, off / 1000.0 + 0.6, color="C3", lw=0.6, ls="--")
    ax.text(0.02, 0.97, f"ΔF = {f_on - f_off:.1f} pps: control {control}'s rate at test "
            f"{test}'s\nrecruitment minus at its derecruitment (dotted)",
            transform=ax.transAxes, fontsize=7, va="top")
    drive = ax.twinx()
    prof = res.config.sources["descending"].rate_Hz
    drive.plot([prof.t_start_ms / 1000, prof.t_peak_ms / 1000, prof.t_end_ms / 1000],
               [0, prof.peak_Hz, 0], color="C2", lw=0.8)
    drive.set_ylabel("descending drive (Hz per generator)", fontsize=7, color="C2")
    drive.tick_params(labelsize=7)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("smoothed rate (pps)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(f"ramp, seed {res.seed}: rates (red control, blue test)",
                 fontsize=8.5)


def figure(df: pd.DataFrame, pairs: pd.DataFrame, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seed = int(df.seed.min())
    fig = plt.figure(figsize=(11, 7.2))
    gs = fig.add_gridspec(2, 3, width_ratios=[1.6, 1, 1], hspace=0.5, wspace=0.5)
    row = df[(df.condition == "triangle") & (df.seed == seed)].iloc[0]
    res = mnsim.open(out / row.file)
    ramp_panel(fig.add_subplot(gs[0, 0]),
               res, pairs[(pairs.condition == "triangle") & (pairs.seed == seed)])

    ax = fig.add_subplot(gs[0, 1])
    th = recruitment_thresholds(res, "mn", "descending")
    ax.plot(th.index, th.recruit_drive_Hz, "^", ms=3, color="C0", label="recruitment")
    ax.plot(th.index, th.derecruit_drive_Hz, "v", ms=3, color="C1",
            label="derecruitment")
    ax.set_xlabel("unit (0 = smallest)", fontsize=8)
    ax.set_ylabel("descending drive (Hz)", fontsize=8)
    ax.set_title(f"thresholds; Spearman order {row.recruitment_order:.2f}", fontsize=8.5)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)

    ax = fig.add_subplot(gs[0, 2])
    labels = {"triangle_no_pic": "PIC gain 0", "triangle": "0.7 (healthy)",
              "triangle_raised_pic": "1.0"}
    ax.axhspan(2.0, 5.0, color="C2", alpha=0.12, lw=0, label="human 2-5 pps")
    for x, (cond, lab) in enumerate(labels.items()):
        p = pairs[(pairs.condition == cond) & pairs.valid]
        per = p.groupby(["seed", "test"]).delta_f_Hz.mean()
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(per))
        ax.plot(x + jitter, per, ".", ms=2.5, color="0.55")
        m = df[df.condition == cond].delta_f_Hz
        ax.errorbar(x, m.mean(), yerr=m.std(), color="k", marker="o", capsize=3)
    ax.axhline(0, color="0.3", lw=0.5)
    ax.set_xticks(range(len(labels)), labels.values(), fontsize=7)
    ax.set_ylabel("ΔF per test unit (pps)", fontsize=8)
    ax.set_title("ΔF over PIC gain (dots: units;\nblack: mean ± sd over seeds)",
                 fontsize=8.5)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.tick_params(labelsize=7)

    for col, (src, title) in enumerate((("ia_ant", "antagonist Ia volley"),
                                        ("ia", "agonist Ia volley"))):
        ax = fig.add_subplot(gs[1, col])
        for cond, color, lab in (("reciprocal", "C0", "intact"),
                                 ("reciprocal_no_iain", "C1", "Ia-IN → MN weight 0")):
            r = df[(df.condition == cond) & (df.seed == seed)].iloc[0]
            rr = mnsim.open(out / r.file)
            stims = stimulus_times_ms(rr, src)
            h = psth(rr, "mn", stims)
            b = h["count"][h.t_ms < 0].mean()
            ax.step(h.t_ms, h["count"] / b, where="post", color=color, lw=0.9,
                    label=lab)
            key = "trough_onset_ms" if src == "ia_ant" else "peak_onset_ms"
            if np.isfinite(r[key]):
                ax.axvline(r[key], color=color, ls=":", lw=0.9)
        ax.axhline(1.0, color="0.3", lw=0.5)
        ax.set_xlim(-10, 25)
        ax.set_xlabel(f"time after {title} (ms)", fontsize=8)
        ax.set_ylabel("agonist MN spikes / baseline", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False, loc="upper right")
    rec = df[df.condition == "reciprocal"]
    fig.axes[-2].set_title(
        f"reciprocal inhibition: trough at {rec.trough_onset_ms.mean():.1f} ms,\n"
        f"firing −{100 * rec.inhibition.mean():.0f} % for 5 ms (mean of seeds)",
        fontsize=8.5)
    fig.axes[-1].set_title(f"monosynaptic peak at {rec.peak_onset_ms.mean():.1f} ms:\n"
                           f"the trough is {rec.disynaptic_lag_ms.mean():.1f} ms later",
                           fontsize=8.5)

    ax = fig.add_subplot(gs[1, 2])
    st = df[df.condition == "steady"]
    r = mnsim.open(out / st[st.seed == seed].iloc[0].file)
    cv = steady_isi_cv(r, "mn", STEADY_FROM_ms)
    ax.hist(cv, bins=np.arange(0.0, 0.5, 0.025), color="C0")
    ax.axvspan(0.1, 0.2, color="C2", alpha=0.12, lw=0, label="human ~0.1-0.2")
    ax.set_xlabel("ISI CV under steady drive", fontsize=8)
    ax.set_ylabel("units", fontsize=8)
    ax.set_title(f"median {st.isi_cv_median.mean():.2f} ± {st.isi_cv_median.std():.2f} "
                 f"over seeds", fontsize=8.5)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)
    fig.suptitle("Healthy motor pool: ramp contraction (ΔF, recruitment), steady "
                 "discharge, reciprocal Ia inhibition", fontsize=10)
    return save_with_gallery_copy(fig, out / "healthy_protocols.png", 110, FIGURE, 75)


def summarise(df: pd.DataFrame) -> dict:
    num = df.drop(columns=["config", "seed", "file"])
    out = {}
    for cond, g in num.groupby("condition", sort=False):
        g = g.drop(columns="condition").dropna(axis=1, how="all").astype(float)
        out[cond] = {k: {"mean": float(g[k].mean()), "sd": float(g[k].std()),
                         "min": float(g[k].min()), "max": float(g[k].max())}
                     for k in g.columns}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1 ... N [5]")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--figure-only", action="store_true",
                    help="redraw the figure from an earlier run's metrics.csv and "
                         "delta_f_pairs.csv")
    args = ap.parse_args()
    if args.figure_only:
        path = figure(pd.read_csv(args.out / "metrics.csv"),
                      pd.read_csv(args.out / "delta_f_pairs.csv"), args.out)
        print(f"wrote {path}; {FIGURE}")
        return
    shutil.rmtree(args.out / "runs", ignore_errors=True)
    seeds = list(range(1, args.seeds + 1))
    df, pairs = run_all(seeds, args.out)
    df.to_csv(args.out / "metrics.csv", index=False)
    pairs.to_csv(args.out / "delta_f_pairs.csv", index=False)
    summary = summarise(df)
    (args.out / "summary.json").write_text(json.dumps(
        {"seeds": seeds, "conditions": {c: f"configs/{n}.toml {' '.join(o)}".strip()
                                        for c, n, o in CONDITIONS},
         "metrics": summary}, indent=1))
    for cond, metrics in summary.items():
        print(cond)
        for k, v in metrics.items():
            print(f"  {k:26s} {v['mean']:8.3f} ± {v['sd']:6.3f}   "
                  f"[{v['min']:.3f}, {v['max']:.3f}]")
    h = pairs[(pairs.condition == "triangle") & pairs.valid]
    per = h.groupby(["seed", "test"]).delta_f_Hz.mean()
    print(f"healthy Delta F over all test units and seeds: {per.mean():.2f} ± "
          f"{per.std():.2f} pps (n = {len(per)} units, {len(h)} valid pairs)")
    path = figure(df, pairs, args.out)
    print(f"wrote {args.out}/runs/*.h5, metrics.csv, delta_f_pairs.csv, summary.json, "
          f"{path.name}; {FIGURE}")


if __name__ == "__main__":
    main()
