"""Shared fixtures: tiny configs with known answers."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from mnsim.config import config_from_dict

ROOT = Path(__file__).resolve().parents[1]

#: A leaky integrate-and-fire cell with AHP and PIC off (analytic f-I curve).
LIF = dict(size=1, capacitance_pF=200.0, leak_conductance_nS=10.0, leak_reversal_mV=-70.0,
           threshold_mV=-50.0, reset_mV=-70.0, refractory_ms=2.0)

#: A motoneuron-like cell whose PIC makes it bistable at zero current (rest at -70 mV
#: is stable; once the PIC is on, firing sustains itself). Chosen from a parameter scan
#: in the middle of the bistable region: neighbouring values (g_pic 40-60 nS, slope
#: 2-3 mV, tau 20-30 ms) behave the same.
PIC_CELL = dict(size=1, capacitance_pF=1000.0, leak_conductance_nS=100.0,
                leak_reversal_mV=-70.0, threshold_mV=-55.0, reset_mV=-65.0,
                refractory_ms=3.0, ahp_increment_nS=40.0, ahp_tau_ms=20.0,
                pic_conductance_nS=50.0, pic_half_activation_mV=-58.0, pic_slope_mV=3.0,
                pic_tau_ms=30.0)


def single_cell(cell: dict, duration_ms: float, dt_ms: float = 0.025,
                currents: dict | None = None, sources: dict | None = None,
                projections: dict | None = None, traces: bool = True, **sim):
    """Config of one population ``a`` (plus optional inputs), as a validated Config."""
    d = {"simulation": {"duration_ms": duration_ms, "dt_ms": dt_ms, **sim},
         "populations": {"a": copy.deepcopy(cell)},
         "sources": sources or {}, "projections": projections or {},
         "currents": currents or {}}
    if traces:
        d["recording"] = {"traces": {"a": {"population": "a",
                                           "variables": ["v_mV", "i_inj_nA"],
                                           "interval_ms": dt_ms}}}
    return config_from_dict(d, "<test>")


def small_network(seed: int = 1, duration_ms: float = 300.0, **sim) -> dict:
    """A small network touching every engine feature: sources of each kind, delays,
    both receptors, AHP, PIC, injected current, heterogeneous parameters."""
    return {
        "simulation": {"duration_ms": duration_ms, "dt_ms": 0.1, "seed": seed,
                       "chunk_ms": 50.0, **sim},
        "populations": {
            "mn": {**{k: v for k, v in PIC_CELL.items() if k != "size"}, "size": 20,
                   "leak_conductance_nS": {"scale": "exponential", "first": 80.0,
                                           "last": 200.0},
                   "threshold_mV": {"dist": "normal", "mean": -55.0, "sd": 1.0,
                                    "low": -58.0, "high": -52.0},
                   "pic_inactivation_half_mV": -58.0, "pic_inactivation_tau_ms": 80.0},
            "inn": {"size": 30, "threshold_mV": -52.0, "reset_mV": -65.0,
                    "ahp_increment_nS": 2.0, "inh_reversal_mV": -70.0},
        },
        "sources": {
            "aff": {"kind": "poisson", "size": 40,
                    "rate_Hz": {"shape": "ramp", "t_start_ms": 0.0, "t_end_ms": 200.0,
                                "start_Hz": 5.0, "end_Hz": 60.0}},
            "stim": {"kind": "train", "size": 5, "start_ms": 100.0, "pulses": 5,
                     "frequency_Hz": 200.0},
            "sched": {"kind": "times", "size": 2, "times_ms": [20.0, 150.0]},
        },
        "projections": {
            "aff_mn": {"pre": "aff", "post": "mn", "receptor": "exc", "probability": 0.3,
                       "weight_nS": {"dist": "uniform", "low": 5.0, "high": 15.0},
                       "delay_ms": {"dist": "uniform", "low": 0.5, "high": 3.0}},
            "aff_inn": {"pre": "aff", "post": "inn", "receptor": "exc", "fan_in": 8,
                        "weight_nS": 3.0, "delay_ms": 1.0},
            "stim_inn": {"pre": "stim", "post": "inn", "receptor": "exc",
                         "probability": 1.0, "weight_nS": 4.0, "delay_ms": 2.0},
            "sched_mn": {"pre": "sched", "post": "mn", "receptor": "exc",
                         "probability": 1.0, "weight_nS": 30.0, "delay_ms": 0.0},
            "inn_mn": {"pre": "inn", "post": "mn", "receptor": "inh", "probability": 0.2,
                       "weight_nS": 5.0, "delay_ms": 1.5},
            "inn_inn": {"pre": "inn", "post": "inn", "receptor": "inh", "fan_in": 5,
                        "weight_nS": 2.0, "delay_ms": 1.0},
        },
        "currents": {"bias": {"target": "mn", "neurons": [0, 1], "shape": "step",
                              "t_on_ms": 50.0, "t_off_ms": 250.0, "level_nA": 1.0}},
        "recording": {"traces": {"mn": {"population": "mn",
                                        "variables": ["v_mV", "g_exc_nS", "pic_activation"],
                                        "neurons": [0, 5], "interval_ms": 0.5}}},
    }


@pytest.fixture
def network_dict():
    return small_network()
