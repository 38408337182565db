"""Motor axons: conduction delays, antidromic invasion, collision, refractoriness,
ephaptic transmission and after-discharges, each against the timing worked out by hand
from the geometry (positions in steps of conduction_velocity * dt)."""

from __future__ import annotations

import numpy as np
import pytest

import mnsim
from mnsim.config import ConfigError, config_from_dict

DT = 0.1
CV = 50.0        # m/s = mm/ms: 5 mm per step
LENGTH = 100.0   # mm: 20 steps = 2.0 ms soma -> muscle


def network(n=1, *, stim_at=80.0, stim_ms=(), drive_ms=(), lesion=None, ephapse=None,
            axon=None, duration=30.0, chunk=None, extra=None):
    ax = {"conduction_velocity_m_per_s": CV, "length_mm": LENGTH, "refractory_ms": 1.0}
    if lesion is not None:
        ax["lesion_mm"] = lesion
    ax.update(axon or {})
    d = {"simulation": {"duration_ms": duration, "dt_ms": DT, "seed": 3},
         "populations": {"mn": {"size": n, "threshold_mV": -50.0, "reset_mV": -65.0,
                                "refractory_ms": 3.0, "ahp_increment_nS": 10.0,
                                "exc_tau_ms": 0.3,
                                "axon": ax}},
         "sources": {}, "projections": {}, "axon_inputs": {}}
    if chunk:
        d["simulation"]["chunk_ms"] = chunk
    if stim_ms:
        d["sources"]["stim"] = {"kind": "times", "times_ms": list(stim_ms)}
        d["axon_inputs"]["distal"] = {"source": "stim", "target": "mn", "axons": [0],
                                      "at_mm": stim_at}
    if drive_ms:  # one strong synaptic kick per time: the soma fires on the next step
        d["sources"]["drive"] = {"kind": "times", "times_ms": list(drive_ms)}
        d["projections"]["drive_mn"] = {"pre": "drive", "post": "mn", "receptor": "exc",
                                        "fan_in": 1, "weight_nS": 1000.0, "delay_ms": 0.0}
    if ephapse:
        d["ephapses"] = {"rez": {"pre": "mn", "post": "mn", **ephapse}}
    for key, val in (extra or {}).items():
        d[key] = {**d.get(key, {}), **val}
    return config_from_dict(d)


def times(res, name, node=0):
    s = res.spikes(name)
    return s.time_ms[s.node_id == node].to_numpy()


def test_orthodromic_conduction_delay_is_length_over_velocity():
    res = mnsim.simulate(network(drive_ms=[5.0, 15.0]))
    soma = times(res, "mn")
    assert soma.size == 2
    np.testing.assert_allclose(times(res, "mn.terminal"), soma + LENGTH / CV)


def test_conduction_velocity_scales_across_the_pool():
    cfg = network(n=3, axon={"conduction_velocity_m_per_s":
                             {"scale": "linear", "first": 25.0, "last": 100.0}},
                  drive_ms=[5.0])
    res = mnsim.simulate(cfg)
    latency = [times(res, "mn.terminal", i)[0] - times(res, "mn", i)[0] for i in range(3)]
    np.testing.assert_allclose(latency, [4.0, LENGTH / 62.5, 1.0], atol=DT / 2 + 1e-9)
    assert res.params("mn")["axon_conduction_velocity_m_per_s"].tolist() == [25, 62.5, 100]


def test_distal_stimulus_runs_both_ways_and_invades_the_soma():
    res = mnsim.simulate(network(stim_ms=[5.0], stim_at=80.0))
    np.testing.assert_allclose(times(res, "mn.terminal"), [5.0 + 20.0 / CV])
    np.testing.assert_allclose(times(res, "mn"), [5.0 + 80.0 / CV])  # antidromic
    assert res.axon_counts()["soma_invasions"] == 1


def test_invasion_resets_the_soma_and_starts_its_refractory_period():
    """An antidromic spike arriving just before the soma would fire resets it: the
    synaptic kick then falls in the refractory period and the soma stays silent."""
    arrive = 5.0 + 80.0 / CV
    res = mnsim.simulate(network(stim_ms=[5.0], drive_ms=[arrive + 0.5]))
    np.testing.assert_allclose(times(res, "mn"), [arrive])
    alone = mnsim.simulate(network(drive_ms=[arrive + 0.5]))
    assert times(alone, "mn").size == 1  # the kick alone does fire it


def test_orthodromic_and_antidromic_spikes_annihilate():
    """The soma fires 0.6 ms after a distal stimulus: the two spikes meet mid-axon. The
    soma spike never reaches the muscle and the antidromic one never reaches the soma."""
    res = mnsim.simulate(network(stim_ms=[5.0], drive_ms=[5.5]))
    soma = times(res, "mn")
    assert soma.size == 1 and 5.5 < soma[0] < 5.0 + 80.0 / CV   # its own spike only
    np.testing.assert_allclose(times(res, "mn.terminal"), [5.0 + 20.0 / CV])
    counts = res.axon_counts()
    assert counts["collisions"] == 1 and counts["soma_invasions"] == 0


def test_stimulus_within_the_refractory_period_is_blocked():
    res = mnsim.simulate(network(stim_ms=[5.0, 5.5, 9.0]))  # axon refractory 1 ms
    np.testing.assert_allclose(times(res, "mn.terminal"), np.array([5.0, 9.0]) + 0.4)
    assert res.axon_counts()["blocked_births"] == 1


def test_antidromic_volley_reaches_the_collaterals():
    """A Renshaw cell driven only by motor-axon collaterals fires after a distal
    stimulus: the antidromic spike excites it on arrival at the soma."""
    rc = {"size": 1, "threshold_mV": -50.0}
    proj = {"mn_rc": {"pre": "mn", "post": "rc", "receptor": "exc", "fan_in": 1,
                      "weight_nS": 80.0, "delay_ms": 0.5}}
    res = mnsim.simulate(network(stim_ms=[5.0], extra={"populations": {"rc": rc},
                                                        "projections": proj}))
    rc_t = times(res, "rc")
    assert rc_t.size >= 1
    assert 5.0 + 80.0 / CV + 0.5 <= rc_t[0] <= 5.0 + 80.0 / CV + 1.5


def test_axon_changes_nothing_at_the_collaterals_without_antidromic_spikes():
    """Soma spikes reach the collaterals at the same step with or without an axon."""
    def run(with_axon):
        d = {"simulation": {"duration_ms": 300.0, "seed": 2},
             "populations": {"mn": {"size": 20, "threshold_mV": -55.0},
                             "rc": {"size": 5, "threshold_mV": -55.0}},
             "sources": {"aff": {"kind": "poisson", "size": 50, "rate_Hz": 40.0}},
             "projections": {
                 "aff_mn": {"pre": "aff", "post": "mn", "receptor": "exc",
                            "probability": 0.3, "weight_nS": 3.0},
                 "mn_rc": {"pre": "mn", "post": "rc", "receptor": "exc",
                           "probability": 0.5, "weight_nS": 4.0, "delay_ms": 0.0},
                 "rc_mn": {"pre": "rc", "post": "mn", "receptor": "inh",
                           "probability": 0.5, "weight_nS": 5.0}}}
        if with_axon:
            d["populations"]["mn"]["axon"] = {"length_mm": 50.0}
        return mnsim.simulate(config_from_dict(d))
    a, b = run(True), run(False)
    for name in ("mn", "rc"):
        assert len(a.spikes(name)) > 20
        assert a.spikes(name).equals(b.spikes(name))


def test_ephaptic_transmission_fires_the_neighbour_after_the_delay():
    """Axon 0 is stimulated distally; its antidromic spike passes the lesion (20 mm),
    crosses to axon 1 after 1 ms, and axon 1's new spike runs both ways."""
    cfg = network(n=2, lesion=20.0, stim_ms=[5.0],
                  ephapse={"probability": 1.0, "transmission": 1.0, "delay_ms": 1.0})
    res = mnsim.simulate(cfg)
    at_lesion = 5.0 + (80.0 - 20.0) / CV
    lateral = at_lesion + 1.0 + (LENGTH - 20.0) / CV
    assert times(res, "mn.terminal", 1)[0] == pytest.approx(lateral)
    assert times(res, "mn", 1)[0] == pytest.approx(at_lesion + 1.0 + 20.0 / CV)
    # axon 1's spike crosses back to axon 0 1 ms later, past axon 0's 1-ms refractory
    # period: with sure transmission the pair reverberates every 2 ms to the end
    both = np.sort(np.r_[times(res, "mn.terminal", 0)[1:], times(res, "mn.terminal", 1)])
    np.testing.assert_allclose(np.diff(both), 1.0)
    assert both[-1] > 28.0


def test_ephaptic_excitation_is_blocked_in_a_refractory_axon():
    """With a 2.5 ms axon refractory period the reply to axon 0 (2 ms after its own
    spike passed) is blocked: exactly one ephaptic excitation."""
    cfg = network(n=2, lesion=20.0, stim_ms=[5.0], axon={"refractory_ms": 2.5},
                  ephapse={"probability": 1.0, "transmission": 1.0, "delay_ms": 1.0})
    res = mnsim.simulate(cfg)
    counts = res.axon_counts()
    assert counts["ephaptic_excitations"] == 1 and counts["blocked_births"] == 1
    assert times(res, "mn.terminal", 0).size == 1


def test_partial_transmission_is_reproducible_and_chunk_independent():
    kw = dict(n=20, lesion=20.0, stim_ms=list(np.arange(5.0, 200.0, 7.0)),
              duration=200.0, ephapse={"probability": 0.3, "transmission": 0.5})
    a = mnsim.simulate(network(**kw, chunk=7.3 - 0.3))
    b = mnsim.simulate(network(**kw, chunk=100.0))
    assert a.axon_counts()["ephaptic_excitations"] > 10
    for name in ("mn", "mn.terminal"):
        assert a.spikes(name).equals(b.spikes(name))


def test_afterdischarge_train_at_the_set_interval():
    cfg = network(lesion=20.0, stim_ms=[5.0],
                  axon={"afterdischarge_probability": 1.0, "afterdischarge_spikes": 3,
                        "afterdischarge_interval_ms": 3.0})
    res = mnsim.simulate(cfg)
    first = 5.0 + (LENGTH - 80.0) / CV
    at_lesion = 5.0 + 60.0 / CV
    trains = at_lesion + 3.0 * np.arange(1, 4) + (LENGTH - 20.0) / CV
    np.testing.assert_allclose(times(res, "mn.terminal"), np.r_[first, trains])


@pytest.mark.parametrize("key,value,message", [
    ("lesion", 120.0, "below the shortest length_mm"),
    ("stim_at", 150.0, "at most the shortest length_mm"),
])
def test_sites_off_the_axon_are_config_errors(key, value, message):
    with pytest.raises(ConfigError, match=message):
        network(**{key: value, "stim_ms": [1.0]})
