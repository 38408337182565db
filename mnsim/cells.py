"""Intrinsic properties of a population's neurons, measured as an electrophysiologist
would in current clamp: rheobase, input resistance, membrane time constant, the
afterhyperpolarisation (AHP) after one spike, and the hysteresis of recruitment on a
triangular current ramp (an estimate of the persistent inward current, PIC).

Every neuron is copied, with the parameters in effect in its run (neuromodulation
included) but without synapses, into test populations that receive the protocols below.
The numbers are therefore properties of the model cell, comparable with published ranges
(``RAT_MG_RANGES``, ``compare``)::

    >>> cfg = mnsim.load_config("configs/healthy.toml")
    >>> props = mnsim.cells.intrinsic_properties(cfg, "mn")
    >>> mnsim.cells.compare(props, mnsim.cells.RAT_MG_RANGES)

or ``mnsim cells configs/healthy.toml --population mn``. The definitions are in
``PROPERTIES`` and in docs/model.md ("Intrinsic properties").
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from .build import NEURON_PARAMS, draw, neuromodulate, population_params, rng_for
from .config import Config, config_from_dict, load_config

__all__ = ["PROPERTIES", "RAT_MG_RANGES", "intrinsic_properties", "compare"]

#: Each measured property and its definition.
PROPERTIES: dict[str, str] = {
    "rheobase_nA": "smallest current step (from rest, lasting rheobase_pulse_ms) that "
                   "evokes a spike; found by bisection to within the tolerance (NaN: "
                   "the cell fires at rest)",
    "input_resistance_MOhm": "steady voltage change / current for a small hyperpolarising "
                             "step (test_current_nA), from the resting potential",
    "membrane_tau_ms": "time to 63 % of that voltage change",
    "resting_potential_mV": "membrane potential after settling (10 membrane time "
                            "constants, at least 100 ms) with no input but the cell's own "
                            "bias current",
    "ahp_amplitude_mV": "depth of the AHP after one spike, below the resting potential",
    "ahp_half_decay_ms": "time from the AHP trough until it has decayed to half its "
                         "amplitude",
    "ahp_duration_ms": "time from the spike until the AHP has decayed to 10 % of its "
                       "amplitude (the 'total duration' read off a recording)",
    "recruitment_current_nA": "current at the first spike on a triangular ramp from 0 "
                              "to 2 x rheobase and back (ramp_ms up, ramp_ms down)",
    "derecruitment_current_nA": "current at the last spike on the descending ramp (NaN "
                                "when the cell fires on after the ramp: self-sustained)",
    "ramp_hysteresis_nA": "recruitment - derecruitment current: > 0 when a PIC keeps "
                          "the cell firing below its recruitment current (Button et al. "
                          "2006)",
    "sustained_after_ramp": "the cell still fires 100-200 ms after the ramp has returned "
                            "to 0 (bistable: a PIC plateau sustains the firing)",
    "conduction_velocity_m_per_s": "axonal conduction velocity (only with an axon)",
}

#: Rat medial gastrocnemius motoneurons, Bakels & Kernell 1993 (J Physiol 463:307):
#: the ranges over the sampled cells (docs/literature.md section 3).
RAT_MG_RANGES: dict[str, tuple[float, float]] = {
    "rheobase_nA": (0.8, 17.1),
    "input_resistance_MOhm": (0.8, 5.1),
    "ahp_duration_ms": (30.0, 116.0),
    "ahp_amplitude_mV": (0.9, 8.0),
    "conduction_velocity_m_per_s": (33.0, 85.0),
}

_REST_ms = 100.0  # shortest settling time before a measurement
_TAIL_ms = 200.0  # recorded after the ramp: firing in its second half is sustained


def intrinsic_properties(config: Config | str | os.PathLike, population: str, *,
                         neurons: Sequence[int] | None = None,
                         rheobase_pulse_ms: float = 50.0, tolerance_nA: float = 0.02,
                         test_current_nA: float = -1.0, ramp_ms: float = 2000.0,
                         dt_ms: float = 0.025, ramp: bool = True) -> pd.DataFrame:
    """Measure the intrinsic properties (``PROPERTIES``) of neurons of ``population``.

    Parameters
    ----------
    config : Config or path
        The run whose population is measured; its neuromodulation is applied.
    population : str
        A population of the config.
    neurons : node ids, optional
        Which neurons (default: all).
    rheobase_pulse_ms : float
        Length of the rheobase test pulses (50 ms as in Bakels & Kernell 1993).
    tolerance_nA : float
        Rheobase resolution.
    test_current_nA : float
        The step used for input resistance and time constant (< 0: hyperpolarising, so
        that no spike and little PIC is involved).
    ramp_ms : float
        Duration of each half of the triangular ramp.
    dt_ms : float
        Integration step of the test runs.
    ramp : bool
        Run the ramp protocol (the slowest one).

    Returns
    -------
    pandas.DataFrame
        One row per neuron (index ``node_id``), one column per property.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    if population not in config.populations:
        raise KeyError(f"no population '{population}'; populations: "
                       f"{', '.join(config.populations)}")
    if test_current_nA == 0:
        raise ValueError("test_current_nA must not be 0")
    if tolerance_nA <= 0 or rheobase_pulse_ms <= 0 or ramp_ms <= 0 or dt_ms <= 0:
        raise ValueError("tolerance_nA, rheobase_pulse_ms, ramp_ms and dt_ms must be > 0")
    pop = config.populations[population]
    ids = np.arange(pop.size) if neurons is None else np.asarray(neurons, int)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= pop.size:
        raise ValueError(f"neurons must be node ids of '{population}' (0..{pop.size - 1})")
    if np.unique(ids).size != ids.size:
        raise ValueError("neurons lists a node id more than once")
    params = {name: population_params(config, name) for name in config.populations}
    gain = neuromodulate(config, params)[population]
    par = {k: v[ids] for k, v in params[population].items()}
    bench = _Bench(config, population, ids, par, gain, dt_ms)

    # the resting state first: every other protocol starts from it
    out = bench.passive(test_current_nA)
    rest = out["resting_potential_mV"].to_numpy()
    quiet = ~out.pop("fires_at_rest").to_numpy()
    bench.start_from(np.where(quiet, rest, par["leak_reversal_mV"]))
    out.insert(0, "rheobase_nA", bench.rheobase(rheobase_pulse_ms, tolerance_nA, quiet))
    out = out.join(bench.ahp(rest, quiet))
    if ramp:
        peak = 2.0 * np.maximum(np.nan_to_num(out["rheobase_nA"].to_numpy()), tolerance_nA)
        out = out.join(bench.ramp(peak, ramp_ms, quiet))
    if pop.axon is not None:
        seed = config.simulation.seed
        cv = draw(pop.axon.conduction_velocity_m_per_s, pop.size,
                  rng_for(seed, f"param/{population}/axon/conduction_velocity_m_per_s"))
        out["conduction_velocity_m_per_s"] = cv[ids]
    out.attrs["definitions"] = {k: PROPERTIES[k] for k in out.columns}
    out.attrs["population"] = population
    out.attrs["config"] = config.source
    return out


def compare(props: pd.DataFrame, ranges: dict[str, tuple[float, float]] = RAT_MG_RANGES
            ) -> pd.DataFrame:
    """Measured span of each property beside a published range.

    One row per property found in both: the smallest and largest measured value, the
    published low and high, whether every measured value lies inside the range, and how
    many neurons have no value (e.g. no single-spike AHP, or firing at rest).
    """
    rows = []
    for key, (lo, hi) in ranges.items():
        if key not in props:
            continue
        x = props[key].to_numpy(float)
        x = x[~np.isnan(x)]
        rows.append({"property": key,
                     "min": x.min() if x.size else np.nan,
                     "max": x.max() if x.size else np.nan,
                     "published_low": lo, "published_high": hi,
                     "inside": bool(x.size and np.all((x >= lo) & (x <= hi))),
                     "not_measured": int(props[key].isna().sum())})
    return pd.DataFrame(rows).set_index("property")


class _Bench:
    """Isolated copies of some neurons, run under current-clamp protocols."""

    def __init__(self, cfg: Config, population: str, ids: np.ndarray,
                 par: dict[str, np.ndarray], gain: float, dt_ms: float):
        self.cfg, self.population, self.ids, self.dt_ms = cfg, population, ids, dt_ms
        self.n = par["threshold_mV"].size
        par = dict(par)
        for key in ("g_exc_init_nS", "g_inh_init_nS"):  # an isolated cell: no synapses
            par[key] = np.zeros(self.n)
        par["v_init_mV"] = par["leak_reversal_mV"].copy()  # until start_from
        self.par = par
        # settling time before a measurement: 10 membrane time constants, >= 100 ms
        self.rest_ms = max(_REST_ms, 10.0 * float(np.max(par["capacitance_pF"]
                                                         / par["leak_conductance_nS"])))
        base = cfg.populations[population].model_dump(mode="json", exclude_none=True)
        base.pop("axon", None)
        for key in NEURON_PARAMS:
            base.pop(key, None)
        base["pic_gain"] = gain
        self.base = base

    def start_from(self, v_mV: np.ndarray) -> None:
        """Start every later protocol from these membrane potentials (the settled rest);
        PIC activation and inactivation start at their steady state there."""
        self.par["v_init_mV"] = np.asarray(v_mV, float)

    def _population(self, reps: int, **override: np.ndarray) -> dict:
        """The neurons, each repeated ``reps`` times in a row (copy j of neuron i is
        node i * reps + j), with some parameters overridden (arrays of n * reps)."""
        d = dict(self.base, size=self.n * reps)
        for key in NEURON_PARAMS:
            v = override.get(key)
            if v is None:
                v = np.repeat(self.par[key], reps)
            if np.all(np.isnan(v)):
                continue  # no PIC inactivation
            d[key] = {"values": [float(x) for x in v]}
        return d

    def _run(self, pop: dict, duration_ms: float, *, currents: dict | None = None,
             trace: bool = False, interval_ms: float | None = None):
        from .api import simulate

        duration_ms = float(np.ceil(round(duration_ms / self.dt_ms, 6)) * self.dt_ms)
        d = {"simulation": {"duration_ms": duration_ms, "dt_ms": self.dt_ms,
                            "seed": self.cfg.simulation.seed,
                            "chunk_ms": duration_ms},
             "populations": {"cell": pop}, "currents": currents or {}}
        if trace:
            d["recording"] = {"traces": {"cell": {"population": "cell",
                                                  "variables": ["v_mV"],
                                                  "neurons": "all",
                                                  "interval_ms": interval_ms
                                                  or self.dt_ms}}}
        return simulate(config_from_dict(d, f"{self.cfg.source} [{self.population} "
                                            f"test cells]"))

    def _fired(self, levels: np.ndarray, pulse_ms: float) -> np.ndarray:
        """levels: (n, k) test currents added to each cell's own bias current; whether
        each copy spikes during a step of ``pulse_ms`` from rest."""
        k = levels.shape[1]
        bias = np.repeat(self.par["bias_current_nA"], k) + levels.ravel()
        res = self._run(self._population(k, bias_current_nA=bias), pulse_ms)
        fired = np.zeros(self.n * k, bool)
        fired[np.unique(res.spike_arrays("cell")[1])] = True
        return fired.reshape(self.n, k)

    def rheobase(self, pulse_ms: float, tol_nA: float, quiet: np.ndarray,
                 per_round: int = 15) -> np.ndarray:
        p = self.par
        lo = np.zeros(self.n)
        # without a PIC, a step of g_L (V_th - E_L) reaches threshold only after a long
        # time: start the search well above it
        hi = np.maximum(3e-3 * p["leak_conductance_nS"]
                        * np.abs(p["threshold_mV"] - p["leak_reversal_mV"]), 4 * tol_nA)
        done = ~quiet | self._fired(lo[:, None], pulse_ms)[:, 0]
        hi = np.where(done, 0.0, hi)
        for _ in range(30):
            ok = done | self._fired(hi[:, None], pulse_ms)[:, 0]
            if ok.all():
                break
            hi = np.where(ok, hi, 2 * hi)
        else:
            raise RuntimeError("some neurons do not fire at any test current")
        frac = np.arange(1, per_round + 1) / (per_round + 1)
        rows = np.arange(self.n)
        while np.any((hi - lo > tol_nA) & ~done):
            levels = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
            fired = self._fired(levels, pulse_ms)
            first = np.where(fired.any(axis=1), fired.argmax(axis=1), per_round)
            new_hi = np.where(first < per_round,
                              levels[rows, np.minimum(first, per_round - 1)], hi)
            new_lo = np.where(first > 0, levels[rows, np.maximum(first - 1, 0)], lo)
            lo, hi = np.where(done, lo, new_lo), np.where(done, hi, new_hi)
        return np.where(quiet, hi, np.nan)

    def passive(self, i_nA: float) -> pd.DataFrame:
        """Rest (settled from E_L with the cell's own bias current), then a step."""
        tau = self.par["capacitance_pF"] / self.par["leak_conductance_nS"]
        t_on = self.rest_ms
        duration = t_on + max(100.0, 15 * float(tau.max()))
        cur = {"step": {"target": "cell", "shape": "step", "t_on_ms": t_on,
                        "level_nA": i_nA}}
        res = self._run(self._population(1), duration, currents=cur, trace=True)
        t_sp, who = res.spike_arrays("cell")
        at_rest = np.zeros(self.n, bool)
        at_rest[who[t_sp < t_on]] = True
        in_step = np.zeros(self.n, bool)
        in_step[who[t_sp >= t_on]] = True
        v = res.trace("cell", "v_mV")
        t = v.time_ms.to_numpy()
        v = v.to_numpy()
        k_on = int(np.searchsorted(t, t_on))
        v0, v_end = v[k_on], v[-1]
        dv = v_end - v0
        reached = np.abs(v[k_on:] - v0) >= (1 - np.exp(-1)) * np.abs(dv)
        tau_m = t[k_on + reached.argmax(axis=0)] - t_on  # reached at the end at least
        bad = at_rest | in_step  # firing: no passive response to read
        return pd.DataFrame({"input_resistance_MOhm": np.where(bad, np.nan, dv / i_nA),
                             "membrane_tau_ms": np.where(bad, np.nan, tau_m),
                             "resting_potential_mV": np.where(at_rest, np.nan, v0),
                             "fires_at_rest": at_rest}, index=self._index())

    def ahp(self, rest_mV: np.ndarray, quiet: np.ndarray, pulse_ms: float = 0.5
            ) -> pd.DataFrame:
        """One spike, evoked from rest by a brief current pulse (as an antidromic or
        intracellular stimulus would), then the voltage relative to rest."""
        par = self.par
        t_on = self.rest_ms
        # 1.5 x the charge that takes the membrane from rest to threshold in the pulse
        dv = np.where(quiet, par["threshold_mV"] - rest_mV, 0.0)
        amp_nA = 1.5e-3 * dv * (par["capacitance_pF"] / pulse_ms
                                + par["leak_conductance_nS"])
        currents = {f"pulse{i}": {"target": "cell", "neurons": [i], "shape": "step",
                                  "t_on_ms": t_on, "t_off_ms": t_on + pulse_ms,
                                  "level_nA": float(amp_nA[i])}
                    for i in range(self.n)}
        duration = t_on + 50.0 + 8 * float(np.max(par["ahp_tau_ms"]))
        res = self._run(self._population(1), duration, currents=currents, trace=True,
                        interval_ms=max(self.dt_ms, 0.1))
        t_sp, who = res.spike_arrays("cell")
        n_spikes = np.bincount(who, minlength=self.n)
        v = res.trace("cell", "v_mV")
        t = v.time_ms.to_numpy()
        v = v.to_numpy()
        amp = np.full(self.n, np.nan)
        half = np.full(self.n, np.nan)
        total = np.full(self.n, np.nan)
        for i in range(self.n):
            if n_spikes[i] != 1 or not quiet[i]:
                continue  # fires repetitively or not at all: no single-spike AHP
            k0 = int(np.searchsorted(t, t_sp[who == i][0]))
            depth = rest_mV[i] - v[k0:, i]
            k_min = int(depth.argmax())
            amp[i] = depth[k_min]
            if amp[i] < 0.01:  # no AHP to speak of (e.g. no AHP conductance)
                amp[i] = 0.0
                continue
            after = depth[k_min:]
            for out, level, since in ((half, 0.5, k0 + k_min), (total, 0.1, k0)):
                back = np.flatnonzero(after <= level * amp[i])
                if back.size:  # else: not recovered within the recording
                    out[i] = t[k0 + k_min + back[0]] - t[since]
        return pd.DataFrame({"ahp_amplitude_mV": amp, "ahp_half_decay_ms": half,
                             "ahp_duration_ms": total}, index=self._index())

    def ramp(self, peak_nA: np.ndarray, half_ms: float, quiet: np.ndarray
             ) -> pd.DataFrame:
        """Every neuron gets its own triangle, 0 -> peak -> 0, from rest."""
        t0, t_end = self.rest_ms, self.rest_ms + 2 * half_ms
        currents = {f"ramp{i}": {"target": "cell", "neurons": [i], "shape": "triangle",
                                 "t_start_ms": t0, "t_peak_ms": t0 + half_ms,
                                 "t_end_ms": t_end, "peak_nA": float(peak_nA[i])}
                    for i in range(self.n)}
        res = self._run(self._population(1), t_end + _TAIL_ms, currents=currents)
        t, ids = res.spike_arrays("cell")
        rec = np.full(self.n, np.nan)
        derec = np.full(self.n, np.nan)
        sustained = np.zeros(self.n, bool)
        for i in np.flatnonzero(quiet):
            ti = t[ids == i]
            sustained[i] = bool(np.any(ti > t_end + _TAIL_ms / 2))
            on_ramp = ti[(ti >= t0) & (ti <= t_end)]
            if on_ramp.size == 0:
                continue
            frac = 1.0 - np.abs(on_ramp - (t0 + half_ms)) / half_ms
            rec[i] = peak_nA[i] * frac[0]
            if not sustained[i]:  # firing that outlasts the ramp briefly: down to 0 nA
                derec[i] = 0.0 if np.any(ti > t_end) else peak_nA[i] * frac[-1]
        return pd.DataFrame({"recruitment_current_nA": rec,
                             "derecruitment_current_nA": derec,
                             "ramp_hysteresis_nA": rec - derec,
                             "sustained_after_ramp": np.where(quiet, sustained, False)},
                            index=self._index())

    def _index(self) -> pd.Index:
        return pd.Index(self.ids, name="node_id")
