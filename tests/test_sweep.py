"""Sweeps: spec validation, expansion, stable ids and seeds, local and dask executors
giving identical files, resume, failures, timeouts, killed workers, the driver lock."""

from __future__ import annotations

import json
import os
import re
import textwrap

import numpy as np
import pytest

import mnsim
from mnsim.analysis import METRICS
from mnsim.config import ConfigError
from mnsim.sweep import SweepLockedError, open_sweep, run_one, run_sweep
from mnsim.sweep.spec import expand, load_sweep_spec
from mnsim.sweep.store import SweepDir, create_sweep_dir
from conftest import ROOT

BASE = """
[simulation]
duration_ms = 200.0
dt_ms = 0.1
chunk_ms = 50.0

[populations.mn]
size = 8
leak_reversal_mV = -70.0
bias_current_nA = { scale = "linear", first = 0.1, last = 0.3 }
threshold_mV = { dist = "normal", mean = -50.0, sd = 1.0, low = -53.0, high = -47.0 }

[populations.rc]
size = 4

[sources.aff]
kind = "poisson"
size = 20
rate_Hz = 40.0

[projections.aff_mn]
pre = "aff"
post = "mn"
receptor = "exc"
probability = 0.5
weight_nS = 3.0

[projections.mn_rc]
pre = "mn"
post = "rc"
receptor = "exc"
probability = 0.5
weight_nS = 4.0
"""


def make_spec(tmp_path, body: str, name: str = "spec.toml"):
    (tmp_path / "base.toml").write_text(BASE)
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


GRID = """
[sweep]
base = "base.toml"
replicates = 2
seed = 3
metrics = ["rates"]

[grid]
"populations.mn.leak_reversal_mV" = [-72.0, -68.0]
"projections.aff_mn.weight_nS" = { start = 2.0, stop = 4.0, num = 2 }
"""


# -- spec -------------------------------------------------------------------------------
def test_expansion_counts_ids_and_seeds(tmp_path):
    spec, base = load_sweep_spec(make_spec(tmp_path, GRID))
    plans = expand(spec, base)
    assert len(plans) == 2 * 2 * 2
    ids = [p["run_id"] for p, _ in plans]
    assert len(set(ids)) == 8 and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert ids == [p["run_id"] for p, _ in expand(spec, base)]      # stable
    # common random numbers: replicate r has the same seed at every point
    seeds = {(p["point"], p["replicate"]): p["seed"] for p, _ in plans}
    assert len({seeds[(i, 0)] for i in range(4)}) == 1
    assert seeds[(0, 0)] != seeds[(0, 1)]
    for p, cfg in plans:
        assert cfg.simulation.seed == p["seed"]
        assert cfg.populations["mn"].leak_reversal_mV == p["params"][
            "populations.mn.leak_reversal_mV"]


def test_zip_sample_and_independent_seeds(tmp_path):
    spec, base = load_sweep_spec(make_spec(tmp_path, """
        [sweep]
        base = "base.toml"
        seeds = "independent"
        [zip]
        "populations.mn.size" = [4, 6]
        "sources.aff.size" = [10, 30]
        [sample]
        method = "lhs"
        n = 5
        seed = 2
        ranges = { "sources.aff.rate_Hz" = [10.0, 50.0] }
    """))
    plans = expand(spec, base)
    assert len(plans) == 2 * 5
    sizes = {(p["params"]["populations.mn.size"], p["params"]["sources.aff.size"])
             for p, _ in plans}
    assert sizes == {(4, 10), (6, 30)}
    rates = sorted({p["params"]["sources.aff.rate_Hz"] for p, _ in plans})
    assert len(rates) == 5 and 10 <= rates[0] and rates[-1] <= 50
    # Latin hypercube: one sample in each fifth of the range
    assert sorted(int((r - 10) // 8) for r in rates) == [0, 1, 2, 3, 4]
    assert len({p["seed"] for p, _ in plans}) == 10  # independent seeds


@pytest.mark.parametrize("body,expected", [
    ('[sweep]\nbase = "base.toml"\nreplicate = 2\n',
     r"spec\.toml: sweep\.replicate = 2: unknown key; did you mean 'replicates'\?"),
    ('[sweep]\nbase = "base.toml"\nreplicates = 0\n',
     r"sweep\.replicates = 0: .*allowed range: 1 <= value"),
    ('[sweep]\nbase = "base.toml"\n[zip]\n"a.b" = [1, 2]\n"c.d" = [1]\n',
     r"zip lists must have equal lengths"),
    ('[sweep]\nbase = "base.toml"\n[grid]\n"simulation.seed" = [1, 2]\n',
     r"simulation\.seed is set by the sweep"),
    ('[sweep]\nbase = "base.toml"\n[executor]\nkind = "pbs"\n',
     r"executor\.kind = 'pbs': Input should be 'local', 'dask' or 'slurm'"),
])
def test_spec_errors(tmp_path, body, expected):
    with pytest.raises(ConfigError, match=expected):
        load_sweep_spec(make_spec(tmp_path, body))


def test_swept_value_errors_name_the_spec_point_and_key(tmp_path):
    spec, base = load_sweep_spec(make_spec(tmp_path, """
        [sweep]
        base = "base.toml"
        [grid]
        "populations.mn.pic_gian" = [1.0]
        "populations.mn.size" = [4, -1]
    """))
    with pytest.raises(ConfigError, match=r"spec\.toml \(point 0: populations\.mn\."
                                          r"pic_gian=1\.0.*did you mean 'pic_gain'"):
        expand(spec, base, str(tmp_path / "spec.toml"))


# -- running --------------------------------------------------------------------------------
def spikes_of(path):
    res = mnsim.open(path)
    return {n: res.spike_arrays(n) for n in ("mn", "rc", "aff")}


def test_local_run_resume_and_collect(tmp_path):
    spec = make_spec(tmp_path, GRID)
    sw = run_sweep(spec, tmp_path / "sw", workers=2, progress=False)
    assert sw.counts() == {"done": 8, "running": 0, "failed": 0, "pending": 0}
    df = sw.summary
    assert len(df) == 8 and (df.status == "done").all()
    assert {"param.populations.mn.leak_reversal_mV", "metric.rate_Hz.mn", "seed",
            "wall_time_s"} <= set(df.columns)
    # metrics in the summary are the run files' own numbers
    row = df.iloc[3]
    res = mnsim.open(tmp_path / "sw" / "runs" / f"{row.run_id}.h5")
    assert row["metric.rate_Hz.mn"] == pytest.approx(res.rates().loc["mn", "rate_Hz"])
    assert res.seed == row.seed
    # resume: nothing reruns; a deleted run is redone, bit for bit
    runs = sorted((tmp_path / "sw" / "runs").glob("*.h5"))
    mtimes = {p: p.stat().st_mtime_ns for p in runs}
    before = spikes_of(runs[0])
    runs[0].unlink()
    run_sweep(tmp_path / "sw", progress=False)
    assert all(p.stat().st_mtime_ns == mtimes[p] for p in runs[1:])
    after = spikes_of(runs[0])
    for n in before:
        np.testing.assert_array_equal(before[n][0], after[n][0])
    # the summary can be rebuilt from the files alone
    (tmp_path / "sw" / "summary.h5").unlink()
    assert open_sweep(tmp_path / "sw").collect().drop(columns="wall_time_s").equals(
        df.drop(columns="wall_time_s"))
    # a different spec cannot reuse the folder
    other = make_spec(tmp_path, GRID.replace("seed = 3", "seed = 4"), "other.toml")
    with pytest.raises(FileExistsError, match="holds a different sweep"):
        run_sweep(other, tmp_path / "sw", progress=False)


def test_dask_gives_the_same_runs_bit_for_bit(tmp_path):
    import distributed  # in the test extra

    spec = make_spec(tmp_path, GRID)
    local = run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = run_sweep(spec, tmp_path / "dask", executor="dask", client=client,
                           progress=False)
    a, b = local.summary.set_index("run_id"), remote.summary.set_index("run_id")
    assert sorted(a.index) == sorted(b.index)
    metrics = [c for c in a.columns if c.startswith("metric.")]
    assert a.loc[b.index, metrics].equals(b[metrics])
    for rid in a.index:
        x = spikes_of(tmp_path / "local" / "runs" / f"{rid}.h5")
        y = spikes_of(tmp_path / "dask" / "runs" / f"{rid}.h5")
        for n in x:
            np.testing.assert_array_equal(x[n][0], y[n][0])
            np.testing.assert_array_equal(x[n][1], y[n][1])


def test_a_failing_run_is_recorded_then_retried(tmp_path, monkeypatch):
    d = create_sweep_dir(make_spec(tmp_path, GRID), tmp_path / "sw")
    plan = d.plans()[0]

    def broken(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr("mnsim.api.simulate", broken)
    r = run_one(str(d.path), plan)
    assert r["status"] == "failed" and "disk on fire" in r["error"]
    st = d.status().set_index("run_id")
    assert st.loc[plan["run_id"], "status"] == "failed"
    assert "RuntimeError: disk on fire" in st.loc[plan["run_id"], "error"]
    assert not d.claim_file(plan["run_id"]).exists()
    monkeypatch.undo()
    assert run_one(str(d.path), plan)["status"] == "done"
    assert d.status().set_index("run_id").loc[plan["run_id"], "status"] == "done"
    assert not d.error_file(plan["run_id"]).exists()


def test_timeout_marks_runs_failed(tmp_path):
    spec = make_spec(tmp_path, GRID.replace('metrics = ["rates"]',
                                            'metrics = ["rates"]\ntimeout_s = 1e-6'))
    sw = run_sweep(spec, tmp_path / "sw", workers=2, progress=False)
    df = sw.summary
    assert (df.status == "failed").all()
    assert df.error.str.contains("RunTimeout: run exceeded timeout_s").all()
    assert not list((tmp_path / "sw" / "runs").glob("*.h5"))  # no partial run files


def test_killed_worker_is_recorded_and_others_finish(tmp_path):
    flag = tmp_path / "kill-point-1"
    flag.write_text("")

    def die_on_point_1(res):
        # runs inside a forked worker: SIGKILL it for one point while the flag exists
        if flag.exists() and res.config.populations["mn"].leak_reversal_mV == -72.0 \
                and res.config.projections["aff_mn"].weight_nS == 4.0:
            os.kill(os.getpid(), 9)
        return {}
    METRICS["die_on_point_1"] = (die_on_point_1, "test only")
    try:
        spec = make_spec(tmp_path, GRID.replace('metrics = ["rates"]',
                                                'metrics = ["rates", "die_on_point_1"]'))
        sw = run_sweep(spec, tmp_path / "sw", workers=2, progress=False)
        c = sw.counts()
        assert c["done"] == 6 and c["failed"] == 2 and c["pending"] == 0, c
        assert sw.summary[sw.summary.status == "failed"].error.str.contains(
            "worker process died").all()
        flag.unlink()
        assert run_sweep(tmp_path / "sw", progress=False).counts()["done"] == 8
    finally:
        del METRICS["die_on_point_1"]


def test_second_driver_is_refused_and_claims_are_exclusive(tmp_path):
    d = create_sweep_dir(make_spec(tmp_path, GRID), tmp_path / "sw")
    with d.lock():
        with pytest.raises(SweepLockedError, match=r"already being run by another process "
                                                   r"\(host .* pid \d+"):
            run_sweep(tmp_path / "sw", progress=False)
    rid = d.plans()[0]["run_id"]
    assert d.claim(rid)
    assert not SweepDir(tmp_path / "sw").claim(rid)       # held by a live process
    d.claim_file(rid).write_text(json.dumps({"host": os.uname().nodename,
                                             "pid": 2**22 + 12345, "started": 0}))
    assert SweepDir(tmp_path / "sw").claim(rid)           # dead holder: taken over


def test_cli_sweep_commands(tmp_path):
    from click.testing import CliRunner

    from mnsim.cli import main

    spec = make_spec(tmp_path, GRID)
    runner = CliRunner()
    r = runner.invoke(main, ["sweep", "run", str(spec), "-o", str(tmp_path / "sw"),
                             "--no-progress", "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "8 done" in r.output
    r = runner.invoke(main, ["sweep", "status", str(tmp_path / "sw")])
    assert "8 runs: 8 done, 0 running, 0 failed, 0 pending" in r.output
    r = runner.invoke(main, ["sweep", "plot", str(tmp_path / "sw"), "--metric",
                             "rate_Hz.mn", "--x", "populations.mn.leak_reversal_mV",
                             "--y", "projections.aff_mn.weight_nS"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sw" / "rate_Hz.mn.png").stat().st_size > 5000
    r = runner.invoke(main, ["sweep", "plot", str(tmp_path / "sw"), "--metric",
                             "rate_Hz.mn", "--x", "nope"])
    assert r.exit_code == 1 and "not a grid axis" in r.output


# -- SLURM (a real one-node cluster: scripts/slurm_local.sh, started by .ci/run) -----------
def _slurm_up() -> bool:
    import shutil
    import subprocess

    up = shutil.which("sbatch") is not None and subprocess.run(
        ["sinfo", "-h"], capture_output=True).returncode == 0
    if not up and os.environ.get("MNSIM_REQUIRE_SLURM") == "1":
        raise RuntimeError("MNSIM_REQUIRE_SLURM=1 but no SLURM answers (sinfo)")
    return up


def test_slurm_chunks_and_job_script(tmp_path):
    from mnsim.sweep.slurm import chunks, job_script, submit

    spec = make_spec(tmp_path, GRID.replace("[grid]", """[executor]
kind = "slurm"
max_array_size = 3
partition = "debug"
time = "00:10:00"
parallel = 2

[grid]"""))
    d = create_sweep_dir(spec, tmp_path / "sw")
    parts = chunks(d)
    assert len(parts) == 3 and sorted(sum(parts, [])) == sorted(p["run_id"] for p in
                                                                 d.plans())
    script = job_script(d)
    for line in ("#SBATCH --partition=debug", "#SBATCH --time=00:10:00",
                 "export HDF5_USE_FILE_LOCKING=FALSE", "NUMBA_CACHE_DIR=",
                 "-m mnsim sweep worker", '--chunk "$SLURM_ARRAY_TASK_ID"'):
        assert line in script
    info = submit(d, dry_run=True)
    assert info["array"] == "0-2%2" and info["job_id"] is None


@pytest.mark.skipif(not _slurm_up(), reason="needs a running SLURM (scripts/slurm_local.sh;"
                                            " .ci/run starts one)")
def test_slurm_array_job_gives_the_same_runs_as_local(tmp_path):
    import time

    from mnsim.sweep.slurm import submit

    spec = make_spec(tmp_path, GRID.replace("[grid]", """[executor]
kind = "slurm"
max_array_size = 3
mem = "400M"

[grid]"""))
    local = run_sweep(spec, tmp_path / "local", executor="local", workers=2,
                      progress=False)
    d = create_sweep_dir(spec, tmp_path / "slurm")
    t0 = time.perf_counter()
    info = submit(d)
    assert info["job_id"] and info["array"] == "0-2"
    assert time.perf_counter() - t0 < 30  # returns at once: nothing waits for the job
    deadline = time.time() + 240
    while d.counts()["done"] < 8 and time.time() < deadline:
        time.sleep(1)
    assert d.counts() == {"done": 8, "running": 0, "failed": 0, "pending": 0}, \
        list((d.path / "slurm" / "logs").glob("*"))
    for rid in local.summary.run_id:
        x = spikes_of(tmp_path / "local" / "runs" / f"{rid}.h5")
        y = spikes_of(d.run_file(rid))
        for n in x:
            np.testing.assert_array_equal(x[n][0], y[n][0])
    # resume resubmits only the chunk of a run that is missing
    victim = d.plans()[4]["run_id"]
    d.run_file(victim).unlink()
    info = submit(d, resume=True, dry_run=True)
    from mnsim.sweep.slurm import chunks
    want = [i for i, ids in enumerate(chunks(d)) if victim in ids]
    assert info["array"] == ",".join(map(str, want)) and info["tasks"] == 1


@pytest.mark.skipif(not _slurm_up(), reason="needs a running SLURM (scripts/slurm_local.sh;"
                                            " .ci/run starts one)")
def test_dask_jobqueue_cluster_from_the_spec(tmp_path):
    import dask_jobqueue  # noqa: F401  (in the test extra)

    spec = make_spec(tmp_path, GRID.replace("[grid]", """[executor]
kind = "dask"
jobqueue = "slurm"
jobs = 1
mem = "1G"

[grid]"""))
    remote = run_sweep(spec, tmp_path / "jq", progress=False)
    local = run_sweep(spec, tmp_path / "local", executor="local", workers=2,
                      progress=False)
    assert remote.counts()["done"] == 8
    a, b = local.summary.set_index("run_id"), remote.summary.set_index("run_id")
    assert a["metric.rate_Hz.mn"].equals(b.loc[a.index, "metric.rate_Hz.mn"])


@pytest.mark.parametrize("path", sorted((__import__("conftest").ROOT / "configs" /
                                         "sweeps").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_sweeps_expand(path):
    spec, base = load_sweep_spec(path)
    plans = expand(spec, base, str(path))
    n_points = 1
    for v in spec.grid.values():
        n_points *= len(v.values()) if hasattr(v, "values") and callable(v.values) else len(v)
    if spec.zip:  # zip rows multiply the grid's points
        n_points *= len(next(iter(spec.zip.values())))
    assert len(plans) == n_points * spec.sweep.replicates
    if path.stem == "sci_phase_map":  # the phase map promises >= 8 x 8 points x 3 replicates
        assert n_points >= 64 and spec.sweep.replicates >= 3


def test_grid_with_zip_makes_the_first_zipped_key_a_dimension(tmp_path):
    """grid x zip: the dataset has the grid key and the first zipped key as dimensions,
    the other zipped key as a coordinate along it, and every run in its cell."""
    spec = make_spec(tmp_path, """
        [sweep]
        base = "base.toml"
        replicates = 1
        seed = 2
        metrics = ["rates"]

        [grid]
        "populations.mn.leak_reversal_mV" = [-72.0, -68.0]

        [zip]
        "projections.aff_mn.weight_nS" = [2.0, 3.0, 4.0]
        "sources.aff.rate_Hz" = [20.0, 30.0, 40.0]
        """)
    sw = run_sweep(spec, tmp_path / "out", workers=1, progress=False)
    ds = sw.to_dataset()
    assert ds["rate_Hz.mn"].dims == ("populations.mn.leak_reversal_mV",
                                     "projections.aff_mn.weight_nS", "replicate")
    assert ds["sources.aff.rate_Hz"].values.tolist() == [20.0, 30.0, 40.0]
    rates = ds["rate_Hz.aff"].isel(replicate=0)
    # the source's measured rate follows the zipped rate in every grid row
    np.testing.assert_allclose(rates, [[20.0, 30.0, 40.0]] * 2, rtol=0.25)


def test_axon_runs_are_the_same_in_a_sweep_worker_and_in_process(tmp_path):
    """Motor axons with ephaptic transmission and after-discharges (random draws from a
    counter-based hash) give the same spikes, at the somata and at the muscles, whether
    a sweep's worker process or the calling process runs them."""
    spec = tmp_path / "hfs.toml"
    spec.write_text(textwrap.dedent(f"""
        [sweep]
        base = "{ROOT / 'configs' / 'hemifacial_spasm.toml'}"
        set = ["simulation.duration_ms=1500", "simulation.chunk_ms=250"]
        replicates = 1
        seed = 4
        metrics = ["evoked"]

        [grid]
        "ephapses.rez_cross.transmission" = [0.04, 0.08]
        """))
    sw = run_sweep(spec, tmp_path / "sw", workers=2, progress=False)
    assert sw.counts()["done"] == 2
    d = SweepDir(tmp_path / "sw")
    for plan in d.plans():
        cfg = d.config(plan)
        direct = mnsim.simulate(cfg.model_copy(update={
            "simulation": cfg.simulation.model_copy(update={"chunk_ms": 100.0})}))
        swept = mnsim.open(tmp_path / "sw" / "runs" / f"{plan['run_id']}.h5")
        assert direct.axon_counts()["ephaptic_excitations"] > 0
        assert direct.axon_counts() == swept.axon_counts()
        for name in ("mn_zyg", "mn_mand", "mn_zyg.terminal", "mn_mand.terminal"):
            assert direct.spikes(name).equals(swept.spikes(name)), name
