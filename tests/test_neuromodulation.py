"""[neuromodulation]: the tone shifts excitability parameters by exactly (tone - 1) x
effect, leaves configs without the table unchanged, and is checked like every key."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import mnsim
from mnsim.build import build
from mnsim.config import ConfigError, config_from_dict
from conftest import LIF, small_network

EFFECTS = {"mn": {"pic_gain_per_tone": 0.4, "bias_current_nA_per_tone": 0.2,
                  "threshold_mV_per_tone": -1.0, "pic_half_activation_mV_per_tone": -0.5},
           "inn": {"bias_current_nA_per_tone": 0.05}}


def with_tone(tone, effects=EFFECTS):
    d = small_network()
    d["neuromodulation"] = {"tone": tone, "populations": copy.deepcopy(effects)}
    return d


def test_baseline_tone_changes_nothing_and_no_table_keeps_the_resolved_config():
    plain = build(config_from_dict(small_network()))
    base = build(config_from_dict(with_tone(1.0)))
    for key in plain.neuron:
        np.testing.assert_array_equal(plain.neuron[key], base.neuron[key])
    # no table: the resolved config (and so every sweep run id) is as before the key
    assert "neuromodulation" not in config_from_dict(small_network()).to_dict()


def test_tone_shifts_parameters_by_tone_minus_one_times_the_effects():
    plain = build(config_from_dict(small_network()))
    net = build(config_from_dict(with_tone(2.5)))
    d = 1.5
    p0, p1 = plain.params["mn"], net.params["mn"]
    np.testing.assert_allclose(p1["threshold_mV"], p0["threshold_mV"] - d * 1.0)
    np.testing.assert_allclose(p1["bias_current_nA"], p0["bias_current_nA"] + d * 0.2)
    np.testing.assert_allclose(p1["pic_half_activation_mV"],
                               p0["pic_half_activation_mV"] - d * 0.5)
    np.testing.assert_array_equal(p1["leak_conductance_nS"], p0["leak_conductance_nS"])
    a, b = net.node_range("mn")
    # pic_gain 1 (default) + 1.5 x 0.4 = 1.6 on the drawn PIC conductance
    np.testing.assert_allclose(net.neuron["g_pic"][a:b],
                               1.6 * p0["pic_conductance_nS"])
    np.testing.assert_allclose(net.neuron["i_bias"][a:b], 1000 * d * 0.2)
    np.testing.assert_allclose(net.params["inn"]["bias_current_nA"], d * 0.05)
    # the tone lowers the tone-less draws: same random numbers at every tone
    np.testing.assert_array_equal(p1["threshold_mV"] - p0["threshold_mV"],
                                  np.full(20, -1.5))


def test_pic_gain_is_floored_at_zero():
    net = build(config_from_dict(with_tone(0.0, {"mn": {"pic_gain_per_tone": 3.0}})))
    a, b = net.node_range("mn")
    assert np.all(net.neuron["g_pic"][a:b] == 0.0)   # 1 + (0 - 1) x 3 < 0 -> 0
    assert not net.pop["has_pic"][net.pop_names.index("mn")]


def test_tone_moves_the_analytic_f_i_curve():
    # LIF cell at constant 0.3 nA; tone 3 with threshold -1 mV/tone and +0.05 nA/tone:
    # threshold -52 mV, current 0.4 nA. Rate = 1 / (t_ref + tau ln((V_inf - V_reset) /
    # (V_inf - V_th))), V_inf = E_L + I / g_L.
    def run(tone):
        d = {"simulation": {"duration_ms": 2000.0, "dt_ms": 0.025},
             "populations": {"a": {**LIF, "bias_current_nA": 0.3}},
             "neuromodulation": {"tone": tone, "populations": {"a": {
                 "threshold_mV_per_tone": -1.0, "bias_current_nA_per_tone": 0.05}}}}
        return len(mnsim.simulate(config_from_dict(d)).spikes("a")) / 2.0

    def analytic(i_nA, th_mV):
        tau, v_inf = 200.0 / 10.0, -70.0 + i_nA * 1000 / 10.0
        return 1000.0 / (2.0 + tau * math.log((v_inf + 70.0) / (v_inf - th_mV)))
    assert run(1.0) == pytest.approx(analytic(0.3, -50.0), rel=0.02)
    assert run(3.0) == pytest.approx(analytic(0.4, -52.0), rel=0.02)
    assert run(3.0) > 1.5 * run(1.0)


@pytest.mark.parametrize("change,expected", [
    (lambda d: d["neuromodulation"].update(tone=12.0),
     r"neuromodulation\.tone = 12\.0: .*allowed range: 0 <= value <= 10"),
    (lambda d: d["neuromodulation"]["populations"].update(nm={"pic_gain_per_tone": 1.0}),
     r"neuromodulation\.populations\.nm = 'nm': no population of that name .*did you "
     r"mean 'mn'\?"),
    (lambda d: d["neuromodulation"]["populations"]["mn"].update(pic_gain_per_ton=1.0),
     r"neuromodulation\.populations\.mn\.pic_gain_per_ton = 1\.0: unknown key; did you "
     r"mean 'pic_gain_per_tone'\?"),
    (lambda d: d["neuromodulation"]["populations"]["mn"].update(threshold_mV_per_tone=80),
     r"neuromodulation\.populations\.mn\.threshold_mV_per_tone = 80: .*allowed range: "
     r"-50 <= value <= 50"),
])
def test_bad_settings_name_the_key_and_the_allowed_range(change, expected):
    d = with_tone(2.0)
    change(d)
    with pytest.raises(ConfigError, match=expected):
        config_from_dict(d, "net.toml")
