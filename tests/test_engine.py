"""Engine: agreement with the naive reference, determinism, chunking, compile cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mnsim
import mnsim.engine
from mnsim.build import build
from mnsim.config import config_from_dict
from mnsim.io import MemoryWriter
from conftest import ROOT, small_network
from naive import simulate_naive


def all_spikes(res) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {n: res.spike_arrays(n) for n in res._store.spike_names()}


@pytest.mark.parametrize("lean_inn", [False, True], ids=["general", "uniform-kernel"])
def test_engine_matches_naive_reference(lean_inn):
    d = small_network(duration_ms=250.0)
    if lean_inn:  # no AHP: 'inn' qualifies for the uniform-parameter kernel
        d["populations"]["inn"]["ahp_increment_nS"] = 0.0
    cfg = config_from_dict(d)
    net = build(cfg)
    assert list(net.pop["uniform"]) == [False, lean_inn]
    steps, nodes, state = simulate_naive(net)
    writer = MemoryWriter()
    mnsim.engine.run(build(cfg), writer)
    got = {n: writer.spike_arrays(n) for n in writer.spike_names()}
    n_total = sum(t.size for t, _ in got.values())
    assert n_total == steps.size > 200  # every feature is active, many spikes
    for name in got:
        a, b = net.node_range(name)
        sel = (nodes >= a) & (nodes < b)
        np.testing.assert_allclose(got[name][0], steps[sel] * net.dt_ms, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(got[name][1], nodes[sel] - a)
    # final state agrees up to the accumulated error of the exp approximation (~1e-5)
    np.testing.assert_allclose(writer.net.state["v"], state["v"], atol=1e-3)
    has_pic = net.neuron["g_pic"] > 0  # the engine gates m only where there is a PIC
    assert has_pic.sum() == 20
    np.testing.assert_allclose(writer.net.state["pic_m"][has_pic], state["pic_m"][has_pic],
                               atol=1e-4)


def test_same_seed_identical_other_seed_different():
    a = all_spikes(mnsim.simulate(config_from_dict(small_network(seed=3))))
    b = all_spikes(mnsim.simulate(config_from_dict(small_network(seed=3))))
    c = all_spikes(mnsim.simulate(config_from_dict(small_network(seed=4))))
    for name in a:
        np.testing.assert_array_equal(a[name][0], b[name][0])
        np.testing.assert_array_equal(a[name][1], b[name][1])
    assert any(a[n][0].size != c[n][0].size or not np.array_equal(a[n][0], c[n][0])
               for n in a)


def test_results_do_not_depend_on_chunk_length_or_spike_buffer(monkeypatch):
    runs = [mnsim.simulate(config_from_dict(small_network(chunk_ms=c))) for c in (50.0, 13.0)]
    monkeypatch.setattr(mnsim.engine, "SPIKE_BUFFER_MIN", 0)  # forces early returns
    runs.append(mnsim.simulate(config_from_dict(small_network(chunk_ms=300.0))))
    ref = all_spikes(runs[0])
    for res in runs[1:]:
        got = all_spikes(res)
        for name in ref:
            np.testing.assert_array_equal(ref[name][0], got[name][0])
            np.testing.assert_array_equal(ref[name][1], got[name][1])
        for var in ("v_mV", "g_exc_nS", "pic_activation"):
            np.testing.assert_array_equal(runs[0].trace("mn", var).values,
                                          res.trace("mn", var).values)


def test_poisson_spikes_do_not_depend_on_chunks_at_block_edges():
    def spikes(chunk_ms):
        d = {"simulation": {"duration_ms": 2500.0, "dt_ms": 0.1, "chunk_ms": chunk_ms},
             "populations": {"a": {"size": 1}},
             "sources": {"p": {"kind": "poisson", "size": 300, "rate_Hz": 50.0}}}
        return mnsim.simulate(config_from_dict(d)).spike_arrays("p")
    ref = spikes(1000.0)  # chunk edges on source-block edges
    for chunk in (100.0, 7.3, 2500.0):
        got = spikes(chunk)
        np.testing.assert_array_equal(ref[0], got[0])
        np.testing.assert_array_equal(ref[1], got[1])


def test_step_with_more_events_than_the_spike_buffer_completes():
    d = {"simulation": {"duration_ms": 5.0, "dt_ms": 0.1},
         "populations": {"a": {"size": 1}},
         "sources": {"volley": {"kind": "train", "size": 70_000, "start_ms": 1.0}}}
    assert len(mnsim.simulate(config_from_dict(d)).spikes("volley")) == 70_000


def test_poisson_rate_profile_is_followed_across_block_edges():
    # rises to 60 Hz exactly at the edge of the first 1-s source block, then drops to 0
    d = {"simulation": {"duration_ms": 2000.0, "dt_ms": 0.1, "seed": 5},
         "populations": {"a": {"size": 1}},
         "sources": {"p": {"kind": "poisson", "size": 500,
                           "rate_Hz": {"shape": "piecewise",
                                       "times_ms": [0.0, 1000.0, 1000.0, 2000.0],
                                       "values_Hz": [0.0, 60.0, 0.0, 0.0]}}}}
    res = mnsim.simulate(config_from_dict(d))
    # mean of the ramp: 30 Hz; 15,000 expected spikes, sd of the rate ~ 0.25 Hz
    assert res.rates(t_start_ms=0, t_stop_ms=1000).loc["p", "rate_Hz"] == \
        pytest.approx(30.0, abs=1.0)
    assert res.rates(t_start_ms=500, t_stop_ms=1000).loc["p", "rate_Hz"] == \
        pytest.approx(45.0, abs=1.5)
    assert res.rates(t_start_ms=1000).loc["p", "spikes"] == 0


def test_poisson_source_rate_and_profile():
    d = {"simulation": {"duration_ms": 4000.0, "dt_ms": 0.1, "seed": 2},
         "populations": {"a": {"size": 1}},
         "sources": {"p": {"kind": "poisson", "size": 500,
                           "rate_Hz": {"shape": "step", "t_on_ms": 1000.0,
                                       "t_off_ms": 3000.0, "level_Hz": 40.0,
                                       "baseline_Hz": 10.0}}}}
    res = mnsim.simulate(config_from_dict(d))
    low = res.rates(t_start_ms=0, t_stop_ms=1000).loc["p", "rate_Hz"]
    high = res.rates(t_start_ms=1000, t_stop_ms=3000).loc["p", "rate_Hz"]
    # 500 generators x 1 s at 10 Hz = 5000 spikes: sd of the mean rate ~ 0.14 Hz
    assert low == pytest.approx(10.0, abs=0.6)
    assert high == pytest.approx(40.0, abs=0.9)


def test_trains_and_scheduled_spikes_land_on_their_steps():
    d = small_network(duration_ms=200.0)
    res = mnsim.simulate(config_from_dict(d))
    stim = res.spikes("stim")
    np.testing.assert_allclose(np.unique(stim.time_ms), 100.0 + 5.0 * np.arange(5))
    assert stim.shape[0] == 5 * 5
    np.testing.assert_allclose(np.unique(res.spikes("sched").time_ms), [20.0, 150.0])


def test_traces_stream_in_chunks_of_bounded_size():
    cfg = config_from_dict(small_network(duration_ms=300.0, chunk_ms=20.0))
    rows_per_call = []

    class Spy(MemoryWriter):
        def traces(self, group, start_row, rows):
            rows_per_call.append(rows.shape[0])
            super().traces(group, start_row, rows)

    mnsim.engine.run(build(cfg), Spy())
    # 0.5 ms sampling, 20 ms chunks: never more than 40 rows in memory per call
    assert max(rows_per_call) <= 40
    assert sum(rows_per_call) == 600


def test_second_process_does_not_recompile(tmp_path):
    script = textwrap.dedent(f"""
        import mnsim, mnsim.engine as e
        from mnsim.config import config_from_dict
        import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})
        from conftest import small_network
        mnsim.simulate(config_from_dict(small_network(duration_ms=20.0)))
        print(sum(len(k.stats.cache_misses) for k in (e.advance,)),
              sum(len(k.stats.cache_hits) for k in (e.advance,)))
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert first == ["1", "0"]   # compiled (and written to the cache) once
    assert second == ["0", "1"]  # loaded from the cache, no compilation


def test_non_finite_state_is_reported():
    # Validated parameters cannot produce one (g_tot >= g_leak > 0 and the propagator is
    # bounded), so corrupt the state directly: the driver must not write on silently.
    net = build(config_from_dict(small_network(duration_ms=20.0)))
    net.state["v"][3] = np.nan
    with pytest.raises(FloatingPointError, match="non-finite in neuron 3"):
        mnsim.engine.run(net, MemoryWriter())


def test_kernel_cache_folder_follows_every_source_file(tmp_path, monkeypatch):
    """numba checks a cached kernel only against its own file; mnsim's cache folder is
    named by a digest of all its sources, so a change in any module gives a new one."""
    from mnsim import _cache, engine

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    first = _cache.cache_dir(tmp_path)
    assert first.parent == tmp_path / "cache"
    assert _cache.cache_dir(tmp_path) == first                 # same sources, same folder
    (tmp_path / "b.py").write_text("# b.py, edited\n")
    assert _cache.cache_dir(tmp_path) != first                 # any file's change counts
    # the kernels were decorated inside the digest folder of the installed sources
    digest = _cache.source_digest()
    assert f"mnsim-kernels-{digest}" in str(engine.advance._cache._cache_path)
