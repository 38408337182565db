"""A sweep on disk: the folder is the single source of truth.

::

    DIR/spec.toml          the sweep spec as given (text)
    DIR/base.json          the base config it started from (so later edits of the base
                           file cannot change a half-finished sweep)
    DIR/plan.json          every run: run_id, point, replicate, seed, params
    DIR/runs/<id>.h5       ordinary run files (complete ones count as done)
    DIR/runs/<id>.claim    a worker is running it (host, pid, start time)
    DIR/runs/<id>.error.json  its last failure (error, traceback, attempts)
    DIR/summary.h5         one row per run; rebuilt from the files by collect()
    DIR/sweep.lock         held by a process driving the sweep (local / dask)

Status comes from the files alone, so it works where ``sacct`` is denied and whatever
executor ran the runs. One writer per file, always: a run file is written by the one
worker that holds its claim, and the summary only by the driver or ``collect``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from ..config import Config
from .spec import RunPlan, SweepSpec, expand, load_sweep_spec, parse_sweep_spec, run_config

__all__ = ["SweepDir", "SweepLockedError", "create_sweep_dir"]


class SweepLockedError(RuntimeError):
    """Another process is already driving this sweep folder."""


def create_sweep_dir(spec_path: str | os.PathLike, out: str | os.PathLike) -> "SweepDir":
    """Create (or reopen, if it holds the same spec) a sweep folder for ``spec_path``."""
    spec_path = Path(spec_path)
    out = Path(out)
    spec, base = load_sweep_spec(spec_path)
    plans = expand(spec, base, str(spec_path))
    text = spec_path.read_text()
    if (out / "plan.json").exists():
        d = SweepDir(out)
        if (out / "spec.toml").read_text() != text or json.loads(
                (out / "base.json").read_text()) != base:
            raise FileExistsError(f"{out} holds a different sweep; choose another folder "
                                  f"or run `mnsim sweep run {out}` to resume it")
        return d
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    (out / "spec.toml").write_text(text)
    _atomic_write(out / "base.json", json.dumps(base, indent=1))
    _atomic_write(out / "plan.json", json.dumps([p for p, _ in plans], indent=1))
    return SweepDir(out)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _h5_complete(path: Path) -> bool:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return bool(f.attrs.get("complete", False)) and "metrics" in f
    except OSError:
        return False


class SweepDir:
    """An existing sweep folder (see the module doc)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not (self.path / "plan.json").is_file():
            raise FileNotFoundError(f"{self.path} is not a sweep folder (no plan.json); "
                                    f"create one with `mnsim sweep run SPEC -o {self.path}`")
        self.runs_dir = self.path / "runs"
        self._plans: list[RunPlan] | None = None
        self._spec: SweepSpec | None = None
        self._base: dict[str, Any] | None = None

    # -- spec and plan -------------------------------------------------------------------
    def spec(self) -> SweepSpec:
        if self._spec is None:
            self._spec = parse_sweep_spec(self.path / "spec.toml")
        return self._spec

    def plans(self) -> list[RunPlan]:
        if self._plans is None:
            self._plans = [RunPlan(p) for p in
                           json.loads((self.path / "plan.json").read_text())]
        return self._plans

    def config(self, plan: RunPlan) -> Config:
        """The config of one planned run, rebuilt from the stored spec and base.

        Its file keeps the id given in the plan, even if a newer mnsim resolves the config
        differently (new defaults): finished runs are never orphaned by an upgrade.
        """
        if self._base is None:
            self._base = json.loads((self.path / "base.json").read_text())
        return run_config(self.spec(), self._base, plan["params"], plan["seed"],
                          f"{self.path / 'spec.toml'} (run {plan['run_id']})")

    # -- files of one run -----------------------------------------------------------------
    def run_file(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.h5"

    def claim_file(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.claim"

    def error_file(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.error.json"

    def is_done(self, run_id: str) -> bool:
        """Done = the run file is complete, valid HDF5 and carries its metrics."""
        return _h5_complete(self.run_file(run_id))

    def claim(self, run_id: str, stale_after_s: float | None = None) -> bool:
        """Atomically claim a run for this process; False if someone else holds it.

        A claim whose process is gone (same host, dead pid) or older than
        ``stale_after_s`` is broken and taken over: a killed worker cannot block a run.
        """
        path = self.claim_file(run_id)
        info = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                           "started": time.time()})
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self.claim_is_stale(path, stale_after_s):
                    return False
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(info)
            return True
        return False

    def claim_is_stale(self, path: Path, stale_after_s: float | None) -> bool:
        """True if the claim's process is gone (same host) or it is older than
        ``stale_after_s``, or the file is unreadable."""
        try:
            info = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            return True
        if info.get("host") == socket.gethostname() and not _pid_alive(info.get("pid", -1)):
            return True
        return stale_after_s is not None and time.time() - info.get("started", 0) > \
            stale_after_s

    def release(self, run_id: str) -> None:
        self.claim_file(run_id).unlink(missing_ok=True)

    def record_failure(self, run_id: str, error: str, tb: str = "") -> None:
        path = self.error_file(run_id)
        attempts = 0
        if path.exists():
            try:
                attempts = json.loads(path.read_text()).get("attempts", 0)
            except ValueError:
                pass
        _atomic_write(path, json.dumps({"error": error, "traceback": tb,
                                        "attempts": attempts + 1,
                                        "host": socket.gethostname(),
                                        "time": time.time()}, indent=1))

    def failure(self, run_id: str) -> dict[str, Any] | None:
        path = self.error_file(run_id)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            return {"error": "unreadable error file", "attempts": 1}

    # -- whole-sweep views ---------------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """One row per run: run_id, point, replicate, seed, status (done, running,
        failed, pending), error. From the files alone."""
        rows = []
        for p in self.plans():
            rid = p["run_id"]
            if self.is_done(rid):
                st, err = "done", ""
            elif self.claim_file(rid).exists() and not self.claim_is_stale(
                    self.claim_file(rid), None):
                st, err = "running", ""
            elif self.error_file(rid).exists():
                st, err = "failed", (self.failure(rid) or {}).get("error", "")
            else:
                st, err = "pending", ""
            rows.append({"run_id": rid, "point": p["point"], "replicate": p["replicate"],
                         "seed": p["seed"], "status": st, "error": err})
        return pd.DataFrame(rows)

    def counts(self) -> dict[str, int]:
        st = self.status()["status"].value_counts()
        return {k: int(st.get(k, 0)) for k in ("done", "running", "failed", "pending")}

    def collect(self) -> pd.DataFrame:
        """Rebuild the summary table from the run files and write ``summary.h5``."""
        from ..analysis import read_metrics

        status = self.status().set_index("run_id")
        rows = []
        for p in self.plans():
            rid = p["run_id"]
            row = {"run_id": rid, "point": p["point"], "replicate": p["replicate"],
                   "seed": p["seed"], **{f"param.{k}": v for k, v in p["params"].items()},
                   "status": status.loc[rid, "status"], "error": status.loc[rid, "error"],
                   "wall_time_s": np.nan}
            if row["status"] == "done":
                with h5py.File(self.run_file(rid), "r", locking=False) as f:
                    row["wall_time_s"] = float(f.attrs["wall_time_s"])
                    row.update({f"metric.{k}": v for k, v in read_metrics(f).items()})
            rows.append(row)
        df = pd.DataFrame(rows)
        write_table(self.path / "summary.h5", df)
        return df

    # -- the driver lock -----------------------------------------------------------------
    def lock(self) -> "_DirLock":
        return _DirLock(self.path / "sweep.lock")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _DirLock:
    """An exclusive ``flock`` on ``sweep.lock``; a second driver gets a clear error."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> "_DirLock":
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(self.fd, 500, 0).decode(errors="replace").strip()
            os.close(self.fd)
            self.fd = None
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise SweepLockedError(
                    f"{self.path.parent} is already being run by another process "
                    f"({holder or 'unknown'}); wait for it to finish, or stop it, then "
                    f"run again to resume") from None
            raise
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"host {socket.gethostname()} pid {os.getpid()} since "
                           f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# -- the summary table as HDF5 -------------------------------------------------------------
def write_table(path: Path, df: pd.DataFrame) -> None:
    """A DataFrame as one HDF5 dataset per column (strings as UTF-8), written atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with h5py.File(tmp, "w") as f:
        g = f.create_group("summary", track_order=True)
        for col in df.columns:
            values = df[col].to_numpy()
            if values.dtype == object or pd.api.types.is_string_dtype(df[col]):
                data = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v))
                                 else str(v) for v in values], dtype=h5py.string_dtype())
            else:
                data = values
            g.create_dataset(col, data=data)
        f.attrs["n_rows"] = len(df)
    os.replace(tmp, path)


def read_table(path: Path) -> pd.DataFrame:
    with h5py.File(path, "r", locking=False) as f:
        g = f["summary"]
        cols = {}
        for name, ds in g.items():
            v = ds[()]
            if ds.dtype.kind == "O":
                v = np.array([x.decode() if isinstance(x, bytes) else x for x in v],
                             dtype=object)
            cols[name] = v
    return pd.DataFrame(cols)

