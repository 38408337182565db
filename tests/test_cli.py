"""The command line: run, validate, info, plot."""

from __future__ import annotations

import subprocess
import sys

import h5py
from click.testing import CliRunner

from mnsim.cli import main
from conftest import ROOT

POOL = str(ROOT / "configs" / "motor_pool.toml")


def test_run_writes_h5_and_png_then_info_describes_it(tmp_path):
    out = tmp_path / "pool.h5"
    runner = CliRunner()
    r = runner.invoke(main, ["run", POOL, "-o", str(out), "--no-progress",
                             "--set", "simulation.duration_ms=300",
                             "--set", "populations.mn.size=10",
                             "--set", "recording.traces.mn_v.neurons=[0, 9]"])
    assert r.exit_code == 0, r.output
    assert out.exists() and out.with_suffix(".png").stat().st_size > 10_000
    with h5py.File(out) as f:
        assert f.attrs["duration_ms"] == 300.0
        assert f["populations/mn"].attrs["size"] == 10
        assert "simulation.duration_ms=300" in f.attrs["config_source"]
    r = runner.invoke(main, ["info", str(out)])
    assert r.exit_code == 0, r.output
    assert "complete mnsim run" in r.output and "mn " in r.output
    assert "mean rate" in r.output and "mn_v" in r.output
    assert "muscle gastrocnemius (pool mn, 10 units): peak force" in r.output
    # a second run to the same file is refused without --overwrite
    r = runner.invoke(main, ["run", POOL, "-o", str(out), "--no-progress"])
    assert r.exit_code == 1 and "exists" in r.output


def test_run_shows_progress_in_biological_time(tmp_path):
    r = CliRunner().invoke(main, ["run", POOL, "-o", str(tmp_path / "p.h5"), "--no-plot",
                                  "--set", "simulation.duration_ms=200"])
    assert r.exit_code == 0, r.output
    assert "200/200 ms biological" in r.output


def test_validate_ok_and_error_exit_codes(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["validate", POOL])
    assert r.exit_code == 0 and "OK" in r.output
    r = runner.invoke(main, ["validate", POOL, "--set", "simulation.dt_ms=5"])
    assert r.exit_code == 2
    assert "simulation.dt_ms = 5" in r.output and "allowed range" in r.output


def test_installed_entry_point_reports_config_errors():
    proc = subprocess.run([sys.executable, "-m", "mnsim", "validate", POOL, "--set",
                           "populations.mn.sise=3"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "did you mean 'size'" in proc.stderr


def test_plot_command(tmp_path):
    out = tmp_path / "p.h5"
    runner = CliRunner()
    assert runner.invoke(main, ["run", POOL, "-o", str(out), "--no-plot", "--no-progress",
                                "--set", "simulation.duration_ms=100"]).exit_code == 0
    r = runner.invoke(main, ["plot", str(out), "-o", str(tmp_path / "fig.png")])
    assert r.exit_code == 0 and (tmp_path / "fig.png").exists()


def test_info_lists_spikes_at_the_muscle_and_axon_counts(tmp_path):
    out = tmp_path / "hfs.h5"
    runner = CliRunner()
    r = runner.invoke(main, ["run", str(ROOT / "configs" / "hemifacial_spasm.toml"),
                             "-o", str(out), "--no-progress",
                             "--set", "simulation.duration_ms=1500"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["info", str(out)])
    assert r.exit_code == 0, r.output
    assert "mn_mand.terminal terminal size     100" in r.output
    assert "motor axons: births " in r.output and "soma invasions " in r.output


def test_cells_measures_a_pool_and_compares_it_with_published_ranges(tmp_path):
    runner = CliRunner()
    csv = tmp_path / "mn.csv"
    r = runner.invoke(main, ["cells", str(ROOT / "configs" / "healthy.toml"), "-p", "mn",
                             "--neurons", "0,99", "--no-ramp", "--csv", str(csv),
                             "--plot", str(tmp_path / "mn.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "mn.png").stat().st_size > 10_000
    assert "rheobase_nA" in r.output and "published_high" in r.output
    import pandas as pd

    table = pd.read_csv(csv, index_col="node_id")
    assert list(table.index) == [0, 99]
    assert table.rheobase_nA[0] < table.rheobase_nA[99]
    bad = runner.invoke(main, ["cells", str(ROOT / "configs" / "healthy.toml"), "-p", "mm"])
    assert bad.exit_code == 2 and "no population 'mm'" in bad.output
