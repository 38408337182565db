"""bpa_barrage: an ectopic barrage from damaged dorsal-root afferents makes the muscle
twitch at rest, and raising emotional tone makes twitches more frequent and turns them
into spasms (fast version of scripts/reproduce_bpa_barrage.py; 10-s runs, 6 seeds)."""

from __future__ import annotations

import numpy as np
import pytest

import mnsim
from mnsim.analysis import twitches
from conftest import ROOT

SEEDS = (1, 2, 3, 4, 5, 6)
SPASM_ms = 500.0   # an EMG episode at least this long counts as a spasm [M]


def run(name: str, seed: int, *overrides: str):
    cfg = mnsim.load_config(ROOT / "configs" / f"{name}.toml",
                            [f"simulation.seed={seed}", "recording.traces={}",
                             *overrides])
    res = mnsim.simulate(cfg)
    ep, per_min = twitches(res, "muscle")
    return {"n": len(ep), "per_min": per_min, "longest_ms": float(ep.duration_ms.max())
            if len(ep) else 0.0, "active": float(ep.duration_ms.sum()) / res.duration_ms,
            "mn_spikes": len(res.spikes("mn"))}


CONDITIONS = {
    # healthy.toml with its stimulus train moved after the end of the run: rest
    "healthy": ("healthy", "simulation.duration_ms=10000", "sources.cutaneous.start_ms=2e4"),
    "tone 1": ("bpa_barrage",),
    "tone 1.5": ("bpa_barrage", "neuromodulation.tone=1.5"),
    "tone 2": ("bpa_barrage", "neuromodulation.tone=2"),
    "no barrage": ("bpa_barrage", "sources.damaged.burst_rate_Hz=0"),
    "no barrage, tone 2.5": ("bpa_barrage", "sources.damaged.burst_rate_Hz=0",
                             "neuromodulation.tone=2.5"),
}


@pytest.fixture(scope="module")
def outcomes():
    return {c: [run(args[0], s, *args[1:]) for s in SEEDS]
            for c, args in CONDITIONS.items()}


def col(outcomes, condition, key):
    return np.array([o[key] for o in outcomes[condition]])


def test_the_barrage_makes_the_muscle_twitch_at_rest_and_healthy_rest_is_quiet(outcomes):
    assert np.all(col(outcomes, "healthy", "mn_spikes") == 0)
    assert np.all(col(outcomes, "healthy", "n") == 0)
    n = col(outcomes, "tone 1", "n")
    assert np.all(n > 0), n
    # a modest rate: a few twitches per 10 s, each brief (no spasm at baseline tone)
    assert 2 <= n.mean() <= 15, n
    assert np.all(col(outcomes, "tone 1", "longest_ms") < SPASM_ms)


def test_without_the_barrage_there_are_no_twitches_even_at_raised_tone(outcomes):
    # monoamines alone do not make motoneurons fire (White & Neuman 1980)
    for c in ("no barrage", "no barrage, tone 2.5"):
        assert np.all(col(outcomes, c, "mn_spikes") == 0), c


def test_raised_tone_gives_more_twitches(outcomes):
    base, raised = col(outcomes, "tone 1", "n"), col(outcomes, "tone 1.5", "n")
    # the same seed is the same barrage and circuit: compare seed by seed
    assert np.all(raised >= base), (base, raised)
    assert raised.mean() >= 1.2 * base.mean(), (base, raised)


def test_raised_tone_turns_twitches_into_spasms(outcomes):
    longest = col(outcomes, "tone 2", "longest_ms")
    assert np.all(longest >= SPASM_ms), longest
    assert longest.mean() >= 1000.0, longest
    assert col(outcomes, "tone 2", "active").mean() > \
        5 * col(outcomes, "tone 1", "active").mean()
