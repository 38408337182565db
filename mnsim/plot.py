"""Figures drawn from a run file (never from live engine state)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .result import Result

__all__ = ["plot_run"]


def plot_run(result: Result, path: str | os.PathLike, max_neurons_per_pop: int = 200,
             t_start_ms: float = 0.0, t_stop_ms: float | None = None) -> Path:
    """Raster of every recorded population and the recorded traces, saved as PNG.

    Parameters
    ----------
    result : Result
        From :func:`mnsim.open` or :func:`mnsim.simulate`.
    path : path
        Output PNG file (folders are created).
    max_neurons_per_pop : int
        Raster rows shown per population (the first ones, by node id).
    t_start_ms, t_stop_ms : float
        Time window shown (default: the whole run).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t1 = result.duration_ms if t_stop_ms is None else t_stop_ms
    recorded = result.recorded
    kinds = result.populations
    # neurons first, then sources (inputs get fewer rows)
    pops = ([n for n in kinds if n in recorded and kinds[n]["kind"] == "neurons"]
            + [n for n in kinds if n in recorded and kinds[n]["kind"] != "neurons"])
    groups = result.trace_groups
    traces = [(g["population"], v, name) for name, g in groups.items()
              for v in g["variables"]]
    muscles = result.muscles
    n_rows = 1 + len(traces) + len(muscles)
    fig, axes = plt.subplots(n_rows, 1, figsize=(9, 2.6 + 1.8 * (n_rows - 1)), sharex=True,
                             gridspec_kw={"height_ratios": [2.5] + [1] * (n_rows - 1)},
                             squeeze=False)
    ax = axes[0, 0]
    offset = 0
    ticks, labels = [], []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    shown = {n: min(kinds[n]["size"], max_neurons_per_pop if kinds[n]["kind"] == "neurons"
                    else 50) for n in pops}
    # every set gets at least room for its label (single stimulators, say)
    min_rows = 0.07 * sum(shown.values())
    for j, name in enumerate(pops):
        size = shown[name]
        t, ids = result.spike_arrays(name)
        sel = (ids < size) & (t >= t_start_ms) & (t <= t1)
        ax.scatter(t[sel], ids[sel].astype(np.int64) + offset, s=1.5, marker="|",
                   color=colors[j % len(colors)], linewidths=0.6)
        ticks.append(offset + size / 2)
        sep = "\n" if size >= min_rows else " "  # one line where rows are few
        labels.append(f"{name}{sep}{result.rates().loc[name, 'rate_Hz']:.1f} Hz")
        offset += max(size + max(2, size // 20), min_rows)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(-1, max(offset, 1))
    ax.set_title(f"{result.path.name if result.path else 'run'}  "
                 f"(seed {result.seed}, dt {result.dt_ms:g} ms)", fontsize=9)
    for row, (pop, var, group) in enumerate(traces, start=1):
        da = result.trace(pop, var, group=group)
        da = da.sel(time_ms=slice(t_start_ms, t1))
        a = axes[row, 0]
        shown = da.isel(node_id=slice(0, 5))
        for nid in shown.node_id.values:
            a.plot(shown.time_ms, shown.sel(node_id=nid), lw=0.7, label=f"{pop}[{nid}]")
        unit = da.attrs["units"]
        label = var[: -len(unit) - 1] if var.endswith("_" + unit) else var
        a.set_ylabel(f"{pop} {label}" + (f"\n({unit})" if unit != "1" else ""), fontsize=8)
        a.legend(fontsize=7, loc="upper right", ncol=5, frameon=False)
    for row, name in enumerate(muscles, start=1 + len(traces)):
        m = result.muscle(name)
        a = axes[row, 0]
        emg = m.emg_mV.sel(emg_time_ms=slice(t_start_ms, t1))
        a2 = a.twinx()
        a2.plot(emg.emg_time_ms, emg, color="0.75", lw=0.4)
        a2.set_ylabel("EMG (mV)", fontsize=8, color="0.5")
        a.set_zorder(a2.get_zorder() + 1)
        a.patch.set_visible(False)
        force = m.force_mN.sel(time_ms=slice(t_start_ms, t1))
        a.plot(force.time_ms, force, color="C3", lw=1.2)
        a.set_ylabel(f"{name}\nforce (mN)", fontsize=8)
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 0].set_xlim(t_start_ms, t1)
    return _save(fig, path, dpi=120)


#: Panels of plot_cells: (column, label) in drawing order.
CELL_PANELS = (("rheobase_nA", "rheobase (nA)"),
               ("input_resistance_MOhm", "input resistance (MΩ)"),
               ("ahp_amplitude_mV", "AHP depth (mV)"),
               ("ahp_duration_ms", "AHP duration (ms)"),
               ("membrane_tau_ms", "membrane τ (ms)"),
               ("ramp_hysteresis_nA", "ramp hysteresis (nA)"))


def plot_cells(props, path: str | os.PathLike, ranges: dict | None = None,
               title: str | None = None) -> Path:
    """Measured intrinsic properties (``mnsim.cells.intrinsic_properties``) against the
    node id, one panel per property, with a published range (``ranges``) shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(k, label) for k, label in CELL_PANELS if k in props]
    ncol = 3
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.6 * nrow), squeeze=False)
    x = props.index.to_numpy()
    for ax, (key, label) in zip(axes.flat, panels):
        if ranges and key in ranges:
            lo, hi = ranges[key]
            ax.axhspan(lo, hi, color="0.88", lw=0, label="published range")
        ax.plot(x, props[key].to_numpy(), "o-", ms=2.5, lw=1, color="C0")
        ax.set_ylabel(label)
        ax.set_xlabel("node id (smallest unit first)")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if ranges:
        axes.flat[0].legend(frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, dpi=110)


def _save(fig, path: str | os.PathLike, dpi: int) -> Path:
    """Lay out, write (creating the folder) and close a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
