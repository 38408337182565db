"""Muscle output from motoneuron spikes: Fuglevand-type motor-unit force and surrogate EMG.

Each motoneuron of the configured pool is one motor unit; unit i = 0 … n-1 (smallest
first, as in the pool's size-principle scaling). Following Fuglevand, Winter & Patla
(1993, J Neurophysiol 70:2470):

- peak twitch force  P_i = P_0 · RP^(i/(n-1))            (RP = twitch_force_range)
- contraction time   T_i = T_L · (P_0 / P_i)^(1/c),  c = ln RP / ln RT
                      (T_L = contraction_time_longest_ms, RT = contraction_time_range)
- twitch             f_i(t) = g · P_i · (t/T_i) · exp(1 − t/T_i),  t ≥ 0
- gain               x = T_i / ISI (ISI before the spike; the first spike has x = 0);
                      g = 1 for x ≤ 0.4, else g = S(x)/S(0.4), S(x) = (1 − exp(−2x³))/x

so twitches sum linearly at low rates and saturate sigmoidally towards fused tetanus.

Surrogate EMG: every spike adds its unit's action potential after a fixed latency,
a first-order Hermite-Rodriguez wave  A_i · u · exp(−u²),  u = (t − latency)/λ_i, with
amplitude growing and duration (λ) shrinking geometrically with unit size (Lo Conte et
al. 1994; as used by Cisi & Kohn 2008).

Both signals are computed from the pool's spikes after the run and stored in the run
file under ``/muscles/<name>/``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._numerics import NJIT

__all__ = ["unit_properties", "force_gain", "muscle_signals"]

#: Twitches (and MUAPs) are summed over this many contraction times (λ) after a spike;
#: the twitch has decayed below 1e-6 of its peak by 20 T.
TWITCH_SPAN = 20.0
MUAP_SPAN = 4.0


def unit_properties(m, n: int) -> dict[str, np.ndarray]:
    """Per-unit twitch peak (mN), contraction time (ms), MUAP amplitude (mV), λ (ms)."""
    frac = np.arange(n) / max(n - 1, 1)
    peak = m.smallest_twitch_mN * m.twitch_force_range ** frac
    c = math.log(m.twitch_force_range) / math.log(m.contraction_time_range)
    ct = m.contraction_time_longest_ms * (m.smallest_twitch_mN / peak) ** (1.0 / c)
    amp = m.muap_amplitude_smallest_mV * m.muap_amplitude_range ** frac
    lam = m.muap_width_smallest_ms * m.muap_width_range ** frac
    return {"twitch_peak_mN": peak, "contraction_time_ms": ct, "muap_amplitude_mV": amp,
            "muap_width_ms": lam}


def force_gain(x: np.ndarray) -> np.ndarray:
    """Fuglevand's force-rate gain at normalised rate x = T / ISI (1 below x = 0.4)."""
    x = np.asarray(x, float)
    s = lambda y: (1.0 - np.exp(-2.0 * y ** 3)) / y  # noqa: E731
    return np.where(x <= 0.4, 1.0, s(np.maximum(x, 0.4)) / s(0.4))


@njit(**NJIT)
def _accumulate_force(out, dt, times, units, gains, peak, ct):
    """Add every twitch to ``out`` (force sampled every ``dt`` ms from t = 0)."""
    n = out.size
    for s in range(times.size):
        u = units[s]
        t_spk = times[s]
        T = ct[u]
        a = gains[s] * peak[u]
        k0 = int(math.ceil(t_spk / dt - 1e-9))
        k1 = min(n, int(math.floor((t_spk + TWITCH_SPAN * T) / dt)) + 1)
        for k in range(k0, k1):
            x = (k * dt - t_spk) / T
            out[k] += a * x * math.exp(1.0 - x)


@njit(**NJIT)
def _accumulate_emg(out, dt, times, units, amp, lam, latency):
    """Add every motor-unit action potential to ``out`` (sampled every ``dt`` ms)."""
    n = out.size
    for s in range(times.size):
        u = units[s]
        centre = times[s] + latency
        L = lam[u]
        k0 = max(0, int(math.ceil((centre - MUAP_SPAN * L) / dt)))
        k1 = min(n, int(math.floor((centre + MUAP_SPAN * L) / dt)) + 1)
        for k in range(k0, k1):
            x = (k * dt - centre) / L
            out[k] += amp[u] * x * math.exp(-x * x)


def muscle_signals(m, times_ms: np.ndarray, node_ids: np.ndarray, n_units: int,
                   duration_ms: float) -> dict[str, np.ndarray]:
    """Force and EMG of one muscle from its pool's spikes.

    Returns ``time_ms`` and ``force_mN`` (sampled every ``m.force_interval_ms``),
    ``emg_time_ms`` and ``emg_mV`` (every ``m.emg_interval_ms``) and the per-unit
    properties (see :func:`unit_properties`).
    """
    props = unit_properties(m, n_units)
    order = np.lexsort((times_ms, node_ids))  # by unit, then time: ISIs per unit
    t = np.asarray(times_ms, float)[order]
    u = np.asarray(node_ids, np.int64)[order]
    isi = np.diff(t, prepend=-np.inf)
    isi[np.r_[True, u[1:] != u[:-1]][:u.size]] = np.inf  # first spike of each unit
    x = props["contraction_time_ms"][u] / isi
    gains = force_gain(x)
    n_f = int(math.floor(duration_ms / m.force_interval_ms)) + 1
    force = np.zeros(n_f)
    _accumulate_force(force, m.force_interval_ms, t, u, gains, props["twitch_peak_mN"],
                      props["contraction_time_ms"])
    n_e = int(math.floor(duration_ms / m.emg_interval_ms)) + 1
    emg = np.zeros(n_e)
    _accumulate_emg(emg, m.emg_interval_ms, t, u, props["muap_amplitude_mV"],
                    props["muap_width_ms"], m.emg_latency_ms)
    return {"time_ms": np.arange(n_f) * m.force_interval_ms, "force_mN": force,
            "emg_time_ms": np.arange(n_e) * m.emg_interval_ms, "emg_mV": emg, **props}
