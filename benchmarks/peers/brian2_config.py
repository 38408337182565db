"""Any mnsim config rebuilt in Brian2: the independent cross-check of mnsim's kernels.

``run()`` reads the same TOML file as mnsim (resolving ``extends`` the way mnsim does)
and turns every population, source and projection into Brian2 objects, so the two
simulators always run identical parameters. The network is not described here. What
the translation covers: populations with AHP, PIC and slow PIC inactivation (every
per-neuron parameter a number, a pool scaling or a distribution), Poisson sources with a
constant rate or a rate profile, stimulus trains and scheduled times, ``probability``
and ``fan_in`` connectivity, per-synapse weight and delay distributions. ``[muscles]``
and ``[recording.traces]`` are read from the spikes after the run or only sample the
state, so they are skipped; anything else not listed (``[currents]``, YAML files
without PyYAML) raises ``NotImplementedError`` instead of being ignored.

The model follows docs/model.md term by term:

* membrane ``C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + g_ahp (E_ahp - v)
  + pic_gain g_pic m h (E_pic - v) + I_bias``, integrated with ``exponential_euler``
  (the same scheme as mnsim: exact for v with every other variable frozen over the step);
* v is held at reset during the refractory period (``unless refractory``);
* ``g_ahp`` jumps by ``ahp_increment`` at each spike and decays with ``ahp_tau``;
* PIC activation ``dm/dt = (m_inf(v) - m) / tau_pic``, ``m_inf = 1 / (1 + exp(-(v -
  V_half) / k))``, and, if ``pic_inactivation_half_mV`` is set, inactivation
  ``dh/dt = (h_inf(v) - h) / tau_h``, ``h_inf = 1 / (1 + exp((v - V_h) / k_h))``
  (otherwise h = 1); both start at their steady state for the initial voltage;
* exponential synaptic conductances per receptor, reversal potentials per population.

Timing conventions, matched to mnsim (docs/model.md, "Timing conventions"):

* refractory periods and delays are rounded to whole steps the way mnsim rounds them
  (nearest step, halves up) and handed to Brian2 as exact multiples of dt; Brian2's
  refractoriness (held for steps k+1 ... k+R-1 after a spike in step k) is mnsim's;
* a neuron spike with a delay of d steps reaches its targets after the same number of
  steps in both simulators (Brian2's zero delay = mnsim's "next step");
* a source spike of step k acts on the membrane from step k + d in mnsim, but from step
  k + d + 1 in Brian2 (PoissonGroup and SpikeGeneratorGroup fire in the thresholds
  slot, after the state update of step k). Source projections therefore get a Brian2
  delay of d - 1 steps, and a source delay of 0 steps cannot be represented
  (ValueError);
* a train pulse or scheduled time t falls in step round(t / dt) (halves up) in mnsim;
  the SpikeGeneratorGroup gets exactly that step's time. Two pulses in one step (which
  mnsim would deliver twice) raise NotImplementedError;
* a Poisson rate profile is handed to Brian2 as a TimedArray holding, for each step,
  the profile at the middle of the step (mnsim thins continuous times, then floors them
  to steps: the expected count in a step is the profile's mean over it, which the
  midpoint gives exactly on linear pieces).

Per-neuron parameters (scalars, ``{scale = ...}`` pool scalings, ``{dist = ...}``
draws) are computed with numpy from the random streams that mnsim uses
(``SeedSequence([seed, crc32(purpose)])``), so a seed gives both simulators the same
neuron parameters. Connectivity (with its weights and delays) has two modes:

* ``connectivity="brian2"`` (default): drawn by Brian2 itself, same statistics,
  different realisation: the two simulators then run two samples of one network model;
* ``connectivity="mnsim"``: mnsim's own draws (``mnsim.build``, same streams and
  algorithms, reimplemented here with numpy), so the two simulators run the very same
  network and, without Poisson sources, differ only by their kernels.

Poisson spikes are always drawn by Brian2.

``run()`` returns, per population and source, the mean rate and the statistics of
``activity()`` (steadiness, rate profile across the population, synchrony), computed
the same way as benchmarks/compare_spinal.py computes them for mnsim, plus timings as in
``brian2_coba``. By default every call runs in a fresh interpreter (``_isolate``).

CLI: python -m benchmarks.peers.brian2_config --config configs/sci_spasm.toml \
        --target cpp_standalone
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import zlib
from pathlib import Path
from time import perf_counter

import numpy as np

from ._brian2_run import brian2_device, timed_run
from ._isolate import REPO_ROOT, run_module

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: "numpy" needs no compiler: handy to check the model quickly, too slow to benchmark.
TARGETS = ("cpp_standalone", "cython", "numpy")
CONNECTIVITY = ("brian2", "mnsim")
#: The spinal reference network of the speed benchmark and the cross-check.
SPINAL_CONFIG = REPO_ROOT / "configs" / "sci_spasm.toml"

#: mnsim's defaults for every population key (mnsim/config.py, docs/model.md).
#: ``v_init_mV = None`` means "the neuron's own leak reversal",
#: ``pic_inactivation_half_mV = None`` "no inactivation".
POPULATION_DEFAULTS = {
    "capacitance_pF": 200.0, "leak_conductance_nS": 10.0, "leak_reversal_mV": -70.0,
    "threshold_mV": -50.0, "reset_mV": -65.0, "refractory_ms": 2.0, "bias_current_nA": 0.0,
    "ahp_increment_nS": 0.0, "ahp_tau_ms": 20.0, "pic_conductance_nS": 0.0,
    "pic_half_activation_mV": -45.0, "pic_slope_mV": 3.0, "pic_tau_ms": 50.0,
    "pic_inactivation_half_mV": None, "pic_inactivation_slope_mV": 5.0,
    "pic_inactivation_tau_ms": 2500.0,
    "v_init_mV": None, "g_exc_init_nS": 0.0, "g_inh_init_nS": 0.0,
    # one value per population
    "pic_gain": 1.0, "pic_reversal_mV": 50.0, "ahp_reversal_mV": -80.0,
    "exc_reversal_mV": 0.0, "inh_reversal_mV": -75.0, "exc_tau_ms": 5.0, "inh_tau_ms": 10.0,
}
#: Keys that may vary from neuron to neuron, in mnsim's drawing order.
PER_NEURON_KEYS = tuple(k for k in POPULATION_DEFAULTS if k not in (
    "pic_gain", "pic_reversal_mV", "ahp_reversal_mV", "exc_reversal_mV", "inh_reversal_mV",
    "exc_tau_ms", "inh_tau_ms"))
PROJECTION_DEFAULTS = {"receptor": None, "pre": None, "post": None, "probability": None,
                       "fan_in": None, "weight_nS": 1.0, "delay_ms": 1.0,
                       "allow_autapses": False}
#: mnsim's defaults for every source key, per kind (mnsim/config.py).
SOURCE_DEFAULTS = {
    "poisson": {"size": None, "rate_Hz": None},
    "train": {"size": 1, "start_ms": None, "pulses": 1, "frequency_Hz": 100.0,
              "repeats": 1, "repeat_every_ms": 1000.0},
    "times": {"size": 1, "times_ms": None},
}
#: Top-level tables that do not act on the network's dynamics: muscles are computed from
#: the motoneuron spikes after the run, traces only sample the state.
SKIPPED_TABLES = ("muscles", "recording")


# --------------------------------------------------------------------------------------
# Reading the config (no mnsim import: the peer environment need not have it)
# --------------------------------------------------------------------------------------
def read_config_data(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """The raw table of a TOML (or YAML) file with ``extends`` resolved, as
    ``mnsim.config.read_config_data`` resolves it: the file starts from its parent (a
    path relative to the file) and adds or replaces keys table by table; a distribution,
    pool scaling, profile or source table replaces the parent's as a whole."""
    path = Path(path).resolve()
    if path in _chain:
        raise ValueError(f"{path}: circular extends: "
                         + " -> ".join(str(p) for p in (*_chain, path)))
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:  # the peer venv need not have PyYAML
            raise NotImplementedError(f"{path}: reading YAML needs PyYAML") from None
        data = yaml.safe_load(path.read_text())
    else:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ValueError(f"{path}: extends = {parent!r}: expected a file path")
    return _deep_merge(read_config_data(path.parent / parent, (*_chain, path)), data)


def _deep_merge(base: dict, over: dict) -> dict:
    """``base`` updated by ``over`` table by table (mnsim.config._deep_merge)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not _is_spec(v):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _is_spec(v: dict) -> bool:
    """A distribution, pool scaling, profile or source table replaces, never merges."""
    return any(k in v for k in ("dist", "scale", "shape", "kind"))


def load_config(path: str | Path = SPINAL_CONFIG) -> dict:
    """The config file as a dict, ``extends`` resolved, mnsim's defaults filled in and
    anything that the translation does not cover rejected (NotImplementedError)."""
    return config_from_data(read_config_data(path), str(path))


def config_from_data(cfg: dict, path: str = "<dict>") -> dict:
    """``load_config`` for a config already read into a dict (``path`` names it in
    errors)."""
    unknown = set(cfg) - {"simulation", "populations", "sources", "projections",
                          "currents", *SKIPPED_TABLES}
    if unknown:
        raise ValueError(f"{path}: unknown top-level tables {sorted(unknown)}")
    if cfg.get("currents"):
        raise NotImplementedError(f"{path}: [currents] are not translated to Brian2")
    pops = {}
    for name, spec in cfg["populations"].items():
        unknown = set(spec) - set(POPULATION_DEFAULTS) - {"size"}
        if unknown:
            raise ValueError(f"{path}: populations.{name}: unknown keys {sorted(unknown)}")
        pops[name] = {**POPULATION_DEFAULTS, **spec}
    sources = {}
    for name, spec in cfg.get("sources", {}).items():
        kind = spec.get("kind")
        if kind not in SOURCE_DEFAULTS:
            raise NotImplementedError(f"{path}: sources.{name}.kind = {kind!r}: expected "
                                      f"one of {sorted(SOURCE_DEFAULTS)}")
        unknown = set(spec) - set(SOURCE_DEFAULTS[kind]) - {"kind"}
        if unknown:
            raise ValueError(f"{path}: sources.{name}: unknown keys {sorted(unknown)}")
        sources[name] = {**SOURCE_DEFAULTS[kind], **spec}
    projections = {}
    for name, spec in cfg.get("projections", {}).items():
        unknown = set(spec) - set(PROJECTION_DEFAULTS)
        if unknown:
            raise ValueError(f"{path}: projections.{name}: unknown keys {sorted(unknown)}")
        proj = {**PROJECTION_DEFAULTS, **spec}
        if (proj["probability"] is None) == (proj["fan_in"] is None):
            raise ValueError(f"{path}: projections.{name}: give exactly one of "
                             "probability or fan_in")
        projections[name] = proj
    return {"simulation": cfg["simulation"], "populations": pops, "sources": sources,
            "projections": projections}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """mnsim's random stream for ``purpose`` under the root ``seed`` (mnsim.build.rng_for)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(purpose.encode())]))


def per_neuron(spec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Values of one parameter for ``n`` neurons (or synapses): a number, a pool scaling
    (neuron i of N gets first (last/first)^(i/(N-1)), or first + (last-first) i/(N-1) if
    linear), explicit values (one per neuron) or a distribution (normal / uniform / lognormal given by the value's mean
    and sd, optionally clipped to [low, high]); mnsim.build.draw."""
    if isinstance(spec, (int, float)):
        return np.full(n, float(spec))
    if "values" in spec:
        return np.asarray(spec["values"], float)
    if "scale" in spec:
        first, last = float(spec["first"]), float(spec["last"])
        if n == 1:
            return np.array([first])
        if spec["scale"] == "linear":
            return np.linspace(first, last, n)
        return first * (last / first) ** (np.arange(n) / (n - 1))
    dist = spec["dist"]
    if dist == "uniform":
        return rng.uniform(spec["low"], spec["high"], n)
    if dist == "normal":
        x = rng.normal(spec["mean"], spec["sd"], n)
    elif dist == "lognormal":
        s2 = math.log1p((spec["sd"] / spec["mean"]) ** 2)
        x = rng.lognormal(math.log(spec["mean"]) - s2 / 2, math.sqrt(s2), n)
    else:
        raise ValueError(f"unknown distribution {dist!r}")
    if spec.get("low") is not None or spec.get("high") is not None:
        x = np.clip(x, spec.get("low"), spec.get("high"))
    return x


def population_values(cfg: dict, name: str, seed: int) -> dict[str, np.ndarray]:
    """Per-neuron parameter arrays of population ``name``, drawn as mnsim draws them
    (``pic_inactivation_half_mV`` unset: NaN, no inactivation)."""
    pop = cfg["populations"][name]
    out: dict[str, np.ndarray] = {}
    for key in PER_NEURON_KEYS:
        if pop[key] is None:  # v_init_mV: each neuron's leak reversal
            out[key] = (out["leak_reversal_mV"].copy() if key == "v_init_mV"
                        else np.full(pop["size"], np.nan))
        else:
            rng = rng_for(seed, f"param/{name}/{key}")
            out[key] = per_neuron(pop[key], pop["size"], rng)
    return out


def to_steps(time_ms, dt_ms: float):
    """Whole steps nearest to ``time_ms``, halves up (mnsim.build.to_steps); an int for
    a number, an int64 array for an array."""
    steps = np.floor(np.asarray(time_ms, float) / dt_ms + 0.5 + 1e-9).astype(np.int64)
    return int(steps) if steps.ndim == 0 else steps


def _min_steps(spec, dt_ms: float) -> float:
    """The fewest whole steps a delay spec can draw (-inf if unbounded below)."""
    if isinstance(spec, (int, float)):
        return to_steps(spec, dt_ms)
    low = spec.get("low")
    if low is None:
        return 0 if spec["dist"] == "lognormal" else -math.inf
    return to_steps(low, dt_ms)


def _syn_draw(spec) -> str:
    """A per-synapse value (a number or a distribution, without unit) as a Brian2 string
    expression evaluated once per synapse."""
    if isinstance(spec, (int, float)):
        return repr(float(spec))
    dist = spec["dist"]
    if dist == "uniform":
        expr = f"({spec['low']!r} + {spec['high'] - spec['low']!r}*rand())"
    elif dist == "normal":
        expr = f"({spec['mean']!r} + {spec['sd']!r}*randn())"
    elif dist == "lognormal":
        s2 = math.log1p((spec["sd"] / spec["mean"]) ** 2)
        expr = f"exp({math.log(spec['mean']) - s2 / 2!r} + {math.sqrt(s2)!r}*randn())"
    else:
        raise ValueError(f"unknown distribution {dist!r}")
    low, high = spec.get("low"), spec.get("high")
    if low is not None or high is not None:
        low_text = "-inf" if low is None else repr(float(low))
        high_text = "inf" if high is None else repr(float(high))
        expr = f"clip({expr}, {low_text}, {high_text})"
    return expr


# --------------------------------------------------------------------------------------
# Sources: rate profiles and schedules (mnsim.config.profile_points, mnsim.build)
# --------------------------------------------------------------------------------------
def profile_points(p: dict, unit: str = "Hz") -> tuple[list[float], list[float]]:
    """Breakpoints ``(times_ms, values)`` of a profile table; constant before and after
    the ends (mnsim.config.profile_points)."""
    g = lambda k, default=None: p.get(f"{k}_{unit}", default)  # noqa: E731
    shape = p["shape"]
    if shape == "constant":
        return [0.0], [g("value")]
    if shape == "step":
        b, lvl = g("baseline", 0.0), g("level")
        if p.get("t_off_ms") is None:
            return [p["t_on_ms"], p["t_on_ms"]], [b, lvl]
        return [p["t_on_ms"], p["t_on_ms"], p["t_off_ms"], p["t_off_ms"]], [b, lvl, lvl, b]
    if shape == "ramp":
        return [p["t_start_ms"], p["t_end_ms"]], [g("start", 0.0), g("end")]
    if shape == "triangle":
        b = g("baseline", 0.0)
        return [p["t_start_ms"], p["t_peak_ms"], p["t_end_ms"]], [b, g("peak"), b]
    if shape == "piecewise":
        return list(p["times_ms"]), list(g("values"))
    raise NotImplementedError(f"rate profile shape {shape!r}")


def pwl_eval(times, values, t) -> np.ndarray:
    """Piecewise-linear profile through ``(times, values)`` at ``t``; constant outside,
    a repeated time is a jump, right-continuous (mnsim.build.pwl_eval)."""
    times, values, t = (np.asarray(x, float) for x in (times, values, t))
    idx = np.searchsorted(times, t, side="right")
    out = np.empty_like(t)
    before, after = idx == 0, idx >= len(times)
    mid = ~(before | after)
    out[before], out[after] = values[0], values[-1]
    i = idx[mid]
    t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
    span = t1 - t0
    frac = np.where(span > 0, (t[mid] - t0) / np.where(span > 0, span, 1.0), 0.0)
    out[mid] = v0 + frac * (v1 - v0)
    return out


def schedule_steps(src: dict, dt_ms: float) -> np.ndarray:
    """Sorted steps at which every generator of a ``train`` or ``times`` source fires
    (mnsim.build.SourceStream: pulse k of repeat r at start + r period + k / frequency,
    rounded to the nearest step)."""
    if src["kind"] == "train":
        pulses = np.arange(src["pulses"]) * (1000.0 / src["frequency_Hz"])
        onsets = src["start_ms"] + np.arange(src["repeats"]) * src["repeat_every_ms"]
        times = (onsets[:, None] + pulses[None, :]).ravel()
    else:
        times = np.asarray(src["times_ms"], float)
    return np.sort(to_steps(times, dt_ms))


# --------------------------------------------------------------------------------------
# mnsim's connectivity draws (mnsim.build), for connectivity="mnsim"
# --------------------------------------------------------------------------------------
def _bernoulli_pairs(n_pre: int, n_post: int, p: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """mnsim.build._bernoulli_pairs: geometric skips over the flattened pair grid."""
    total = n_pre * n_post
    if p <= 0 or total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if p >= 1:
        flat = np.arange(total, dtype=np.int64)
    else:
        chunks = []
        pos = -1
        batch = int(total * p + 5 * math.sqrt(total * p) + 16)
        while pos < total:
            gaps = rng.geometric(p, size=batch).astype(np.int64)
            steps = pos + np.cumsum(gaps)
            chunks.append(steps[steps < total])
            pos = int(steps[-1])
        flat = np.concatenate(chunks)
    return flat // n_post, flat % n_post


def _fixed_fan_in(n_pre: int, n_post: int, k: int, same: bool, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """mnsim.build._fixed_fan_in: ``k`` distinct partners per post neuron."""
    pre = np.empty(n_post * k, np.int64)
    for j in range(n_post):
        if same:
            c = rng.choice(n_pre - 1, size=k, replace=False)
            c[c >= j] += 1
        else:
            c = rng.choice(n_pre, size=k, replace=False)
        pre[j * k:(j + 1) * k] = np.sort(c)
    return pre, np.repeat(np.arange(n_post, dtype=np.int64), k)


def mnsim_synapses(cfg: dict, name: str, seed: int, dt_ms: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Projection ``name`` as mnsim draws it: local ``pre`` and ``post`` indices,
    weights (nS) and delays (whole steps), in mnsim's drawing order."""
    proj = cfg["projections"][name]
    sizes = {**{k: p["size"] for k, p in cfg["populations"].items()},
             **{k: s["size"] for k, s in cfg["sources"].items()}}
    n_pre, n_post = sizes[proj["pre"]], sizes[proj["post"]]
    same = proj["pre"] == proj["post"] and not proj["allow_autapses"]
    rng = rng_for(seed, f"connect/{name}")
    if proj["probability"] is not None:
        pre, post = _bernoulli_pairs(n_pre, n_post, float(proj["probability"]), rng)
        if same:
            keep = pre != post
            pre, post = pre[keep], post[keep]
    else:
        pre, post = _fixed_fan_in(n_pre, n_post, int(proj["fan_in"]), same, rng)
    w = per_neuron(proj["weight_nS"], pre.size, rng_for(seed, f"weight/{name}"))
    d = to_steps(per_neuron(proj["delay_ms"], pre.size, rng_for(seed, f"delay/{name}")),
                 dt_ms)
    if np.any(w < 0) or np.any(d < 0):
        raise ValueError(f"projections.{name}: drew a negative weight or delay (mnsim "
                         "refuses this network too)")
    return pre, post, w, d


# --------------------------------------------------------------------------------------
# Activity statistics (compare_spinal.py computes the same ones from mnsim's spikes)
# --------------------------------------------------------------------------------------
#: Synchrony is measured on the population spike count in bins of SYNC_BIN_ms, after
#: leaving out the onset transient (the first ONSET_ms).
SYNC_BIN_ms = 5.0
ONSET_ms = 100.0
#: Response to a stimulus (see ``response``): it must start within RESPONSE_ONSET_ms of
#: the stimulus and ends at the last spike before a silence of RESPONSE_GAP_ms (all
#: neurons of the population pooled).
RESPONSE_ONSET_ms = 100.0
RESPONSE_GAP_ms = 200.0
#: The time course of a population's rate is given in bins of TIME_BIN_ms.
TIME_BIN_ms = 250.0


def response(times_ms: np.ndarray, stimulus_ms: float, duration_ms: float) -> dict:
    """How long a population keeps firing after a stimulus, from its pooled spikes.

    The response is the episode of spikes that starts within RESPONSE_ONSET_ms after
    ``stimulus_ms`` and goes on as long as no silence of RESPONSE_GAP_ms or more
    interrupts it. Returns ``spikes_before_stimulus``, ``response_ms`` (its last spike
    minus the stimulus time; 0 without a response) and ``response_censored`` (true if
    it still runs at the end of the run: the true duration is longer).
    """
    t = np.sort(np.asarray(times_ms, float))
    before = int(np.count_nonzero(t < stimulus_ms))
    after = t[t >= stimulus_ms]
    if after.size == 0 or after[0] > stimulus_ms + RESPONSE_ONSET_ms:
        return {"spikes_before_stimulus": before, "response_ms": 0.0,
                "response_censored": False}
    gaps = np.flatnonzero(np.diff(after) >= RESPONSE_GAP_ms)
    end = after[gaps[0]] if gaps.size else after[-1]
    return {"spikes_before_stimulus": before, "response_ms": float(end - stimulus_ms),
            "response_censored": bool(end > duration_ms - RESPONSE_GAP_ms)}


def activity(times_ms: np.ndarray, ids: np.ndarray, size: int, duration_ms: float,
             dt_ms: float, stimulus_ms: float | None = None) -> dict:
    """Summary of one population's (or source's) spikes over a run.

    ``times_ms`` follow mnsim's convention (a neuron spike is stamped at the end of the
    step in which v crossed threshold), ``ids`` count from 0 within the population.
    Returns ``n_spikes``, the mean rate ``rate_Hz``, ``rate_quarters_Hz`` (the rate in
    each quarter of the run: is the activity steady?), ``rate_bins_Hz`` (the rate in
    TIME_BIN_ms bins), ``rate_deciles_Hz`` (the mean rate of each tenth of the
    population in index order: the recruitment profile of the motoneuron pool) and
    ``fano_5ms``, the Fano factor of the population spike count in SYNC_BIN_ms bins
    after ONSET_ms (about 1 for independent neurons, larger the more synchronous the
    population). With ``stimulus_ms``, also the keys of ``response``.
    """
    n_steps = int(round(duration_ms / dt_ms))
    steps = np.rint(np.asarray(times_ms, float) / dt_ms).astype(np.int64)
    counts = np.bincount(np.asarray(ids, np.int64), minlength=size)
    window_s = duration_ms / 1000.0
    quarter = np.minimum(steps * 4 // n_steps, 3)  # a spike stamped at the end: last
    per_quarter = np.bincount(quarter, minlength=4)[:4]
    time_bin_steps = int(round(TIME_BIN_ms / dt_ms))
    n_time_bins = max(1, -(-n_steps // time_bin_steps))
    per_time_bin = np.bincount(np.minimum(steps // time_bin_steps, n_time_bins - 1),
                               minlength=n_time_bins)
    onset_steps = int(round(ONSET_ms / dt_ms))
    bin_steps = int(round(SYNC_BIN_ms / dt_ms))
    n_bins = (n_steps - onset_steps) // bin_steps
    late = steps[steps >= onset_steps]
    per_bin = np.bincount(np.minimum((late - onset_steps) // bin_steps, n_bins - 1),
                          minlength=n_bins) if n_bins > 1 else np.zeros(0)
    mean_count = per_bin.mean() if per_bin.size else 0.0
    out = {
        "n_spikes": int(counts.sum()),
        "rate_Hz": float(counts.sum()) / size / window_s,
        "rate_quarters_Hz": [float(c) / size / (window_s / 4) for c in per_quarter],
        "rate_bins_Hz": [float(c) / size / (TIME_BIN_ms / 1000.0) for c in per_time_bin],
        "rate_deciles_Hz": [float(c.mean()) / window_s if c.size else float("nan")
                            for c in np.array_split(counts, 10)],
        "fano_5ms": float(per_bin.var() / mean_count) if mean_count > 0 else float("nan"),
    }
    if stimulus_ms is not None:
        out.update(response(times_ms, stimulus_ms, duration_ms))
    return out


def stimulus_ms(cfg: dict) -> float | None:
    """Onset of the earliest ``train`` source (the stimulus of a reflex or spasm run),
    or None if the config has no train."""
    starts = [s["start_ms"] for s in cfg["sources"].values() if s["kind"] == "train"]
    return float(min(starts)) if starts else None


# --------------------------------------------------------------------------------------
# Brian2 model
# --------------------------------------------------------------------------------------
#: Units of the Brian2 names of per-neuron parameters.
UNITS = {"c_m": "farad", "g_l": "siemens", "e_l": "volt", "i_bias": "amp",
         "v_th": "volt", "v_reset": "volt", "t_ref": "second", "tau_ahp": "second",
         "ahp_increment": "siemens", "g_pic": "siemens", "v_half": "volt", "k_pic": "volt",
         "tau_pic": "second", "v_h": "volt", "k_h": "volt", "tau_h": "second"}


def _equations(has_ahp: bool, has_pic: bool, has_h: bool, varying: list[str]) -> str:
    """Model equations of one population; terms of absent mechanisms are left out.

    Names: c_m, g_l, e_l, i_bias, e_e, e_i, tau_e, tau_i, g_ahp/e_ahp/tau_ahp,
    g_pic (= pic_gain * pic_conductance), v_half, k_pic, e_pic, tau_pic, and for the
    inactivation v_h, k_h, tau_h. Parameters in ``varying`` become per-neuron constants;
    the others are scalars in the namespace.
    """
    current = "g_l*(e_l - v) + g_e*(e_e - v) + g_i*(e_i - v) + i_bias"
    lines = ["dg_e/dt = -g_e/tau_e : siemens", "dg_i/dt = -g_i/tau_i : siemens"]
    if has_ahp:
        current += " + g_ahp*(e_ahp - v)"
        lines.append("dg_ahp/dt = -g_ahp/tau_ahp : siemens")
    if has_pic:
        current += " + g_pic*m*h*(e_pic - v)" if has_h else " + g_pic*m*(e_pic - v)"
        lines.append("dm/dt = (m_inf - m)/tau_pic : 1")
        lines.append("m_inf = 1/(1 + exp(-(v - v_half)/k_pic)) : 1")
    if has_h:
        lines.append("dh/dt = (h_inf - h)/tau_h : 1")
        lines.append("h_inf = 1/(1 + exp((v - v_h)/k_h)) : 1")
    lines.insert(0, f"dv/dt = ({current})/c_m : volt (unless refractory)")
    lines += [f"{name} : {UNITS[name]} (constant)" for name in varying]
    return "\n".join(lines)


def _neuron_group(b2, cfg: dict, name: str, seed: int, dt_ms: float):
    """The NeuronGroup of population ``name`` with its parameters and initial state."""
    from brian2 import mV, ms, nA, nS, pF

    pop = cfg["populations"][name]
    n = pop["size"]
    val = population_values(cfg, name, seed)
    ref_steps = to_steps(val["refractory_ms"], dt_ms)
    g_pic_nS = pop["pic_gain"] * val["pic_conductance_nS"]
    has_ahp = bool(np.any(val["ahp_increment_nS"] > 0))
    has_pic = bool(np.any(g_pic_nS > 0))
    has_h = has_pic and pop["pic_inactivation_half_mV"] is not None
    # Brian2 name -> per-neuron values with units
    params = {
        "c_m": val["capacitance_pF"] * pF, "g_l": val["leak_conductance_nS"] * nS,
        "e_l": val["leak_reversal_mV"] * mV, "i_bias": val["bias_current_nA"] * nA,
        "v_th": val["threshold_mV"] * mV, "v_reset": val["reset_mV"] * mV,
        "t_ref": ref_steps * dt_ms * ms,
    }
    if has_ahp:
        params.update(ahp_increment=val["ahp_increment_nS"] * nS,
                      tau_ahp=val["ahp_tau_ms"] * ms)
    if has_pic:
        params.update(g_pic=g_pic_nS * nS, v_half=val["pic_half_activation_mV"] * mV,
                      k_pic=val["pic_slope_mV"] * mV, tau_pic=val["pic_tau_ms"] * ms)
    if has_h:
        params.update(v_h=val["pic_inactivation_half_mV"] * mV,
                      k_h=val["pic_inactivation_slope_mV"] * mV,
                      tau_h=val["pic_inactivation_tau_ms"] * ms)
    varying = [k for k, v in params.items() if np.any(v != v[0])]
    namespace = {k: v[0] for k, v in params.items() if k not in varying}
    namespace.update(e_e=pop["exc_reversal_mV"] * mV, e_i=pop["inh_reversal_mV"] * mV,
                     tau_e=pop["exc_tau_ms"] * ms, tau_i=pop["inh_tau_ms"] * ms,
                     e_ahp=pop["ahp_reversal_mV"] * mV, e_pic=pop["pic_reversal_mV"] * mV)
    reset = "v = v_reset" + ("\ng_ahp += ahp_increment" if has_ahp else "")
    group = b2.NeuronGroup(n, _equations(has_ahp, has_pic, has_h, varying),
                           threshold="v > v_th", reset=reset, refractory="t_ref",
                           method="exponential_euler", namespace=namespace, name=name)
    for key in varying:
        setattr(group, key, params[key])
    v0 = val["v_init_mV"]
    group.v = v0 * mV
    group.g_e = val["g_exc_init_nS"] * nS
    group.g_i = val["g_inh_init_nS"] * nS
    if has_pic:  # PIC gates start at their steady state for the initial voltage
        v_half, slope = val["pic_half_activation_mV"], val["pic_slope_mV"]
        group.m = 1.0 / (1.0 + np.exp(-(v0 - v_half) / slope))
    if has_h:
        v_h, k_h = val["pic_inactivation_half_mV"], val["pic_inactivation_slope_mV"]
        group.h = 1.0 / (1.0 + np.exp((v0 - v_h) / k_h))
    return group


def _source_group(b2, name: str, src: dict, dt_ms: float, duration_ms: float):
    """The PoissonGroup or SpikeGeneratorGroup of source ``name`` (module docstring)."""
    from brian2 import Hz, ms

    n = src["size"]
    if src["kind"] == "poisson":
        rate = src["rate_Hz"]
        if isinstance(rate, (int, float)):
            return b2.PoissonGroup(n, rates=float(rate) * Hz, name=name)
        times, values = profile_points(rate, "Hz")
        n_steps = int(round(duration_ms / dt_ms))
        mid_ms = (np.arange(n_steps) + 0.5) * dt_ms
        profile = b2.TimedArray(pwl_eval(times, values, mid_ms) * Hz, dt=dt_ms * ms,
                                name=f"rate_{name}")
        return b2.PoissonGroup(n, rates=f"rate_{name}(t)", name=name,
                               namespace={f"rate_{name}": profile})
    steps = schedule_steps(src, dt_ms)
    if np.any(np.diff(steps) == 0):
        raise NotImplementedError(
            f"sources.{name}: two pulses fall in one step of {dt_ms} ms; mnsim delivers "
            "both, a Brian2 SpikeGeneratorGroup cannot")
    indices = np.tile(np.arange(n), steps.size)
    times = np.repeat(steps, n) * dt_ms
    return b2.SpikeGeneratorGroup(n, indices, times * ms, name=name)


def _projection(b2, cfg: dict, name: str, groups: dict, seed: int, dt_ms: float,
                connectivity: str):
    """The Synapses of projection ``name``: pairs, weights and delays, drawn by Brian2
    or as mnsim draws them (module docstring)."""
    from brian2 import ms, nS

    proj = cfg["projections"][name]
    pre, post = groups[proj["pre"]], groups[proj["post"]]
    target = "g_e" if proj["receptor"] == "exc" else "g_i"
    # A source spike counts one step earlier in mnsim than in Brian2 (module docstring).
    lead_steps = 1 if proj["pre"] in cfg["sources"] else 0
    weight, delay = proj["weight_nS"], proj["delay_ms"]
    if _min_steps(delay, dt_ms) - lead_steps < 0:
        raise ValueError(f"projections.{name}.delay_ms = {delay!r}: a source delay under "
                         "one step has no Brian2 equivalent (see module docstring)")
    namespace = {}
    if isinstance(weight, (int, float)):  # one weight: a name, no per-synapse array
        on_pre, model = f"{target}_post += w_syn", ""
        namespace["w_syn"] = float(weight) * nS
    else:
        on_pre, model = f"{target}_post += w", "w : siemens (constant)"
    fixed_delay = {}
    if isinstance(delay, (int, float)):
        fixed_delay["delay"] = (to_steps(delay, dt_ms) - lead_steps) * dt_ms * ms
    syn = b2.Synapses(pre, post, model=model, on_pre=on_pre, namespace=namespace,
                      name=name, **fixed_delay)
    if connectivity == "mnsim":
        i, j, w, d = mnsim_synapses(cfg, name, seed, dt_ms)
        if i.size:
            syn.connect(i=i, j=j)
            if not isinstance(weight, (int, float)):
                syn.w = w * nS
            if not fixed_delay:
                syn.delay = (d - lead_steps) * dt_ms * ms
        return syn
    same = proj["pre"] == proj["post"] and not proj["allow_autapses"]
    if proj["probability"] is not None:
        syn.connect(condition="i != j" if same else None, p=float(proj["probability"]))
    elif proj["fan_in"] > 0:  # fan_in distinct partners for each post neuron j
        k = int(proj["fan_in"])
        syn.connect(i=f"k + int(k >= j) for k in sample(N_pre - 1, size={k})" if same
                    else f"k for k in sample(N_pre, size={k})")
    if not isinstance(weight, (int, float)):
        syn.w = f"{_syn_draw(weight)}*nS"
    if not fixed_delay:
        # draw, round to whole steps (halves up), take off the source lead; a neuron
        # delay that rounds below 0 steps is refused by mnsim at build time
        syn.delay = (f"clip(floor({_syn_draw(delay)}/{dt_ms!r} + 0.5 + 1e-9) - {lead_steps},"
                     f" 0, inf)*{dt_ms!r}*ms")
    return syn


def run(duration_ms: float | None = None, target: str = "cython", threads: int = 1,
        seed: int | None = None, *, config: str | Path = SPINAL_CONFIG,
        connectivity: str = "brian2", spikes: bool = False, warm_run: bool = True,
        fresh_cache: bool = False, isolate: bool = True, python: str | None = None) -> dict:
    """Simulate the network of ``config`` in Brian2; return rates, spike counts and
    timings.

    ``duration_ms`` defaults to the config's ``simulation.duration_ms``; ``seed``
    (default: the config's ``simulation.seed``) seeds Brian2 and the per-neuron
    parameter streams. ``connectivity`` is "brian2" or "mnsim" (module docstring).
    ``activity`` holds, per population and source, the statistics of ``activity()``
    (rates, their steadiness, the pool profile, synchrony, and, if the config has a
    train source, the response to it), ``rates_Hz`` the mean rates alone; both from the
    first run; with ``spikes``, ``spikes`` holds every population's and source's spikes
    as ``[steps, ids]`` (mnsim's time stamps in steps of dt). ``n_neuron_spikes`` and
    ``n_syn_events`` (every spike of a neuron or
    source times its number of synapses) count the work done in that run.
    ``sim_time_s``/``total_time_s`` are measured as in ``brian2_coba.run``: the
    simulation phase (cpp_standalone: ``device._last_run_time``; cython: a second, warm
    run from the same initial state if ``warm_run``) and everything from construction to
    the end of the first run.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if connectivity not in CONNECTIVITY:
        raise ValueError(f"connectivity must be one of {CONNECTIVITY}, "
                         f"got {connectivity!r}")
    if threads < 1 or (target != "cpp_standalone" and threads != 1):
        raise ValueError("only cpp_standalone runs multi-threaded; threads must be 1")
    if isolate:
        args = ["--target", target, "--threads", str(threads),
                "--config", str(Path(config).resolve()), "--connectivity", connectivity]
        args += [] if seed is None else ["--seed", str(seed)]
        args += ["--spikes"] if spikes else []
        args += [] if duration_ms is None else ["--duration-ms", str(duration_ms)]
        args += [] if warm_run else ["--no-warm-run"]
        args += ["--fresh-cache"] if fresh_cache else []
        return run_module(__name__, args, python)
    cfg = load_config(config)
    if seed is None:
        seed = int(cfg["simulation"].get("seed", 0))
    return _simulate(cfg, duration_ms, target, threads, seed, connectivity, spikes,
                     warm_run, fresh_cache)


def _simulate(cfg: dict, duration_ms: float | None, target: str, threads: int, seed: int,
              connectivity: str, spikes: bool, warm_run: bool, fresh_cache: bool) -> dict:
    """Build and run the network in this process (see ``run``)."""
    import brian2 as b2
    from brian2 import ms

    dt_ms = float(cfg["simulation"].get("dt_ms", 0.1))
    if duration_ms is None:
        duration_ms = float(cfg["simulation"]["duration_ms"])
    with brian2_device(b2, target, threads, fresh_cache, "brian2_config_") as build_dir:
        t_start_s = perf_counter()
        b2.defaultclock.dt = dt_ms * ms
        b2.seed(seed)
        groups = {name: _neuron_group(b2, cfg, name, seed, dt_ms)
                  for name in cfg["populations"]}
        for name, src in cfg["sources"].items():
            groups[name] = _source_group(b2, name, src, dt_ms, duration_ms)
        synapses = [_projection(b2, cfg, name, groups, seed, dt_ms, connectivity)
                    for name in cfg["projections"]]
        monitors = {name: b2.SpikeMonitor(g, name=f"spikes_{name}")
                    for name, g in groups.items()}
        net = b2.Network(*groups.values(), *synapses, *monitors.values())

        def after_first() -> dict:
            return {"activity": _activity(monitors, cfg, duration_ms, dt_ms),
                    "spikes": _spike_steps(monitors, cfg, dt_ms) if spikes else None,
                    "n_syn_events": _syn_events(monitors, synapses),
                    "n_synapses": int(sum(len(s) for s in synapses))}

        timing = timed_run(b2, net, duration_ms, build_dir, t_start_s, warm_run,
                           after_first=after_first)
        first = timing["first"]
    stats = first["activity"]
    extra = {"spikes": first["spikes"]} if spikes else {}
    return {
        "simulator": "brian2", "target": target, "threads": threads, "seed": seed,
        "connectivity": connectivity, "duration_ms": duration_ms,
        "n_neurons": sum(p["size"] for p in cfg["populations"].values()),
        "n_synapses": first["n_synapses"],
        "n_neuron_spikes": sum(stats[k]["n_spikes"] for k in cfg["populations"]),
        "n_syn_events": first["n_syn_events"],
        "sim_time_s": timing["sim_time_s"], "total_time_s": timing["total_time_s"],
        "first_run_time_s": timing["first_run_time_s"],
        # per population and source: n_spikes, rate_Hz, rate_quarters_Hz, ... (activity)
        "activity": stats,
        "rates_Hz": {k: a["rate_Hz"] for k, a in stats.items()},
        **extra,
    }


def _spike_steps(monitors: dict, cfg: dict, dt_ms: float) -> dict:
    """Every spike as ``[steps, ids]`` per population and source, time-stamped the way
    mnsim stamps it (neuron spikes one step later than Brian2, see ``_activity``)."""
    from brian2 import ms

    out = {}
    for name, mon in monitors.items():
        shift = 1 if name in cfg["populations"] else 0
        steps = np.rint(np.asarray(mon.t[:] / ms) / dt_ms).astype(np.int64) + shift
        out[name] = [steps.tolist(), np.asarray(mon.i[:]).tolist()]
    return out


def _syn_events(monitors: dict, synapses: list) -> int:
    """Synaptic events of the run: each spike times the out-degree of its sender."""
    total = 0
    for syn in synapses:
        mon = monitors[syn.source.name]
        n_pre = len(syn.source)
        out_degree = np.bincount(np.asarray(syn.i[:]), minlength=n_pre)
        spikes = np.bincount(np.asarray(mon.i[:]), minlength=n_pre)
        total += int(spikes @ out_degree)
    return total


def _activity(monitors: dict, cfg: dict, duration_ms: float, dt_ms: float) -> dict:
    """``activity()`` of every population and source, from the spike monitors.

    Brian2 stamps a neuron spike with the start of the step in which v crossed threshold,
    mnsim with its end: neuron spike times are shifted by one step to mnsim's convention.
    Source spikes carry the time of their step in both.
    """
    from brian2 import ms

    stim = stimulus_ms(cfg)
    out = {}
    for name, mon in monitors.items():
        shift_ms = dt_ms if name in cfg["populations"] else 0.0
        out[name] = activity(np.asarray(mon.t[:] / ms) + shift_ms, np.asarray(mon.i[:]),
                             len(mon.source), duration_ms, dt_ms, stim)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(SPINAL_CONFIG))
    parser.add_argument("--duration-ms", type=float, default=None,
                        help="default: simulation.duration_ms of the config")
    parser.add_argument("--target", choices=TARGETS, default="cpp_standalone")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None,
                        help="default: simulation.seed of the config")
    parser.add_argument("--connectivity", choices=CONNECTIVITY, default="brian2")
    parser.add_argument("--spikes", action="store_true", help="also return every spike")
    parser.add_argument("--no-warm-run", action="store_true", help="cython: one run only")
    parser.add_argument("--fresh-cache", action="store_true", help="cython: empty code cache")
    args = parser.parse_args(argv)
    result = run(args.duration_ms, args.target, args.threads, args.seed, config=args.config,
                 connectivity=args.connectivity, spikes=args.spikes,
                 warm_run=not args.no_warm_run, fresh_cache=args.fresh_cache, isolate=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
