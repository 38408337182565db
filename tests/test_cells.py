"""Intrinsic-property protocols (mnsim.cells) against analytic results and an
independent ODE solution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import mnsim
from mnsim import cells
from mnsim.config import config_from_dict
from conftest import LIF, PIC_CELL

TAU_ms = 20.0  # LIF: 200 pF / 10 nS


def cfg_of(cell: dict, size: int = 1) -> mnsim.Config:
    return config_from_dict({"simulation": {"duration_ms": 100.0},
                             "populations": {"a": {**cell, "size": size}}}, "<test>")


def test_lif_rheobase_input_resistance_and_tau_are_analytic():
    props = cells.intrinsic_properties(cfg_of(LIF), "a", tolerance_nA=1e-3, ramp=False)
    pulse_ms = 50.0
    # V(T) = E_L + I R (1 - exp(-T / tau)) reaches threshold at the end of the pulse
    expected_nA = 10.0 * 20.0 / 1000.0 / (1 - math.exp(-pulse_ms / TAU_ms))
    assert props.rheobase_nA[0] == pytest.approx(expected_nA, abs=1.5e-3)
    assert props.input_resistance_MOhm[0] == pytest.approx(1000.0 / 10.0, rel=1e-6)
    assert props.membrane_tau_ms[0] == pytest.approx(TAU_ms, abs=0.03)
    assert props.resting_potential_mV[0] == pytest.approx(-70.0, abs=1e-9)


def test_rheobase_follows_the_pulse_length():
    short = cells.intrinsic_properties(cfg_of(LIF), "a", rheobase_pulse_ms=10.0,
                                       tolerance_nA=1e-3, ramp=False)
    expected_nA = 0.2 / (1 - math.exp(-10.0 / TAU_ms))
    assert short.rheobase_nA[0] == pytest.approx(expected_nA, abs=1.5e-3)


def test_ahp_matches_an_independent_ode_solution():
    """Reset to rest, then C dV/dt = g_L (E_L - V) + g_ahp(t) (E_ahp - V), with
    g_ahp = dg exp(-t / tau_ahp) from the spike and V held during the refractory time."""
    cell = {**LIF, "reset_mV": -70.0, "refractory_ms": 1.0, "ahp_increment_nS": 15.0,
            "ahp_tau_ms": 30.0}
    props = cells.intrinsic_properties(cfg_of(cell), "a", ramp=False, dt_ms=0.01)
    c, gl, el, ea, dg, ta, ref = 200.0, 10.0, -70.0, -80.0, 15.0, 30.0, 1.0

    def dv(t, v):
        return [(gl * (el - v[0]) + dg * math.exp(-t / ta) * (ea - v[0])) / c]

    t = np.arange(ref, 400.0, 0.01)
    v = solve_ivp(dv, (ref, 400.0), [el], t_eval=t, rtol=1e-10, atol=1e-12).y[0]
    depth = el - v
    k = depth.argmax()
    amp = depth[k]
    half = t[k + np.flatnonzero(depth[k:] <= 0.5 * amp)[0]] - t[k]
    total = t[k + np.flatnonzero(depth[k:] <= 0.1 * amp)[0]]
    assert props.ahp_amplitude_mV[0] == pytest.approx(amp, rel=0.01)
    assert props.ahp_half_decay_ms[0] == pytest.approx(half, abs=0.3)
    assert props.ahp_duration_ms[0] == pytest.approx(total, abs=0.3)


def test_ramp_hysteresis_shows_a_pic_and_not_a_plain_cell():
    lif = cells.intrinsic_properties(cfg_of(LIF), "a", ramp_ms=2000.0)
    assert abs(lif.ramp_hysteresis_nA[0]) < 0.05 * lif.recruitment_current_nA[0]
    assert not lif.sustained_after_ramp[0]
    # a partly bistable cell: derecruited below its recruitment current, at > 0 nA
    part = cells.intrinsic_properties(cfg_of({**PIC_CELL, "pic_gain": 0.5}), "a")
    assert 0.0 < part.derecruitment_current_nA[0] < 0.6 * part.recruitment_current_nA[0]
    assert part.ramp_hysteresis_nA[0] > 0.4 * part.recruitment_current_nA[0]
    assert not part.sustained_after_ramp[0]
    # fully bistable: the plateau outlasts the ramp, so there is no derecruitment current
    full = cells.intrinsic_properties(cfg_of(PIC_CELL), "a")
    assert full.sustained_after_ramp[0]
    assert np.isnan(full.derecruitment_current_nA[0])
    assert 0.0 < full.recruitment_current_nA[0] < part.recruitment_current_nA[0]


def test_the_cells_own_bias_current_counts_and_a_cell_firing_at_rest_is_flagged():
    biased = cells.intrinsic_properties(cfg_of({**LIF, "bias_current_nA": 0.05}), "a",
                                        tolerance_nA=1e-3, ramp=False)
    # the bias holds rest 5 mV up, so the step has 15 mV to go: I R (1 - exp(-T/tau))
    assert biased.resting_potential_mV[0] == pytest.approx(-65.0, abs=0.01)
    assert biased.rheobase_nA[0] == pytest.approx(0.15 / (1 - math.exp(-2.5)), abs=1.5e-3)
    firing = cells.intrinsic_properties(cfg_of({**LIF, "bias_current_nA": 0.5}), "a")
    row = firing.iloc[0]
    assert np.isnan(row.rheobase_nA) and np.isnan(row.input_resistance_MOhm)
    assert np.isnan(row.resting_potential_mV) and np.isnan(row.recruitment_current_nA)


def test_steps_start_from_rest_whatever_the_initial_state():
    cell = {**LIF, "v_init_mV": -55.0, "g_exc_init_nS": 50.0}
    props = cells.intrinsic_properties(cfg_of(cell), "a", tolerance_nA=1e-3, ramp=False)
    expected_nA = 0.2 / (1 - math.exp(-50.0 / TAU_ms))
    assert props.rheobase_nA[0] == pytest.approx(expected_nA, abs=1.5e-3)


def test_each_copy_keeps_its_own_parameters_and_subsets_keep_node_ids():
    cell = {**LIF, "leak_conductance_nS": {"scale": "exponential", "first": 10.0,
                                           "last": 40.0}}
    props = cells.intrinsic_properties(cfg_of(cell, size=4), "a", neurons=[1, 3],
                                       ramp=False)
    g = 10.0 * 4.0 ** (np.array([1, 3]) / 3)
    assert list(props.index) == [1, 3]
    np.testing.assert_allclose(props.input_resistance_MOhm, 1000.0 / g, rtol=1e-6)
    np.testing.assert_allclose(props.membrane_tau_ms, 200.0 / g, atol=0.03)


def test_neuromodulation_is_applied_to_the_measured_cells():
    d = {"simulation": {"duration_ms": 100.0},
         "populations": {"a": {**LIF}},
         "neuromodulation": {"tone": 2.0,
                             "populations": {"a": {"threshold_mV_per_tone": -5.0}}}}
    props = cells.intrinsic_properties(config_from_dict(d), "a", tolerance_nA=1e-3,
                                       ramp=False)
    assert props.rheobase_nA[0] == pytest.approx(0.15 / (1 - math.exp(-2.5)), abs=1.5e-3)


def test_compare_flags_values_outside_a_range():
    props = cells.intrinsic_properties(cfg_of(LIF), "a", ramp=False)
    table = cells.compare(props, {"input_resistance_MOhm": (50.0, 150.0),
                                  "rheobase_nA": (1.0, 2.0)})
    assert bool(table.loc["input_resistance_MOhm", "inside"])
    assert not bool(table.loc["rheobase_nA", "inside"])


def test_bad_requests_are_refused():
    cfg = cfg_of(LIF)
    with pytest.raises(KeyError, match="no population 'b'"):
        cells.intrinsic_properties(cfg, "b")
    with pytest.raises(ValueError, match="node ids"):
        cells.intrinsic_properties(cfg, "a", neurons=[1])
    with pytest.raises(ValueError, match="more than once"):
        cells.intrinsic_properties(cfg_of(LIF, size=2), "a", neurons=[1, 1])
    with pytest.raises(ValueError, match="must be > 0"):
        cells.intrinsic_properties(cfg, "a", tolerance_nA=0.0)


def test_healthy_pool_lies_in_the_published_rat_mg_ranges():
    """The healthy motoneuron pool, measured like real cells: every unit inside the rat
    MG ranges of Bakels & Kernell 1993, size-ordered, and AHP half-decay within 2 sd of
    the slow and fast means of Cormery et al. 2005 (28.6 +- 3.9, 14.4 +- 3.8 ms)."""
    from scipy.stats import spearmanr

    from conftest import ROOT

    props = cells.intrinsic_properties(ROOT / "configs" / "healthy.toml", "mn",
                                       ramp=False)
    table = cells.compare(props, cells.RAT_MG_RANGES)
    assert set(table.index) == {"rheobase_nA", "input_resistance_MOhm",
                                "ahp_duration_ms", "ahp_amplitude_mV"}
    assert table.inside.all(), table
    unit = np.arange(len(props))
    assert spearmanr(unit, props.rheobase_nA)[0] > 0.99
    assert spearmanr(unit, props.input_resistance_MOhm)[0] < -0.99
    assert spearmanr(unit, props.ahp_duration_ms)[0] < -0.99
    assert abs(props.ahp_half_decay_ms.iloc[0] - 28.6) <= 2 * 3.9
    assert abs(props.ahp_half_decay_ms.iloc[-1] - 14.4) <= 2 * 3.8
