"""Metrics computed from a run's result, by name.

Every metric is a function ``Result -> dict[str, float]`` registered under a name; sweeps
ask for metrics by these names, and :func:`write_metrics` stores the values in the run
file (``/metrics``, one attribute per value, with the metric's definition) so that a
sweep summary can be rebuilt from the run files alone.
"""

from __future__ import annotations

import os
from typing import Callable

import h5py
import numpy as np

from .result import Result

__all__ = ["METRICS", "register_metric", "compute_metrics", "write_metrics",
           "read_metrics"]

MetricFn = Callable[[Result], dict[str, float]]

#: name -> (function, one-line definition stored next to the values)
METRICS: dict[str, tuple[MetricFn, str]] = {}


def register_metric(name: str, definition: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator adding a metric to :data:`METRICS`."""
    def wrap(fn: MetricFn) -> MetricFn:
        METRICS[name] = (fn, definition)
        return fn
    return wrap


@register_metric("rates", "rate_Hz.<name>: spikes of a population or source / size / "
                          "duration, over the whole run")
def _rates(res: Result) -> dict[str, float]:
    r = res.rates()
    return {f"rate_Hz.{name}": float(v) for name, v in r["rate_Hz"].items()}


@register_metric("active_fraction", "active_fraction.<name>: fraction of a population's "
                                    "neurons with at least one spike")
def _active(res: Result) -> dict[str, float]:
    out = {}
    for name, s in res.populations.items():
        if s["kind"] != "neurons" or name not in res._store.spike_names():
            continue
        _, ids = res.spike_arrays(name)
        out[f"active_fraction.{name}"] = float(np.unique(ids).size / s["size"])
    return out


def compute_metrics(res: Result, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Values of the named metrics (a flat dict: metric column -> value)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {', '.join(unknown)}; registered: "
                       f"{', '.join(sorted(METRICS))}")
    out: dict[str, float] = {}
    for n in names:
        out.update(METRICS[n][0](res))
    return out


def write_metrics(path: str | os.PathLike, values: dict[str, float],
                  names: list[str] | tuple[str, ...]) -> None:
    """Store metric values (and their definitions) in a complete run file."""
    with h5py.File(path, "r+") as f:
        g = f.require_group("metrics")
        for k, v in values.items():
            g.attrs[k] = v
        d = f.require_group("metrics/definitions")
        for n in names:
            d.attrs[n] = METRICS[n][1]


def read_metrics(path: str | os.PathLike) -> dict[str, float]:
    """Metric values stored in a run file ({} if none)."""
    with h5py.File(path, "r", locking=False) as f:
        if "metrics" not in f:
            return {}
        return {k: float(v) for k, v in f["metrics"].attrs.items()}
