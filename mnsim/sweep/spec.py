"""Sweep specification: a base config, axes over any config key, replicates, seeds.

A sweep spec is a TOML (or YAML) file validated like a run config::

    [sweep]
    base = "../motor_pool.toml"          # relative to this file (or [base] inline)
    set = ["simulation.duration_ms=1000"]   # overrides applied to every run
    replicates = 3
    seed = 1                             # root seed of every run's seed
    seeds = "common"                     # same seed for replicate r at every point
    metrics = ["rates"]                  # names from mnsim.analysis.METRICS
    timeout_s = 600                      # a run taking longer is recorded as failed

    [grid]                               # cartesian product
    "populations.mn.pic_gain" = [0.5, 1.0, 2.0]
    "populations.mn.inh_reversal_mV" = { start = -80.0, stop = -50.0, num = 7 }

    [zip]                                # varied together (equal lengths)
    "sources.descending.size" = [100, 200]
    "projections.descending_mn.weight_nS" = [20.0, 10.0]

    [sample]                             # random or Latin-hypercube points in ranges
    method = "lhs"
    n = 32
    seed = 0
    ranges = { "populations.mn.pic_conductance_nS" = [10.0, 60.0] }

Points are the product of the grid, the zipped rows and the sampled rows (each present
part multiplies). Every point runs ``replicates`` times. A run's seed depends only on the
root seed and its replicate (``seeds = "common"``: common random numbers across points,
which makes maps smoother) or also on its parameters (``"independent"``), never on the
worker or the order of execution. A run's id is a hash of its fully resolved config
(seed included), so the same run always has the same file name.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import zlib
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from pydantic import Field, ValidationError, model_validator

from ..config import (
    Config,
    ConfigError,
    _format_errors,
    _Strict,
    apply_overrides,
    config_from_dict,
    read_config_data,
    set_key,
)

__all__ = ["SweepSpec", "RunPlan", "parse_sweep_spec", "load_sweep_spec", "expand",
           "run_config"]


class Span(_Strict):
    """``num`` values from ``start`` to ``stop`` inclusive, evenly or log spaced."""

    start: float
    stop: float
    num: int = Field(ge=1, le=100_000)
    log: bool = False

    def values(self) -> list[float]:
        if self.log:
            if self.start <= 0 or self.stop <= 0:
                raise ValueError("log spacing needs start and stop > 0")
            return np.geomspace(self.start, self.stop, self.num).tolist()
        return np.linspace(self.start, self.stop, self.num).tolist()


AxisValues = Union[Span, list[Any]]


class Sample(_Strict):
    """Random (``random``) or Latin-hypercube (``lhs``) points, uniform in ``ranges``."""

    method: Literal["random", "lhs"] = "lhs"
    n: int = Field(ge=1, le=1_000_000)
    seed: int = Field(0, ge=0)
    ranges: dict[str, tuple[float, float]] = Field(min_length=1)

    def rows(self) -> list[dict[str, float]]:
        from scipy.stats import qmc

        keys = list(self.ranges)
        if self.method == "lhs":
            unit = qmc.LatinHypercube(d=len(keys), seed=self.seed).random(self.n)
        else:
            unit = np.random.default_rng(self.seed).random((self.n, len(keys)))
        lo = np.array([self.ranges[k][0] for k in keys])
        hi = np.array([self.ranges[k][1] for k in keys])
        pts = qmc.scale(unit, lo, hi) if np.all(hi > lo) else lo + unit * (hi - lo)
        return [dict(zip(keys, map(float, row))) for row in pts]


class Executor(_Strict):
    """Where runs execute. Same files and bit-identical results whichever is used."""

    kind: Literal["local", "dask", "slurm"] = "local"
    workers: int = Field(0, ge=0, description="local: processes (0 = all cores)")
    address: str | None = Field(None, description="dask: scheduler address")
    # slurm (and dask-jobqueue) job shape
    partition: str | None = None
    time: str = "01:00:00"
    mem: str = "4G"
    cpus_per_task: int = Field(1, ge=1)
    max_array_size: int = Field(1000, ge=1, description="tasks per sbatch array")
    parallel: int | None = Field(None, ge=1, description="array tasks running at once")
    runs_per_task: int | None = Field(None, ge=1)
    extra_sbatch: list[str] = Field(default_factory=list)
    # dask on a batch system: dask-jobqueue starts `jobs` worker jobs of the shape above
    jobqueue: Literal["slurm", "pbs"] | None = Field(
        None, description="dask: create a dask-jobqueue cluster of this kind")
    jobs: int = Field(1, ge=1, description="dask-jobqueue: worker jobs to start")


class SweepSection(_Strict):
    base: str | None = None
    set: list[str] = Field(default_factory=list)
    replicates: int = Field(1, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    seeds: Literal["common", "independent"] = "common"
    metrics: list[str] = Field(default_factory=lambda: ["rates"])
    timeout_s: float = Field(0.0, ge=0, description="0 = no limit")


class SweepSpec(_Strict):
    """A validated sweep specification (see the module doc)."""

    sweep: SweepSection = Field(default_factory=SweepSection)
    base: dict[str, Any] | None = None
    grid: dict[str, AxisValues] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    sample: Sample | None = None
    executor: Executor = Field(default_factory=Executor)

    @model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        if (self.sweep.base is None) == (self.base is None):
            raise ValueError("give the base config either as sweep.base (a path) or as "
                             "an inline [base] table, not both or neither")
        lengths = {k: len(v) for k, v in self.zip.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zip lists must have equal lengths, got {lengths}")
        keys = list(self.grid) + list(self.zip) + list(self.sample.ranges if self.sample
                                                      else [])
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"key(s) swept twice: {', '.join(dup)}")
        if "simulation.seed" in keys:
            raise ValueError("simulation.seed is set by the sweep (sweep.seed, "
                             "replicates); sweep another key")
        return self

    def axis_keys(self) -> list[str]:
        return (list(self.grid) + list(self.zip)
                + (list(self.sample.ranges) if self.sample else []))


class RunPlan(dict):
    """One run of a sweep: ``run_id``, ``point``, ``replicate``, ``seed``, ``params``."""


def parse_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file (errors name file, key, value and range)."""
    path = Path(path)
    data = read_config_data(path)
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), _format_errors(exc, SweepSpec)) from None


def load_sweep_spec(path: str | Path) -> tuple[SweepSpec, dict[str, Any]]:
    """Read and validate a sweep spec; returns it with its base config as a raw dict."""
    path = Path(path)
    spec = parse_sweep_spec(path)
    if spec.sweep.base is not None:
        base = read_config_data((path.parent / spec.sweep.base).resolve())
    else:
        base = copy.deepcopy(spec.base)
    return spec, base


def _axis_values(v: AxisValues) -> list[Any]:
    return v.values() if isinstance(v, Span) else list(v)


def points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Parameter points (key path -> value), in a fixed order."""
    parts: list[list[dict[str, Any]]] = []
    if spec.grid:
        keys = list(spec.grid)
        parts.append([dict(zip(keys, combo)) for combo in
                      itertools.product(*(_axis_values(spec.grid[k]) for k in keys))])
    if spec.zip:
        keys = list(spec.zip)
        parts.append([dict(zip(keys, row)) for row in zip(*(spec.zip[k] for k in keys))])
    if spec.sample:
        parts.append(spec.sample.rows())
    if not parts:
        return [{}]
    return [dict(itertools.chain.from_iterable(d.items() for d in combo))
            for combo in itertools.product(*parts)]


def run_id(cfg: Config) -> str:
    """Stable id of a run: a hash of its resolved config (seed included)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _seed(spec: SweepSpec, params: dict[str, Any], replicate: int) -> int:
    words = [spec.sweep.seed, replicate]
    if spec.sweep.seeds == "independent":
        words.append(zlib.crc32(json.dumps(params, sort_keys=True).encode()))
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> 1)


def run_config(spec: SweepSpec, base: dict[str, Any], params: dict[str, Any], seed: int,
               source: str) -> Config:
    """The validated config of one run: base + sweep.set + swept values + seed."""
    try:
        data = apply_overrides(base, spec.sweep.set)
    except ValueError as exc:
        raise ConfigError(source, [("sweep.set", spec.sweep.set, str(exc))]) from None
    for key, value in params.items():
        try:
            set_key(data, key, value)
        except (ValueError, IndexError) as exc:
            raise ConfigError(source, [(key, value, str(exc))]) from None
    set_key(data, "simulation.seed", seed)
    return config_from_dict(data, source)


def expand(spec: SweepSpec, base: dict[str, Any], source: str = "<sweep>"
           ) -> list[tuple[RunPlan, Config]]:
    """Every run of the sweep with its validated config.

    Raises
    ------
    ConfigError
        Naming the sweep file, the point and the key when a swept value makes an
        invalid run config.
    """
    plans = []
    for i, params in enumerate(points(spec)):
        where = f"{source} (point {i}: " + ", ".join(
            f"{k}={v!r}" for k, v in params.items()) + ")"
        for r in range(spec.sweep.replicates):
            seed = _seed(spec, params, r)
            cfg = run_config(spec, base, params, seed, where)
            plans.append((RunPlan(run_id=run_id(cfg), point=i, replicate=r, seed=seed,
                                  params=params), cfg))
    ids = [p["run_id"] for p, _ in plans]
    if len(set(ids)) != len(ids):
        raise ConfigError(source, [("", "<points>", "two points resolve to the same run "
                                                   "config; remove the duplicate values")])
    return plans
