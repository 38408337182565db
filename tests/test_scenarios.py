"""The SCI scenarios' headline numbers over several seeds (fast versions of the
reproduction; the factorial analysis comes with scripts/)."""

from __future__ import annotations

import numpy as np
import pytest

import mnsim
from mnsim.analysis import emg_envelope, reflex_duration_ms
from conftest import ROOT

SEEDS = (1, 2, 3)
STIMULUS_ms = 1000.0  # sources.cutaneous.start_ms


def run(name: str, seed: int):
    res = mnsim.simulate(mnsim.load_config(ROOT / "configs" / f"{name}.toml",
                                           [f"simulation.seed={seed}"]))
    m = res.muscle("muscle")
    t = m.emg_time_ms.to_numpy()
    env = emg_envelope(m.emg_mV.to_numpy(), float(t[1] - t[0]), 50.0)
    initial = float(env[(t > STIMULUS_ms) & (t < STIMULUS_ms + 100)].max())
    at_rest = int((res.spikes("mn").time_ms < STIMULUS_ms).sum())
    return reflex_duration_ms(res, "muscle", STIMULUS_ms), initial, at_rest


@pytest.fixture(scope="module")
def outcomes():
    return {name: [run(name, s) for s in SEEDS]
            for name in ("healthy", "sci_spasm", "sci_excitation_only")}


def test_healthy_reflex_is_brief_and_rest_is_quiet(outcomes):
    for duration, initial, at_rest in outcomes["healthy"]:
        assert at_rest == 0
        assert initial > 0
        assert duration < 300.0, duration


def test_sci_stimulus_triggers_a_spasm_of_at_least_a_second(outcomes):
    for duration, _, at_rest in outcomes["sci_spasm"]:
        assert at_rest == 0          # no spontaneous firing: the spasm is evoked
        assert duration >= 1000.0, duration


def test_raised_excitation_alone_gives_a_large_but_short_reflex(outcomes):
    sci = np.array(outcomes["sci_spasm"])
    exc = np.array(outcomes["sci_excitation_only"])
    # the initial reflex is as large as in sci_spasm (within 30 %) ...
    assert exc[:, 1].mean() == pytest.approx(sci[:, 1].mean(), rel=0.3)
    # ... yet it stays shorter than half the spasm, seed by seed
    assert np.all(exc[:, 0] < 0.5 * sci[:, 0]), (exc[:, 0], sci[:, 0])


def test_factorial_late_firing_needs_excitability_and_impaired_inhibition():
    """scripts/factorial_sci.py, 2 seeds: motoneurons still fire 1-2 s after the train
    only when PIC gain is high AND inhibition is impaired; raising excitation, alone or
    with either knob, adds none."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("factorial_sci",
                                                  ROOT / "scripts" / "factorial_sci.py")
    fac = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fac)
    df = fac.spasm_durations_s([1, 2])
    late = df.groupby(["pic", "inhibition", "excitation"]).late_rate_Hz.mean()
    for (pic, inh, exc), rate in late.items():
        if pic == "high" and inh == "impaired":
            assert rate > 10.0, (pic, inh, exc, rate)
        else:
            assert rate < 5.0, (pic, inh, exc, rate)
    table, effects = fac.summarise(df)
    assert effects["excitation"] < 0.1 < effects["inhibition"]   # seconds
    # spasm duration (absolute EMG floor, so a larger first burst cannot shorten it):
    # >= 1 s with high PIC and impaired inhibition whatever the excitation; with
    # normal PIC the response ends within half a second. (High PIC with normal
    # inhibition leaves a few low-threshold units firing on: not asserted.)
    for (pic, inh, exc), g in df.groupby(["pic", "inhibition", "excitation"]):
        if pic == "high" and inh == "impaired":
            assert g.spasm_s.min() >= 1.0, (pic, inh, exc, g.spasm_s.tolist())
        elif pic == "normal":
            assert g.spasm_s.max() < 0.5, (pic, inh, exc, g.spasm_s.tolist())
