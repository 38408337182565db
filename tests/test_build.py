"""The builder: connectivity statistics, parameter draws, stable random streams."""

from __future__ import annotations


import numpy as np
import pytest


from mnsim.build import build, pwl_eval
from mnsim.config import config_from_dict
from conftest import small_network


def net_from(mutate=None, **sim):
    d = small_network(**sim)
    if mutate:
        mutate(d)
    return build(config_from_dict(d))


def synapses(net, receptor, pre, post):
    syn = getattr(net, receptor)
    a, b = net.node_range(pre)
    c, e = net.node_range(post)
    rows = np.repeat(np.arange(net.n_nodes), np.diff(syn.indptr))
    sel = (rows >= a) & (rows < b) & (syn.post >= c) & (syn.post < e)
    return rows[sel] - a, syn.post[sel].astype(np.int64) - c, syn.weight[sel], syn.delay[sel]


def test_bernoulli_connectivity_has_the_right_density_and_no_autapses():
    def mutate(d):
        d["populations"]["inn"]["size"] = 300
        d["projections"]["inn_inn"] = {"pre": "inn", "post": "inn", "receptor": "inh",
                                       "probability": 0.1}
    pre, post, _, _ = synapses(net_from(mutate), "inh", "inn", "inn")
    pairs = 300 * 299
    assert abs(pre.size - 0.1 * pairs) < 4 * np.sqrt(pairs * 0.1 * 0.9)
    assert not np.any(pre == post)
    assert np.unique(pre * 300 + post).size == pre.size  # no duplicate synapses
    # in-degrees are binomial(299, 0.1): mean ~29.9, variance ~26.9
    indeg = np.bincount(post, minlength=300)
    assert indeg.mean() == pytest.approx(29.9, abs=1.0)
    assert indeg.var() == pytest.approx(26.9, rel=0.3)


def test_fixed_fan_in_is_exact_distinct_and_skips_self():
    pre, post, _, _ = synapses(net_from(), "inh", "inn", "inn")
    assert np.all(np.bincount(post, minlength=30) == 5)
    assert not np.any(pre == post)
    assert np.unique(pre * 30 + post).size == pre.size


def test_weights_and_delays_per_synapse():
    net = net_from()
    _, _, w, d = synapses(net, "exc", "aff", "mn")
    assert w.min() >= 5.0 and w.max() <= 15.0 and w.std() > 2.0  # uniform(5, 15)
    assert d.min() == 5 and d.max() == 30                         # 0.5-3 ms at 0.1 ms
    _, _, _, d = synapses(net, "exc", "sched", "mn")
    assert np.all(d == 0)


def test_delay_rounding_is_half_up():
    def mutate(d):
        d["projections"]["aff_inn"]["delay_ms"] = 0.15
    _, _, _, d = synapses(net_from(mutate), "exc", "aff", "inn")
    assert np.all(d == 2)


def test_pool_scaling_and_clipped_normal():
    p = net_from().params["mn"]
    g = p["leak_conductance_nS"]
    assert g[0] == pytest.approx(80.0) and g[-1] == pytest.approx(200.0)
    assert np.allclose(g[1:] / g[:-1], (200 / 80) ** (1 / 19))  # geometric
    th = p["threshold_mV"]
    assert th.min() >= -58.0 and th.max() <= -52.0 and 0.5 < th.std() < 1.5


def test_random_streams_are_stable_by_name():
    ref = net_from()

    def add_population(d):
        d["populations"] = {"extra": {"size": 7,
                                      "threshold_mV": {"dist": "uniform", "low": -55.0,
                                                       "high": -50.0}},
                            **d["populations"]}
    other = net_from(add_population)
    np.testing.assert_array_equal(ref.params["mn"]["threshold_mV"],
                                  other.params["mn"]["threshold_mV"])
    a = synapses(ref, "exc", "aff", "mn")
    b = synapses(other, "exc", "aff", "mn")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    seeded = net_from(seed=2)
    assert not np.array_equal(ref.params["mn"]["threshold_mV"],
                              seeded.params["mn"]["threshold_mV"])


def test_pwl_eval_jumps_are_right_continuous():
    t = np.array([0.0, 10.0, 10.0, 20.0])
    v = np.array([0.0, 5.0, 1.0, 1.0])
    got = pwl_eval(t, v, np.array([-1.0, 5.0, 9.999, 10.0, 15.0, 25.0]))
    np.testing.assert_allclose(got, [0.0, 2.5, 4.9995, 1.0, 1.0, 1.0])


def test_a_delay_buffer_too_large_is_a_config_error(monkeypatch):
    import mnsim.build

    monkeypatch.setattr(mnsim.build, "MAX_DELAY_BUFFER_BYTES", 1_000_000)

    def long_delay(d):
        d["projections"]["inn_mn"]["delay_ms"] = 400.0
    with pytest.raises(mnsim.ConfigError,
                       match=r"projections\.inn_mn\.delay_ms = 400\.0: the longest delay "
                             r"\(4000 steps\) needs a 0\.0 GiB delay buffer for 50 neurons"):
        net_from(long_delay)
    net_from()  # the default delays fit
