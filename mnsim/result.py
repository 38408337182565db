"""The :class:`Result` of a run, live (in memory) or read lazily from its HDF5 file.

Both kinds read through the same small store interface (:mod:`mnsim.io`), so a live result
and its file give the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .config import TRACE_VARIABLES, Config, config_from_dict
from .io import config_dict

__all__ = ["Result"]


class Result:
    """Spikes, traces and provenance of one run.

    Obtain one from :func:`mnsim.simulate` (live) or :func:`mnsim.open` (from a file).

    Examples
    --------
    >>> res = mnsim.simulate(mnsim.load_config("configs/motor_pool.toml"))
    >>> res.spikes("mn").head()              # DataFrame: time_ms, node_id
    >>> res.rates()                          # mean rate per population, Hz
    >>> res.trace("mn", "v_mV")              # xarray: time_ms x node_id, units in attrs
    """

    def __init__(self, store: Any, path: Path | None = None):
        self._store = store
        self.path = path

    # -- provenance ------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes: config, seed, versions, wall time, completion flag."""
        return dict(self._store.attrs)

    @property
    def config(self) -> Config:
        """The resolved configuration the run used."""
        return config_from_dict(config_dict(self._store.attrs), source=str(self.path or
                                                                            "<result>"))

    @property
    def seed(self) -> int:
        return int(self._store.attrs["seed"])

    @property
    def dt_ms(self) -> float:
        return float(self._store.attrs["dt_ms"])

    @property
    def duration_ms(self) -> float:
        return float(self._store.attrs["duration_ms"])

    @property
    def wall_time_s(self) -> float:
        return float(self._store.attrs["wall_time_s"])

    @property
    def populations(self) -> dict[str, dict[str, Any]]:
        """Every population and source: ``{name: {"kind": ..., "size": ...}}``."""
        return self._store.node_sets()

    @property
    def recorded(self) -> list[str]:
        """Populations and sources whose spikes were recorded."""
        return self._store.spike_names()

    @property
    def trace_groups(self) -> dict[str, dict[str, Any]]:
        """Recorded trace groups: ``{name: {"population", "variables", "interval_ms"}}``."""
        return self._store.trace_groups()

    def params(self, population: str) -> pd.DataFrame:
        """Per-neuron parameters as drawn for this run (one row per neuron)."""
        p = self._store.params(population)
        if not p:
            raise KeyError(f"'{population}' has no neuron parameters; populations: "
                           f"{', '.join(n for n, s in self.populations.items() if s['kind'] == 'neurons')}")
        df = pd.DataFrame(p)
        df.index.name = "node_id"
        return df

    # -- spikes ----------------------------------------------------------------------
    def spike_arrays(self, population: str) -> tuple[np.ndarray, np.ndarray]:
        """``(times_ms, node_ids)`` of a population's spikes, in time order."""
        names = self.recorded
        if population not in names:
            known = self.populations
            why = ("was not recorded (see recording.spikes)" if population in known
                   else "is not a population or source of this run")
            raise KeyError(f"'{population}' {why}; recorded: {', '.join(names) or 'none'}")
        return self._store.spike_arrays(population)

    def spikes(self, population: str) -> pd.DataFrame:
        """Spikes of one population or source as a DataFrame (``time_ms``, ``node_id``)."""
        t, ids = self.spike_arrays(population)
        return pd.DataFrame({"time_ms": t, "node_id": ids.astype(np.int64)})

    def rates(self, population: str | None = None, t_start_ms: float = 0.0,
              t_stop_ms: float | None = None) -> pd.DataFrame | pd.Series:
        """Mean firing rates in Hz over ``[t_start_ms, t_stop_ms)``.

        Without ``t_stop_ms`` the window runs to the end of the run and includes spikes
        stamped at exactly ``duration_ms`` (a neuron spiking in the last step).

        With no ``population``: a DataFrame indexed by recorded population/source with
        columns ``size``, ``spikes`` and ``rate_Hz`` (spikes / size / window). With a
        ``population``: a Series of per-neuron rates indexed by ``node_id``.
        """
        t1 = self.duration_ms if t_stop_ms is None else t_stop_ms
        window_s = (t1 - t_start_ms) / 1000.0
        if window_s <= 0:
            raise ValueError(f"empty window [{t_start_ms}, {t1}) ms")
        if t_stop_ms is None:
            t1 = np.inf
        sizes = {n: s["size"] for n, s in self.populations.items()}
        if population is not None:
            t, ids = self.spike_arrays(population)
            sel = (t >= t_start_ms) & (t < t1)
            counts = np.bincount(ids[sel].astype(np.int64), minlength=sizes[population])
            return pd.Series(counts / window_s, name="rate_Hz",
                             index=pd.RangeIndex(sizes[population], name="node_id"))
        rows = []
        for name in self.recorded:
            t, _ = self._store.spike_arrays(name)
            n = int(np.count_nonzero((t >= t_start_ms) & (t < t1)))
            rows.append((name, sizes[name], n, n / sizes[name] / window_s))
        return pd.DataFrame(rows, columns=["population", "size", "spikes", "rate_Hz"]
                            ).set_index("population")

    # -- traces ----------------------------------------------------------------------
    def trace(self, population: str, variable: str, group: str | None = None
              ) -> xr.DataArray:
        """A recorded state variable as a DataArray (``time_ms`` x ``node_id``).

        ``variable`` is one of ``TRACE_VARIABLES`` (e.g. ``"v_mV"``); its unit is in
        ``.attrs["units"]``. If several trace groups record it for ``population``, name
        the ``group`` (a key of ``[recording.traces]``).
        """
        if variable not in TRACE_VARIABLES:
            raise KeyError(f"unknown variable {variable!r}; one of "
                           f"{', '.join(TRACE_VARIABLES)}")
        groups = self.trace_groups
        hits = [n for n, g in groups.items() if g["population"] == population
                and variable in g["variables"] and (group is None or n == group)]
        if not hits:
            have = [f"{g['population']}.{v}" for g in groups.values() for v in g["variables"]]
            raise KeyError(f"no trace of {variable} for '{population}'; recorded: "
                           f"{', '.join(have) or 'none'}")
        if len(hits) > 1:
            raise KeyError(f"{variable} of '{population}' is in several trace groups "
                           f"({', '.join(hits)}); pass group=")
        t, ids, data = self._store.trace_arrays(hits[0], variable)
        return xr.DataArray(
            data, dims=("time_ms", "node_id"),
            coords={"time_ms": t, "node_id": ids.astype(np.int64)},
            name=variable,
            attrs={"units": TRACE_VARIABLES[variable], "population": population,
                   "interval_ms": groups[hits[0]]["interval_ms"]})

    # -- muscles --------------------------------------------------------------------
    @property
    def muscles(self) -> list[str]:
        """Names of the muscles computed for this run (``[muscles.<name>]``)."""
        return self._store.muscle_names()

    def axon_counts(self) -> dict[str, int]:
        """Event counts of the motor-axon model over the run (empty without axons):
        ``births`` (spikes started at a site), ``blocked_births`` (refused by a
        refractory site), ``collisions``, ``ephaptic_excitations``, ``soma_invasions``
        (antidromic spikes that reset the soma)."""
        return {k: v for k, v in self._store.axon_counts().items()
                if k != "pending_overflow"}

    def muscle(self, name: str) -> xr.Dataset:
        """Force (``force_mN`` over ``time_ms``), surrogate EMG (``emg_mV`` over
        ``emg_time_ms``) and per-unit properties (over ``unit``) of one muscle."""
        if name not in self.muscles:
            raise KeyError(f"no muscle {name!r}; this run has: "
                           f"{', '.join(self.muscles) or 'none'} (see [muscles])")
        a = self._store.muscle_arrays(name)
        from .io import MUSCLE_UNITS

        per_unit = ("twitch_peak_mN", "contraction_time_ms", "muap_amplitude_mV",
                    "muap_width_ms")
        ds = xr.Dataset(
            {"force_mN": ("time_ms", a["force_mN"], {"units": "mN"}),
             "emg_mV": ("emg_time_ms", a["emg_mV"], {"units": "mV"}),
             **{k: ("unit", a[k], {"units": MUSCLE_UNITS[k]}) for k in per_unit}},
            coords={"time_ms": a["time_ms"], "emg_time_ms": a["emg_time_ms"],
                    "unit": np.arange(a["twitch_peak_mN"].size)},
            attrs={"pool": a["pool"], "muscle": name})
        return ds

    # -- interoperability -----------------------------------------------------------
    def to_neo(self):
        """The run as a ``neo.Block`` (one Segment): a SpikeTrain per recorded neuron,
        annotated with its population and node id, and an AnalogSignal per trace.

        Needs the optional dependency ``neo`` (``pip install mnsim[neo]``).
        """
        try:
            import neo
            import quantities as pq
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise ImportError("Result.to_neo() needs neo: pip install 'mnsim[neo]'") from exc
        block = neo.Block(name=str(self.path or "mnsim run"),
                          seed=self.seed, mnsim_version=self.attrs.get("mnsim_version"))
        seg = neo.Segment(name="run")
        block.segments.append(seg)
        t_stop = self.duration_ms * pq.ms
        sizes = {n: s["size"] for n, s in self.populations.items()}
        for name in self.recorded:
            t, ids = self._store.spike_arrays(name)
            order = np.argsort(ids, kind="stable")
            t, ids = t[order], ids[order]
            bounds = np.searchsorted(ids, np.arange(sizes[name] + 1))
            for nid in range(sizes[name]):
                st = neo.SpikeTrain(t[bounds[nid]:bounds[nid + 1]] * pq.ms, t_stop=t_stop,
                                    name=f"{name}[{nid}]", population=name, node_id=nid)
                seg.spiketrains.append(st)
        for gname, g in self._store.trace_groups().items():
            for v in g["variables"]:
                tt, ids, data = self._store.trace_arrays(gname, v)
                units = TRACE_VARIABLES[v]
                sig = neo.AnalogSignal(data, units="dimensionless" if units == "1"
                                       else units,
                                       sampling_period=g["interval_ms"] * pq.ms,
                                       name=f"{g['population']}.{v}",
                                       population=g["population"], node_ids=ids.tolist())
                seg.analogsignals.append(sig)
        return block

    def __repr__(self) -> str:
        where = f" file={str(self.path)!r}" if self.path else " (in memory)"
        return (f"<mnsim.Result{where} duration_ms={self.duration_ms:g} "
                f"seed={self.seed} populations={list(self.populations)}>")
