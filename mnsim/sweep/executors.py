"""Executors: the same runs, the same files, the same numbers, wherever they execute.

Every executor calls :func:`run_one` for each pending run. ``run_one`` is the only code
that writes a run file: it claims the run atomically, simulates to the run's file
(written under a temporary name, renamed when complete), adds the metrics, and on any
error records the failure next to it. Executors only decide where ``run_one`` runs:

- ``local``: a process pool on this machine (kernels compiled or loaded once, in the
  parent, and inherited by the forked workers);
- ``dask``: any ``dask.distributed`` cluster (a ``Client`` from the caller, an address,
  or a dask-jobqueue cluster described in the spec);
- ``slurm``: ``sbatch`` array jobs whose tasks each run a chunk (see :mod:`.slurm`).
"""

from __future__ import annotations


import multiprocessing as mp
import os
import queue
import time
import traceback
from typing import Any, Iterable

from .spec import RunPlan
from .store import SweepDir

__all__ = ["run_one", "run_local", "run_dask", "RunTimeout", "warm_kernels"]


class RunTimeout(TimeoutError):
    """A run exceeded the sweep's ``timeout_s`` (checked after every chunk)."""


def warm_kernels(cfg: Any = None) -> None:
    """Compile (or load from numba's cache) the kernels, so that runs never compile;
    safe to call repeatedly.

    The time loop has two specialisations: plain, and with motor axons or afferent
    release modulation (see :func:`mnsim.engine.advance`). A tiny network compiles the
    plain one; with ``cfg`` (a sweep's first run), a ten-step copy of it compiles the
    one that config needs, with its muscle kernels.
    """
    from ..api import simulate
    from ..config import config_from_dict

    simulate(config_from_dict({
        "simulation": {"duration_ms": 1.0, "dt_ms": 0.1},
        "populations": {"a": {"size": 2, "pic_conductance_nS": 1.0},
                        "b": {"size": 2}},
        "sources": {"s": {"kind": "poisson", "size": 2, "rate_Hz": 10.0}},
        "projections": {"p": {"pre": "s", "post": "a", "receptor": "exc",
                              "probability": 1.0, "delay_ms": 0.5},
                        "q": {"pre": "a", "post": "b", "receptor": "inh",
                              "probability": 1.0, "delay_ms": 0.0}},
        "currents": {"c": {"target": "a", "shape": "constant", "value_nA": 0.1}},
        "muscles": {"m": {"pool": "a"}},
        "recording": {"traces": {"t": {"population": "a", "interval_ms": 0.1}}},
    }, "<warm-up>"))
    if cfg is not None:
        data = cfg.to_dict()
        sim = data["simulation"]
        sim["duration_ms"] = sim["chunk_ms"] = 10 * sim["dt_ms"]
        data["recording"]["traces"] = {}
        simulate(config_from_dict(data, f"<warm-up of {cfg.source}>"))


def run_one(sweep_dir: str, plan: RunPlan, timeout_s: float = 0.0) -> dict[str, Any]:
    """Run one planned run of a sweep (idempotent; safe to call from any worker).

    Returns ``{"run_id", "status", "error", "wall_time_s"}`` with status ``done``,
    ``skipped`` (already done), ``claimed`` (another worker holds it) or ``failed``.
    """
    from ..analysis import compute_metrics, write_metrics
    from ..api import simulate

    d = SweepDir(sweep_dir)
    rid = plan["run_id"]
    out = {"run_id": rid, "status": "skipped", "error": "", "wall_time_s": 0.0}
    if d.is_done(rid):
        return out
    if not d.claim(rid):
        return {**out, "status": "claimed"}
    t0 = time.perf_counter()
    try:
        cfg = d.config(plan)

        def check_time(_t_ms: float) -> None:
            if timeout_s and time.perf_counter() - t0 > timeout_s:
                raise RunTimeout(f"run exceeded timeout_s = {timeout_s:g} s")

        path = d.run_file(rid)
        res = simulate(cfg, path, overwrite=True, progress=check_time)
        names = d.spec().sweep.metrics
        write_metrics(path, compute_metrics(res, names), names)
        d.error_file(rid).unlink(missing_ok=True)
        return {**out, "status": "done", "wall_time_s": time.perf_counter() - t0}
    except Exception as exc:  # recorded next to the run, retried on the next pass
        d.record_failure(rid, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        return {**out, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "wall_time_s": time.perf_counter() - t0}
    finally:
        d.release(rid)


def _bar(total: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc=desc, disable=not progress,
                dynamic_ncols=True)


def _worker_loop(sweep_dir: str, timeout_s: float, tasks: Any, results: Any) -> None:
    """Body of a local worker process: run plans from ``tasks`` until it yields None."""
    while True:
        plan = tasks.get()
        if plan is None:
            return
        results.put(("start", os.getpid(), plan["run_id"]))
        results.put(("end", os.getpid(), run_one(sweep_dir, plan, timeout_s)))


def run_local(d: SweepDir, plans: Iterable[RunPlan], workers: int = 0,
              progress: bool = True) -> list[dict[str, Any]]:
    """Run plans in ``workers`` local processes (0 = all cores).

    Each worker takes runs from a queue. A worker that dies (killed, out of memory)
    fails only the run it was running, which is recorded with its error; a fresh worker
    takes its place and every other run goes on.
    """
    timeout = d.spec().sweep.timeout_s
    todo = [p for p in plans if not d.is_done(p["run_id"])]
    results: list[dict[str, Any]] = []
    if not todo:
        return results
    warm_kernels(d.config(todo[0]))  # compiled once here; forked workers inherit it
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    tasks, replies = ctx.Queue(), ctx.Queue()
    for p in todo:
        tasks.put(p)
    n = min(workers or os.cpu_count() or 1, len(todo))
    for _ in range(n):
        tasks.put(None)
    by_id = {p["run_id"]: p for p in todo}
    running: dict[int, str] = {}  # pid -> run id
    finished: set[str] = set()

    def start_worker() -> Any:
        w = ctx.Process(target=_worker_loop, args=(str(d.path), timeout, tasks, replies),
                        daemon=True)
        w.start()
        return w

    def died(rid: str) -> None:
        d.record_failure(rid, "worker process died while running (killed by a signal or "
                              "out of memory)")
        d.release(rid)
        results.append({"run_id": rid, "status": "failed", "error": "worker process died",
                        "wall_time_s": 0.0})
        finished.add(rid)

    procs = [start_worker() for _ in range(n)]
    with _bar(len(todo), progress, f"sweep {d.path.name}") as bar:
        while len(finished) < len(todo):
            try:
                kind, pid, payload = replies.get(timeout=0.2)
            except queue.Empty:
                kind = None
            if kind == "start":
                running[pid] = payload
            elif kind == "end":
                running.pop(pid, None)
                results.append(payload)
                finished.add(payload["run_id"])
                bar.update(1)
            for i, w in enumerate(procs):
                if w.is_alive() or w.exitcode == 0:
                    continue
                # fail the run it had announced (a run taken but not yet announced is
                # caught by its stale claim below)
                rid = running.pop(w.pid, None)
                if rid is not None and rid not in finished:
                    died(rid)
                    bar.update(1)
                procs[i] = start_worker()  # inherits the dead worker's None in the queue
            if not any(w.is_alive() for w in procs) and replies.empty():
                break
    for w in procs:
        w.join(timeout=5)
    # a worker killed between taking a run and announcing it leaves a stale claim
    for rid in set(by_id) - finished:
        if d.claim_file(rid).exists() and d.claim_is_stale(d.claim_file(rid), None):
            died(rid)
    return results


def run_dask(d: SweepDir, plans: Iterable[RunPlan], client: Any,
             progress: bool = True) -> list[dict[str, Any]]:
    """Run plans on a ``dask.distributed`` cluster through ``client``.

    Kernels are warmed on every worker first (compiled or loaded from numba's cache once
    per worker). A task lost with its worker (``KilledWorker``) is recorded as failed.
    """
    from dask.distributed import as_completed as dask_completed

    timeout = d.spec().sweep.timeout_s
    todo = [p for p in plans if not d.is_done(p["run_id"])]
    if not todo:
        return []
    client.run(warm_kernels, d.config(todo[0]))
    futures = client.map(run_one, [str(d.path)] * len(todo), todo,
                         [timeout] * len(todo), pure=False)
    plan_of = {f.key: p for f, p in zip(futures, todo)}
    results = []
    with _bar(len(todo), progress, f"sweep {d.path.name} (dask)") as bar:
        for fut in dask_completed(futures):
            try:
                results.append(fut.result())
            except Exception as exc:  # KilledWorker, lost connection, ...
                rid = plan_of[fut.key]["run_id"]
                d.record_failure(rid, f"{type(exc).__name__}: {exc}")
                d.release(rid)
                results.append({"run_id": rid, "status": "failed", "error": str(exc),
                                "wall_time_s": 0.0})
            bar.update(1)
    return results
