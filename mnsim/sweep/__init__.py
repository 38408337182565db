"""Parameter sweeps from spec files: local by default, dask or SLURM for clusters.

>>> import mnsim
>>> sw = mnsim.run_sweep("configs/sweeps/pool_pic.toml", "results/sweeps/pool_pic")
>>> sw.summary                     # one row per run: params, seed, status, metrics
>>> sw.to_dataset()                # xarray, indexed by the swept keys and replicate
>>> mnsim.open_sweep("results/sweeps/pool_pic").counts()

See :mod:`mnsim.sweep.spec` for the spec format and :mod:`mnsim.sweep.store` for the
folder layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .executors import RunTimeout, run_dask, run_local, run_one, warm_kernels
from .spec import SweepSpec, load_sweep_spec
from .store import SweepDir, SweepLockedError, create_sweep_dir, read_table

__all__ = ["run_sweep", "open_sweep", "Sweep", "SweepLockedError", "RunTimeout",
           "run_one", "warm_kernels", "SweepSpec", "load_sweep_spec"]


class Sweep:
    """A sweep folder, for analysis: summary table, xarray view, status counts."""

    def __init__(self, path: str | os.PathLike):
        self.dir = SweepDir(path)
        self.path = self.dir.path

    @property
    def spec(self) -> SweepSpec:
        return self.dir.spec()

    def counts(self) -> dict[str, int]:
        """Runs done / running / failed / pending, from the files alone."""
        return self.dir.counts()

    def collect(self) -> pd.DataFrame:
        """Rebuild ``summary.h5`` from the run files and return it."""
        return self.dir.collect()

    @property
    def summary(self) -> pd.DataFrame:
        """One row per run: ``param.<key>`` columns, seed, status, ``metric.<name>``."""
        path = self.path / "summary.h5"
        return read_table(path) if path.exists() else self.collect()

    def to_dataset(self):
        """The summary as an ``xarray.Dataset``.

        A grid sweep is indexed by its swept keys and ``replicate``. With a ``[zip]``
        too, the first zipped key is one more dimension (if its values differ row by
        row) and the other zipped keys are coordinates along it. Sampled sweeps are
        indexed by ``point`` and ``replicate``, with the swept values as coordinates
        along ``point``. Data variables: the metrics (``metric.`` prefix dropped), wall
        time.
        """
        df = self.summary.copy()
        spec = self.spec
        keys = spec.axis_keys()
        metrics = [c for c in df.columns if c.startswith("metric.")]
        values = df[metrics + ["wall_time_s", "seed"]].rename(
            columns={m: m[len("metric."):] for m in metrics})
        zipped = list(spec.zip)
        lead = zipped[0] if zipped else None
        as_axes = keys and spec.sample is None and (
            lead is None or len(set(map(str, spec.zip[lead]))) == len(spec.zip[lead]))
        if as_axes:
            dims = list(spec.grid) + ([lead] if lead else [])
            index = [df[f"param.{k}"].rename(k) for k in dims] + [df["replicate"]]
            ds = values.set_index(pd.MultiIndex.from_arrays(index)).to_xarray()
            for k in zipped[1:]:
                along = dict(zip(map(str, spec.zip[lead]), spec.zip[k]))
                ds = ds.assign_coords({k: (lead, [along[str(v)] for v in
                                                  ds[lead].values])})
        else:
            ds = values.set_index(pd.MultiIndex.from_arrays(
                [df["point"], df["replicate"]])).to_xarray()
            first = df[df.replicate == df.replicate.min()].set_index("point")
            for k in keys:
                ds = ds.assign_coords({k: ("point", first[f"param.{k}"].reindex(
                    ds.point.values).to_numpy())})
        ds.attrs["sweep"] = str(self.path)
        return ds

    def plot(self, metric: str, x: str, y: str | None = None,
             output: str | os.PathLike | None = None) -> Path:
        """Heatmap (x, y) or curve (x) of a metric's mean over replicates, as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ds = self.to_dataset()
        name = metric[len("metric."):] if metric.startswith("metric.") else metric
        if name not in ds:
            raise KeyError(f"no metric {name!r} in {self.path}; have: "
                           f"{', '.join(v for v in ds.data_vars if v not in ('seed',))}")
        for k in (x, y):
            if k is not None and k not in ds.dims:
                raise KeyError(f"{k!r} is not a grid axis of {self.path}; grid axes: "
                               f"{', '.join(d for d in ds.dims if d != 'replicate')}")
        da = ds[name].mean("replicate")
        other = [dname for dname in da.dims if dname not in (x, y)]
        if other:
            da = da.mean(other)
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        if y is None:
            sd = ds[name].std("replicate").mean(other) if other else ds[name].std(
                "replicate")
            ax.errorbar(da[x], da, yerr=sd, marker="o", capsize=3)
            ax.set(xlabel=x, ylabel=name)
        else:
            da.transpose(y, x).plot.pcolormesh(ax=ax, x=x, y=y,
                                               cbar_kwargs={"label": name})
        n_rep = ds.sizes.get("replicate", 1)
        ax.set_title(f"{self.path.name}: mean of {n_rep} replicate(s)", fontsize=9)
        fig.tight_layout()
        out = Path(output) if output else self.path / f"{name}.png"
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out

    def __repr__(self) -> str:
        c = self.counts()
        return f"<mnsim.Sweep {str(self.path)!r} " + " ".join(
            f"{k}={v}" for k, v in c.items()) + ">"


def _dask_client(spec: SweepSpec, address: str | None, own: list[Any],
                 log_dir: Path) -> Any:
    """A client for the spec's dask executor: an address, or a dask-jobqueue cluster."""
    from dask.distributed import Client

    ex = spec.executor
    if address or ex.address:
        own.append(Client(address or ex.address))
        return own[-1]
    if ex.jobqueue is None:
        raise ValueError("the dask executor needs a client, an address, or [executor] "
                         "address / jobqueue in the spec")
    import dask_jobqueue

    log_dir.mkdir(parents=True, exist_ok=True)
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[ex.jobqueue]
    kw: dict[str, Any] = dict(cores=ex.cpus_per_task, processes=ex.cpus_per_task,
                              memory=ex.mem.replace("G", "GiB").replace("M", "MiB"),
                              walltime=ex.time, queue=ex.partition,
                              job_script_prologue=["export HDF5_USE_FILE_LOCKING=FALSE",
                                                   'export NUMBA_CACHE_DIR="${TMPDIR:-/tmp}'
                                                   '/mnsim-numba-$(id -u)"'],
                              scheduler_options={"dashboard_address": None},
                              log_directory=str(log_dir))
    cluster = cls(**kw)
    own.append(cluster)
    cluster.scale(jobs=ex.jobs)
    client = Client(cluster)
    own.insert(0, client)
    client.wait_for_workers(1, timeout=600)
    return client


def open_sweep(path: str | os.PathLike) -> Sweep:
    """Open a sweep folder for analysis (``mnsim.open_sweep``)."""
    return Sweep(path)


def run_sweep(spec_or_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
              executor: str | None = None, workers: int | None = None,
              client: Any = None, address: str | None = None,
              progress: bool = True) -> Sweep:
    """Run every unfinished run of a sweep and rebuild its summary.

    Parameters
    ----------
    spec_or_dir : path
        A sweep spec file (a folder is created, by default ``results/sweeps/<name>``) or
        an existing sweep folder (resumed: finished runs are skipped, failed and partial
        ones run again).
    out : path, optional
        The sweep folder for a new spec.
    executor : {"local", "dask"}, optional
        Overrides ``[executor] kind`` of the spec. For SLURM use
        ``mnsim sweep submit`` (:func:`mnsim.sweep.slurm.submit`).
    workers : int, optional
        Local processes (default: the spec's, 0 = all cores).
    client, address :
        A ``dask.distributed.Client``, or the scheduler address to connect to.

    Raises
    ------
    SweepLockedError
        If another process is driving the same folder.
    """
    p = Path(spec_or_dir)
    if p.is_dir():
        d = SweepDir(p)
    else:
        d = create_sweep_dir(p, out or Path("results") / "sweeps" / p.stem)
    spec = d.spec()
    kind = executor or spec.executor.kind
    with d.lock():
        plans = d.plans()
        if kind == "local":
            run_local(d, plans, workers if workers is not None else spec.executor.workers,
                      progress)
        elif kind == "dask":
            own: list[Any] = []
            if client is None:
                client = _dask_client(spec, address, own, d.path / "slurm" / "logs")
            try:
                run_dask(d, plans, client, progress)
            finally:
                for x in own:  # client first, then the cluster we started
                    x.close()
        elif kind == "slurm":
            raise ValueError("SLURM sweeps are submitted, not driven: use "
                             "`mnsim sweep submit` (then `mnsim sweep status`)")
        else:  # pragma: no cover - validated by the spec model
            raise ValueError(f"unknown executor {kind!r}")
        d.collect()
    return Sweep(d.path)
