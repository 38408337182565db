"""Config validation: every documented error names file, key path, value and range."""

from __future__ import annotations

import copy
import pickle
import re

import numpy as np
import pytest
import yaml

import mnsim
from mnsim.config import ConfigError, apply_overrides, config_from_dict, parse_override
from conftest import ROOT, small_network


def errors_for(mutate) -> str:
    d = small_network()
    mutate(d)
    with pytest.raises(ConfigError) as info:
        config_from_dict(d, "net.toml")
    return str(info.value)


def test_valid_config_fills_defaults():
    cfg = config_from_dict(small_network())
    assert cfg.populations["inn"].capacitance_pF == 200.0
    assert cfg.simulation.chunk_ms == 50.0
    assert cfg.recording.spikes == "all"


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["populations"]["mn"].update(sise=3),
     r"net\.toml: populations\.mn\.sise = 3: unknown key; did you mean 'size'\?"),
    (lambda d: d["populations"]["mn"].update(size=-5),
     r"populations\.mn\.size = -5: .*allowed range: 1 <= value"),
    (lambda d: d["populations"]["mn"].update(size="many"),
     r"populations\.mn\.size = 'many': Input should be a valid integer"),
    (lambda d: d["simulation"].update(dt_ms=2.0),
     r"simulation\.dt_ms = 2\.0: .*allowed range: 0 < value <= 1"),
    (lambda d: d["projections"]["aff_mn"].update(probability=1.5),
     r"projections\.aff_mn\.probability = 1\.5: .*allowed range: 0 <= value <= 1"),
    (lambda d: d["populations"]["inn"].update(inh_reversal_mV=95.0),
     r"populations\.inn\.inh_reversal_mV = 95\.0: .*allowed range: -120 <= value <= 80"),
    (lambda d: d["populations"]["inn"].update(leak_reversal_mV=-130.0),
     r"populations\.inn\.leak_reversal_mV = -130\.0: allowed range: -120 <= value <= 80"),
    (lambda d: d["populations"]["mn"].update(capacitance_pF={"scale": "linear", "first": 1.0,
                                                             "last": -5.0}),
     r"populations\.mn\.capacitance_pF = .*allowed range: 0 < value"),
    (lambda d: d["populations"]["mn"].update(threshold_mV={"dist": "normal", "mean": -55.0,
                                                           "sd": 30.0}),
     r"populations\.mn\.threshold_mV = .*can leave the allowed range.*add low/high"),
    (lambda d: d["populations"]["mn"].update(threshold_mV={"dist": "gauss", "mean": 1}),
     r"populations\.mn\.threshold_mV\.dist = 'gauss': unknown dist; expected one of "
     r"'normal', 'uniform', 'lognormal'"),
    (lambda d: d["populations"]["mn"].update(capacitance_pF="big"),
     r"populations\.mn\.capacitance_pF = 'big': expected a number, a distribution"),
    (lambda d: d["sources"]["aff"]["rate_Hz"].update(shape="trapezoid"),
     r"sources\.aff\.rate_Hz\.shape = 'trapezoid': unknown shape; expected one of"),
    (lambda d: d["sources"]["aff"]["rate_Hz"].update(end_nA=3.0),
     r"sources\.aff\.rate_Hz\.end_nA = 3\.0: unknown key; did you mean 'end_Hz'\?"),
    (lambda d: d["sources"]["aff"].update(kind="poison"),
     r"sources\.aff\.kind = 'poison': unknown kind; expected one of 'poisson'"),
    (lambda d: d["currents"]["bias"].update(level_Hz=1.0),
     r"currents\.bias\.level_Hz = 1\.0: unknown key; did you mean 'level_nA'\?"),
    (lambda d: d["currents"]["bias"].update(neurons=[0, 99]),
     r"currents\.bias\.neurons = \[99\]: node ids must be < the population size 20"),
    (lambda d: d["projections"]["aff_mn"].update(post="nm"),
     r"projections\.aff_mn\.post = 'nm': no population of that name .*did you mean 'mn'\?"),
    (lambda d: d["projections"]["aff_mn"].update(fan_in=3),
     r"projections\.aff_mn: give exactly one of probability or fan_in"),
    (lambda d: d["projections"]["aff_inn"].update(fan_in=500),
     r"projections\.aff_inn\.fan_in = 500: larger than the 40 available"),
    (lambda d: d["projections"]["aff_mn"].update(receptor="gaba"),
     r"projections\.aff_mn\.receptor = 'gaba': Input should be 'exc' or 'inh'"),
    (lambda d: d["recording"]["traces"]["mn"].update(interval_ms=0.25),
     r"recording\.traces\.mn\.interval_ms = 0\.25: must be a whole multiple of "
     r"simulation\.dt_ms"),
    (lambda d: d["recording"]["traces"]["mn"].update(variables=["voltage"]),
     r"recording\.traces\.mn\.variables\.0 = 'voltage': Input should be 'v_mV'"),
    (lambda d: d.pop("simulation"), r"simulation: required key is missing"),
    (lambda d: d["recording"]["traces"].update({"a/b": {"population": "mn"}}),
     r"recording\.traces\.a/b: names must start with a letter"),
    (lambda d: d["recording"]["traces"]["mn"].update(neurons=[]),
     r"recording\.traces\.mn\.neurons = \[\]: List should have at least 1 item"),
    (lambda d: d["currents"]["bias"].update(neurons=[1, 1]),
     r"currents\.bias\.neurons = \[1\]: node ids must not repeat"),
    (lambda d: d["currents"].update(pw={"target": "mn", "shape": "piecewise", "times_ms": [],
                                        "values_nA": []}),
     r"currents\.pw\.times_ms = \[\]: List should have at least 1 item"),
    (lambda d: d["simulation"].update(duration_ms=300.04),
     r"simulation\.duration_ms = 300\.04: must be a whole multiple of simulation\.dt_ms"),
    (lambda d: d["populations"]["mn"].update(threshold_mV={"dist": "normal", "mean": -55.0,
                                                           "sd": 1.0, "low": -50.0,
                                                           "high": -60.0}),
     r"populations\.mn\.threshold_mV = \{.*\}: high \(-60\.0\) must be >= low "
     r"\(-50\.0\)"),
    (lambda d: d["populations"]["mn"].update(ahp_tau_ms={"dist": "lognormal", "mean": 20.0,
                                                         "sd": 100.0}),
     r"populations\.mn\.ahp_tau_ms = .*lognormal draw .*can leave the allowed range"),
    (lambda d: d["sources"]["aff"].update(rate_Hz=-5.0),
     r"sources\.aff\.rate_Hz = -5\.0: .*allowed range: 0 <= value"),
    (lambda d: d["sources"]["sched"].update(times_ms=[-1.0]),
     r"sources\.sched\.times_ms\.0 = -1\.0: .*allowed range: 0 <= value"),
    (lambda d: d["populations"].update({"2bad": {"size": 1}}),
     r"populations\.2bad: names must start with a letter"),
])
def test_error_names_file_key_value_and_range(mutate, expected):
    msg = errors_for(mutate)
    assert re.search(expected, msg), msg


def test_all_problems_reported_at_once():
    def mutate(d):
        d["simulation"]["dt_ms"] = 5.0
        d["populations"]["mn"]["size"] = 0
    msg = errors_for(mutate)
    assert "simulation.dt_ms" in msg and "populations.mn.size" in msg
    assert "(2 problems)" in msg


def test_config_error_pickles_for_worker_processes():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"simulation": {"duration_ms": -1}}, "x.toml")
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)
    assert again.problems == info.value.problems


def test_overrides_parse_values_as_toml():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a.b=0.5") == (["a", "b"], 0.5)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a.b=exc") == (["a", "b"], "exc")
    assert parse_override('a.b={dist="uniform", low=1, high=2}')[1] == {
        "dist": "uniform", "low": 1, "high": 2}
    with pytest.raises(ValueError, match="key.path=value"):
        parse_override("novalue")


def test_overrides_reach_every_key_including_defaults_and_lists():
    d = small_network()
    out = apply_overrides(d, ["populations.inn.capacitance_pF=150",
                              "sources.sched.times_ms.1=160.0",
                              "simulation.seed=9"])
    assert d["simulation"]["seed"] == 1  # the input is not modified
    cfg = config_from_dict(out)
    assert cfg.populations["inn"].capacitance_pF == 150.0
    assert cfg.sources["sched"].times_ms == [20.0, 160.0]
    assert cfg.simulation.seed == 9


def test_load_config_with_bad_override_names_the_override(tmp_path):
    p = tmp_path / "net.toml"
    p.write_text((ROOT / "configs" / "motor_pool.toml").read_text())
    with pytest.raises(ConfigError, match=r"with --set populations\.mn\.pic_gian=2.*"
                                          r"populations\.mn\.pic_gian = 2: unknown key; "
                                          r"did you mean 'pic_gain'"):
        mnsim.load_config(p, ["populations.mn.pic_gian=2"])


def test_yaml_and_toml_give_the_same_config(tmp_path):
    toml_cfg = mnsim.load_config(ROOT / "configs" / "motor_pool.toml")
    y = tmp_path / "pool.yaml"
    y.write_text(yaml.safe_dump(toml_cfg.to_dict()))
    assert mnsim.load_config(y).to_dict() == toml_cfg.to_dict()


def test_unreadable_files_give_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        mnsim.load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation\nduration_ms = 1")
    with pytest.raises(ConfigError, match=r"bad\.toml.*cannot parse file"):
        mnsim.load_config(bad)


def test_resolved_config_round_trips():
    cfg = config_from_dict(small_network())
    again = config_from_dict(copy.deepcopy(cfg.to_dict()))
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml"))
                         + sorted((ROOT / "benchmarks" / "networks").glob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    mnsim.load_config(path)


def test_extends_merges_tables_and_replaces_specs(tmp_path):
    (tmp_path / "base.toml").write_text(
        (ROOT / "configs" / "motor_pool.toml").read_text())
    (tmp_path / "variant.toml").write_text(
        'extends = "base.toml"\n'
        "[populations.mn]\npic_gain = 2.5\n"
        'leak_conductance_nS = { scale = "linear", first = 100.0, last = 900.0 }\n'
        '[sources.descending]\nrate_Hz = { shape = "step", t_on_ms = 0.0, '
        'level_Hz = 5.0 }\n')
    base = mnsim.load_config(tmp_path / "base.toml")
    var = mnsim.load_config(tmp_path / "variant.toml")
    assert var.populations["mn"].pic_gain == 2.5
    assert var.populations["mn"].leak_conductance_nS.scale == "linear"
    # untouched keys of the same table come from the base
    assert var.populations["mn"].capacitance_pF == base.populations["mn"].capacitance_pF
    assert var.sources["descending"].rate_Hz.shape == "step"   # spec replaced, not merged
    assert var.projections == base.projections
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match="circular extends"):
        mnsim.load_config(tmp_path / "a.toml")


# -- explicit per-neuron values ---------------------------------------------------------
def test_explicit_values_give_each_neuron_its_value():
    cell = {"size": 3, "capacitance_pF": 200.0, "leak_conductance_nS": 10.0, "threshold_mV": -50.0,
            "reset_mV": -70.0, "bias_current_nA": {"values": [0.0, 0.25, 0.5]}}
    d = {"simulation": {"duration_ms": 500.0, "dt_ms": 0.025},
         "populations": {"a": cell}}
    res = mnsim.simulate(config_from_dict(d))
    np.testing.assert_array_equal(res.params("a").bias_current_nA, [0.0, 0.25, 0.5])
    counts = np.bincount(res.spike_arrays("a")[1], minlength=3)
    assert counts[0] == 0 and 0 < counts[1] < counts[2]


def test_explicit_values_of_the_wrong_length_or_range_are_named():
    def error(pop: dict) -> str:
        d = {"simulation": {"duration_ms": 100.0}, "populations": {"a": pop}}
        with pytest.raises(ConfigError) as err:
            config_from_dict(d, "pool.toml")
        return str(err.value)

    text = error({"size": 3, "threshold_mV": {"values": [-50.0, -51.0]}})
    assert "pool.toml" in text and "populations.a.threshold_mV" in text
    assert "2 values for 3 neurons" in text
    text = error({"size": 2, "threshold_mV": {"values": [-50.0, 70.0]}})
    assert "populations.a.threshold_mV" in text and "values[1] = 70" in text
    assert "-100 <= value <= 50" in text
