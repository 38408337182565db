"""scripts/_reproduce.py (behind scripts/reproduce_<scenario>.py) on short runs: the
files it promises exist, the metrics in them agree with the table and with the spikes."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pandas as pd
import pytest

import mnsim
from mnsim.analysis import read_metrics
from conftest import ROOT

SHORT = ["simulation.duration_ms=1600"]   # the train starts at 1000 ms
STIM_ms = 1000.0


@pytest.fixture(scope="module")
def rep():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("_reproduce",
                                                      ROOT / "scripts" / "_reproduce.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return mod


@pytest.fixture(scope="module")
def healthy(rep, tmp_path_factory):
    out = tmp_path_factory.mktemp("healthy")
    df, summary = rep.reproduce("healthy", [1, 2], out, SHORT, progress=False)
    return out, df, summary


def test_reproduce_writes_runs_table_summary_and_figure(healthy):
    out, df, summary = healthy
    assert sorted(p.name for p in out.iterdir()) == [
        "healthy.png", "healthy_seed1.h5", "healthy_seed2.h5", "metrics.csv",
        "summary.json"]
    table = pd.read_csv(out / "metrics.csv")
    assert table.seed.tolist() == [1, 2]
    for _, row in table.iterrows():
        res = mnsim.open(out / row.file)
        assert res.seed == row.seed and res.duration_ms == 1600.0
        stored = read_metrics(out / row.file)     # metrics written back into the file
        assert set(stored) == set(table.columns) - {"seed", "file"}
        for k, v in stored.items():
            np.testing.assert_allclose(v, row[k], rtol=1e-12, equal_nan=True)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["seeds"] == [1, 2] and on_disk["overrides"] == SHORT
    d = on_disk["metrics"]["reflex_duration_ms.muscle"]
    assert d["mean"] == pytest.approx(table["reflex_duration_ms.muscle"].mean())
    assert d["min"] <= d["mean"] <= d["max"]
    assert "reflex_duration_ms" in on_disk["definitions"]["reflex"]
    from PIL import Image
    with Image.open(out / "healthy.png") as im:
        assert im.mode == "P" and im.width >= 600      # palette PNG, readable size
    assert (out / "healthy.png").stat().st_size < 100_000


def test_reproduce_metrics_are_consistent_with_the_spikes(healthy):
    out, df, _ = healthy
    for _, row in df.iterrows():
        t = mnsim.open(out / row.file).spikes("mn").time_ms.to_numpy()
        assert row["rest_spikes.mn"] == np.count_nonzero(t < STIM_ms) == 0
        assert row["discharge_ms.mn"] == pytest.approx(t.max() - STIM_ms)
        # healthy: a brief reflex; the EMG-based duration ends with the last motor-unit
        # action potential (5-ms EMG latency + MUAP width after the last spike)
        assert 0 < row["reflex_duration_ms.muscle"] < 300.0
        assert 0 <= row["reflex_duration_ms.muscle"] - row["discharge_ms.mn"] <= 20.0
        # the run ends 600 ms after the stimulus: no 1-2 s window
        assert np.isnan(row["late_rate_Hz.mn"])
    # different seeds, different runs
    assert df["discharge_ms.mn"].nunique() == 2 or df["max_rate_Hz.rc"].nunique() == 2


def test_reproduce_sci_spasm_outlasts_a_short_run(rep, tmp_path):
    df, _ = rep.reproduce("sci_spasm", [1], tmp_path, SHORT, progress=False)
    row = df.iloc[0]
    # still firing when the run ends: the duration is cut at the end of the run
    assert row["discharge_ms.mn"] > 550.0
    assert row["reflex_duration_ms.muscle"] == pytest.approx(1600.0 - STIM_ms)
    assert row["rest_spikes.mn"] == 0
