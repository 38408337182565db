"""Release at neurons' terminals (short-term depression, presynaptic gain): the same
recursion as at a source's fibres, applied per presynaptic neuron."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mnsim
from mnsim.config import ConfigError, config_from_dict
from conftest import ROOT


def relay(gain=1.0, use=0.0, recovery_ms=3000.0, interval_ms=50.0, pulses=8,
          idle_modulated_source=False, **extra):
    """A train makes one relay neuron fire once per pulse; the relay makes one synapse
    (10 nS, no delay) on a silent cell whose conductance decays within 1 ms, so its value
    at each relay spike is that spike's conductance jump."""
    relay_pop = {"size": 1, "threshold_mV": -60.0, "exc_tau_ms": 0.1, "refractory_ms": 1.0,
                 "release_gain": gain, "release_depression": use,
                 "release_recovery_ms": recovery_ms, **extra}
    d = {"simulation": {"duration_ms": interval_ms * pulses + 10.0, "dt_ms": 0.1},
         "populations": {"relay": relay_pop,
                         "cell": {"size": 1, "threshold_mV": 40.0, "exc_tau_ms": 0.1}},
         "sources": {"aff": {"kind": "train", "start_ms": 5.0, "pulses": pulses,
                             "frequency_Hz": 1000.0 / interval_ms}},
         "projections": {"drive": {"pre": "aff", "post": "relay", "receptor": "exc",
                                   "fan_in": 1, "weight_nS": 1000.0, "delay_ms": 0.0},
                         "out": {"pre": "relay", "post": "cell", "receptor": "exc",
                                 "fan_in": 1, "weight_nS": 10.0, "delay_ms": 0.0}},
         "recording": {"traces": {"g": {"population": "cell", "variables": ["g_exc_nS"],
                                        "interval_ms": 0.1}}}}
    if idle_modulated_source:  # selects the time loop with release, all else equal
        d["sources"]["idle"] = {"kind": "poisson", "size": 1, "rate_Hz": 0.0,
                                "release_gain": 0.5}
    res = mnsim.simulate(config_from_dict(d))
    spikes = res.spike_arrays("relay")[0]
    g = res.trace("cell", "g_exc_nS").sel(node_id=0)
    return spikes, g.sel(time_ms=spikes, method="nearest").to_numpy()


@pytest.mark.parametrize("interval_ms", [20.0, 200.0])
def test_a_neurons_synapses_depress_by_the_release_recursion(interval_ms):
    use, tau, gain = 0.4, 500.0, 0.9
    spikes, got = relay(gain, use, tau, interval_ms)
    assert spikes.size == 8  # one relay spike per pulse
    x, expected = 1.0, []
    for j, t in enumerate(spikes):
        if j:
            x = 1.0 - (1.0 - x * (1.0 - use)) * math.exp(-(t - spikes[j - 1]) / tau)
        expected.append(10.0 * gain * x)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert got[-1] < 0.8 * got[0]


def test_default_release_keys_change_nothing():
    """Release keys at their defaults: the time loop with release gives the plain
    loop's spikes and conductances."""
    plain_t, plain_g = relay()
    t, g = relay(gain=1.0, use=0.0, idle_modulated_source=True)
    assert t.size == 8
    np.testing.assert_array_equal(t, plain_t)
    np.testing.assert_array_equal(g, plain_g)
    np.testing.assert_allclose(g, 10.0, rtol=1e-12)


def test_depressing_recurrent_excitation_ends_a_reverberation_that_would_saturate():
    """healthy.toml without inh_in -> ex_in and with stronger ex_ex: the excitatory
    interneurons reverberate to the end of the run; with depressing synapses (each spike
    uses 30 % of the resource, recovery 1 s) the after-discharge ends on its own."""
    over = ["projections.inh_ex.weight_nS=0", "projections.ex_ex.weight_nS=0.4",
            "recording.traces={}", "simulation.duration_ms=3000"]

    def last_ex_in_spike_after_train_ms(*extra):
        res = mnsim.simulate(mnsim.load_config(ROOT / "configs" / "healthy.toml",
                                               [*over, *extra]))
        return float(res.spike_arrays("ex_in")[0].max()) - 1000.0

    assert last_ex_in_spike_after_train_ms() > 1900.0   # still firing at the end
    ends = last_ex_in_spike_after_train_ms("populations.ex_in.release_depression=0.3",
                                           "populations.ex_in.release_recovery_ms=1000")
    assert 50.0 < ends < 1500.0, ends


def test_release_keys_on_a_population_with_an_axon_are_refused():
    d = {"simulation": {"duration_ms": 10.0},
         "populations": {"mn": {"size": 2, "release_depression": 0.2, "axon": {}}}}
    with pytest.raises(ConfigError, match="populations.mn.release_depression"):
        config_from_dict(d, "pool.toml")
