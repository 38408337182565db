"""The bursting source: rates and burst statistics against their analytic values,
reproducibility across chunk lengths, and the errors of bad settings."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mnsim
from mnsim.build import SourceStream, bursting_block, rng_for
from mnsim.config import ConfigError, config_from_dict

def block(rate_Hz, n, t_ms, seed=0, **kw):
    """All spikes of bursts with onsets in [0, t_ms) (times in ms, generator ids)."""
    return bursting_block(rng_for(seed, "test"), 0.0, t_ms, n, np.array([0.0]),
                          np.array([rate_Hz]), **kw)


def config(chunk_ms=100.0, duration_ms=3000.0, **source):
    d = {"simulation": {"duration_ms": duration_ms, "dt_ms": 0.1, "chunk_ms": chunk_ms,
                        "seed": 3},
         "populations": {"a": {"size": 5, "threshold_mV": -55.0}},
         "sources": {"b": {"kind": "bursting", "size": 40, "burst_rate_Hz": 1.0,
                           "spikes_per_burst": 8, "spikes_per_burst_dist": "geometric",
                           "intra_burst_Hz": 20.0, "intra_burst_jitter_ms": 5.0,
                           **source}},
         "projections": {"p": {"pre": "b", "post": "a", "receptor": "exc",
                               "probability": 0.5, "weight_nS": 3.0}}}
    return config_from_dict(d, "net.toml")


def clusters(t, ids, gap_ms):
    """Sizes of runs of one generator's spikes separated by less than ``gap_ms``."""
    sizes = []
    for g in np.unique(ids):
        tg = np.sort(t[ids == g])
        breaks = np.flatnonzero(np.diff(tg) >= gap_ms)
        sizes.append(np.diff(np.r_[0, breaks + 1, tg.size]))
    return np.concatenate(sizes)


@pytest.mark.parametrize("dist", ["fixed", "poisson", "geometric"])
def test_mean_rate_is_burst_rate_times_spikes_per_burst(dist):
    # 200 generators x 2 bursts/s x 4 spikes x 50 s = 80,000 spikes expected. The count
    # is compound Poisson: variance = (burst count) x E[K^2] (K^2 = 16, 19, 28 for
    # fixed, poisson, geometric), sd < 1 %: 4 sd is < 4 %.
    n, rate, m, t_ms = 200, 2.0, 4, 50_000.0
    t, ids = block(rate, n, t_ms, spikes_per_burst=m, intra_burst_Hz=100.0,
                   spikes_per_burst_dist=dist)
    expected = n * rate * m * t_ms / 1000.0
    ek2 = {"fixed": m * m, "poisson": (m - 1) + m * m, "geometric": m * (m - 1) + m * m}
    sd = np.sqrt(n * rate * t_ms / 1000.0 * ek2[dist])
    assert abs(t.size - expected) < 4 * sd, (t.size, expected, sd)
    assert ids.min() >= 0 and ids.max() == n - 1
    per_generator = np.bincount(ids, minlength=n)
    assert per_generator.mean() == pytest.approx(t.size / n)


@pytest.mark.parametrize("dist,variance", [("fixed", 0.0), ("poisson", 3.0),
                                            ("geometric", 12.0)])
def test_spikes_per_burst_have_the_declared_distribution(dist, variance):
    # rare, compact bursts (0.1 ms apart, one per 10 s): each cluster is one burst.
    # mean 4; variance 0 (fixed), m - 1 = 3 (1 + Poisson), m (m - 1) = 12 (geometric)
    t, ids = block(0.1, 500, 100_000.0, seed=1, spikes_per_burst=4,
                   intra_burst_Hz=10_000.0, spikes_per_burst_dist=dist)
    k = clusters(t, ids, gap_ms=1.0)
    assert k.size > 4000 and k.min() >= 1
    assert k.mean() == pytest.approx(4.0, abs=4 * np.sqrt(variance / k.size) + 0.02)
    assert k.var() == pytest.approx(variance, rel=0.15, abs=0.01)


def test_intra_burst_intervals_follow_the_frequency_and_jitter():
    # 50 Hz: spikes 20 ms apart, each but the first moved by up to +-4 ms, so intervals
    # within a burst lie in [12, 28] ms with mean 20 ms. Bursts are 50 s apart on
    # average: bursts of one generator overlap (0.1-s bursts) in well under 1 % of cases.
    kw = dict(spikes_per_burst=6, intra_burst_Hz=50.0)
    t, ids = block(0.02, 100, 2_000_000.0, seed=2, intra_burst_jitter_ms=4.0, **kw)
    isi = np.concatenate([np.diff(np.sort(t[ids == g])) for g in range(100)])
    intra = isi[(isi >= 12.0 - 1e-9) & (isi <= 28.0 + 1e-9)]
    assert intra.size == pytest.approx(5 * t.size / 6, rel=0.01)  # K - 1 per burst
    assert np.sum(isi < 12.0) < 0.01 * intra.size
    assert intra.mean() == pytest.approx(20.0, abs=0.1)  # sd of the mean ~0.03 ms
    # without jitter every interval within a burst is exactly 1000 / intra_burst_Hz
    t, ids = block(0.02, 100, 2_000_000.0, seed=2, **kw)
    isi = np.concatenate([np.diff(np.sort(t[ids == g])) for g in range(100)])
    exact = np.isclose(isi, 20.0, rtol=0, atol=1e-9)
    assert exact.sum() >= 0.99 * 5 * t.size / 6


def test_bursts_spill_across_block_edges_without_loss():
    # bursts last 0.98 s (50 spikes at 50 Hz), so about half of each block's spikes fall
    # in the next block; the stationary rate is 1 Hz x 50 = 50 Hz per generator
    cfg = config(duration_ms=21_000.0, burst_rate_Hz=1.0, spikes_per_burst=50,
                 spikes_per_burst_dist="fixed", intra_burst_Hz=50.0,
                 intra_burst_jitter_ms=0.0)
    stream = SourceStream("b", cfg.sources["b"], 0, 7, 0.1)
    k_edge = 10_000  # 1 s
    steps, _ = stream.events(0, 210_000)
    steady = steps[steps >= k_edge]       # after the first burst durations
    rate = steady.size / 40 / 20.0
    sd = np.sqrt(40 * 20 * 50 * 50) / 40 / 20.0
    assert abs(rate - 50.0) < 4 * sd, rate
    # no dip at block edges: spikes in the 100 ms after each edge vs. before it
    rel = (steady - k_edge) % 10_000
    after, before = np.sum(rel < 1000), np.sum(rel >= 9000)
    assert abs(after - before) < 4 * np.sqrt(after + before) + 10, (after, before)


def test_spikes_do_not_depend_on_chunk_length_or_request_order():
    runs = [mnsim.simulate(config(chunk_ms=c)) for c in (50.0, 333.3, 3000.0)]
    for name in ("b", "a"):
        ref = runs[0].spike_arrays(name)
        assert ref[0].size > 100
        for other in runs[1:]:
            for x, y in zip(ref, other.spike_arrays(name)):
                np.testing.assert_array_equal(x, y)
    # a stream asked for its steps in pieces, or after going back, gives the same events
    cfg = config()
    whole = SourceStream("b", cfg.sources["b"], 0, 3, 0.1).events(0, 30_000)
    s = SourceStream("b", cfg.sources["b"], 0, 3, 0.1)
    s.events(20_000, 25_000)
    parts = [s.events(k, k + 3_000) for k in range(0, 30_000, 3_000)]  # back to 0 first
    steps = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    a = np.lexsort((whole[1], whole[0]))
    b = np.lexsort((ids, steps))
    np.testing.assert_array_equal(whole[0][a], steps[b])
    np.testing.assert_array_equal(whole[1][a], ids[b])


def test_burst_rate_profile_switches_bursting_on():
    # no bursts before 1 s, 2 bursts/s of 3 spikes after: 6 Hz per generator
    cfg = config(duration_ms=11_000.0, spikes_per_burst=3, spikes_per_burst_dist="fixed",
                 intra_burst_Hz=100.0, intra_burst_jitter_ms=0.0,
                 burst_rate_Hz={"shape": "step", "t_on_ms": 1000.0, "level_Hz": 2.0})
    steps, _ = SourceStream("b", cfg.sources["b"], 0, 1, 0.1).events(0, 110_000)
    assert steps.min() >= 10_000
    expected = 40 * 10 * 2 * 3
    assert abs(steps.size - expected) < 4 * np.sqrt(40 * 10 * 2 * 9), steps.size


@pytest.mark.parametrize("change,expected", [
    ({"spikes_per_burst": 2.5, "spikes_per_burst_dist": "fixed"},
     r"sources\.b\.spikes_per_burst = 2\.5: must be a whole number with "
     r"spikes_per_burst_dist = \"fixed\""),
    ({"spikes_per_burst": 0.5},
     r"sources\.b\.spikes_per_burst = 0\.5: .*allowed range: 1 <= value <= 10000"),
    ({"intra_burst_Hz": 0.0},
     r"sources\.b\.intra_burst_Hz = 0\.0: .*allowed range: 0 < value <= 10000"),
    ({"intra_burst_jitter_ms": 30.0},
     r"sources\.b\.intra_burst_jitter_ms = 30\.0: allowed range: 0 <= value < half the "
     r"intra-burst interval \(500 / intra_burst_Hz = 25 ms\)"),
    ({"burst_rate_Hz": -1.0}, r"sources\.b\.burst_rate_Hz = -1\.0: .*allowed range: 0 <="),
    ({"spikes_per_burst_dist": "binomial"},
     r"sources\.b\.spikes_per_burst_dist = 'binomial': Input should be 'fixed', "
     r"'poisson' or 'geometric'"),
    ({"burst_Hz": 3.0}, r"sources\.b\.burst_Hz = 3\.0: unknown key; did you mean "
                        r"'burst_rate_Hz'\?"),
    ({"kind": "burst"}, r"sources\.b\.kind = 'burst': unknown kind; expected one of .*"
                        r"'bursting'"),
])
def test_bad_settings_name_the_key_and_the_allowed_range(change, expected):
    with pytest.raises(ConfigError) as info:
        config(**change)
    assert re.search(expected, str(info.value)), str(info.value)
