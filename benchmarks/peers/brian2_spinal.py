"""Spinal reference network (benchmarks/networks/spinal.toml) rebuilt in Brian2.

The network is not described here: ``run()`` reads the same TOML file as mnsim and turns
every population, source and projection into Brian2 objects, so the two simulators always
run identical parameters. Only the subset of the config format that the spinal network
uses is translated (constant-rate Poisson sources, ``probability`` connectivity, no
injected currents); anything else raises ``NotImplementedError`` instead of being ignored.

The model follows docs/model.md term by term:

* membrane ``C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + g_ahp (E_ahp - v)
  + pic_gain g_pic m (E_pic - v) + I_bias``, integrated with ``exponential_euler`` (the
  same scheme as mnsim: exact for v with every other variable frozen over the step);
* v is held at reset during the refractory period (``unless refractory``);
* ``g_ahp`` jumps by ``ahp_increment`` at each spike and decays with ``ahp_tau``;
* PIC activation ``dm/dt = (m_inf(v) - m) / tau_pic``, ``m_inf = 1 / (1 + exp(-(v -
  V_half) / k))``, starting at ``m_inf(v_init)``;
* exponential synaptic conductances per receptor, reversal potentials per population.

Timing conventions, matched to mnsim (docs/model.md, "Timing conventions"):

* refractory periods and delays are rounded to whole steps the way mnsim rounds them
  (nearest step, halves up) and handed to Brian2 as exact multiples of dt; Brian2's
  refractoriness (held for steps k+1 ... k+R-1 after a spike in step k) is mnsim's;
* a neuron spike with a delay of d steps reaches its targets after the same number of
  steps in both simulators (Brian2's zero delay = mnsim's "next step");
* a Poisson source spike drawn in step k acts on the membrane from step k + d in mnsim,
  but from step k + d + 1 in Brian2 (PoissonGroup fires in the thresholds slot, after
  the state update of step k). Source projections therefore get a Brian2 delay of d - 1
  steps, and a source delay of 0 steps cannot be represented (ValueError).

Per-neuron parameters (scalars, ``{scale = ...}`` pool scalings, ``{dist = ...}``
draws) are computed with numpy from the random streams that mnsim uses
(``SeedSequence([seed, crc32(purpose)])``), so a seed gives both simulators the same
neuron parameters. Connectivity, synaptic weights and Poisson spikes are drawn by Brian2
itself (same statistics, different realisation).

``run()`` returns, per population and source, the mean rate and the statistics of
``activity()`` (steadiness, rate profile across the population, synchrony), computed
the same way as benchmarks/compare_spinal.py computes them for mnsim, plus timings as in
``brian2_coba``. By default every call runs in a fresh interpreter (``_isolate``).

CLI: python -m benchmarks.peers.brian2_spinal --duration-ms 2000 --target cpp_standalone
"""
from __future__ import annotations

import argparse
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
SPINAL_TOML = REPO_ROOT / "benchmarks" / "networks" / "spinal.toml"

#: mnsim's defaults for every population key (mnsim/config.py, docs/model.md).
#: ``v_init_mV = None`` means "the neuron's own leak reversal".
POPULATION_DEFAULTS = {
    "capacitance_pF": 200.0, "leak_conductance_nS": 10.0, "leak_reversal_mV": -70.0,
    "threshold_mV": -50.0, "reset_mV": -65.0, "refractory_ms": 2.0, "bias_current_nA": 0.0,
    "ahp_increment_nS": 0.0, "ahp_tau_ms": 20.0, "pic_conductance_nS": 0.0,
    "pic_half_activation_mV": -45.0, "pic_slope_mV": 3.0, "pic_tau_ms": 50.0,
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


# --------------------------------------------------------------------------------------
# Reading the config (no mnsim import: the peer environment need not have it)
# --------------------------------------------------------------------------------------
def load_spinal(path: str | Path = SPINAL_TOML) -> dict:
    """The TOML file as a dict, with mnsim's defaults filled in and unsupported features
    rejected."""
    with open(path, "rb") as fh:
        cfg = tomllib.load(fh)
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
        constant_rate = isinstance(spec.get("rate_Hz"), (int, float))
        if spec.get("kind") != "poisson" or not constant_rate:
            raise NotImplementedError(f"{path}: sources.{name}: only Poisson sources with "
                                      "a constant rate_Hz are translated")
        sources[name] = spec
    projections = {}
    for name, spec in cfg.get("projections", {}).items():
        unknown = set(spec) - set(PROJECTION_DEFAULTS)
        if unknown:
            raise ValueError(f"{path}: projections.{name}: unknown keys {sorted(unknown)}")
        if spec.get("probability") is None:
            raise NotImplementedError(f"{path}: projections.{name}: only `probability` "
                                      "connectivity is translated")
        projections[name] = {**PROJECTION_DEFAULTS, **spec}
    return {"simulation": cfg["simulation"], "populations": pops, "sources": sources,
            "projections": projections}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """mnsim's random stream for ``purpose`` under the root ``seed`` (mnsim.build.rng_for)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(purpose.encode())]))


def per_neuron(spec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Values of one parameter for ``n`` neurons: a number, a pool scaling (neuron i of N
    gets first (last/first)^(i/(N-1)), or first + (last-first) i/(N-1) if linear) or a
    distribution (normal / uniform / lognormal given by the value's mean and sd,
    optionally clipped to [low, high])."""
    if isinstance(spec, (int, float)):
        return np.full(n, float(spec))
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
    """Per-neuron parameter arrays of population ``name``, drawn as mnsim draws them."""
    pop = cfg["populations"][name]
    out: dict[str, np.ndarray] = {}
    for key in PER_NEURON_KEYS:
        if pop[key] is None:  # v_init_mV: start at each neuron's leak reversal
            out[key] = out["leak_reversal_mV"].copy()
        else:
            rng = rng_for(seed, f"param/{name}/{key}")
            out[key] = per_neuron(pop[key], pop["size"], rng)
    return out


def to_steps(time_ms: float, dt_ms: float) -> int:
    """Whole steps nearest to ``time_ms``, halves up (mnsim.build.to_steps)."""
    return int(math.floor(time_ms / dt_ms + 0.5 + 1e-9))


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
# Activity statistics (compare_spinal.py computes the same ones from mnsim's spikes)
# --------------------------------------------------------------------------------------
#: Synchrony is measured on the population spike count in bins of SYNC_BIN_ms, after
#: leaving out the onset transient (the first ONSET_ms).
SYNC_BIN_ms = 5.0
ONSET_ms = 100.0


def activity(times_ms: np.ndarray, ids: np.ndarray, size: int, duration_ms: float,
             dt_ms: float) -> dict:
    """Summary of one population's (or source's) spikes over a run.

    ``times_ms`` follow mnsim's convention (a neuron spike is stamped at the end of the
    step in which v crossed threshold), ``ids`` count from 0 within the population.
    Returns ``n_spikes``, the mean rate ``rate_Hz``, ``rate_quarters_Hz`` (the rate in
    each quarter of the run: is the activity steady?), ``rate_deciles_Hz`` (the mean
    rate of each tenth of the population in index order: the recruitment profile of the
    motoneuron pool) and ``fano_5ms``, the Fano factor of the population spike count in
    SYNC_BIN_ms bins after ONSET_ms (about 1 for independent neurons, larger the more
    synchronous the population).
    """
    n_steps = int(round(duration_ms / dt_ms))
    steps = np.rint(np.asarray(times_ms, float) / dt_ms).astype(np.int64)
    counts = np.bincount(np.asarray(ids, np.int64), minlength=size)
    window_s = duration_ms / 1000.0
    quarter = np.minimum(steps * 4 // n_steps, 3)  # a spike stamped at the end: last
    per_quarter = np.bincount(quarter, minlength=4)[:4]
    onset_steps = int(round(ONSET_ms / dt_ms))
    bin_steps = int(round(SYNC_BIN_ms / dt_ms))
    n_bins = (n_steps - onset_steps) // bin_steps
    late = steps[steps >= onset_steps]
    per_bin = np.bincount(np.minimum((late - onset_steps) // bin_steps, n_bins - 1),
                          minlength=n_bins) if n_bins > 1 else np.zeros(0)
    mean_count = per_bin.mean() if per_bin.size else 0.0
    return {
        "n_spikes": int(counts.sum()),
        "rate_Hz": float(counts.sum()) / size / window_s,
        "rate_quarters_Hz": [float(c) / size / (window_s / 4) for c in per_quarter],
        "rate_deciles_Hz": [float(c.mean()) / window_s for c in np.array_split(counts, 10)],
        "fano_5ms": float(per_bin.var() / mean_count) if mean_count > 0 else float("nan"),
    }


# --------------------------------------------------------------------------------------
# Brian2 model
# --------------------------------------------------------------------------------------
def _equations(has_ahp: bool, has_pic: bool, varying: list[str]) -> str:
    """Model equations of one population; terms of absent mechanisms are left out.

    Names: c_m, g_l, e_l, i_bias, e_e, e_i, tau_e, tau_i, g_ahp/e_ahp/tau_ahp,
    g_pic (= pic_gain * pic_conductance), v_half, k_pic, e_pic, tau_pic. Parameters in
    ``varying`` become per-neuron constants; the others are scalars in the namespace.
    """
    current = "g_l*(e_l - v) + g_e*(e_e - v) + g_i*(e_i - v) + i_bias"
    lines = ["dg_e/dt = -g_e/tau_e : siemens", "dg_i/dt = -g_i/tau_i : siemens"]
    if has_ahp:
        current += " + g_ahp*(e_ahp - v)"
        lines.append("dg_ahp/dt = -g_ahp/tau_ahp : siemens")
    if has_pic:
        current += " + g_pic*m*(e_pic - v)"
        lines.append("dm/dt = (m_inf - m)/tau_pic : 1")
        lines.append("m_inf = 1/(1 + exp(-(v - v_half)/k_pic)) : 1")
    lines.insert(0, f"dv/dt = ({current})/c_m : volt (unless refractory)")
    units = {"c_m": "farad", "g_l": "siemens", "e_l": "volt", "i_bias": "amp",
             "v_th": "volt", "v_reset": "volt", "t_ref": "second", "tau_ahp": "second",
             "ahp_increment": "siemens", "g_pic": "siemens", "v_half": "volt",
             "k_pic": "volt", "tau_pic": "second"}
    lines += [f"{name} : {units[name]} (constant)" for name in varying]
    return "\n".join(lines)


def _neuron_group(b2, cfg: dict, name: str, seed: int, dt_ms: float):
    """The NeuronGroup of population ``name`` with its parameters and initial state."""
    from brian2 import mV, ms, nA, nS, pF

    pop = cfg["populations"][name]
    n = pop["size"]
    val = population_values(cfg, name, seed)
    ref_steps = np.array([to_steps(t, dt_ms) for t in val["refractory_ms"]])
    g_pic_nS = pop["pic_gain"] * val["pic_conductance_nS"]
    has_ahp = bool(np.any(val["ahp_increment_nS"] > 0))
    has_pic = bool(np.any(g_pic_nS > 0))
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
    varying = [k for k, v in params.items() if np.any(v != v[0])]
    namespace = {k: v[0] for k, v in params.items() if k not in varying}
    namespace.update(e_e=pop["exc_reversal_mV"] * mV, e_i=pop["inh_reversal_mV"] * mV,
                     tau_e=pop["exc_tau_ms"] * ms, tau_i=pop["inh_tau_ms"] * ms,
                     e_ahp=pop["ahp_reversal_mV"] * mV, e_pic=pop["pic_reversal_mV"] * mV)
    reset = "v = v_reset" + ("\ng_ahp += ahp_increment" if has_ahp else "")
    group = b2.NeuronGroup(n, _equations(has_ahp, has_pic, varying), threshold="v > v_th",
                           reset=reset, refractory="t_ref", method="exponential_euler",
                           namespace=namespace, name=name)
    for key in varying:
        setattr(group, key, params[key])
    group.v = val["v_init_mV"] * mV
    group.g_e = val["g_exc_init_nS"] * nS
    group.g_i = val["g_inh_init_nS"] * nS
    if has_pic:  # PIC starts at its steady state for the initial voltage
        v_half, slope = val["pic_half_activation_mV"], val["pic_slope_mV"]
        group.m = 1.0 / (1.0 + np.exp(-(val["v_init_mV"] - v_half) / slope))
    return group


def _projection(b2, name: str, proj: dict, groups: dict, sources: set, dt_ms: float):
    """The Synapses of projection ``name``: Bernoulli pairs, weights and delays."""
    from brian2 import ms, nS

    pre, post = groups[proj["pre"]], groups[proj["post"]]
    target = "g_e" if proj["receptor"] == "exc" else "g_i"
    # A source spike counts one step earlier in mnsim than in Brian2 (module docstring).
    lead_steps = 1 if proj["pre"] in sources else 0
    weight, delay = proj["weight_nS"], proj["delay_ms"]
    namespace = {"p_connect": float(proj["probability"])}
    if isinstance(weight, (int, float)):  # one weight: a name, no per-synapse array
        on_pre, model = f"{target}_post += w_syn", ""
        namespace["w_syn"] = float(weight) * nS
    else:
        on_pre, model = f"{target}_post += w", "w : siemens (constant)"
    if isinstance(delay, (int, float)):
        steps = to_steps(delay, dt_ms) - lead_steps
        if steps < 0:
            raise ValueError(f"projections.{name}: a source delay of 0 steps has no Brian2 "
                             "equivalent (see module docstring)")
        syn = b2.Synapses(pre, post, model=model, on_pre=on_pre, delay=steps * dt_ms * ms,
                          namespace=namespace, name=name)
    else:
        syn = b2.Synapses(pre, post, model=model, on_pre=on_pre, namespace=namespace,
                          name=name)
    same = proj["pre"] == proj["post"] and not proj["allow_autapses"]
    syn.connect(condition="i != j" if same else None, p="p_connect")
    if not isinstance(weight, (int, float)):
        syn.w = f"{_syn_draw(weight)}*nS"
    if not isinstance(delay, (int, float)):
        # draw, round to whole steps (halves up), take off the source lead; clip at 0
        syn.delay = (f"clip(floor({_syn_draw(delay)}/{dt_ms!r} + 0.5 + 1e-9) - {lead_steps},"
                     f" 0, inf)*{dt_ms!r}*ms")
    return syn


def run(duration_ms: float | None = None, target: str = "cython", threads: int = 1,
        seed: int = 1, *, config: str | Path = SPINAL_TOML, warm_run: bool = True,
        fresh_cache: bool = False, isolate: bool = True, python: str | None = None) -> dict:
    """Simulate the spinal network in Brian2; return rates, spike counts and timings.

    ``duration_ms`` defaults to the config's ``simulation.duration_ms``; ``seed`` replaces
    ``simulation.seed`` (Brian2's seed and the per-neuron parameter streams).
    ``activity`` holds, per population and source, the statistics of ``activity()``
    (rates, their steadiness, the pool profile, synchrony), ``rates_Hz`` the mean
    rates alone; both from the first run.
    ``sim_time_s``/``total_time_s`` are measured as in ``brian2_coba.run``: the
    simulation phase (cpp_standalone: ``device._last_run_time``; cython: a second, warm
    run from the same initial state if ``warm_run``) and everything from construction to
    the end of the first run.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if threads < 1 or (target != "cpp_standalone" and threads != 1):
        raise ValueError("only cpp_standalone runs multi-threaded; threads must be 1")
    if isolate:
        args = ["--target", target, "--threads", str(threads), "--seed", str(seed),
                "--config", str(Path(config).resolve())]
        args += [] if duration_ms is None else ["--duration-ms", str(duration_ms)]
        args += ([] if warm_run else ["--no-warm-run"]) + (["--fresh-cache"] if fresh_cache else [])
        return run_module(__name__, args, python)
    return _simulate(load_spinal(config), duration_ms, target, threads, seed, warm_run,
                     fresh_cache)


def _simulate(cfg: dict, duration_ms: float | None, target: str, threads: int, seed: int,
              warm_run: bool, fresh_cache: bool) -> dict:
    """Build and run the network in this process (see ``run``)."""
    import brian2 as b2
    from brian2 import Hz, ms

    dt_ms = float(cfg["simulation"].get("dt_ms", 0.1))
    if duration_ms is None:
        duration_ms = float(cfg["simulation"]["duration_ms"])
    with brian2_device(b2, target, threads, fresh_cache, "brian2_spinal_") as build_dir:
        t_start_s = perf_counter()
        b2.defaultclock.dt = dt_ms * ms
        b2.seed(seed)
        groups = {name: _neuron_group(b2, cfg, name, seed, dt_ms)
                  for name in cfg["populations"]}
        for name, src in cfg["sources"].items():
            groups[name] = b2.PoissonGroup(src["size"], rates=float(src["rate_Hz"]) * Hz,
                                           name=name)
        synapses = [_projection(b2, name, proj, groups, set(cfg["sources"]), dt_ms)
                    for name, proj in cfg["projections"].items()]
        monitors = {name: b2.SpikeMonitor(g, name=f"spikes_{name}")
                    for name, g in groups.items()}
        net = b2.Network(*groups.values(), *synapses, *monitors.values())

        timing = timed_run(b2, net, duration_ms, build_dir, t_start_s, warm_run,
                           after_first=lambda: _activity(monitors, cfg["populations"],
                                                         duration_ms, dt_ms))
        stats = timing["first"]
        n_synapses = int(sum(len(s) for s in synapses))
    sim_time_s, total_time_s = timing["sim_time_s"], timing["total_time_s"]
    first_run_time_s = timing["first_run_time_s"]

    n_neurons = sum(p["size"] for p in cfg["populations"].values())
    return {
        "simulator": "brian2", "target": target, "threads": threads, "seed": seed,
        "duration_ms": duration_ms, "n_neurons": n_neurons, "n_synapses": n_synapses,
        "sim_time_s": sim_time_s, "total_time_s": total_time_s,
        "first_run_time_s": first_run_time_s,
        # per population and source: n_spikes, rate_Hz, rate_quarters_Hz, ... (activity)
        "activity": stats,
        "rates_Hz": {k: a["rate_Hz"] for k, a in stats.items()},
    }


def _activity(monitors: dict, populations: dict, duration_ms: float, dt_ms: float) -> dict:
    """``activity()`` of every population and source, from the spike monitors.

    Brian2 stamps a neuron spike with the start of the step in which v crossed threshold,
    mnsim with its end: neuron spike times are shifted by one step to mnsim's convention.
    Source spikes carry the time of their step in both.
    """
    from brian2 import ms

    out = {}
    for name, mon in monitors.items():
        shift_ms = dt_ms if name in populations else 0.0
        out[name] = activity(np.asarray(mon.t[:] / ms) + shift_ms, np.asarray(mon.i[:]),
                             len(mon.source), duration_ms, dt_ms)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-ms", type=float, default=None,
                        help="default: simulation.duration_ms of the config")
    parser.add_argument("--target", choices=TARGETS, default="cpp_standalone")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", default=str(SPINAL_TOML))
    parser.add_argument("--no-warm-run", action="store_true", help="cython: one run only")
    parser.add_argument("--fresh-cache", action="store_true", help="cython: empty code cache")
    args = parser.parse_args(argv)
    result = run(args.duration_ms, args.target, args.threads, args.seed, config=args.config,
                 warm_run=not args.no_warm_run, fresh_cache=args.fresh_cache, isolate=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
