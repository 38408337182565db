"""HDF5 output: layout, provenance, independent readers, interrupted runs, Result API."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import h5py
import numba
import numpy as np
import pytest

import mnsim
from mnsim.config import config_from_dict
from conftest import ROOT, small_network


@pytest.fixture(scope="module")
def run_pair(tmp_path_factory):
    """The same config run live (in memory) and to a file."""
    cfg = config_from_dict(small_network(duration_ms=300.0))
    path = tmp_path_factory.mktemp("run") / "net.h5"
    return mnsim.simulate(cfg), mnsim.simulate(cfg, path), path


def test_file_has_sonata_spikes_and_provenance(run_pair):
    live, _, path = run_pair
    with h5py.File(path, "r") as f:
        a = f.attrs
        assert a["complete"] and a["format"] == "mnsim-run"
        assert a["seed"] == 1 and a["dt_ms"] == 0.1
        assert a["mnsim_version"] == mnsim.__version__
        assert a["numba_version"] == numba.__version__
        assert a["numpy_version"] == np.__version__
        assert a["wall_time_s"] > 0
        assert config_from_dict(__import__("json").loads(a["config"])).to_dict() == \
            live.config.to_dict()
        g = f["spikes/mn"]
        assert h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype) == {
            "none": 0, "by_id": 1, "by_time": 2}
        assert g.attrs["sorting"] == 2
        assert g["timestamps"].attrs["units"] == "ms"
        assert g["node_ids"].dtype == np.uint64
        assert np.all(np.diff(g["timestamps"][()]) >= 0)
        assert f["traces/mn/v_mV"].attrs["units"] == "mV"
        assert f["populations/mn/params/leak_conductance_nS"].shape == (20,)


def test_live_and_file_results_are_identical(run_pair):
    live, from_file, _ = run_pair
    assert list(live.populations) == list(from_file.populations)
    for name in ("mn", "inn", "aff", "stim", "sched"):
        a, b = live.spikes(name), from_file.spikes(name)
        assert len(a) > 0
        assert a.equals(b)
    assert live.rates().equals(from_file.rates())
    for var in ("v_mV", "g_exc_nS", "pic_activation"):
        xa, xb = live.trace("mn", var), from_file.trace("mn", var)
        np.testing.assert_array_equal(xa.values, xb.values)
        assert xa.attrs == xb.attrs
    assert live.params("mn").equals(from_file.params("mn"))


def test_libsonata_reads_the_same_spikes(run_pair):
    import libsonata  # in the test extra: an independent SONATA reader

    live, _, path = run_pair
    reader = libsonata.SpikeReader(str(path))
    assert set(reader.get_population_names()) == {"mn", "inn", "aff", "stim", "sched"}
    for name in reader.get_population_names():
        pop = reader[name]
        assert pop.sorting == "by_time"
        got = np.array(pop.get(), dtype=float).reshape(-1, 2)
        df = live.spikes(name)
        np.testing.assert_array_equal(got[:, 1], df.time_ms.to_numpy())
        np.testing.assert_array_equal(got[:, 0], df.node_id.to_numpy())


def test_result_api_shapes_and_units(run_pair):
    live, _, _ = run_pair
    df = live.spikes("mn")
    assert list(df.columns) == ["time_ms", "node_id"]
    rates = live.rates()
    assert rates.loc["stim", "spikes"] == 25
    assert rates.loc["stim", "rate_Hz"] == pytest.approx(25 / 5 / 0.3)
    # the default window includes spikes stamped at exactly the end of the run
    assert rates.loc["mn", "spikes"] == len(live.spikes("mn"))
    per = live.rates("mn")
    assert per.shape == (20,) and per.sum() == pytest.approx(rates.loc["mn", "rate_Hz"] * 20)
    v = live.trace("mn", "v_mV")
    assert v.dims == ("time_ms", "node_id") and v.shape == (600, 2)
    assert list(v.node_id.values) == [0, 5] and v.attrs["units"] == "mV"
    assert v.time_ms.values[1] == pytest.approx(0.5)
    with pytest.raises(KeyError, match="no trace of g_inh_nS for 'mn'"):
        live.trace("mn", "g_inh_nS")
    with pytest.raises(KeyError, match="'nope' is not a population"):
        live.spikes("nope")


def test_to_neo(run_pair):
    live, _, _ = run_pair  # neo is in the test extra
    block = live.to_neo()
    seg = block.segments[0]
    mn_trains = [st for st in seg.spiketrains if st.annotations["population"] == "mn"]
    assert len(mn_trains) == 20
    assert sum(len(st) for st in mn_trains) == len(live.spikes("mn"))
    sig = [s for s in seg.analogsignals if s.name == "mn.v_mV"][0]
    assert str(sig.units.dimensionality) == "mV" and sig.shape == (600, 2)


def test_refuses_to_overwrite_and_replaces_only_when_complete(tmp_path):
    cfg = config_from_dict(small_network(duration_ms=50.0))
    path = tmp_path / "out.h5"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="exists"):
        mnsim.simulate(cfg, path)

    def interrupt(t_ms):
        if t_ms >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mnsim.simulate(cfg, path, overwrite=True, progress=interrupt)
    assert path.read_bytes() == b"precious"          # old file untouched
    assert list(tmp_path.iterdir()) == [path]          # no partial file left behind
    mnsim.simulate(cfg, path, overwrite=True)
    assert mnsim.open(path).attrs["complete"]


def test_killed_run_leaves_no_complete_looking_file(tmp_path):
    out = tmp_path / "killed.h5"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})
        import mnsim
        from mnsim.config import config_from_dict
        from conftest import small_network
        def report(t):
            print(t, flush=True)
        mnsim.simulate(config_from_dict(small_network(duration_ms=1e6, chunk_ms=10.0)),
                       {str(out)!r}, progress=report)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True)
    try:
        for _ in range(3):  # wait until chunks are being written
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert not out.exists()
    partial = [p for p in tmp_path.iterdir()]
    assert len(partial) == 1 and partial[0].name.endswith(".partial")
    with pytest.raises(mnsim.IncompleteRunError, match="did not complete|not readable"):
        mnsim.open(partial[0])


def test_open_rejects_non_run_files(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f.attrs["x"] = 1
    with pytest.raises(mnsim.IncompleteRunError, match="not an mnsim run file"):
        mnsim.open(p)
    with pytest.raises(FileNotFoundError):
        mnsim.open(tmp_path / "missing.h5")
