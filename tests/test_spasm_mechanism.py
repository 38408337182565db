"""Why stronger premotor excitation shortens the SCI spasm
(scripts/spasm_excitation_mechanism.py): the motoneurons' AHP, not inhibition.

Three seeds of the SCI cell (high PIC, impaired inhibition) at normal and high
interneuron -> motoneuron excitation, with the controls that decide it; ~20 short runs.
"""
from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import ROOT

SEEDS = [1, 2, 3]


@pytest.fixture(scope="module")
def runs():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        path = ROOT / "scripts" / "spasm_excitation_mechanism.py"
        spec = importlib.util.spec_from_file_location("spasm_excitation_mechanism", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    controls = {k: mod.CONTROLS[k] for k in ("sci", "no inhibition of mn", "AHP off")}
    df = mod.run_controls(SEEDS, controls)
    return df.drop(columns="seed").groupby(["control", "excitation"]).mean()


def test_high_excitation_shortens_the_spasm_through_fewer_plateaus(runs):
    lo, hi = runs.loc[("sci", "normal")], runs.loc[("sci", "high")]
    assert hi.spasm_s < 0.75 * lo.spasm_s
    assert hi.pool_s < 0.75 * lo.pool_s          # the spikes agree with the EMG metric
    assert hi["mn_0.5s"] < 0.5 * lo["mn_0.5s"]
    # more onset spikes, a larger AHP at the end of the burst, and no more inactivation
    assert hi.onset_spk > 1.5 * lo.onset_spk
    assert hi.ahp30_nS > 1.5 * lo.ahp30_nS
    assert hi["h_0.5s"] >= lo["h_0.5s"]


def test_not_inhibition(runs):
    # the motoneurons do not drive inh_in: the afferent inhibition is unchanged ...
    assert runs.loc[("sci", "high")].inh_Hz == pytest.approx(
        runs.loc[("sci", "normal")].inh_Hz, rel=1e-6)
    # ... and without any synaptic inhibition of the motoneurons the shortening remains
    lo, hi = runs.loc[("no inhibition of mn", "normal")], runs.loc[("no inhibition of mn",
                                                                    "high")]
    assert hi.spasm_s < 0.8 * lo.spasm_s
    assert hi.pool_s < 0.8 * lo.pool_s
    assert hi["mn_1s"] < 0.5 * lo["mn_1s"]


def test_the_ahp_carries_it(runs):
    def kept(control: str) -> float:   # plateau units at +0.5 s, high / normal
        return runs.loc[(control, "high"), "mn_0.5s"] / runs.loc[(control, "normal"),
                                                                 "mn_0.5s"]
    assert kept("AHP off") > 0.6
    assert kept("AHP off") > kept("sci") + 0.3
