"""Analysis metrics on runs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

import mnsim
from mnsim.analysis import (compute_metrics, delta_f, emg_envelope, episodes,
                            firing_stats, recruitment, recruitment_order,
                            reflex_duration_ms, twitches)
from mnsim.config import config_from_dict
from conftest import LIF, PIC_CELL, ROOT


def test_firing_stats_of_a_regular_cell():
    d = {"simulation": {"duration_ms": 2000.0, "dt_ms": 0.05},
         "populations": {"a": {**LIF, "size": 2, "bias_current_nA": 0.3}}}
    res = mnsim.simulate(config_from_dict(d))
    st = firing_stats(res, "a")
    assert st.loc[0, "isi_cv"] < 1e-3                         # deterministic: regular
    assert st.loc[0, "isi_mean_ms"] == pytest.approx(23.97, abs=0.05)  # analytic ISI
    assert st.loc[0, "rate_Hz"] == pytest.approx(st.loc[0, "n_spikes"] / 2.0)


def test_recruitment_order_under_a_slow_ramp():
    # five cells of increasing rheobase (leak conductance) on one ramp: recruited in order
    d = {"simulation": {"duration_ms": 3000.0, "dt_ms": 0.1},
         "populations": {"mn": {**LIF, "size": 5,
                                "leak_conductance_nS": {"scale": "linear", "first": 10.0,
                                                        "last": 20.0}}},
         "currents": {"r": {"target": "mn", "shape": "ramp", "t_start_ms": 0.0,
                            "t_end_ms": 3000.0, "end_nA": 0.6}}}
    res = mnsim.simulate(config_from_dict(d))
    rec = recruitment(res, "mn")
    assert rec.first_spike_ms.is_monotonic_increasing
    assert recruitment_order(res, "mn") == pytest.approx(1.0)
    # recruitment current = g_L (V_th - E_L) = 0.2 ... 0.4 nA, plus the lag of the ramp
    ramp_nA_per_ms = 0.6 / 3000.0
    np.testing.assert_allclose(rec.first_spike_ms * ramp_nA_per_ms,
                               np.linspace(10, 20, 5) * 20 / 1000, atol=0.02)


def test_delta_f_is_positive_with_a_pic_and_near_zero_without():
    def run(gain):
        cells = {**PIC_CELL, "size": 2, "pic_gain": gain, "ahp_increment_nS": 20.0,
                 "leak_conductance_nS": {"scale": "linear", "first": 80.0, "last": 120.0}}
        d = {"simulation": {"duration_ms": 10000.0, "dt_ms": 0.1},
             "populations": {"mn": cells},
             "currents": {"r": {"target": "mn", "shape": "triangle", "t_start_ms": 0.0,
                                "t_peak_ms": 5000.0, "t_end_ms": 10000.0, "peak_nA": 4.0}}}
        return delta_f(mnsim.simulate(config_from_dict(d)), "mn", control=0, test=1)
    with_pic, without = run(1.0), run(0.0)
    assert with_pic > 2.0, with_pic
    assert abs(without) < 1.5 and with_pic > without + 2.0, (with_pic, without)


def test_envelope_and_episodes_on_a_synthetic_signal():
    dt = 1.0
    x = np.zeros(3000)
    x[500:800] = 1.0   # 300 ms burst
    x[850:900] = 1.0   # 50 ms after a 50-ms gap: bridged
    x[2000:2010] = 1.0
    env = emg_envelope(np.where(np.arange(3000) % 2, x, -x), dt, window_ms=1.0)
    np.testing.assert_allclose(env, x)
    ep = episodes(env, dt, 0.5, min_gap_ms=100.0, min_duration_ms=20.0)
    assert ep[["start_ms", "end_ms"]].values.tolist() == [[500.0, 900.0]]


def test_reflex_duration_metric_on_the_example():
    cfg = mnsim.load_config(ROOT / "configs" / "motor_pool.toml", [
        "simulation.duration_ms=2000",
        'sources.descending.rate_Hz=0.0',
        'sources.stim={kind = "train", size = 200, start_ms = 500.0, pulses = 5, '
        'frequency_Hz = 200.0}',
        'projections.stim_mn={pre = "stim", post = "mn", receptor = "exc", '
        'probability = 0.5, weight_nS = 40.0, delay_ms = 2.0}'])
    res = mnsim.simulate(cfg)
    dur = reflex_duration_ms(res, "gastrocnemius", 500.0)
    spikes = res.spikes("mn").time_ms
    assert spikes.min() > 500 and 0 < dur < 1000
    # the response ends after the last motoneuron spike plus MUAP latency/width
    assert dur >= spikes.max() - 500.0
    m = compute_metrics(res, ["reflex", "firing"])
    assert m["reflex_duration_ms.gastrocnemius"] == dur
    assert "isi_cv.mn" in m and "recruitment_order.rc" in m


def test_twitches_count_isolated_discharges_at_rest():
    # three scheduled volleys to a silent pool: three twitches, each seen in the EMG
    d = {"simulation": {"duration_ms": 3000.0, "dt_ms": 0.1},
         "populations": {"mn": {**LIF, "size": 5}},
         "sources": {"kick": {"kind": "times", "size": 1,
                              "times_ms": [400.0, 1500.0, 1520.0, 2600.0]}},
         "projections": {"k": {"pre": "kick", "post": "mn", "receptor": "exc",
                               "probability": 1.0, "weight_nS": 40.0, "delay_ms": 1.0}},
         "muscles": {"m": {"pool": "mn"}}}
    res = mnsim.simulate(config_from_dict(d))
    assert len(res.spikes("mn")) >= 4 * 5  # every kick fires all five cells
    ep, rate = twitches(res, "m")
    # 1500 and 1520 ms are closer than min_gap_ms: one twitch
    assert len(ep) == 3 and rate == pytest.approx(3 / 0.05)
    np.testing.assert_allclose(ep.start_ms, [401.0, 1501.0, 2601.0], atol=15.0)
    assert compute_metrics(res, ["twitches"]) == {"twitch_rate_per_min.m": rate}
