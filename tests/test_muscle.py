"""Muscle force (Fuglevand et al. 1993) and surrogate EMG against their closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mnsim
from mnsim.config import Muscle, config_from_dict
from mnsim.muscle import force_gain, muscle_signals, unit_properties
from conftest import ROOT

M = Muscle(pool="mn", force_interval_ms=0.1, emg_interval_ms=0.05)
S04 = (1 - math.exp(-2 * 0.4 ** 3)) / 0.4  # = 0.30037, the gain's normalisation


def test_unit_properties_span_the_published_ranges():
    p = unit_properties(M, 120)
    assert p["twitch_peak_mN"][0] == pytest.approx(1.0)
    assert p["twitch_peak_mN"][-1] / p["twitch_peak_mN"][0] == pytest.approx(100.0)
    assert p["contraction_time_ms"][0] == pytest.approx(90.0)
    assert p["contraction_time_ms"][-1] == pytest.approx(30.0)
    assert np.all(np.diff(p["contraction_time_ms"]) < 0)
    assert np.all(np.diff(p["muap_amplitude_mV"]) > 0)


def test_single_twitch_is_the_critically_damped_impulse_response():
    sig = muscle_signals(M, np.array([10.0]), np.array([5]), 10, 500.0)
    P = sig["twitch_peak_mN"][5]
    T = sig["contraction_time_ms"][5]
    t = sig["time_ms"]
    tau = np.clip(t - 10.0, 0, None)
    expected = P * tau / T * np.exp(1 - tau / T)
    np.testing.assert_allclose(sig["force_mN"], expected, atol=1e-9)
    assert sig["force_mN"].max() == pytest.approx(P, rel=1e-4)         # peak P at t = T
    assert t[np.argmax(sig["force_mN"])] == pytest.approx(10.0 + T, abs=0.1)


def test_gain_follows_the_sigmoidal_force_rate_relation():
    assert force_gain(np.array([0.0, 0.2, 0.4])).tolist() == [1.0, 1.0, 1.0]
    # S(x) = (1 - exp(-2 x^3)) / x, normalised at x = 0.4 (S(0.4) = 0.300372)
    assert force_gain(np.array([1.0]))[0] == pytest.approx((1 - math.exp(-2)) / S04,
                                                           rel=1e-12)
    # continuous at 0.4; above it the mean force per unit time, x * g(x), follows the
    # sigmoid 1 - exp(-2 x^3) and saturates (fused tetanus)
    x = np.linspace(0.4, 6.0, 400)
    mean_force = x * force_gain(x)
    assert force_gain(np.array([0.4 + 1e-9]))[0] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(mean_force, (1 - np.exp(-2 * x ** 3)) / S04, rtol=1e-12)
    assert mean_force[-1] / mean_force[-50] == pytest.approx(1.0, abs=1e-6)


def test_force_sums_linearly_at_low_rate_and_less_than_linearly_when_fused():
    T = 90.0  # unit 0
    for rate_Hz, linear in ((2.0, True), (50.0, False)):
        times = np.arange(0, 1000, 1000 / rate_Hz)
        sig = muscle_signals(M, times, np.zeros(times.size, int), 2, 1200.0)
        single = muscle_signals(M, np.array([0.0]), np.array([0]), 2, 1200.0)["force_mN"]
        shift = int(round(1000 / rate_Hz / M.force_interval_ms))
        lin = sum(np.roll(single, i * shift) * (np.arange(single.size) >= i * shift)
                  for i in range(times.size))
        if linear:  # x = T / ISI = 0.18 <= 0.4
            np.testing.assert_allclose(sig["force_mN"], lin, atol=1e-9)
        else:       # x = 4.5: each twitch after the first scaled by the gain at 4.5
            g = force_gain(np.array([T / 20.0]))[0]
            assert g == pytest.approx((1 - math.exp(-2 * 4.5 ** 3)) / 4.5 / S04, rel=1e-12)
            assert sig["force_mN"][9000] == pytest.approx(
                lin[9000] * g + single[9000] * (1 - g), rel=1e-6)


def test_emg_is_a_sum_of_hermite_rodriguez_waves():
    sig = muscle_signals(M, np.array([20.0, 20.0]), np.array([0, 9]), 10, 60.0)
    t = sig["emg_time_ms"]
    expected = 0.0
    for u in (0, 9):
        A, lam = sig["muap_amplitude_mV"][u], sig["muap_width_ms"][u]
        x = (t - 20.0 - M.emg_latency_ms) / lam
        expected = expected + np.where(np.abs(x) <= 4, A * x * np.exp(-x * x), 0.0)
    np.testing.assert_allclose(sig["emg_mV"], expected, atol=1e-12)
    # odd waves: the sum vanishes up to the truncation at +-4 widths (A 4 e^-16 ~ 5e-7 A)
    assert abs(sig["emg_mV"].sum()) < 1e-6 * np.abs(sig["emg_mV"]).sum()


def test_muscle_output_in_run_files(tmp_path):
    cfg = mnsim.load_config(ROOT / "configs" / "motor_pool.toml",
                            ["simulation.duration_ms=1000",
                             'muscles.gastrocnemius={pool = "mn"}'])
    live = mnsim.simulate(cfg)
    saved = mnsim.simulate(cfg, tmp_path / "m.h5")
    a, b = live.muscle("gastrocnemius"), saved.muscle("gastrocnemius")
    assert a.equals(b) and a.force_mN.attrs["units"] == "mN"
    assert a.sizes["unit"] == 50 and a.force_mN.max() > 0
    # total force is the sum of the pool's twitches computed from the file's spikes
    spk = saved.spikes("mn")
    again = muscle_signals(cfg.muscles["gastrocnemius"], spk.time_ms.to_numpy(),
                           spk.node_id.to_numpy(), 50, 1000.0)
    np.testing.assert_allclose(a.force_mN, again["force_mN"])
    with pytest.raises(KeyError, match="no muscle 'soleus'"):
        saved.muscle("soleus")


def test_a_silent_pool_gives_zero_force():
    sig = muscle_signals(M, np.array([]), np.array([], int), 5, 50.0)
    assert sig["force_mN"].shape == (501,) and not sig["force_mN"].any()
    assert not sig["emg_mV"].any()


def test_muscle_needs_a_population_with_recorded_spikes():
    d = {"simulation": {"duration_ms": 10.0}, "populations": {"mn": {"size": 2}},
         "muscles": {"m": {"pool": "nm"}}}
    with pytest.raises(mnsim.ConfigError, match=r"muscles\.m\.pool = 'nm': no population"):
        config_from_dict(d)
    d["muscles"]["m"]["pool"] = "mn"
    d["recording"] = {"spikes": []}
    with pytest.raises(ValueError, match="needs the spikes of 'mn'"):
        mnsim.simulate(config_from_dict(d))
