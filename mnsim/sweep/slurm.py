"""SLURM: one ``sbatch`` array job whose tasks each run a chunk of the sweep.

``submit`` returns as soon as ``sbatch`` has accepted the job: nothing watches it from
the login node. Progress is read from the sweep folder (``mnsim sweep status``), which
works where ``sacct`` is denied. ``submit(resume=True)`` resubmits only the chunks that
still hold unfinished runs.

Chunks: the runs are cut into at most ``max_array_size`` (default 1000, under SLURM's
usual MaxArraySize of 1001) contiguous chunks, or into chunks of ``runs_per_task``; the
assignment is saved in ``slurm/chunks.json`` so that every resubmission uses the same
chunks. 10,000 runs become 1,000 tasks of 10 runs, never 10,000 tiny jobs.

Cluster pitfalls handled in the job script:

- numba's on-disk cache on a shared filesystem races between nodes: each task points
  ``NUMBA_CACHE_DIR`` at node-local scratch (``$TMPDIR`` or /tmp), so kernels compile at
  most once per node (numba writes its cache files atomically, so tasks sharing a node
  are safe);
- HDF5 file locking fails on NFS/Lustre: ``HDF5_USE_FILE_LOCKING=FALSE`` (mnsim opens
  files for reading with ``locking=False`` anyway, and every file has one writer, the
  task holding the run's claim).
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
import time
from typing import Any

from .executors import run_one
from .store import SweepDir

__all__ = ["chunks", "job_script", "submit", "run_chunk"]


def chunks(d: SweepDir) -> list[list[str]]:
    """The run ids of each array task (created once, then read from slurm/chunks.json)."""
    path = d.path / "slurm" / "chunks.json"
    if path.exists():
        return json.loads(path.read_text())
    ex = d.spec().executor
    ids = [p["run_id"] for p in d.plans()]
    per = ex.runs_per_task or math.ceil(len(ids) / min(len(ids), ex.max_array_size))
    out = [ids[i:i + per] for i in range(0, len(ids), per)]
    if len(out) > ex.max_array_size:
        raise ValueError(f"{len(out)} array tasks exceed executor.max_array_size = "
                         f"{ex.max_array_size}; raise runs_per_task")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def job_script(d: SweepDir, python: str | None = None) -> str:
    """The sbatch script of the sweep (array indices are given on the command line)."""
    ex = d.spec().executor
    logs = d.path / "slurm" / "logs"
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name=mnsim-{d.path.name}",
             f"#SBATCH --time={ex.time}",
             f"#SBATCH --mem={ex.mem}",
             f"#SBATCH --cpus-per-task={ex.cpus_per_task}",
             f"#SBATCH --output={logs}/%A_%a.out"]
    if ex.partition:
        lines.append(f"#SBATCH --partition={ex.partition}")
    lines += [f"#SBATCH {x}" for x in ex.extra_sbatch]
    py = python or sys.executable
    lines += ["set -euo pipefail",
              "export HDF5_USE_FILE_LOCKING=FALSE",
              'export NUMBA_CACHE_DIR="${TMPDIR:-/tmp}/mnsim-numba-${USER:-$(id -u)}"',
              "export OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1",
              f"exec {shlex.quote(py)} -m mnsim sweep worker {shlex.quote(str(d.path))} "
              f"--chunk \"$SLURM_ARRAY_TASK_ID\""]
    return "\n".join(lines) + "\n"


def _array_spec(indices: list[int], parallel: int | None) -> str:
    """``0-9`` or ``1,3,7`` (ranges compressed), with ``%parallel``."""
    parts, start = [], None
    for i, x in enumerate(indices):
        if start is None:
            start = x
        if i + 1 == len(indices) or indices[i + 1] != x + 1:
            parts.append(f"{start}-{x}" if x > start else f"{start}")
            start = None
    return ",".join(parts) + (f"%{parallel}" if parallel else "")


def submit(d: SweepDir, resume: bool = False, dry_run: bool = False,
           sbatch: str = "sbatch") -> dict[str, Any]:
    """Write the job script and submit one array job; returns at once.

    ``resume``: only the chunks that still hold runs not done (failed, partial or never
    run); without it, every chunk (finished runs are skipped by the tasks anyway).
    Returns ``{"job_id", "array", "tasks", "script"}`` (job_id None for ``dry_run``).
    """
    from .executors import warm_kernels

    parts = chunks(d)
    if resume:
        todo = [i for i, ids in enumerate(parts) if not all(d.is_done(r) for r in ids)]
    else:
        todo = list(range(len(parts)))
    script = d.path / "slurm" / "sweep.sbatch"
    (d.path / "slurm" / "logs").mkdir(parents=True, exist_ok=True)
    script.write_text(job_script(d))
    info: dict[str, Any] = {"job_id": None, "array": "", "tasks": len(todo),
                            "script": str(script)}
    if not todo:
        return info
    info["array"] = _array_spec(todo, d.spec().executor.parallel)
    if dry_run:
        return info
    # compile here once: tasks then only load, never compile
    plans = d.plans()
    warm_kernels(d.config(plans[0]) if plans else None)
    proc = subprocess.run([sbatch, "--parsable", f"--array={info['array']}", str(script)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sbatch failed ({proc.returncode}): {proc.stderr.strip()}")
    info["job_id"] = proc.stdout.strip().split(";")[0]
    log = d.path / "slurm" / "submissions.jsonl"
    with log.open("a") as f:
        f.write(json.dumps({**info, "time": time.time()}) + "\n")
    return info


def run_chunk(d: SweepDir, index: int) -> list[dict[str, Any]]:
    """Run the runs of chunk ``index`` one after another (the body of one array task)."""
    parts = chunks(d)
    if not 0 <= index < len(parts):
        raise IndexError(f"chunk {index} does not exist ({len(parts)} chunks)")
    plans = {p["run_id"]: p for p in d.plans()}
    timeout = d.spec().sweep.timeout_s
    stale = _seconds(d.spec().executor.time)
    out = []
    for rid in parts[index]:
        if d.claim_file(rid).exists() and d.claim_is_stale(d.claim_file(rid), stale):
            d.release(rid)  # left by a task of an earlier job that hit its time limit
        out.append(run_one(str(d.path), plans[rid], timeout))
    return out


def _seconds(slurm_time: str) -> float:
    """SLURM time ('D-HH:MM:SS', 'HH:MM:SS', 'MM:SS', 'MM') in seconds."""
    days = 0
    if "-" in slurm_time:
        d, slurm_time = slurm_time.split("-", 1)
        days = int(d)
    parts = [int(x) for x in slurm_time.split(":")]
    if len(parts) == 1:
        h, m, s = 0, parts[0], 0
    elif len(parts) == 2:
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = parts
    return float(((days * 24 + h) * 60 + m) * 60 + s)
