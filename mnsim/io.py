"""Run output: one HDF5 file per run, or the same content kept in memory.

File layout (``format = "mnsim-run"``, ``format_version = 1``)::

    /                       attrs: config (resolved, JSON text), config_source, seed,
                            dt_ms, duration_ms, mnsim/numba/numpy/h5py/python versions,
                            created, wall_time_s, complete (False until the run ends)
    /spikes/<name>/         SONATA spike layout; attr sorting = by_time (HDF5 enum)
        timestamps          float64 [ms]
        node_ids            uint64 (ids within the population or source)
    /spikes/<pool>.terminal/  motor-axon spikes arriving at the muscle (pools with an
                            axon; node_ids are the motoneurons')
    /populations/<name>/    attrs kind ("neurons" | "source" | "terminal"), size,
                            first_node
        params/<key>        per-neuron parameter values as drawn (neurons only)
    /axons/                 attrs: counters of the axon model (births, collisions, ...)
    /muscles/<name>/        attr pool; time_ms, force_mN, emg_time_ms, emg_mV, and per
                            motor unit twitch_peak_mN, contraction_time_ms,
                            muap_amplitude_mV, muap_width_ms
    /traces/<group>/        attrs population, interval_ms
        time_ms             float64 (n_samples,)
        node_ids            uint64 (n_neurons,)
        <variable>          float64 (n_samples, n_neurons); attr units

The file is written under a temporary name (``.<name>.<pid>.partial``) in the target
folder and renamed only after ``complete`` is set, so an interrupted run never leaves a
file that looks complete; a pre-existing file at the target is untouched until then.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import uuid
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .build import Network
from .config import TRACE_VARIABLES

__all__ = ["HDF5Writer", "MemoryWriter", "H5Store", "IncompleteRunError", "provenance",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1
#: Units of the datasets of /muscles/<name>/.
MUSCLE_UNITS = {"time_ms": "ms", "force_mN": "mN", "emg_time_ms": "ms", "emg_mV": "mV",
                "twitch_peak_mN": "mN", "contraction_time_ms": "ms",
                "muap_amplitude_mV": "mV", "muap_width_ms": "ms"}
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="u1")
_CHUNK = 1 << 15


class IncompleteRunError(RuntimeError):
    """The file is not a complete mnsim run (interrupted, or still being written)."""


def provenance() -> dict[str, str]:
    """Versions of mnsim and of the libraries that determine its numbers."""
    import numba

    from . import __version__
    return {"mnsim_version": __version__, "numba_version": numba.__version__,
            "numpy_version": np.__version__, "h5py_version": h5py.__version__,
            "hdf5_version": h5py.version.hdf5_version,
            "python_version": platform.python_version()}


def _run_attrs(net: Network, config_source: str) -> dict[str, Any]:
    cfg = net.config
    return {"format": "mnsim-run", "format_version": FORMAT_VERSION,
            "config": cfg.to_json(), "config_source": config_source,
            "seed": cfg.simulation.seed, "dt_ms": net.dt_ms,
            "duration_ms": net.n_steps * net.dt_ms,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **provenance()}


def _split_by_node_set(net: Network, steps: np.ndarray, nodes: np.ndarray):
    """Yield (name, times_ms, local ids) for each node set (population, source, axon
    terminals) with spikes."""
    sets = net.node_sets()
    names = [x[0] for x in sets]
    bounds = np.array([x[2] for x in sets] + [sets[-1][3]])
    which = np.searchsorted(bounds, nodes, side="right") - 1
    for j in np.unique(which):
        sel = which == j
        yield names[j], steps[sel] * net.dt_ms, (nodes[sel] - bounds[j]).astype(np.uint64)


class HDF5Writer:
    """Streams a run into an HDF5 file, chunk by chunk; see the module doc for layout."""

    def __init__(self, path: str | os.PathLike, config_source: str = "<config>",
                 overwrite: bool = False):
        self.path = Path(path)
        self.config_source = config_source
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; choose another output or pass "
                                  f"overwrite=True (--overwrite)")
        token = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"  # unique per writer, not per process
        self.tmp = self.path.with_name(f".{self.path.name}.{token}.partial")
        self.f: h5py.File | None = None

    def begin(self, net: Network) -> None:
        self.net = net
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.f = h5py.File(self.tmp, "w")
        f.attrs.update(_run_attrs(net, self.config_source))
        f.attrs["complete"] = False
        for top in ("populations", "spikes", "traces"):  # keep config order, not a-z
            f.create_group(top, track_order=True)
        rec = net.record_spikes
        for name, kind, a, b in net.node_sets():
            grp = f.create_group(f"populations/{name}")
            grp.attrs.update(kind=kind, size=b - a, first_node=a)
            if name in net.params:
                pg = grp.create_group("params", track_order=True)
                for key, val in net.params[name].items():
                    pg.create_dataset(key, data=val)
            if rec[a:b].any():
                sg = f.create_group(f"spikes/{name}")
                sg.attrs.create("sorting", 2, dtype=SORTING)
                sg.create_dataset("timestamps", shape=(0,), maxshape=(None,), dtype="f8",
                                  chunks=(_CHUNK,)).attrs["units"] = "ms"
                sg.create_dataset("node_ids", shape=(0,), maxshape=(None,), dtype="u8",
                                  chunks=(_CHUNK,))
        for g in net.traces:
            rows = g.n_samples(net.n_steps)
            tg = f.create_group(f"traces/{g.name}")
            tg.attrs.update(population=g.population,
                            interval_ms=g.interval_steps * net.dt_ms)
            tg.create_dataset("time_ms", data=np.arange(rows) * g.interval_steps
                              * net.dt_ms).attrs["units"] = "ms"
            tg.create_dataset("node_ids", data=g.node_ids.astype(np.uint64))
            ncol = g.node_ids.size
            for v in g.variables:
                ds = tg.create_dataset(v, shape=(rows, ncol), dtype="f8",
                                       chunks=(max(1, min(rows, _CHUNK // max(ncol, 1))),
                                               ncol))
                ds.attrs["units"] = TRACE_VARIABLES[v]
        f.flush()  # the header (complete = False) reaches the disk before any chunk

    def spikes(self, steps: np.ndarray, nodes: np.ndarray) -> None:
        for name, t, ids in _split_by_node_set(self.net, steps, nodes):
            g = self.f[f"spikes/{name}"]
            n0 = g["timestamps"].shape[0]
            for key, data in (("timestamps", t), ("node_ids", ids)):
                g[key].resize((n0 + t.size,))
                g[key][n0:] = data

    def traces(self, group: int, start_row: int, rows: np.ndarray) -> None:
        g = self.net.traces[group]
        tg = self.f[f"traces/{g.name}"]
        ncol = g.node_ids.size
        for j, v in enumerate(g.variables):
            tg[v][start_row:start_row + rows.shape[0]] = rows[:, j * ncol:(j + 1) * ncol]

    def spike_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        g = self.f[f"spikes/{name}"]
        return g["timestamps"][()], g["node_ids"][()]

    def muscle(self, name: str, pool: str, signals: dict[str, np.ndarray]) -> None:
        g = self.f.require_group("muscles").create_group(name)
        g.attrs["pool"] = pool
        for key, data in signals.items():
            ds = g.create_dataset(key, data=data)
            ds.attrs["units"] = MUSCLE_UNITS[key]

    def axon_counts(self, counts: dict[str, int]) -> None:
        self.f.require_group("axons").attrs.update(counts)

    def finish(self, wall_time_s: float) -> None:
        self.f.attrs["wall_time_s"] = wall_time_s
        self.f.attrs["complete"] = True
        self.f.close()
        self.f = None
        fd = os.open(self.tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the name says "complete"
        finally:
            os.close(fd)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file (after an error or Ctrl-C)."""
        if self.f is not None:
            try:
                self.f.close()
            finally:
                self.f = None
        self.tmp.unlink(missing_ok=True)


class MemoryWriter:
    """Keeps a run's output in memory, in the same shapes as :class:`H5Store` reads."""

    def __init__(self, config_source: str = "<config>"):
        self.config_source = config_source

    def begin(self, net: Network) -> None:
        self.net = net
        self.attrs: dict[str, Any] = _run_attrs(net, self.config_source)
        self.attrs["complete"] = False
        rec = net.record_spikes
        self._spk: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
            n: [] for n, _, a, b in net.node_sets() if rec[a:b].any()}
        self._tr = [np.empty((g.n_samples(net.n_steps), len(g.variables) * g.node_ids.size))
                    for g in net.traces]
        self._muscles: dict[str, dict[str, Any]] = {}

    def spikes(self, steps: np.ndarray, nodes: np.ndarray) -> None:
        for name, t, ids in _split_by_node_set(self.net, steps, nodes):
            self._spk[name].append((t, ids))

    def traces(self, group: int, start_row: int, rows: np.ndarray) -> None:
        self._tr[group][start_row:start_row + rows.shape[0]] = rows

    def muscle(self, name: str, pool: str, signals: dict[str, np.ndarray]) -> None:
        self._muscles[name] = {"pool": pool, **signals}

    def muscle_names(self) -> list[str]:
        return list(self._muscles)

    def axon_counts(self, counts: dict[str, int] | None = None) -> dict[str, int]:
        if counts is not None:
            self._axon_counts = dict(counts)
        return dict(getattr(self, "_axon_counts", {}))

    def muscle_arrays(self, name: str) -> dict[str, Any]:
        return dict(self._muscles[name])

    def finish(self, wall_time_s: float) -> None:
        self.attrs["wall_time_s"] = wall_time_s
        self.attrs["complete"] = True

    def abort(self) -> None:
        pass

    # -- the store interface read by Result -----------------------------------------
    def spike_names(self) -> list[str]:
        return list(self._spk)

    def spike_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        parts = self._spk[name]
        if not parts:
            return np.empty(0), np.empty(0, np.uint64)
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]))

    def node_sets(self) -> dict[str, dict[str, Any]]:
        net = self.net
        return {n: {"kind": kind, "size": b - a} for n, kind, a, b in net.node_sets()}

    def params(self, name: str) -> dict[str, np.ndarray]:
        return dict(self.net.params.get(name, {}))

    def trace_groups(self) -> dict[str, dict[str, Any]]:
        return {g.name: {"population": g.population, "variables": list(g.variables),
                         "interval_ms": g.interval_steps * self.net.dt_ms}
                for g in self.net.traces}

    def trace_arrays(self, group: str, variable: str
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        j = [g.name for g in self.net.traces].index(group)
        g = self.net.traces[j]
        data = self._tr[j]
        ncol = g.node_ids.size
        k = g.variables.index(variable)
        time_ms = np.arange(data.shape[0]) * g.interval_steps * self.net.dt_ms
        return time_ms, g.node_ids.astype(np.uint64), data[:, k * ncol:(k + 1) * ncol]


class H5Store:
    """Lazy reader of a run file; opens the file only for the duration of each read.

    Files are opened read-only with HDF5 file locking off, which network filesystems
    (NFS, Lustre) need and which is safe because a run file is never modified after its
    rename.
    """

    def __init__(self, path: str | os.PathLike, allow_incomplete: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such file")
        try:
            f = self._open()
        except OSError as exc:
            raise IncompleteRunError(f"{self.path}: not readable as HDF5 ({exc}); an "
                                     f"interrupted run leaves such files") from None
        with f:
            if f.attrs.get("format") != "mnsim-run":
                raise IncompleteRunError(f"{self.path}: not an mnsim run file")
            self.attrs = {k: (v.item() if isinstance(v, np.generic) else v)
                          for k, v in f.attrs.items()}
        if not self.attrs.get("complete", False) and not allow_incomplete:
            raise IncompleteRunError(f"{self.path}: run did not complete (interrupted or "
                                     f"still running); its contents are partial")

    def _open(self) -> h5py.File:
        return h5py.File(self.path, "r", locking=False)

    def spike_names(self) -> list[str]:
        with self._open() as f:
            return list(f["spikes"])

    def spike_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        with self._open() as f:
            g = f[f"spikes/{name}"]
            return g["timestamps"][()], g["node_ids"][()]

    def node_sets(self) -> dict[str, dict[str, Any]]:
        with self._open() as f:
            return {n: {"kind": str(g.attrs["kind"]), "size": int(g.attrs["size"])}
                    for n, g in f["populations"].items()}

    def params(self, name: str) -> dict[str, np.ndarray]:
        with self._open() as f:
            g = f[f"populations/{name}"]
            return {k: v[()] for k, v in g["params"].items()} if "params" in g else {}

    def trace_groups(self) -> dict[str, dict[str, Any]]:
        with self._open() as f:
            return {n: {"population": str(g.attrs["population"]),
                        "variables": [v for v in g if v in TRACE_VARIABLES],
                        "interval_ms": float(g.attrs["interval_ms"])}
                    for n, g in f["traces"].items()}

    def muscle_names(self) -> list[str]:
        with self._open() as f:
            return list(f["muscles"]) if "muscles" in f else []

    def axon_counts(self) -> dict[str, int]:
        with self._open() as f:
            return ({k: int(v) for k, v in f["axons"].attrs.items()} if "axons" in f
                    else {})

    def muscle_arrays(self, name: str) -> dict[str, Any]:
        with self._open() as f:
            g = f[f"muscles/{name}"]
            return {"pool": str(g.attrs["pool"]), **{k: v[()] for k, v in g.items()}}

    def trace_arrays(self, group: str, variable: str
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with self._open() as f:
            g = f[f"traces/{group}"]
            return g["time_ms"][()], g["node_ids"][()], g[variable][()]


def config_dict(attrs: dict[str, Any]) -> dict[str, Any]:
    """The resolved configuration stored in a run's attributes, as a dict."""
    return json.loads(attrs["config"])
