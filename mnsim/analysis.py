"""Metrics computed from a run's result, by name.

Every metric is a function ``Result -> dict[str, float]`` registered under a name; sweeps
ask for metrics by these names, and :func:`write_metrics` stores the values in the run
file (``/metrics``, one attribute per value, with the metric's definition) so that a
sweep summary can be rebuilt from the run files alone.
"""

from __future__ import annotations

import os
from typing import Callable

import h5py
import numpy as np

from .result import Result

__all__ = ["METRICS", "register_metric", "compute_metrics", "write_metrics",
           "read_metrics"]

MetricFn = Callable[[Result], dict[str, float]]

#: name -> (function, one-line definition stored next to the values)
METRICS: dict[str, tuple[MetricFn, str]] = {}


def register_metric(name: str, definition: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator adding a metric to :data:`METRICS`."""
    def wrap(fn: MetricFn) -> MetricFn:
        METRICS[name] = (fn, definition)
        return fn
    return wrap


@register_metric("rates", "rate_Hz.<name>: spikes of a population or source / size / "
                          "duration, over the whole run")
def _rates(res: Result) -> dict[str, float]:
    r = res.rates()
    return {f"rate_Hz.{name}": float(v) for name, v in r["rate_Hz"].items()}


@register_metric("active_fraction", "active_fraction.<name>: fraction of a population's "
                                    "neurons with at least one spike")
def _active(res: Result) -> dict[str, float]:
    out = {}
    for name, size in _recorded_neurons(res):
        _, ids = res.spike_arrays(name)
        out[f"active_fraction.{name}"] = float(np.unique(ids).size / size)
    return out


def _recorded_neurons(res: Result) -> list[tuple[str, int]]:
    """(name, size) of the neuron populations whose spikes were recorded."""
    return [(name, s["size"]) for name, s in res.populations.items()
            if s["kind"] == "neurons" and name in res.recorded]


def compute_metrics(res: Result, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Values of the named metrics (a flat dict: metric column -> value)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {', '.join(unknown)}; registered: "
                       f"{', '.join(sorted(METRICS))}")
    out: dict[str, float] = {}
    for n in names:
        out.update(METRICS[n][0](res))
    return out


def write_metrics(path: str | os.PathLike, values: dict[str, float],
                  names: list[str] | tuple[str, ...]) -> None:
    """Store metric values (and their definitions) in a complete run file."""
    with h5py.File(path, "r+") as f:
        g = f.require_group("metrics")
        for k, v in values.items():
            g.attrs[k] = v
        d = f.require_group("metrics/definitions")
        for n in names:
            d.attrs[n] = METRICS[n][1]


def read_metrics(source: str | os.PathLike | h5py.File) -> dict[str, float]:
    """Metric values stored in a run file ({} if none); ``source`` is its path or the
    file already open."""
    if not isinstance(source, h5py.File):
        with h5py.File(source, "r", locking=False) as f:
            return read_metrics(f)
    if "metrics" not in source:
        return {}
    return {k: float(v) for k, v in source["metrics"].attrs.items()}


# -- firing ---------------------------------------------------------------------------------
def firing_stats(res: Result, population: str, t_start_ms: float = 0.0,
                 t_stop_ms: float | None = None):
    """Per-neuron firing in ``[t_start_ms, t_stop_ms)``: ``n_spikes``, ``rate_Hz``,
    ``isi_mean_ms`` and ``isi_cv`` (sd / mean of the interspike intervals; NaN with
    fewer than 3 spikes). Index ``node_id``."""
    import pandas as pd

    t1 = res.duration_ms if t_stop_ms is None else t_stop_ms
    t, ids = res.spike_arrays(population)
    sel = (t >= t_start_ms) & (t < t1) if t_stop_ms is not None else t >= t_start_ms
    t, ids = t[sel], ids[sel].astype(np.int64)
    size = res.populations[population]["size"]
    order = np.lexsort((t, ids))
    t, ids = t[order], ids[order]
    bounds = np.searchsorted(ids, np.arange(size + 1))
    rows = []
    for n in range(size):
        tn = t[bounds[n]:bounds[n + 1]]
        isi = np.diff(tn)
        rows.append((tn.size, tn.size / ((t1 - t_start_ms) / 1000.0),
                     isi.mean() if isi.size else np.nan,
                     isi.std() / isi.mean() if isi.size >= 2 else np.nan))
    df = pd.DataFrame(rows, columns=["n_spikes", "rate_Hz", "isi_mean_ms", "isi_cv"])
    df.index.name = "node_id"
    return df


def recruitment(res: Result, population: str):
    """First and last spike time of each neuron (NaN if silent). Index ``node_id``."""
    import pandas as pd

    t, ids = res.spike_arrays(population)
    size = res.populations[population]["size"]
    first = np.full(size, np.nan)
    last = np.full(size, np.nan)
    ids = ids.astype(np.int64)
    np.fmin.at(first, ids, t)
    np.fmax.at(last, ids, t)
    return pd.DataFrame({"first_spike_ms": first, "last_spike_ms": last},
                        index=pd.RangeIndex(size, name="node_id"))


def recruitment_order(res: Result, population: str) -> float:
    """Spearman correlation of node id (unit size, smallest first) with first-spike
    time over the recruited neurons: 1 = strictly orderly (size-principle) recruitment."""
    from scipy.stats import spearmanr

    rec = recruitment(res, population).dropna()
    if len(rec) < 3:
        return float("nan")
    return float(spearmanr(rec.index.to_numpy(), rec.first_spike_ms.to_numpy())[0])


def delta_f(res: Result, population: str, control: int, test: int,
            smooth_ms: float = 200.0) -> float:
    """Paired motor-unit estimate of PIC amplitude (Gorassini et al. 2002), in Hz.

    The instantaneous rate of the lower-threshold ``control`` unit (reciprocal ISIs,
    smoothed by a centred moving average of ``smooth_ms``) at the recruitment of the
    ``test`` unit minus its rate at the test unit's derecruitment.
    """
    t, ids = res.spike_arrays(population)
    tc = np.sort(t[ids == control])
    tt = np.sort(t[ids == test])
    if tc.size < 3 or tt.size < 2:
        return float("nan")
    mid = 0.5 * (tc[1:] + tc[:-1])
    rate = 1000.0 / np.diff(tc)
    smooth = np.array([rate[np.abs(mid - m) <= smooth_ms / 2].mean() for m in mid])
    return float(np.interp(tt[0], mid, smooth) - np.interp(tt[-1], mid, smooth))


# -- motor nerve: evoked responses, synchronous bursts -----------------------------------
def stimulus_times_ms(res: Result, source: str) -> np.ndarray:
    """Times (ms) of every pulse of a ``train`` or ``times`` source, from the config."""
    src = res.config.sources[source]
    if src.kind == "train":
        pulses = np.arange(src.pulses) * (1000.0 / src.frequency_Hz)
        onsets = src.start_ms + np.arange(src.repeats) * src.repeat_every_ms
        t = (onsets[:, None] + pulses[None, :]).ravel()
    elif src.kind == "times":
        t = np.asarray(src.times_ms, float)
    else:
        raise ValueError(f"source '{source}' is {src.kind!r}; stimuli come from a 'train' "
                         f"or 'times' source")
    return np.sort(t[t < res.duration_ms])


def evoked_response(res: Result, muscle: str, stimuli_ms, window_ms=(0.0, 30.0),
                    baseline_ms: float = 20.0, k_sd: float = 5.0):
    """EMG response of ``muscle`` to each stimulus: M-wave, H-reflex or the lateral
    spread response (LSR) of hemifacial spasm, depending on the muscle and window.

    Definition: within ``window_ms`` after a stimulus, the response starts where |EMG|
    first exceeds a threshold = max(``k_sd`` x sd of the EMG in the ``baseline_ms``
    before the stimulus, half the peak of the smallest motor unit's action potential),
    so one discharge of any unit counts. Returns a DataFrame with one row per stimulus:
    ``stimulus_ms``, ``present``, ``latency_ms`` (onset, NaN if absent),
    ``amplitude_mV`` (peak to peak in the window) and ``units`` (distinct motor units
    whose spikes reached the muscle in the window, shifted by the EMG latency).
    """
    import pandas as pd

    m = res.muscle(muscle)
    t = m.emg_time_ms.to_numpy()
    emg = m.emg_mV.to_numpy()
    # first-order Hermite-Rodriguez MUAP A u exp(-u^2) peaks at A exp(-1/2) / sqrt(2)
    floor = 0.5 * float(m.muap_amplitude_mV.min()) * np.exp(-0.5) / np.sqrt(2.0)
    latency_ms = float(res.config.muscles[muscle].emg_latency_ms)
    st, ids = motor_spikes(res, res.config.muscles[muscle].pool)
    rows = []
    for s in np.atleast_1d(np.asarray(stimuli_ms, float)):
        base = emg[(t >= s - baseline_ms) & (t < s)]
        thr = max(k_sd * base.std() if base.size else 0.0, floor)
        sel = (t >= s + window_ms[0]) & (t < s + window_ms[1])
        seg, ts = emg[sel], t[sel]
        above = np.flatnonzero(np.abs(seg) > thr)
        in_win = (st + latency_ms >= s + window_ms[0]) & (st + latency_ms < s + window_ms[1])
        rows.append((s, bool(above.size), ts[above[0]] - s if above.size else np.nan,
                     float(seg.max() - seg.min()) if seg.size else 0.0,
                     int(np.unique(ids[in_win]).size)))
    return pd.DataFrame(rows, columns=["stimulus_ms", "present", "latency_ms",
                                       "amplitude_mV", "units"])


def motor_spikes(res: Result, pool: str) -> tuple[np.ndarray, np.ndarray]:
    """Spike times and unit ids of a motoneuron pool where they act on the muscle: at the
    axon terminals if the pool has an axon, else at the somata."""
    from .axons import TERMINAL_SUFFIX

    name = pool + TERMINAL_SUFFIX if pool + TERMINAL_SUFFIX in res.recorded else pool
    t, ids = res.spike_arrays(name)
    return t, ids.astype(np.int64)


def synchronous_bursts(res: Result, pool: str, window_ms: float = 10.0,
                       min_units: int = 5, t_start_ms: float = 0.0,
                       t_stop_ms: float | None = None, exclude_ms=()):
    """Spontaneous synchronous bursts of motor units.

    Definition: a burst starts at a spike (at the muscle, :func:`motor_spikes`) followed
    within ``window_ms`` by spikes of at least ``min_units`` distinct units of the pool,
    and continues while successive spikes are less than ``window_ms`` apart. Spikes in
    any ``exclude_ms`` interval (e.g. responses to stimuli) are ignored. Returns a
    DataFrame of bursts (``start_ms``, ``end_ms``, ``duration_ms``, ``units``,
    ``spikes``) and their rate per minute.
    """
    import pandas as pd

    t1 = res.duration_ms if t_stop_ms is None else t_stop_ms
    t, ids = motor_spikes(res, pool)
    keep = (t >= t_start_ms) & (t < t1)
    for a, b in exclude_ms:
        keep &= ~((t >= a) & (t < b))
    order = np.argsort(t[keep], kind="stable")
    t, ids = t[keep][order], ids[keep][order]
    rows = []
    i = 0
    while i < t.size:
        j = int(np.searchsorted(t, t[i] + window_ms, side="right"))
        if np.unique(ids[i:j]).size >= min_units:
            while j < t.size and t[j] - t[j - 1] < window_ms:
                j += 1
            rows.append((t[i], t[j - 1], t[j - 1] - t[i], int(np.unique(ids[i:j]).size),
                         j - i))
            i = j
        else:
            i += 1
    df = pd.DataFrame(rows, columns=["start_ms", "end_ms", "duration_ms", "units",
                                     "spikes"])
    excluded = sum(max(0.0, min(b, t1) - max(a, t_start_ms)) for a, b in exclude_ms)
    minutes = (t1 - t_start_ms - excluded) / 60_000.0
    return df, len(df) / minutes


# -- EMG envelope and episodes ---------------------------------------------------------
def emg_envelope(emg_mV: np.ndarray, interval_ms: float, window_ms: float = 50.0
                 ) -> np.ndarray:
    """Rectified EMG smoothed by a centred moving average of ``window_ms`` (mV)."""
    n = max(1, int(round(window_ms / interval_ms)))
    kernel = np.ones(n) / n
    return np.convolve(np.abs(emg_mV), kernel, mode="same")


def episodes(signal: np.ndarray, interval_ms: float, threshold: float,
             min_gap_ms: float = 100.0, min_duration_ms: float = 0.0):
    """Stretches where ``signal > threshold``, gaps shorter than ``min_gap_ms`` bridged,
    shorter than ``min_duration_ms`` dropped: DataFrame of start_ms, end_ms, duration_ms,
    peak."""
    import pandas as pd

    above = np.asarray(signal) > threshold
    edges = np.flatnonzero(np.diff(np.r_[0, above.astype(np.int8), 0]))
    starts, ends = edges[::2], edges[1::2]
    merged: list[list[int]] = []
    for a, b in zip(starts, ends):
        if merged and (a - merged[-1][1]) * interval_ms < min_gap_ms:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    rows = [(a * interval_ms, b * interval_ms, (b - a) * interval_ms,
             float(np.max(signal[a:b]))) for a, b in merged
            if (b - a) * interval_ms >= min_duration_ms]
    return pd.DataFrame(rows, columns=["start_ms", "end_ms", "duration_ms", "peak"])


def tonic_emg_level_mV(res: Result, muscle: str, rate_Hz: float, units: float = 1.0,
                       unit: int = 0) -> float:
    """Mean rectified EMG (mV) of ``units`` motor units like unit ``unit`` (default the
    smallest) each firing tonically at ``rate_Hz``.

    One first-order Hermite-Rodriguez MUAP ``A u exp(-u^2)``, ``u = t / lambda``, has
    rectified area ``A lambda`` (mV ms), since the integral of ``|u exp(-u^2)|`` over
    u is 1. As long as the MUAPs do not overlap (``rate_Hz`` well below
    ``1000 / (8 lambda)``), the mean rectified EMG is therefore
    ``units * A * lambda * rate_Hz / 1000``. This is the level that a moving-average
    envelope (:func:`emg_envelope`) of such a train averages to.
    """
    m = res.muscle(muscle)
    area = float(m.muap_amplitude_mV[unit]) * float(m.muap_width_ms[unit])
    return units * area * rate_Hz / 1000.0


def reflex_duration_ms(res: Result, muscle: str, stimulus_ms: float,
                       window_ms: float = 100.0, baseline_ms: float = 200.0,
                       floor_units: float = 2.0, floor_rate_Hz: float = 8.0,
                       min_gap_ms: float = 100.0) -> float:
    """Duration of the EMG response to a stimulus at ``stimulus_ms`` (ms; 0 if none).

    Definition:

    1. envelope: the rectified EMG averaged over windows of ``window_ms``
       (:func:`emg_envelope`, centred moving average);
    2. threshold: the larger of
       - the baseline: mean + 3 sd of the envelope over the ``baseline_ms`` whose
         windows all end before the stimulus, and
       - an absolute floor tied to motor-unit discharge: the envelope of
         ``floor_units`` of the smallest motor units each firing tonically at
         ``floor_rate_Hz`` (:func:`tonic_emg_level_mV`; by default two units at 8 Hz,
         the low end of steady motoneuron discharge, i.e. 1.6 smallest-unit action
         potentials per 100-ms window);
    3. the response is the episode of envelope above threshold (:func:`episodes`,
       gaps shorter than ``min_gap_ms`` bridged) that starts between
       ``stimulus_ms - window_ms`` and ``stimulus_ms + 100``. It ends at the start of
       the last window whose mean exceeds the threshold (the centred envelope's
       crossing minus ``window_ms / 2``), so a burst that stops abruptly ends at its
       last motor-unit action potential, not half a window later;
    4. duration = end - ``stimulus_ms``. A response still above threshold within
       ``window_ms / 2`` of the end of the run is cut at the end of the run: the
       duration is then a lower bound.

    The threshold does not depend on the response, so a larger first burst cannot
    shorten the measured duration. (An earlier version used max(baseline, 10 % of the
    response's peak): a spasm after a large reflex measured short while motoneurons
    kept firing for seconds.) The floor is in units of the smallest motor unit: one
    action potential of a unit with a larger MUAP area (amplitude x width) can reach
    it on its own.

    See Also
    --------
    tonic_emg_level_mV, emg_envelope, episodes

    Examples
    --------
    >>> res = mnsim.simulate(mnsim.load_config("configs/sci_spasm.toml"))
    >>> reflex_duration_ms(res, "muscle", 1000.0)   # sources.cutaneous.start_ms
    """
    m = res.muscle(muscle)
    dt = float(m.emg_time_ms[1] - m.emg_time_ms[0])
    env = emg_envelope(m.emg_mV.to_numpy(), dt, window_ms)
    t = m.emg_time_ms.to_numpy()
    half = window_ms / 2
    base = env[(t >= stimulus_ms - half - baseline_ms) & (t < stimulus_ms - half)]
    floor = tonic_emg_level_mV(res, muscle, floor_rate_Hz, floor_units)
    thr = max(base.mean() + 3 * base.std() if base.size else 0.0, floor)
    ep = episodes(env, dt, thr, min_gap_ms)
    hit = ep[(ep.start_ms >= stimulus_ms - window_ms) & (ep.start_ms <= stimulus_ms + 100)]
    if hit.empty:
        return 0.0
    end = float(hit.end_ms.iloc[0])
    t_end = float(t[-1])
    end = t_end if end >= t_end - half else end - half
    return max(end - stimulus_ms, 0.0)


def twitches(res: Result, muscle: str, t_start_ms: float = 0.0,
             t_stop_ms: float | None = None, window_ms: float = 20.0,
             min_gap_ms: float = 100.0):
    """Involuntary twitches: episodes of EMG activity in a window (e.g. at rest).

    Definition: the EMG envelope (:func:`emg_envelope`, ``window_ms``) above a quarter of
    the envelope that one action potential of the smallest motor unit produces on its
    own (so any motor-unit discharge counts), gaps under ``min_gap_ms`` bridged. Returns
    the episodes (start_ms, end_ms, duration_ms, peak) and their rate per minute.
    """
    m = res.muscle(muscle)
    dt = float(m.emg_time_ms[1] - m.emg_time_ms[0])
    t1 = res.duration_ms if t_stop_ms is None else t_stop_ms
    t = m.emg_time_ms.to_numpy()
    sel = (t >= t_start_ms) & (t < t1)
    env = emg_envelope(m.emg_mV.to_numpy()[sel], dt, window_ms)
    a0, lam0 = float(m.muap_amplitude_mV[0]), float(m.muap_width_ms[0])
    # mean |A u exp(-u^2)| over a window = A lam / window (integral of |u e^-u^2| du = 1)
    one_muap = a0 * lam0 / window_ms
    ep = episodes(env, dt, 0.25 * one_muap, min_gap_ms)
    ep[["start_ms", "end_ms"]] += t_start_ms
    minutes = (t1 - t_start_ms) / 60_000.0
    return ep, len(ep) / minutes


@register_metric("firing", "isi_cv.<pop>: mean over active neurons of sd/mean ISI; "
                           "recruitment_order.<pop>: Spearman(node id, first spike)")
def _firing(res: Result) -> dict[str, float]:
    out = {}
    for name, _ in _recorded_neurons(res):
        cv = firing_stats(res, name).isi_cv
        out[f"isi_cv.{name}"] = float(cv.mean()) if cv.notna().any() else float("nan")
        out[f"recruitment_order.{name}"] = recruitment_order(res, name)
    return out


@register_metric("twitches", "twitch_rate_per_min.<muscle>: EMG episodes per minute over "
                             "the whole run (see twitches); longest_episode_ms.<muscle>: "
                             "the longest of them (0 if none); episode_fraction.<muscle>: "
                             "fraction of the run spent in them")
def _twitches(res: Result) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in res.muscles:
        ep, rate = twitches(res, m)
        out[f"twitch_rate_per_min.{m}"] = rate
        out[f"longest_episode_ms.{m}"] = float(ep.duration_ms.max()) if len(ep) else 0.0
        out[f"episode_fraction.{m}"] = float(ep.duration_ms.sum() / res.duration_ms)
    return out


def stimulus_ms(res: Result) -> float | None:
    """Start of the earliest ``kind = "train"`` source (ms), or None without one."""
    trains = [s.start_ms for s in res.config.sources.values() if s.kind == "train"]
    return min(trains) if trains else None


@register_metric("reflex", "reflex_duration_ms.<muscle>: from the first pulse of the "
                           "earliest 'train' source until the EMG envelope (100-ms "
                           "windows) falls below max(baseline + 3 sd, two smallest "
                           "units at 8 Hz) for good (see reflex_duration_ms)")
def _reflex(res: Result) -> dict[str, float]:
    stim = stimulus_ms(res)
    if stim is None or not res.muscles:
        return {}
    return {f"reflex_duration_ms.{m}": reflex_duration_ms(res, m, stim)
            for m in res.muscles}


#: windows of the "response" metric, relative to the stimulus (ms)
INITIAL_WINDOW_ms = 100.0
LATE_WINDOW_ms = (1000.0, 2000.0)
RATE_BIN_ms = 50.0


@register_metric("response", "around the first pulse of the earliest 'train' source: "
                             "initial_reflex_mV.<muscle> = peak 50-ms EMG envelope in "
                             "the 100 ms after it; peak_force_mN.<muscle> = peak force "
                             "after it; rest_spikes.<pop> = spikes before it; "
                             "late_rate_Hz.<pop> = mean rate 1-2 s after it (NaN if the "
                             "run ends sooner); max_rate_Hz.<pop> = highest mean rate "
                             "over 50-ms bins after it; discharge_ms.<pop> = last "
                             "spike after it minus its time (0 if none)")
def _response(res: Result) -> dict[str, float]:
    stim = stimulus_ms(res)
    if stim is None:
        return {}
    out: dict[str, float] = {}
    for name in res.muscles:
        m = res.muscle(name)
        t = m.emg_time_ms.to_numpy()
        env = emg_envelope(m.emg_mV.to_numpy(), float(t[1] - t[0]), 50.0)
        sel = (t > stim) & (t < stim + INITIAL_WINDOW_ms)
        out[f"initial_reflex_mV.{name}"] = float(env[sel].max()) if sel.any() else 0.0
        f = m.force_mN.sel(time_ms=slice(stim, None))
        out[f"peak_force_mN.{name}"] = float(f.max()) if f.size else 0.0
    t_end = res.duration_ms
    for name, size in _recorded_neurons(res):
        t, _ = res.spike_arrays(name)
        after = t[t >= stim]
        out[f"rest_spikes.{name}"] = float(np.count_nonzero(t < stim))
        a, b = stim + LATE_WINDOW_ms[0], stim + LATE_WINDOW_ms[1]
        out[f"late_rate_Hz.{name}"] = (
            float(np.count_nonzero((t >= a) & (t < b)) / size / ((b - a) / 1000.0))
            if b <= t_end else float("nan"))
        edges = np.arange(stim, t_end + RATE_BIN_ms, RATE_BIN_ms)
        counts = np.histogram(after, edges)[0] if edges.size > 1 else np.zeros(1)
        out[f"max_rate_Hz.{name}"] = float(counts.max() / size / (RATE_BIN_ms / 1000.0))
        out[f"discharge_ms.{name}"] = float(after.max() - stim) if after.size else 0.0
    return out


#: Window after a nerve stimulus searched for an evoked response (ms): from 1 ms, so a
#: spontaneous discharge under way at the stimulus is not taken for a response.
EVOKED_WINDOW_ms = (1.0, 30.0)
#: Time after each stimulus excluded from spontaneous-burst detection (ms).
EVOKED_EXCLUDE_ms = 100.0


def nerve_stimuli(res: Result) -> dict[str, np.ndarray]:
    """Times of the stimuli of every ``axon_inputs`` entry driven by a ``train`` or
    ``times`` source (nerve stimulation), by input name."""
    cfg = res.config
    return {name: stimulus_times_ms(res, a.source) for name, a in cfg.axon_inputs.items()
            if cfg.sources[a.source].kind in ("train", "times")}


@register_metric("evoked", "for each nerve stimulation <input> (axon_inputs from a train "
                           "or times source) and muscle: evoked_present.<input>.<muscle> = "
                           "fraction of stimuli with a response 1-30 ms after; "
                           "evoked_latency_ms = median onset latency over the responses, "
                           "evoked_amplitude_mV = mean peak-to-peak amplitude (see "
                           "evoked_response). In the other branch's muscle this is the "
                           "lateral spread response")
def _evoked(res: Result) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, times in nerve_stimuli(res).items():
        for m in res.muscles:
            ev = evoked_response(res, m, times, EVOKED_WINDOW_ms)
            hit = ev[ev.present]
            out[f"evoked_present.{name}.{m}"] = float(ev.present.mean()) if len(ev) else 0.0
            out[f"evoked_latency_ms.{name}.{m}"] = float(hit.latency_ms.median()) \
                if len(hit) else float("nan")
            out[f"evoked_amplitude_mV.{name}.{m}"] = float(ev.amplitude_mV.mean()) \
                if len(ev) else 0.0
    return out


@register_metric("bursts", "burst_rate_per_min.<pool> = spontaneous synchronous bursts "
                           "(>= 5 units within 10 ms, see synchronous_bursts) per minute, "
                           "100 ms after each nerve stimulus excluded; "
                           "burst_duration_ms.<pool> and burst_units.<pool> = their mean "
                           "duration and number of units (0 without bursts)")
def _bursts(res: Result) -> dict[str, float]:
    stims = np.concatenate([np.empty(0), *nerve_stimuli(res).values()])
    exclude = [(s, s + EVOKED_EXCLUDE_ms) for s in np.sort(stims)]
    out: dict[str, float] = {}
    for m in res.muscles:
        pool = res.config.muscles[m].pool
        df, rate = synchronous_bursts(res, pool, exclude_ms=exclude)
        out[f"burst_rate_per_min.{pool}"] = rate
        out[f"burst_duration_ms.{pool}"] = float(df.duration_ms.mean()) if len(df) else 0.0
        out[f"burst_units.{pool}"] = float(df.units.mean()) if len(df) else 0.0
    return out


#: Windows after a mixed-nerve stimulus (ms): the direct motor response (M-wave) and the
#: monosynaptic reflex (H-reflex) of a limb muscle (soleus: M ~5-7 ms, H ~30 ms).
M_WINDOW_ms = (1.0, 15.0)
H_WINDOW_ms = (15.0, 60.0)


def h_reflex(res: Result, muscle: str, stimuli_ms, m_window_ms=M_WINDOW_ms,
             h_window_ms=H_WINDOW_ms):
    """M-wave and H-reflex after each stimulus of a mixed nerve: ``stimulus_ms``,
    ``m_latency_ms``, ``m_amplitude_mV``, ``h_latency_ms``, ``h_amplitude_mV``,
    ``h_units`` and ``h_ratio`` (H amplitude / that of the first stimulus), each from
    :func:`evoked_response` in its window."""
    m = evoked_response(res, muscle, stimuli_ms, m_window_ms)
    h = evoked_response(res, muscle, stimuli_ms, h_window_ms)
    out = m[["stimulus_ms"]].copy()
    out["m_latency_ms"], out["m_amplitude_mV"] = m.latency_ms, m.amplitude_mV
    out["h_latency_ms"], out["h_amplitude_mV"] = h.latency_ms, h.amplitude_mV
    out["h_units"] = h.units
    first = float(h.amplitude_mV.iloc[0]) if len(h) else 0.0
    out["h_ratio"] = h.amplitude_mV / first if first > 0 else np.nan
    return out


@register_metric("h_reflex", "for each nerve stimulation <input> and muscle, M-wave "
                             "(1-15 ms) and H-reflex (15-60 ms) after each stimulus (see "
                             "h_reflex): m_amplitude_mV / h_amplitude_mV.<input>.<muscle> "
                             "= responses to the first stimulus, h_latency_ms = its H "
                             "onset; h_depression = mean H amplitude of the later "
                             "stimuli / that of the first (rate-dependent depression; NaN "
                             "with one stimulus)")
def _h_reflex(res: Result) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, times in nerve_stimuli(res).items():
        for m in res.muscles:
            df = h_reflex(res, m, times)
            if df.empty:
                continue
            key = f"{name}.{m}"
            out[f"m_amplitude_mV.{key}"] = float(df.m_amplitude_mV.iloc[0])
            out[f"h_amplitude_mV.{key}"] = float(df.h_amplitude_mV.iloc[0])
            out[f"h_latency_ms.{key}"] = float(df.h_latency_ms.iloc[0])
            out[f"h_depression.{key}"] = (float(df.h_ratio.iloc[1:].mean())
                                          if len(df) > 1 else float("nan"))
    return out


# == motor-pool protocols: discharge spans, smoothed rates, paired-unit Delta F ==========
# Analyses of slow ramps, steady drive and conditioning volleys (configs/healthy_triangle,
# healthy_steady, reciprocal_inhibition). Definitions in docs/model.md, "Motor-pool
# protocols"; sources in docs/literature.md, section 9.

#: Longest interspike interval (ms) within one discharge episode: a unit firing slower
#: than 2 Hz is taken as derecruited (steady human motor-unit discharge is >= ~5 Hz).
DISCHARGE_MAX_ISI_ms = 500.0
#: Full width of the Hann window smoothing instantaneous rates (ms) [M].
RATE_SMOOTH_ms = 2000.0


def discharge_spans(res: Result, population: str,
                    max_isi_ms: float = DISCHARGE_MAX_ISI_ms):
    """Recruitment and derecruitment of each neuron: its longest discharge episode.

    Definition: the spikes of a neuron are split wherever an interspike interval exceeds
    ``max_isi_ms``; the episode with the most spikes (at least 3) is the neuron's
    discharge. Sporadic spikes before or after it, as noise near threshold produces,
    do not count as recruitment. Returns a DataFrame indexed by ``node_id`` with
    ``recruit_ms`` and ``derecruit_ms`` (first and last spike of the episode; NaN if
    none) and ``n_spikes`` (in the episode).
    """
    import pandas as pd

    t, ids = res.spike_arrays(population)
    size = res.populations[population]["size"]
    ids = ids.astype(np.int64)
    order = np.lexsort((t, ids))
    t, ids = t[order], ids[order]
    bounds = np.searchsorted(ids, np.arange(size + 1))
    rows = []
    for n in range(size):
        tn = t[bounds[n]:bounds[n + 1]]
        best = (np.nan, np.nan, 0)
        if tn.size >= 3:
            cuts = np.flatnonzero(np.diff(tn) > max_isi_ms) + 1
            for seg in np.split(tn, cuts):
                if seg.size >= 3 and seg.size > best[2]:
                    best = (float(seg[0]), float(seg[-1]), int(seg.size))
        rows.append(best)
    df = pd.DataFrame(rows, columns=["recruit_ms", "derecruit_ms", "n_spikes"])
    df.index.name = "node_id"
    return df


def smoothed_rate(spike_times_ms: np.ndarray, at_ms: np.ndarray,
                  window_ms: float = RATE_SMOOTH_ms, t_start_ms: float = -np.inf,
                  t_stop_ms: float = np.inf) -> np.ndarray:
    """Instantaneous rate of one neuron (Hz), smoothed, at the times ``at_ms``.

    Definition: each interspike interval within [``t_start_ms``, ``t_stop_ms``] gives a
    rate 1000 / ISI placed at its midpoint; the value at time x is the Hann-weighted
    mean of these rates over a window of full width ``window_ms`` centred at x (NaN if
    no midpoint falls inside). A symmetric window leaves a linear trend unbiased.
    """
    ts = np.sort(np.asarray(spike_times_ms, float))
    ts = ts[(ts >= t_start_ms) & (ts <= t_stop_ms)]
    at = np.atleast_1d(np.asarray(at_ms, float))
    if ts.size < 2:
        return np.full(at.shape, np.nan)
    mid = 0.5 * (ts[1:] + ts[:-1])
    rate = 1000.0 / np.diff(ts)
    half = window_ms / 2.0
    out = np.full(at.shape, np.nan)
    lo = np.searchsorted(mid, at - half, side="left")
    hi = np.searchsorted(mid, at + half, side="right")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b > a:
            w = 0.5 * (1.0 + np.cos(np.pi * (mid[a:b] - at[i]) / half))
            if w.sum() > 0:
                out[i] = float(np.dot(w, rate[a:b]) / w.sum())
    return out


#: Default criteria of a valid control/test pair (docs/literature.md, section 9).
PAIR_CRITERIA = {"min_recruit_lag_ms": 1000.0, "min_rate_r": 0.7,
                 "min_modulation_Hz": 0.5, "min_headroom_Hz": 0.5}


def delta_f_pairs(res: Result, population: str, *, window_ms: float = RATE_SMOOTH_ms,
                  max_isi_ms: float = DISCHARGE_MAX_ISI_ms, grid_ms: float = 10.0,
                  min_recruit_lag_ms: float = PAIR_CRITERIA["min_recruit_lag_ms"],
                  min_rate_r: float = PAIR_CRITERIA["min_rate_r"],
                  min_modulation_Hz: float = PAIR_CRITERIA["min_modulation_Hz"],
                  min_headroom_Hz: float = PAIR_CRITERIA["min_headroom_Hz"]):
    """Paired motor-unit Delta F over every pair of units (Gorassini et al. 2002).

    On a slow triangular drive, the smoothed rate of a lower-threshold *control* unit
    stands for the synaptic drive that both units share. Delta F of a pair = control
    rate at the test unit's recruitment minus control rate at its derecruitment (Hz,
    i.e. pps); a persistent inward current in the test unit keeps it firing at a lower
    drive than recruited it, so Delta F > 0.

    Definitions:

    - recruitment and derecruitment: first and last spike of each unit's discharge
      (:func:`discharge_spans`, ISIs up to ``max_isi_ms``); only spikes of the
      discharge enter the rates;
    - rates: :func:`smoothed_rate` (Hann window of full width ``window_ms``);
    - a pair (control c, test t) is *valid* when
      1. c is recruited at least ``min_recruit_lag_ms`` before t (so that c's own PIC
         is fully active; Gorassini et al. 2002, Afsharipour et al. 2020: 1 s),
      2. c fires throughout t's discharge (it must report the drive at t's
         derecruitment),
      3. the smoothed rates of c and t, sampled every ``grid_ms`` over t's discharge,
         correlate with Pearson r >= ``min_rate_r`` (common drive; 0.7, as the
         openhdemg implementation of the method; some studies require r^2 >= 0.7),
      4. c's rate varies by at least ``min_modulation_Hz`` (max - min) during t's
         discharge (c is not saturated; 0.5 pps), and
      5. c's rate modulation, its peak rate during t's discharge minus its rate at its
         own derecruitment, exceeds Delta F by at least ``min_headroom_Hz`` (else c
         was itself at its floor and cannot report a further fall in drive; 0.5 pps,
         as in the soleus study, J Neurophysiol 2019, 122:2095, PMC6879958).

    Returns one row per ordered pair with c recruited before t: ``control``,
    ``test``, ``recruit_lag_ms``, ``rate_r``, ``modulation_Hz``, ``headroom_Hz``
    (criterion 5's margin), ``delta_f_Hz`` and ``valid``.

    See Also
    --------
    delta_f_units : Delta F per test unit (mean over its valid controls) and overall.
    delta_f : the single-pair estimate with a moving-average rate.

    Examples
    --------
    >>> res = mnsim.simulate(mnsim.load_config("configs/healthy_triangle.toml"))
    >>> pairs = delta_f_pairs(res, "mn")
    >>> pairs[pairs.valid].groupby("test").delta_f_Hz.mean().mean()   # ~3-4 pps
    """
    import pandas as pd

    spans = discharge_spans(res, population, max_isi_ms).dropna()
    t, ids = res.spike_arrays(population)
    ids = ids.astype(np.int64)
    trains = {int(n): np.sort(t[(ids == n)]) for n in spans.index}
    trains = {n: tr[(tr >= spans.recruit_ms[n]) & (tr <= spans.derecruit_ms[n])]
              for n, tr in trains.items()}
    units = spans.sort_values("recruit_ms").index.to_numpy()
    grid = np.arange(0.0, res.duration_ms + grid_ms / 2, grid_ms)
    smooth = {n: smoothed_rate(trains[n], grid, window_ms) for n in units}
    cols = ["control", "test", "recruit_lag_ms", "rate_r", "modulation_Hz",
            "headroom_Hz", "delta_f_Hz", "valid"]
    rows = []
    for j, test in enumerate(units):
        t_on, t_off = spans.recruit_ms[test], spans.derecruit_ms[test]
        on = (grid >= t_on) & (grid <= t_off)
        r_test = smooth[test][on]
        for control in units[:j]:
            c_on, c_off = spans.recruit_ms[control], spans.derecruit_ms[control]
            lag = t_on - c_on
            covers = c_off >= t_off
            r_ctrl = smooth[control][on]
            ok = np.isfinite(r_ctrl) & np.isfinite(r_test)
            if ok.sum() >= 3 and np.std(r_ctrl[ok]) > 0 and np.std(r_test[ok]) > 0:
                r = float(np.corrcoef(r_ctrl[ok], r_test[ok])[0, 1])
            else:
                r = np.nan
            f_on, f_off, f_last = smoothed_rate(trains[control], [t_on, t_off, c_off],
                                                window_ms)
            df = float(f_on - f_off)
            if ok.any():
                mod = float(np.max(r_ctrl[ok]) - np.min(r_ctrl[ok]))
                headroom = float(np.max(r_ctrl[ok]) - f_last - df)
            else:
                mod = headroom = np.nan
            valid = bool(covers and lag >= min_recruit_lag_ms and r >= min_rate_r
                         and mod >= min_modulation_Hz and headroom >= min_headroom_Hz
                         and np.isfinite(df))
            rows.append((int(control), int(test), float(lag), r, mod, headroom, df,
                         valid))
    return pd.DataFrame(rows, columns=cols)


def delta_f_units(res: Result, population: str, **kwargs):
    """Delta F per test unit: the mean over its valid control units
    (:func:`delta_f_pairs`, whose keyword arguments pass through), as in Afsharipour
    et al. 2020. Returns a Series indexed by the test unit's ``node_id`` (units without
    a valid pair are left out); its mean is the pool's Delta F."""
    pairs = delta_f_pairs(res, population, **kwargs)
    v = pairs[pairs.valid]
    return v.groupby("test").delta_f_Hz.mean()


def steady_isi_cv(res: Result, population: str, t_start_ms: float,
                  t_stop_ms: float | None = None, min_spikes: int = 20,
                  max_isi_ms: float = DISCHARGE_MAX_ISI_ms):
    """ISI CV (sd / mean) of the neurons that fire throughout a window of steady drive.

    Definition: a neuron counts when it fires at least ``min_spikes`` spikes in
    [``t_start_ms``, ``t_stop_ms``) with no interspike interval above ``max_isi_ms``
    (it discharges continuously; units hovering at threshold, which fire in irregular
    runs, are left out as in human recordings of steady contractions). Returns a
    Series of CVs indexed by ``node_id``; its median is the pool's discharge
    variability.
    """
    import pandas as pd

    t1 = res.duration_ms if t_stop_ms is None else t_stop_ms
    t, ids = res.spike_arrays(population)
    sel = (t >= t_start_ms) & (t < t1)
    t, ids = t[sel], ids[sel].astype(np.int64)
    out = {}
    for n in np.unique(ids):
        tn = np.sort(t[ids == n])
        if tn.size < min_spikes:
            continue
        isi = np.diff(tn)
        if isi.max() <= max_isi_ms:
            out[int(n)] = float(isi.std() / isi.mean())
    return pd.Series(out, name="isi_cv", dtype=float).rename_axis("node_id")


def psth(res: Result, population: str, stimuli_ms, window_ms=(-20.0, 30.0),
         bin_ms: float = 0.5, per_stimulus: bool = False):
    """Peristimulus time histogram of a population's spikes.

    Returns a DataFrame with ``t_ms`` (start of each bin, relative to the stimulus) and
    ``count`` (spikes of every neuron in that bin, summed over stimuli). With
    ``per_stimulus``, returns instead ``(t_ms, counts)``: the bin starts and an array
    of shape (stimuli, bins).
    """
    import pandas as pd

    t, _ = res.spike_arrays(population)
    t = np.sort(t)
    n = int(round((window_ms[1] - window_ms[0]) / bin_ms))
    edges = window_ms[0] + bin_ms * np.arange(n + 1)
    stim = np.atleast_1d(np.asarray(stimuli_ms, float))
    counts = np.zeros((stim.size, n))
    for k, s in enumerate(stim):
        a, b = np.searchsorted(t, [s + edges[0], s + edges[-1]])
        counts[k] = np.histogram(t[a:b] - s, edges)[0]
    if per_stimulus:
        return edges[:-1], counts
    return pd.DataFrame({"t_ms": edges[:-1], "count": counts.sum(axis=0)})


def psth_response(res: Result, population: str, stimuli_ms, window_ms=(-20.0, 30.0),
                  bin_ms: float = 0.5, search_ms=(0.0, 10.0), onset_bins: int = 4,
                  k_sd: float = 4.0, effect_ms: float = 5.0) -> dict[str, float]:
    """Onset and size of the short-latency excitation (peak) and inhibition (trough)
    that stimuli evoke in a tonically firing population (:func:`psth`).

    Definition: b = mean count per bin (summed over stimuli) before the stimulus.
    Windows of ``onset_bins`` consecutive bins start at every bin of ``search_ms``
    after the stimulus; their null sd is measured, not assumed: the variance over
    stimuli of the count in windows of the same width before the stimulus, times the
    number of stimuli (population spike counts are over-dispersed, since units fire
    regularly and partly in synchrony). The first window whose summed count exceeds
    ``onset_bins * b + k_sd * sd`` marks a peak, the first below
    ``onset_bins * b - k_sd * sd`` a trough; the **onset** is the first bin of that
    window that is itself beyond b by more than two single-bin sd (``2 sqrt(b)``) in
    the same direction, else the window's first bin (NaN if no window qualifies). The
    **size** is the mean count over ``effect_ms`` from the onset relative to b:
    ``excitation`` = mean / b - 1, ``inhibition`` = 1 - mean / b (0 = no effect, 1 =
    complete silencing; 0 without an onset). Returns ``baseline_per_bin``,
    ``window_sd`` (the null sd of a window's count), ``peak_onset_ms``,
    ``excitation``, ``trough_onset_ms`` and ``inhibition``.
    """
    t, per = psth(res, population, stimuli_ms, window_ms, bin_ms, per_stimulus=True)
    c = per.sum(axis=0)
    pre = t + bin_ms <= 0
    b = float(c[pre].mean()) if pre.any() else 0.0
    k = onset_bins
    kernel = np.ones(k)
    win = np.array([np.convolve(row, kernel, mode="valid") for row in per])
    sums = win.sum(axis=0)                    # sums[i] = c[i] + ... + c[i+k-1]
    starts = t[:sums.size]
    pre_win = starts + k * bin_ms <= 0
    var = float(win[:, pre_win].var(axis=0, ddof=1).mean()) if pre_win.sum() else 0.0
    sd = np.sqrt(max(var * per.shape[0], 1.0))
    inside = (starts >= search_ms[0]) & (starts < search_ms[1])
    n_eff = max(1, int(round(effect_ms / bin_ms)))
    out = {"baseline_per_bin": b, "window_sd": float(sd)}
    for name, sign, size_key in (("peak", 1.0, "excitation"),
                                 ("trough", -1.0, "inhibition")):
        idx = np.flatnonzero(inside & (sign * (sums - k * b) > k_sd * sd))
        if idx.size and b > 0:
            j = int(idx[0])
            beyond = np.flatnonzero(sign * (c[j:j + k] - b) > 2.0 * np.sqrt(b))
            i = j + (int(beyond[0]) if beyond.size else 0)
            m = c[i:i + n_eff].mean()
            out[f"{name}_onset_ms"] = float(t[i])
            out[size_key] = float(m / b - 1.0 if sign > 0 else 1.0 - m / b)
        else:
            out[f"{name}_onset_ms"] = float("nan")
            out[size_key] = 0.0
    return out


def drive_rate_Hz(res: Result, source: str, times_ms) -> np.ndarray:
    """Rate (Hz) of a Poisson source's generators at the given times, from its config
    (a number or a rate profile, linear between breakpoints)."""
    from .config import profile_points

    src = res.config.sources[source]
    if src.kind != "poisson":
        raise ValueError(f"source '{source}' is {src.kind!r}; a drive profile comes from a "
                         f"'poisson' source")
    t = np.asarray(times_ms, float)
    if isinstance(src.rate_Hz, (int, float)):
        return np.full(t.shape, float(src.rate_Hz))
    xs, ys = profile_points(src.rate_Hz, "Hz")
    return np.interp(t, xs, ys)


def recruitment_thresholds(res: Result, population: str, source: str,
                           max_isi_ms: float = DISCHARGE_MAX_ISI_ms):
    """Recruitment and derecruitment of each unit (:func:`discharge_spans`) and the
    drive at each: the rate of ``source``'s generators (:func:`drive_rate_Hz`) at the
    first and last spike of the discharge. Columns ``recruit_ms``, ``derecruit_ms``,
    ``recruit_drive_Hz``, ``derecruit_drive_Hz``; units that never fire are left
    out."""
    sp = discharge_spans(res, population, max_isi_ms).dropna()
    sp["recruit_drive_Hz"] = drive_rate_Hz(res, source, sp.recruit_ms.to_numpy())
    sp["derecruit_drive_Hz"] = drive_rate_Hz(res, source, sp.derecruit_ms.to_numpy())
    return sp


@register_metric("delta_f", "for each muscle's pool: delta_f_Hz.<pool> = mean over test "
                            "units of their paired motor-unit Delta F (each the mean over "
                            "its valid control units; see delta_f_pairs: control "
                            "recruited >= 1 s earlier and firing throughout, rate-rate "
                            "r >= 0.7, control modulation >= 0.5 pps and headroom >= "
                            "0.5 pps, 2-s Hann smoothing); delta_f_sd_Hz.<pool> = their "
                            "sd; delta_f_units.<pool>, delta_f_pairs.<pool> = numbers of "
                            "test units and valid pairs")
def _delta_f(res: Result) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in res.muscles:
        pool = res.config.muscles[m].pool
        pairs = delta_f_pairs(res, pool)
        per = pairs[pairs.valid].groupby("test").delta_f_Hz.mean()
        out[f"delta_f_Hz.{pool}"] = float(per.mean()) if len(per) else float("nan")
        out[f"delta_f_sd_Hz.{pool}"] = float(per.std()) if len(per) > 1 else float("nan")
        out[f"delta_f_units.{pool}"] = float(len(per))
        out[f"delta_f_pairs.{pool}"] = float(pairs.valid.sum())
    return out
