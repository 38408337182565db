"""Afferent release (presynaptic gain, post-activation depression) against its analytic
recursion, and the H-reflex protocol (configs/h_reflex.toml) against published ranges:
M-wave and H-reflex latencies of the soleus, and the depression of the H-reflex at
higher stimulation rates, which is smaller in chronic SCI."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mnsim
from mnsim.analysis import h_reflex, stimulus_times_ms
from mnsim.config import config_from_dict
from conftest import ROOT


def release_run(gain, use, recovery_ms, interval_ms, pulses=8):
    """A silent cell receiving one synapse (10 nS, no delay) from a train; the synaptic
    conductance decays within 1 ms, so its value at each pulse's step is that pulse's
    conductance jump."""
    d = {"simulation": {"duration_ms": interval_ms * pulses + 10.0, "dt_ms": 0.1},
         "populations": {"cell": {"size": 1, "threshold_mV": 40.0, "exc_tau_ms": 0.1}},
         "sources": {"aff": {"kind": "train", "start_ms": 5.0, "pulses": pulses,
                             "frequency_Hz": 1000.0 / interval_ms, "release_gain": gain,
                             "release_depression": use,
                             "release_recovery_ms": recovery_ms}},
         "projections": {"a": {"pre": "aff", "post": "cell", "receptor": "exc",
                               "fan_in": 1, "weight_nS": 10.0, "delay_ms": 0.0}},
         "recording": {"traces": {"g": {"population": "cell", "variables": ["g_exc_nS"],
                                        "interval_ms": 0.1}}}}
    res = mnsim.simulate(config_from_dict(d))
    g = res.trace("cell", "g_exc_nS").sel(node_id=0)
    times = 5.0 + interval_ms * np.arange(pulses)
    return g.sel(time_ms=times, method="nearest").to_numpy()


@pytest.mark.parametrize("interval_ms", [50.0, 300.0, 1000.0])
def test_depression_follows_the_release_recursion(interval_ms):
    use, tau = 0.6, 3000.0
    x, expected = 1.0, []
    for _ in range(8):
        expected.append(10.0 * 0.8 * x)
        x = 1.0 - (1.0 - x * (1.0 - use)) * math.exp(-interval_ms / tau)
    got = release_run(0.8, use, tau, interval_ms)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # steady state x* = (1 - e) / (1 - (1 - u) e), e = exp(-T / tau)
    e = math.exp(-interval_ms / tau)
    x_inf = (1 - e) / (1 - (1 - use) * e)
    assert got[-1] / 8.0 - x_inf == pytest.approx(((1 - use) * e) ** 7 * (1 - x_inf))


def test_release_gain_alone_scales_every_spike():
    np.testing.assert_allclose(release_run(0.5, 0.0, 3000.0, 100.0), 5.0, rtol=1e-12)


# -- the H-reflex protocol -------------------------------------------------------------
def responses(frequency_Hz, pulses, *overrides, seed=1):
    dur = 100.0 + pulses / frequency_Hz * 1000.0
    over = [f"simulation.duration_ms={dur:.0f}", f"simulation.seed={seed}", *overrides]
    for src in ("tibial_ia", "tibial_motor"):
        over += [f"sources.{src}.frequency_Hz={frequency_Hz}", f"sources.{src}.pulses={pulses}"]
    res = mnsim.simulate(mnsim.load_config(ROOT / "configs" / "h_reflex.toml", over))
    return h_reflex(res, "muscle", stimulus_times_ms(res, "tibial_ia"))


def test_m_wave_and_h_reflex_latencies():
    df = responses(0.5, 2)
    assert (df.m_amplitude_mV > 0).all() and (df.h_amplitude_mV > 0).all()
    # soleus: M-wave 4-7 ms; H-reflex 30.8 +- 2.6 ms (Falco 1994)
    assert 3.0 <= df.m_latency_ms.iloc[0] <= 7.0
    assert 26.0 <= df.h_latency_ms.iloc[0] <= 34.0


def steady_ratio(frequency_Hz, *overrides):
    df = responses(frequency_Hz, 4 if frequency_Hz < 0.2 else 6, *overrides)
    return float(df.h_ratio.iloc[2:].mean())


def test_h_reflex_is_depressed_at_higher_stimulation_rates():
    r = {f: steady_ratio(f) for f in (0.1, 0.3, 1.0, 2.0)}
    assert r[0.1] > 0.85                 # 10 s apart: fully recovered
    assert r[0.1] > r[0.3] > r[1.0] > r[2.0]
    assert 0.15 <= r[1.0] <= 0.5         # healthy soleus at 1 Hz: ~20-40 % [U]


def test_depression_is_the_afferent_release_knob():
    assert steady_ratio(1.0, "sources.tibial_ia.release_depression=0") > 0.9
    # chronic SCI: less post-activation depression (Schindler-Ivens & Shields 2000);
    # spastic patients ~74 % at 1 Hz
    sci = steady_ratio(1.0, "sources.tibial_ia.release_depression=0.25",
                       "sources.tibial_ia.release_recovery_ms=2000")
    assert steady_ratio(1.0) < 0.5 < sci < 0.9


def test_h_reflex_metric_reports_the_first_response_and_the_depression():
    """compute_metrics(res, ["h_reflex"]) returns what h_reflex() measures."""
    from mnsim.analysis import compute_metrics

    over = ["simulation.duration_ms=3100", "sources.tibial_ia.frequency_Hz=1.0",
            "sources.tibial_ia.pulses=3", "sources.tibial_motor.frequency_Hz=1.0",
            "sources.tibial_motor.pulses=3"]
    res = mnsim.simulate(mnsim.load_config(ROOT / "configs" / "h_reflex.toml", over))
    values = compute_metrics(res, ["h_reflex"])
    h_keys = [k for k in values if k.startswith("h_amplitude_mV.")]
    assert h_keys, values
    key = h_keys[0].split(".", 1)[1]
    src, muscle = key.rsplit(".", 1)
    df = h_reflex(res, muscle, stimulus_times_ms(res, src))
    assert values[f"h_amplitude_mV.{key}"] == pytest.approx(df.h_amplitude_mV.iloc[0])
    assert values[f"h_depression.{key}"] == pytest.approx(df.h_ratio.iloc[1:].mean())
    assert values[f"h_depression.{key}"] < 0.9
