"""Single-cell behaviour against analytic results: f-I curve, rheobase, PIC bistability
and hysteresis, inhibitory reversal, dt convergence, and the exp approximation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

import mnsim
from mnsim._numerics import exp_neg
from conftest import LIF, PIC_CELL, single_cell


def spike_times(cfg) -> np.ndarray:
    return mnsim.simulate(cfg).spikes("a").time_ms.to_numpy()


# -- leaky integrate-and-fire: analytic f-I --------------------------------------------
def lif_rate_Hz(i_nA: float, c=200.0, g=10.0, el=-70.0, th=-50.0, vr=-70.0, tref=2.0):
    """Rate of a LIF neuron under constant current (reset held for the refractory time):
    ISI = t_ref + tau ln((V_inf - V_reset) / (V_inf - V_th)), V_inf = E_L + I / g_L."""
    v_inf = el + i_nA * 1000.0 / g
    if v_inf <= th:
        return 0.0
    return 1000.0 / (tref + c / g * math.log((v_inf - vr) / (v_inf - th)))


@pytest.mark.parametrize("i_nA", [0.22, 0.25, 0.3, 0.4, 0.6, 1.0])
def test_lif_rate_matches_analytic_fI(i_nA):
    cfg = single_cell({**LIF, "bias_current_nA": i_nA}, 3000.0, dt_ms=0.01, traces=False)
    t = spike_times(cfg)
    measured = 1000.0 / np.mean(np.diff(t))
    expected = lif_rate_Hz(i_nA)
    assert measured == pytest.approx(expected, rel=0.01), (i_nA, measured, expected)


def test_rheobase_matches_analytic():
    rheobase_nA = 10.0 * (-50.0 - -70.0) / 1000.0  # g_L (V_th - E_L)
    below = single_cell({**LIF, "bias_current_nA": rheobase_nA * 0.99}, 2000.0,
                        traces=False)
    above = single_cell({**LIF, "bias_current_nA": rheobase_nA * 1.01}, 2000.0,
                        traces=False)
    assert spike_times(below).size == 0
    assert spike_times(above).size > 0


def test_membrane_relaxes_exactly_to_steady_state():
    """Subthreshold step: V(t) = E_L + R I (1 - exp(-t / tau)) at every sample."""
    cfg = single_cell({**LIF, "threshold_mV": 0.0}, 100.0, dt_ms=0.1,
                      currents={"s": {"target": "a", "shape": "step", "t_on_ms": 0.0,
                                      "level_nA": 0.1}})
    v = mnsim.simulate(cfg).trace("a", "v_mV").sel(node_id=0)
    t = v.time_ms.to_numpy()
    expected = -70.0 + 10.0 * (1 - np.exp(-t / 20.0))
    np.testing.assert_allclose(v.to_numpy(), expected, atol=1e-6)


# -- dt convergence ---------------------------------------------------------------------
@pytest.mark.parametrize("cell,i_nA", [(LIF, 0.35), (PIC_CELL, 2.0)])
def test_halving_dt_changes_rate_less_than_2_percent(cell, i_nA):
    rates = []
    for dt in (0.1, 0.05):
        cfg = single_cell({**cell, "bias_current_nA": i_nA}, 4000.0, dt_ms=dt,
                          traces=False)
        rates.append(spike_times(cfg).size / 4.0)
    assert rates[0] > 5
    assert abs(rates[0] - rates[1]) / rates[1] < 0.02, rates


# -- persistent inward current ----------------------------------------------------------
def _ramp_rec_derec(cell, peak_nA=3.0, t_ms=6000.0):
    """Current at the first and at the last spike on a triangular ramp 0 -> peak -> 0."""
    half = t_ms / 2
    cfg = single_cell(cell, t_ms, dt_ms=0.05, traces=False,
                      currents={"r": {"target": "a", "shape": "triangle", "t_start_ms": 0.0,
                                      "t_peak_ms": half, "t_end_ms": t_ms,
                                      "peak_nA": peak_nA}})
    t = spike_times(cfg)
    current = lambda x: peak_nA * (1 - abs(x - half) / half)  # noqa: E731
    return current(t[0]), current(t[-1])


def _staircase_rec_derec(cell, top_nA=2.5, step_nA=0.05, hold_ms=200.0):
    """Levels of the first and last step with a spike on a staircase up then down."""
    levels = np.round(np.concatenate([np.arange(0, top_nA + step_nA / 2, step_nA),
                                      np.arange(top_nA - step_nA, -step_nA / 2,
                                                -step_nA)]), 9)
    onsets = np.arange(levels.size) * hold_ms
    times = np.append(np.repeat(onsets, 2)[1:], onsets[-1] + hold_ms)
    cfg = single_cell(cell, onsets[-1] + hold_ms, dt_ms=0.05, traces=False,
                      currents={"s": {"target": "a", "shape": "piecewise",
                                      "times_ms": times.tolist(),
                                      "values_nA": np.repeat(levels, 2).tolist()}})
    t = spike_times(cfg)
    idx = np.minimum((t // hold_ms).astype(int), levels.size - 1)
    return levels[idx[0]], levels[idx[-1]]


def test_pic_gives_recruitment_derecruitment_hysteresis():
    rec, derec = _ramp_rec_derec(PIC_CELL)
    assert derec < rec - 0.2, (rec, derec)  # nA: far beyond any lag of the ramp
    no_pic = {**PIC_CELL, "pic_gain": 0.0}
    rec0, derec0 = _ramp_rec_derec(no_pic)
    assert rec0 > rec  # the PIC also lowers the recruitment current


def test_no_pic_no_hysteresis_within_one_step():
    no_pic = {**PIC_CELL, "pic_gain": 0.0, "ahp_increment_nS": 0.0}
    rec, derec = _staircase_rec_derec(no_pic)
    assert abs(rec - derec) <= 0.05 + 1e-9, (rec, derec)
    # same protocol, PIC on: derecruited at least two steps below recruitment
    rec_p, derec_p = _staircase_rec_derec({**PIC_CELL, "ahp_increment_nS": 0.0})
    assert rec_p - derec_p >= 2 * 0.05 - 1e-9, (rec_p, derec_p)


def _pulse_protocol(cell):
    """Rest, excitatory pulse (200-300 ms), inhibitory train (900-1000 ms)."""
    cfg = single_cell(cell, 1500.0, dt_ms=0.05, traces=False,
                      currents={"p": {"target": "a", "shape": "step", "t_on_ms": 200.0,
                                      "t_off_ms": 300.0, "level_nA": 2.5}},
                      sources={"inh": {"kind": "train", "start_ms": 900.0, "pulses": 20,
                                       "frequency_Hz": 200.0}},
                      projections={"i": {"pre": "inh", "post": "a", "receptor": "inh",
                                         "probability": 1.0, "weight_nS": 50.0}})
    t = spike_times(cfg)
    return (np.sum(t < 200), np.sum((t > 400) & (t < 900)) / 0.5, np.sum(t > 1100))


def test_pic_self_sustained_firing_started_by_excitation_stopped_by_inhibition():
    before, sustained_Hz, after = _pulse_protocol(PIC_CELL)
    assert before == 0
    assert sustained_Hz > 10, sustained_Hz
    assert after == 0


def test_without_pic_firing_stops_with_the_pulse():
    before, sustained_Hz, after = _pulse_protocol({**PIC_CELL, "pic_gain": 0.0})
    assert (before, sustained_Hz, after) == (0, 0, 0)


# -- inhibitory reversal (the KCC2 knob) ------------------------------------------------
def _inhibited_cell(e_inh, bias_nA=0.0, weight=20.0):
    cell = {**LIF, "inh_reversal_mV": e_inh, "bias_current_nA": bias_nA}
    cfg = single_cell(cell, 200.0, dt_ms=0.05,
                      sources={"s": {"kind": "train", "start_ms": 100.0, "pulses": 5,
                                     "frequency_Hz": 100.0}},
                      projections={"i": {"pre": "s", "post": "a", "receptor": "inh",
                                         "probability": 1.0, "weight_nS": weight}})
    res = mnsim.simulate(cfg)
    v = res.trace("a", "v_mV").sel(node_id=0)
    return v, res.spikes("a").time_ms.to_numpy()


def test_inhibition_hyperpolarises_below_rest_and_depolarises_above():
    v, _ = _inhibited_cell(-80.0)
    rest = float(v.sel(time_ms=99.0, method="nearest"))
    assert float(v.sel(time_ms=slice(100, 160)).min()) < rest - 1.0
    v, _ = _inhibited_cell(-55.0)  # chloride reversal depolarised (KCC2 loss)
    assert float(v.sel(time_ms=slice(100, 160)).max()) > rest + 1.0


def test_depolarised_inhibition_can_fire_a_cell_near_threshold():
    # bias puts the cell 2 mV below threshold; E_inh above threshold drives it across
    _, spikes = _inhibited_cell(-40.0, bias_nA=0.18, weight=30.0)
    assert np.any((spikes > 100) & (spikes < 160))
    _, spikes = _inhibited_cell(-80.0, bias_nA=0.18, weight=30.0)
    assert spikes.size == 0


# -- the exp approximation --------------------------------------------------------------
@njit
def _exp_neg_vec(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = exp_neg(x[i])
    return out


def test_exp_neg_accuracy():
    x = np.linspace(0.0, 1.0, 200_001)
    assert np.max(np.abs(_exp_neg_vec(x) / np.exp(-x) - 1)) < 3e-8
    x = np.linspace(0.0, 5.0, 200_001)
    assert np.max(np.abs(_exp_neg_vec(x) / np.exp(-x) - 1)) < 1e-4
    x = np.linspace(0.0, 1000.0, 1_000_001)
    y = _exp_neg_vec(x)
    assert np.max(np.abs(y - np.exp(-x))) < 1e-6
    assert np.all((y > 0) & (y <= 1)) and np.all(np.diff(y) <= 0)


# -- an independent simulator ------------------------------------------------------------
def test_membrane_trace_matches_brian2_exponential_euler():
    """Same cell, same inputs as Brian2 2.9 (benchmarks/peers/brian2_reference_cell.py):
    identical membrane potential to 1e-9 mV at every 0.1-ms sample, identical spikes."""
    import json

    from conftest import ROOT

    ref = json.loads((ROOT / "tests" / "data" / "brian2_single_cell.json").read_text())
    dt = ref["dt_ms"]
    # a Brian2 spike generator acts one step after its time stamp, an mnsim source at it
    d = {"simulation": {"duration_ms": ref["duration_ms"], "dt_ms": dt},
         "populations": {"a": {"size": 1, **ref["cell"]}},
         "sources": {"e": {"kind": "times", "times_ms": [t + dt for t in ref["t_exc_ms"]]},
                     "i": {"kind": "times", "times_ms": [t + dt for t in ref["t_inh_ms"]]}},
         "projections": {
             "pe": {"pre": "e", "post": "a", "receptor": "exc", "probability": 1.0,
                    "weight_nS": ref["w_exc_nS"], "delay_ms": 0.0},
             "pi": {"pre": "i", "post": "a", "receptor": "inh", "probability": 1.0,
                    "weight_nS": ref["w_inh_nS"], "delay_ms": 0.0}},
         "recording": {"traces": {"v": {"population": "a", "interval_ms": dt}}}}
    from mnsim.config import config_from_dict

    res = mnsim.simulate(config_from_dict(d))
    v = res.trace("a", "v_mV").sel(node_id=0).to_numpy()
    np.testing.assert_allclose(v, ref["v_mV"], rtol=0, atol=1e-9)
    # Brian2 stamps the start of the crossing step, mnsim its end
    spikes = res.spikes("a").time_ms.to_numpy()
    assert len(ref["spike_times_ms"]) > 20
    np.testing.assert_allclose(spikes, np.array(ref["spike_times_ms"]) + dt, atol=1e-9)


def _sustained_rates_Hz(cell):
    """Firing rate in successive seconds of self-sustained firing after a 100-ms pulse."""
    cfg = single_cell(cell, 5300.0, dt_ms=0.1, traces=False,
                      currents={"p": {"target": "a", "shape": "step", "t_on_ms": 200.0,
                                      "t_off_ms": 300.0, "level_nA": 2.5}})
    return np.histogram(spike_times(cfg), bins=np.arange(300.0, 5301.0, 1000.0))[0]


def test_slow_pic_inactivation_makes_sustained_firing_decline():
    steady = _sustained_rates_Hz(PIC_CELL)
    assert steady.min() > 20 and steady.max() - steady.min() <= 0.1 * steady.max()
    declining = _sustained_rates_Hz({**PIC_CELL, "pic_inactivation_half_mV": -58.0,
                                     "pic_inactivation_slope_mV": 2.0,
                                     "pic_inactivation_tau_ms": 1000.0})
    assert np.all(np.diff(declining) <= 0), declining
    assert declining[0] > 1.5 * declining[-1] > 0, declining
