"""Validated run configuration.

A run is described by a TOML (the format of ``configs/``) or YAML file. This module turns
that file into a typed, validated :class:`Config` before anything runs. Every key carries
its unit in its name (``_ms``, ``_mV``, ``_nS``, ``_nA``, ``_pF``, ``_Hz``), and every
setting is declared once here, with its default, its allowed range and a doc string.

Errors are collected, not raised one at a time: :class:`ConfigError` lists each problem
with the file, the key path, the offending value, the allowed range and, for a typo, the
closest valid key.

Per-neuron parameters of a population accept four forms::

    capacitance_pF = 200.0                                    # one value for every neuron
    capacitance_pF = {dist = "normal", mean = 200, sd = 20}   # drawn per neuron (seeded)
    rheobase-like  = {scale = "exponential", first = 1, last = 17}
                     # scaled across the pool: neuron 0 (smallest unit) -> neuron N-1
    capacitance_pF = {values = [180.0, 200.0, 250.0]}         # one per neuron, in order

Time-varying inputs (source rates, injected currents) are piecewise-linear profiles:
``constant``, ``step``, ``ramp``, ``triangle`` or ``piecewise``.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    create_model,
    field_validator,
    PrivateAttr,
    model_validator,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "Config",
    "ConfigError",
    "load_config",
    "config_from_dict",
    "parse_override",
    "TRACE_VARIABLES",
]

#: State variables that can be traced, with their units.
TRACE_VARIABLES: dict[str, str] = {
    "v_mV": "mV",
    "g_exc_nS": "nS",
    "g_inh_nS": "nS",
    "g_ahp_nS": "nS",
    "pic_activation": "1",
    "i_inj_nA": "nA",
    "pic_inactivation": "1",
}

REVERSAL_RANGE_mV = (-120.0, 80.0)
MAX_DT_ms = 1.0
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """A configuration file (or override) is invalid.

    ``problems`` is a list of ``(key_path, value, message)`` tuples; ``str()`` gives one
    line per problem, each naming the file, the key path, the value and what is allowed.
    Picklable, so it survives the trip between dask/process-pool workers.
    """

    def __init__(self, source: str, problems: list[tuple[str, Any, str]]):
        self.source = source
        self.problems = list(problems)
        super().__init__(source, self.problems)

    def __str__(self) -> str:
        lines = [f"{self.source}: invalid configuration ({len(self.problems)} problem"
                 f"{'s' if len(self.problems) != 1 else ''})"]
        for path, value, msg in self.problems:
            shown = "" if value is _MISSING else f" = {value!r}"
            if len(shown) > 90:  # a whole table: the key path and message say enough
                shown = ""
            lines.append(f"  {self.source}: {path or '<root>'}{shown}: {msg}")
        return "\n".join(lines)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self) -> str:
        return "_MISSING"  # unpickles as this module's singleton


_MISSING = _Missing()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


def _bounded(default: Any, lo: float | None, hi: float | None, doc: str, *,
             lo_open: bool = False) -> Any:
    """A Field with a closed (or left-open) numeric range, stated in errors."""
    kw: dict[str, Any] = {}
    if lo is not None:
        kw["gt" if lo_open else "ge"] = lo
    if hi is not None:
        kw["le"] = hi
    return Field(default, description=doc, **kw)


# --------------------------------------------------------------------------------------
# Per-neuron parameter specifications
# --------------------------------------------------------------------------------------
class _Bounded(_Strict):
    """``low``/``high`` bounds of a distribution, checked to be in order."""

    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "_Bounded":
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class Normal(_Bounded):
    """Normal distribution, optionally clipped to ``[low, high]``."""

    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)


class Uniform(_Bounded):
    """Uniform distribution on ``[low, high]``."""

    dist: Literal["uniform"]
    low: float
    high: float


class LogNormal(_Bounded):
    """Log-normal distribution given by the mean and sd of the value itself (not its log),
    optionally clipped to ``[low, high]``."""

    dist: Literal["lognormal"]
    mean: float = Field(gt=0)
    sd: float = Field(ge=0)


Distribution = Annotated[Union[Normal, Uniform, LogNormal], Field(discriminator="dist")]


class PoolScale(_Strict):
    """Deterministic scaling across the pool (size principle).

    Neuron 0 (the smallest motor unit) gets ``first``, neuron N-1 (the largest) gets
    ``last``; ``linear`` interpolates arithmetically, ``exponential`` geometrically
    (both ends must then have the same sign and be non-zero).
    """

    scale: Literal["linear", "exponential"]
    first: float
    last: float

    @model_validator(mode="after")
    def _geometric_ok(self) -> "PoolScale":
        if self.scale == "exponential" and (self.first * self.last <= 0):
            raise ValueError("exponential scaling needs first and last non-zero and of "
                             "the same sign; use scale = \"linear\"")
        return self


class Values(_Strict):
    """Explicit per-neuron values, in node-id order: one per neuron of the population
    (e.g. measured cells, or one cell repeated under several protocols)."""

    values: list[float] = Field(min_length=1)


def _param_kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, dict):
        if "dist" in v:
            return "dist"
        if "scale" in v:
            return "scale"
        if "values" in v:
            return "values"
    if isinstance(v, (Normal, Uniform, LogNormal)):
        return "dist"
    if isinstance(v, PoolScale):
        return "scale"
    if isinstance(v, Values):
        return "values"
    return None


_PARAM_HELP = ("expected a number, a distribution table {dist = \"normal\"|\"uniform\"|"
               "\"lognormal\", ...}, a pool scaling {scale = \"linear\"|\"exponential\", "
               "first = ..., last = ...} or per-neuron values {values = [...]}")

Param = Annotated[
    Union[
        Annotated[float, Tag("number")],
        Annotated[Distribution, Tag("dist")],
        Annotated[PoolScale, Tag("scale")],
        Annotated[Values, Tag("values")],
    ],
    Discriminator(_param_kind, custom_error_type="param_spec",
                  custom_error_message=_PARAM_HELP),
]
"""A per-neuron parameter: scalar, distribution, pool scaling or explicit values."""

ParamNoScale = Annotated[
    Union[Annotated[float, Tag("number")], Annotated[Distribution, Tag("dist")]],
    Discriminator(_param_kind, custom_error_type="param_spec",
                  custom_error_message="expected a number or a distribution table "
                                       "{dist = \"normal\"|\"uniform\"|\"lognormal\", ...}"),
]
"""A per-synapse parameter: scalar or distribution."""


def _range_text(lo: float | None, hi: float | None, lo_open: bool) -> str:
    left = "" if lo is None else f"{lo:g} {'<' if lo_open else '<='} "
    right = "" if hi is None else f" <= {hi:g}"
    return f"allowed range: {left}value{right}"


def _check_param_range(spec: Any, lo: float | None, hi: float | None,
                       lo_open: bool) -> None:
    """Reject a parameter spec that can only produce values outside the field's range."""

    def ok(x: float) -> bool:
        if lo is not None and (x <= lo if lo_open else x < lo):
            return False
        return hi is None or x <= hi

    ends: list[float]
    if isinstance(spec, (int, float)):
        ends = [float(spec)]
    elif isinstance(spec, PoolScale):
        ends = [spec.first, spec.last]
    elif isinstance(spec, Values):
        ends = spec.values
    elif isinstance(spec, Uniform):
        ends = [spec.low, spec.high]
    else:  # Normal or LogNormal: clipped into range at build time only if asked to
        ends = [spec.mean]
        if isinstance(spec, Normal):
            q_lo, q_hi = spec.mean - 6 * spec.sd, spec.mean + 6 * spec.sd
        else:
            s2 = math.log1p((spec.sd / spec.mean) ** 2)
            mu = math.log(spec.mean) - s2 / 2
            q_lo, q_hi = math.exp(mu - 6 * math.sqrt(s2)), math.exp(mu + 6 * math.sqrt(s2))
        if (lo is not None and spec.low is None and q_lo < lo) or (
                hi is not None and spec.high is None and q_hi > hi):
            raise ValueError(
                f"a {spec.dist} draw (mean {spec.mean:g}, sd {spec.sd:g}) can leave the "
                f"{_range_text(lo, hi, lo_open)}; add low/high to clip it")
        ends += [x for x in (spec.low, spec.high) if x is not None]
    bad = [i for i, x in enumerate(ends) if not ok(x)]
    if bad and isinstance(spec, Values):
        raise ValueError(f"values[{bad[0]}] = {ends[bad[0]]:g}: "
                         f"{_range_text(lo, hi, lo_open)}")
    if bad:
        raise ValueError(_range_text(lo, hi, lo_open))


def _param(default: Any, lo: float | None, hi: float | None, doc: str, *,
           lo_open: bool = False) -> Any:
    return Field(default, description=doc,
                 json_schema_extra={"range": [lo, hi, lo_open]})


class _RangedParams(_Strict):
    """Checks every Param field against the range declared in its Field."""

    @field_validator("*", mode="after")
    @classmethod
    def _in_range(cls, v: Any, info: Any) -> Any:
        field = cls.model_fields[info.field_name]
        extra = field.json_schema_extra
        if v is not None and isinstance(extra, dict) and "range" in extra:
            lo, hi, lo_open = extra["range"]
            _check_param_range(v, lo, hi, lo_open)
        return v


# --------------------------------------------------------------------------------------
# Time-varying profiles (rates in Hz, currents in nA)
# --------------------------------------------------------------------------------------
def _profile_models(unit: str, lo: float | None, hi: float | None) -> dict[str, type]:
    """Profile models whose amplitude keys carry ``unit`` (``Hz`` or ``nA``)."""
    t = Annotated[float, Field(ge=0)]
    amp = Annotated[float, Field(ge=lo, le=hi)] if lo is not None else \
        Annotated[float, Field(le=hi)]
    models: dict[str, type] = {}

    def check(self: BaseModel) -> BaseModel:
        return _check_profile_times(self, unit)

    common = dict(__base__=_Strict,
                  __validators__={"_check_times": model_validator(mode="after")(check)})
    models["constant"] = create_model(
        f"Constant_{unit}", **common, shape=(Literal["constant"], ...),
        **{f"value_{unit}": (amp, ...)})
    models["step"] = create_model(
        f"Step_{unit}", **common, shape=(Literal["step"], ...),
        t_on_ms=(t, ...), t_off_ms=(t | None, None),
        **{f"level_{unit}": (amp, ...), f"baseline_{unit}": (amp, 0.0)})
    models["ramp"] = create_model(
        f"Ramp_{unit}", **common, shape=(Literal["ramp"], ...),
        t_start_ms=(t, ...), t_end_ms=(t, ...),
        **{f"start_{unit}": (amp, 0.0), f"end_{unit}": (amp, ...)})
    models["triangle"] = create_model(
        f"Triangle_{unit}", **common, shape=(Literal["triangle"], ...),
        t_start_ms=(t, ...), t_peak_ms=(t, ...), t_end_ms=(t, ...),
        **{f"baseline_{unit}": (amp, 0.0), f"peak_{unit}": (amp, ...)})
    models["piecewise"] = create_model(
        f"Piecewise_{unit}", **common, shape=(Literal["piecewise"], ...),
        times_ms=(Annotated[list[t], Field(min_length=1)], ...),
        **{f"values_{unit}": (Annotated[list[amp], Field(min_length=1)], ...)})
    return models


def profile_points(p: BaseModel, unit: str) -> tuple[list[float], list[float]]:
    """Breakpoints ``(times_ms, values)`` of a profile; constant before/after the ends."""
    g = lambda k: getattr(p, f"{k}_{unit}")  # noqa: E731
    s = p.shape
    if s == "constant":
        return [0.0], [g("value")]
    if s == "step":
        b, lvl = g("baseline"), g("level")
        if p.t_off_ms is None:  # on for good
            return [p.t_on_ms, p.t_on_ms], [b, lvl]
        return [p.t_on_ms, p.t_on_ms, p.t_off_ms, p.t_off_ms], [b, lvl, lvl, b]
    if s == "ramp":
        return [p.t_start_ms, p.t_end_ms], [g("start"), g("end")]
    if s == "triangle":
        b = g("baseline")
        return [p.t_start_ms, p.t_peak_ms, p.t_end_ms], [b, g("peak"), b]
    return list(p.times_ms), list(g("values"))


def _check_profile_times(p: BaseModel, unit: str) -> BaseModel:
    times, values = profile_points(p, unit)
    if len(times) != len(values):
        raise ValueError(f"times_ms has {len(times)} entries but values_{unit} has "
                         f"{len(values)}; they must match")
    if any(b < a for a, b in zip(times, times[1:])):
        raise ValueError(f"profile times must not decrease (got {times})")
    return p


_RATE_MODELS = _profile_models("Hz", 0.0, 10_000.0)
_CURRENT_MODELS = _profile_models("nA", None, 1_000.0)

RateProfile = Annotated[Union[tuple(_RATE_MODELS.values())], Field(discriminator="shape")]


def _rate_kind(v: Any) -> str | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return "number"
    if isinstance(v, dict) or isinstance(v, tuple(_RATE_MODELS.values())):
        return "profile"
    return None


Rate = Annotated[
    Union[Annotated[float, Tag("number"), Field(ge=0, le=10_000)],
          Annotated[RateProfile, Tag("profile")]],
    Discriminator(_rate_kind, custom_error_type="rate_spec",
                  custom_error_message="expected a rate in Hz or a profile table "
                                       "{shape = \"step\"|\"ramp\"|\"triangle\"|...}"),
]

# --------------------------------------------------------------------------------------
# Model sections
# --------------------------------------------------------------------------------------
Reversal = Annotated[float, Field(ge=REVERSAL_RANGE_mV[0], le=REVERSAL_RANGE_mV[1])]


class Simulation(_Strict):
    """Time axis, seed and chunking of a run."""

    duration_ms: float = Field(gt=0, le=1e8, description="biological time simulated")
    dt_ms: float = Field(0.1, gt=0, le=MAX_DT_ms, description="integration time step")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="root seed of every random stream")
    chunk_ms: float = Field(100.0, gt=0, le=1e6,
                            description="biological time advanced per engine call "
                                        "(progress and memory granularity; results do not "
                                        "depend on it)")


class Axon(_RangedParams):
    """The motor axon of every neuron of a population (see :mod:`mnsim.axons`).

    Spikes travel along the axon at ``conduction_velocity_m_per_s`` (1 m/s = 1 mm/ms):
    orthodromic ones from the soma to the muscle (``length_mm``), antidromic ones from
    where they were born back to the soma, which they invade (reset, AHP) unless it is
    refractory, passing the recurrent collaterals (the population's projections) on the
    way. An orthodromic and an antidromic spike on one axon annihilate where they meet. A
    spike can be born at a site (lesion, stimulation point) only if no spike passed that
    site within ``refractory_ms``. At the optional lesion (``lesion_mm`` from the soma)
    spikes can be born ectopically (``axon_inputs`` with ``at_mm = "lesion"``), by
    ephaptic cross-talk from neighbouring axons (``ephapses``), and as after-discharges.
    """

    conduction_velocity_m_per_s: Param = _param(50.0, 0.0, 200.0,
                                                "conduction velocity (= mm/ms)",
                                                lo_open=True)
    length_mm: Param = _param(100.0, 0.0, 2000.0, "soma to the muscle's endplates",
                              lo_open=True)
    refractory_ms: float = Field(1.0, gt=0, le=100,
                                 description="absolute refractory period of the axon "
                                             "(at least one step)")
    lesion_mm: float | None = Field(None, ge=0, le=2000,
                                    description="distance of the lesion (compression, "
                                                "demyelination) from the soma; none: no "
                                                "lesion")
    afterdischarge_probability: float = Field(
        0.0, ge=0, le=1, description="chance that an excitation of the lesion site (a "
                                     "spike passing or born there) sets off a train of "
                                     "after-discharges")
    afterdischarge_spikes: int = Field(3, ge=1, le=1000,
                                       description="spikes per after-discharge train")
    afterdischarge_interval_ms: float = Field(3.5, gt=0, le=1000,
                                              description="interval between "
                                                          "after-discharges")


class _Release(_Strict):
    """Transmitter release at a node's terminals: every synapse of the node is scaled by
    ``release_gain`` x its available resource x. Each spike uses a fraction
    ``release_depression`` of x, which recovers towards 1 with ``release_recovery_ms``
    (docs/model.md, "Release"). ``release_gain`` < 1 is presynaptic inhibition."""

    release_gain: float = Field(1.0, ge=0, le=10,
                                description="gain on transmitter release (presynaptic "
                                            "inhibition < 1)")
    release_depression: float = Field(0.0, ge=0, lt=1,
                                      description="fraction of the release resource each "
                                                  "spike uses (0: no depression)")
    release_recovery_ms: float = Field(3000.0, gt=0, le=1e6,
                                       description="recovery time constant of the "
                                                   "release resource")


class Population(_RangedParams, _Release):
    """A population of conductance-based integrate-and-fire neurons.

    Membrane equation (units pF, mV, nS, pA)::

        C dV/dt = g_L (E_L - V) + g_exc (E_exc - V) + g_inh (E_inh - V)
                  + g_ahp (E_ahp - V) + pic_gain * g_pic * m h (E_pic - V) + I_bias + I_inj
        tau_pic dm/dt = m_inf(V) - m,   m_inf(V) = 1 / (1 + exp(-(V - V_half) / k))
        tau_h dh/dt = h_inf(V) - h,     h_inf(V) = 1 / (1 + exp((V - V_h) / k_h))
                                        (h = 1 without inactivation)

    A spike is emitted when V crosses threshold; V is then held at reset for the refractory
    period and g_ahp jumps by ``ahp_increment_nS``. See ``docs/model.md``.

    ``release_gain``, ``release_depression`` and ``release_recovery_ms`` act on every
    synapse the population's neurons make (short-term depression per presynaptic
    neuron, presynaptic inhibition), as on a source's fibres.
    """

    size: int = Field(ge=1, le=10_000_000, description="number of neurons")
    capacitance_pF: Param = _param(200.0, 0.0, 1e6, "membrane capacitance", lo_open=True)
    leak_conductance_nS: Param = _param(10.0, 0.0, 1e6, "leak conductance", lo_open=True)
    leak_reversal_mV: Param = _param(-70.0, *REVERSAL_RANGE_mV, "leak reversal (rest)")
    threshold_mV: Param = _param(-50.0, -100.0, 50.0, "spike threshold")
    reset_mV: Param = _param(-65.0, *REVERSAL_RANGE_mV, "reset potential after a spike")
    refractory_ms: Param = _param(2.0, 0.0, 100.0, "absolute refractory period")
    bias_current_nA: Param = _param(0.0, -1000.0, 1000.0, "constant injected current")
    ahp_increment_nS: Param = _param(0.0, 0.0, 1e6,
                                     "AHP conductance added per spike (0 = no AHP)")
    ahp_tau_ms: Param = _param(20.0, 0.0, 10_000.0, "AHP conductance decay time constant",
                               lo_open=True)
    pic_conductance_nS: Param = _param(0.0, 0.0, 1e6,
                                       "maximal PIC conductance (0 = no PIC)")
    pic_half_activation_mV: Param = _param(-45.0, -120.0, 80.0,
                                           "PIC half-activation voltage V_half")
    pic_slope_mV: Param = _param(3.0, 0.0, 50.0, "PIC activation slope k", lo_open=True)
    pic_tau_ms: Param = _param(50.0, 0.0, 100_000.0, "PIC activation time constant",
                               lo_open=True)
    pic_inactivation_half_mV: Param | None = _param(
        None, -120.0, 80.0, "half-inactivation voltage of the slow PIC inactivation h "
                            "(none: the PIC does not inactivate)")
    pic_inactivation_slope_mV: Param = _param(5.0, 0.0, 50.0, "PIC inactivation slope",
                                              lo_open=True)
    pic_inactivation_tau_ms: Param = _param(2500.0, 0.0, 1e6,
                                            "PIC inactivation time constant", lo_open=True)
    v_init_mV: Param | None = _param(None, *REVERSAL_RANGE_mV,
                                     "initial membrane potential (default: leak reversal)")
    g_exc_init_nS: Param = _param(0.0, 0.0, 1e6, "initial excitatory conductance")
    g_inh_init_nS: Param = _param(0.0, 0.0, 1e6, "initial inhibitory conductance")

    pic_gain: float = Field(1.0, ge=0, le=100,
                            description="neuromodulatory gain on the PIC conductance")
    pic_reversal_mV: Reversal = Field(50.0, description="PIC reversal potential")
    ahp_reversal_mV: Reversal = Field(-80.0, description="AHP (potassium) reversal")
    exc_reversal_mV: Reversal = Field(0.0, description="excitatory synaptic reversal")
    inh_reversal_mV: Reversal = Field(-75.0, description="inhibitory (chloride) reversal: "
                                                         "the KCC2 knob")
    exc_tau_ms: float = Field(5.0, gt=0, le=10_000, description="excitatory decay")
    inh_tau_ms: float = Field(10.0, gt=0, le=10_000, description="inhibitory decay")
    axon: Union[Axon, None] = Field(None, description="motor axon (none: spikes act at the soma "
                                                "only)")


class _Afferent(_Release):
    """Transmitter release at the terminals of a source's fibres (afferents): every
    synapse of a generator is scaled by ``release_gain`` x its available resource x.
    Each spike uses a fraction ``release_depression`` of x, which recovers towards 1
    with ``release_recovery_ms`` (homosynaptic post-activation depression; Hultborn et
    al. 1996). ``release_gain`` < 1 is presynaptic inhibition."""


class PoissonSource(_Afferent):
    """``size`` independent Poisson spike generators sharing one rate (or rate profile)."""

    kind: Literal["poisson"]
    size: int = Field(ge=1, le=10_000_000)
    rate_Hz: Rate


class TrainSource(_Afferent):
    """Stimulus trains: every generator fires at each pulse (a nerve volley)."""

    kind: Literal["train"]
    size: int = Field(1, ge=1, le=10_000_000)
    start_ms: float = Field(ge=0)
    pulses: int = Field(1, ge=1, le=1_000_000)
    frequency_Hz: float = Field(100.0, gt=0, le=10_000)
    repeats: int = Field(1, ge=1, le=1_000_000, description="number of trains")
    repeat_every_ms: float = Field(1000.0, gt=0, description="onset-to-onset train period")


class TimesSource(_Afferent):
    """Scheduled spikes: every generator fires at each of ``times_ms``."""

    kind: Literal["times"]
    size: int = Field(1, ge=1, le=10_000_000)
    times_ms: list[Annotated[float, Field(ge=0)]]


class BurstingSource(_Afferent):
    """``size`` independent generators firing bursts (e.g. ectopic discharge of injured
    sensory neurons).

    Burst onsets of each generator form a Poisson process of rate ``burst_rate_Hz`` (a
    number or a profile). A burst starting at t_b has K spikes, at
    ``t_b + j * 1000 / intra_burst_Hz + e_j`` for j = 0 ... K-1, where e_0 = 0 and e_j
    (j >= 1) is uniform in [-J, J], J = ``intra_burst_jitter_ms``. K is
    ``spikes_per_burst`` (``spikes_per_burst_dist = "fixed"``), 1 + Poisson(mean - 1)
    (``"poisson"``) or geometric on 1, 2, ... (``"geometric"``); its mean is always
    ``spikes_per_burst``, so the mean rate is ``burst_rate_Hz * spikes_per_burst``.
    Bursts of one generator may overlap (onsets are independent of earlier bursts).
    """

    kind: Literal["bursting"]
    size: int = Field(ge=1, le=10_000_000)
    burst_rate_Hz: Rate
    spikes_per_burst_dist: Literal["fixed", "poisson", "geometric"] = Field(
        "fixed", description="how the number of spikes per burst is drawn")
    spikes_per_burst: float = Field(ge=1, le=10_000,
                                    description="(mean) number of spikes per burst")
    intra_burst_Hz: float = Field(gt=0, le=10_000,
                                  description="spike frequency within a burst")
    intra_burst_jitter_ms: float = Field(0.0, ge=0, le=1000,
                                         description="half-width of the uniform jitter of "
                                                     "every spike after a burst's first")

    @field_validator("spikes_per_burst", mode="after")
    @classmethod
    def _whole_if_fixed(cls, v: float, info: Any) -> float:
        if info.data.get("spikes_per_burst_dist") == "fixed" and v != int(v):
            raise ValueError("must be a whole number with spikes_per_burst_dist = "
                             "\"fixed\" (or draw it: \"poisson\" or \"geometric\")")
        return v

    @field_validator("intra_burst_jitter_ms", mode="after")
    @classmethod
    def _keeps_order(cls, v: float, info: Any) -> float:
        f = info.data.get("intra_burst_Hz")
        if f is not None and v >= 500.0 / f:
            raise ValueError(f"allowed range: 0 <= value < half the intra-burst interval "
                             f"(500 / intra_burst_Hz = {500.0 / f:g} ms), so that the "
                             f"spikes of a burst keep their order")
        return v


Source = Annotated[Union[PoissonSource, TrainSource, TimesSource, BurstingSource],
                   Field(discriminator="kind")]


class Projection(_RangedParams):
    """Connections from a population or source (``pre``) onto a population (``post``).

    Give exactly one of ``probability`` (each pair independently) or ``fan_in`` (each post
    neuron receives exactly ``fan_in`` distinct presynaptic partners).
    """

    pre: str
    post: str
    receptor: Literal["exc", "inh"]
    probability: float | None = Field(None, ge=0, le=1)
    fan_in: int | None = Field(None, ge=0, le=10_000_000)
    allow_autapses: bool = False
    weight_nS: ParamNoScale = _param(1.0, 0.0, 1e6, "conductance increment per spike")
    delay_ms: ParamNoScale = _param(1.0, 0.0, 1000.0,
                                    "transmission delay (a delay under one step arrives "
                                    "on the next step)")

    @model_validator(mode="after")
    def _one_rule(self) -> "Projection":
        if (self.probability is None) == (self.fan_in is None):
            raise ValueError("give exactly one of probability or fan_in")
        return self


NodeIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
"""Node ids within a population: at least one, each once."""

_CURRENT_BASE_FIELDS = dict(
    target=(str, ...),
    neurons=(Union[Literal["all"], NodeIds], "all"),
)
CurrentProtocol = Annotated[
    Union[tuple(create_model(f"Current{k.capitalize()}", __base__=m, **_CURRENT_BASE_FIELDS)
                for k, m in _CURRENT_MODELS.items())],
    Field(discriminator="shape"),
]
"""An injected current (nA) on some neurons of a population, with a profile shape."""


class TraceSpec(_Strict):
    """Sampled state variables of some neurons."""

    population: str
    variables: list[Literal[tuple(TRACE_VARIABLES)]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["v_mV"], min_length=1)
    neurons: Union[Literal["all"], NodeIds] = Field(default_factory=lambda: [0])
    interval_ms: float = Field(1.0, gt=0, le=1e6, description="sampling interval")


class Muscle(_Strict):
    """Force and surrogate EMG of the motor units of one motoneuron pool (see
    :mod:`mnsim.muscle`; Fuglevand, Winter & Patla 1993). Unit 0 is the smallest."""

    pool: str
    smallest_twitch_mN: float = Field(1.0, gt=0, le=1e6,
                                      description="peak twitch force of unit 0")
    twitch_force_range: float = Field(100.0, gt=1, le=1e4,
                                      description="largest / smallest peak twitch (RP)")
    contraction_time_longest_ms: float = Field(90.0, gt=0, le=1000,
                                               description="contraction time of unit 0")
    contraction_time_range: float = Field(3.0, gt=1, le=100,
                                          description="longest / shortest contraction "
                                                      "time (RT)")
    muap_amplitude_smallest_mV: float = Field(0.05, gt=0, le=100)
    muap_amplitude_range: float = Field(10.0, gt=0, le=1e4,
                                        description="largest / smallest MUAP amplitude")
    muap_width_smallest_ms: float = Field(1.0, gt=0, le=100,
                                          description="Hermite-Rodriguez width of unit 0")
    muap_width_range: float = Field(0.6, gt=0, le=100,
                                    description="width of the largest / of the smallest "
                                                "(< 1: larger units have shorter MUAPs)")
    emg_latency_ms: float = Field(5.0, ge=0, le=1000,
                                  description="spike to MUAP centre: from the soma "
                                              "spike (axon + junction), or from the "
                                              "spike at the muscle if the pool has an "
                                              "axon (junction + fibre)")
    force_interval_ms: float = Field(1.0, gt=0, le=100, description="force sampling")
    emg_interval_ms: float = Field(0.5, gt=0, le=100, description="EMG sampling")


class Ephapse(_Strict):
    """Ephaptic cross-talk at the lesion site between the axons of ``pre`` and ``post``
    (populations whose axons have a ``lesion_mm``).

    Pairs of axons are coupled independently with ``probability``. A spike exciting the
    lesion site of one axon of a coupled pair excites the other's ``delay_ms`` later with
    chance ``transmission``, which then fires both ways unless its site is refractory.
    """

    pre: str
    post: str
    probability: float = Field(ge=0, le=1, description="fraction of axon pairs coupled")
    transmission: float = Field(1.0, ge=0, le=1,
                                description="chance that an excitation crosses a coupling")
    delay_ms: float = Field(1.0, gt=0, le=100, description="transmission delay "
                                                           "(at least one step)")
    bidirectional: bool = Field(True, description="couple both ways (else pre -> post)")


class AxonInput(_Strict):
    """Spikes of a source born on motor axons at ``at_mm`` from the soma (or at the
    lesion): nerve stimulation, ectopic generators. A source of size 1 excites every
    listed axon at each spike; a source with one generator per listed axon excites them
    one to one."""

    source: str
    target: str
    axons: Union[Literal["all"], NodeIds] = "all"
    at_mm: Union[Literal["lesion"], Annotated[float, Field(ge=0, le=2000)]] = Field(
        description="where the spikes are born: distance from the soma, or \"lesion\"")


class Recording(_Strict):
    """What to record: spikes of which populations/sources, traces of which neurons."""

    spikes: Union[Literal["all"], list[str]] = "all"
    traces: dict[str, TraceSpec] = Field(default_factory=dict)


class ToneEffect(_Strict):
    """How one population's excitability follows the neuromodulatory tone: each key is
    the change of a parameter per unit of ``tone - 1`` (so tone 1 changes nothing)."""

    pic_gain_per_tone: float = Field(0.0, ge=-100, le=100,
                                     description="added to pic_gain (the result is floored "
                                                 "at 0)")
    bias_current_nA_per_tone: float = Field(0.0, ge=-1000, le=1000,
                                            description="added to bias_current_nA")
    threshold_mV_per_tone: float = Field(0.0, ge=-50, le=50,
                                         description="added to threshold_mV (< 0: "
                                                     "hyperpolarised threshold)")
    pic_half_activation_mV_per_tone: float = Field(0.0, ge=-50, le=50,
                                                   description="added to "
                                                               "pic_half_activation_mV")


class Neuromodulation(_Strict):
    """Descending (brainstem monoaminergic) neuromodulation, e.g. emotional tone.

    ``tone`` is dimensionless, 1 = baseline. Each population listed under
    ``populations`` has its parameters shifted by ``(tone - 1) * <key>_per_tone`` when the
    network is built (docs/model.md). A config without this table is at baseline.
    """

    tone: float = Field(1.0, ge=0, le=10, description="neuromodulatory tone (1 = baseline)")
    populations: dict[str, ToneEffect] = Field(default_factory=dict)


class Config(_Strict):
    """A complete, validated run description. Build with :func:`load_config`."""

    simulation: Simulation
    populations: dict[str, Population] = Field(min_length=1)
    sources: dict[str, Source] = Field(default_factory=dict)
    projections: dict[str, Projection] = Field(default_factory=dict)
    currents: dict[str, CurrentProtocol] = Field(default_factory=dict)
    muscles: dict[str, Muscle] = Field(default_factory=dict)
    ephapses: dict[str, Ephapse] = Field(default_factory=dict)
    axon_inputs: dict[str, AxonInput] = Field(default_factory=dict)
    # typing.Union, not `|`: _walk resolves error key paths through typing.Union
    neuromodulation: Union[Neuromodulation, None] = None
    recording: Recording = Field(default_factory=Recording)
    _source: str = PrivateAttr("<dict>")

    @property
    def source(self) -> str:
        """Where this config came from (file path and overrides), for messages."""
        return self._source

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every setting, defaults included."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        """Resolved configuration as JSON text (stored in every output file)."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=False)

    def node_sizes(self) -> dict[str, int]:
        """Sizes of all populations and sources, by name."""
        return {**{k: p.size for k, p in self.populations.items()},
                **{k: s.size for k, s in self.sources.items()}}


# --------------------------------------------------------------------------------------
# Loading, overrides, and error reporting
# --------------------------------------------------------------------------------------
def read_config_data(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw (unvalidated) table of a TOML or YAML file, with ``extends`` resolved.

    A file may start from another one: ``extends = "healthy.toml"`` (relative to the
    file) takes every key of that file and lets this file add or replace keys, table by
    table (a scenario variant then holds only what differs).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(str(path), [("", _MISSING, "no such file")])
    if path in _chain:
        raise ConfigError(str(path), [("extends", str(path), "circular extends: " +
                                       " -> ".join(str(p) for p in (*_chain, path)))])
    data = _read(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(str(path), [("extends", parent, "expected a file path")])
    return _deep_merge(read_config_data(path.parent / parent, (*_chain, path)), data)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not _is_spec(v):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _is_spec(v: dict[str, Any]) -> bool:
    """A distribution, pool scaling or profile table replaces, never merges."""
    return any(k in v for k in ("dist", "scale", "values", "shape", "kind"))


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), [("", _MISSING, f"cannot parse file: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", _MISSING, "top level must be a table/mapping")])
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into a key path and a value parsed as a TOML value.

    Values that are not valid TOML (``--set populations.mn.x=abc``) are taken as strings.
    """
    if "=" not in item:
        raise ValueError(f"--set expects key.path=value, got {item!r}")
    key, raw = item.split("=", 1)
    path = [k for k in key.strip().split(".")]
    if not key.strip() or any(not k for k in path):
        raise ValueError(f"--set expects key.path=value, got {item!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def set_key(data: dict[str, Any], path: list[str] | str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``path`` ``"a.b.c"`` in place, creating missing
    tables (validation then reports an unknown key, with a suggestion)."""
    keys = path.split(".") if isinstance(path, str) else path
    node: Any = data
    for i, k in enumerate(keys[:-1]):
        if isinstance(node, list):
            node = node[int(k)]
            continue
        if not isinstance(node.get(k, {}), (dict, list)):
            raise ValueError(f"{'.'.join(keys[:i + 1])} is a value, not a table")
        node = node.setdefault(k, {})
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]
                    ) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.path=value`` override applied."""
    data = copy.deepcopy(data)
    for item in overrides:
        path, value = parse_override(item)
        try:
            set_key(data, path, value)
        except ValueError as exc:
            raise ValueError(f"--set {item}: {exc}") from None
    return data


def _walk(loc: tuple, root: Any = None) -> tuple[list[str], Any]:
    """Follow an error location from :class:`Config`.

    Returns the user-facing key path (with the union-member tags that pydantic inserts
    removed) and the model class reached, or None when the location leaves the models.
    """
    import typing

    def unwrap(t: Any) -> Any:
        while True:
            t = _strip(t)
            if typing.get_origin(t) is Union:
                members = [a for a in typing.get_args(t) if a is not type(None)]
                if len(members) == 1:
                    t = members[0]
                    continue
            return t

    path: list[str] = []
    t: Any = Config if root is None else root
    for part in loc:
        if t is None:
            if not (isinstance(part, str) and "[" in part):
                path.append(str(part))
            continue
        t = unwrap(t)
        if typing.get_origin(t) is Union:
            members = typing.get_args(t)
            tags = {_member_tag(m): m for m in members}
            if part in tags:
                t = tags[part]
                continue
            if isinstance(part, str) and "[" in part:  # smart-union member, e.g. list[int]
                t = None
                continue
            models = [m for m in members if _is_model(_strip(m))]
            t = unwrap(models[0]) if len(models) == 1 else None
        path.append(str(part))
        origin = typing.get_origin(t)
        if origin in (dict, list):
            t = typing.get_args(t)[-1]
        elif _is_model(t) and part in t.model_fields:
            t = t.model_fields[part].annotation
        else:
            t = None
    t = unwrap(t) if t is not None else None
    return path, (t if _is_model(t) else None)


def _member_tag(m: Any) -> Any:
    import typing
    if typing.get_origin(m) is Annotated:
        for meta in typing.get_args(m)[1:]:
            if isinstance(meta, Tag):
                return meta.tag
        return _member_tag(typing.get_args(m)[0])
    if _is_model(m):
        return _tag_of(m)
    return None


def _strip(t: Any) -> Any:
    import typing
    while typing.get_origin(t) is Annotated:
        t = typing.get_args(t)[0]
    return t


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _tag_of(m: type) -> str | None:
    for key in ("kind", "shape", "dist", "scale"):
        f = m.model_fields.get(key)
        if f is not None:
            args = getattr(f.annotation, "__args__", ())
            if len(args) == 1:
                return args[0]
    return None


def _field_range(model: Any, name: str) -> str | None:
    if model is None or name not in model.model_fields:
        return None
    f = model.model_fields[name]
    lo = hi = None
    lo_open = False
    for m in f.metadata:
        lo = getattr(m, "ge", lo)
        if getattr(m, "gt", None) is not None:
            lo, lo_open = m.gt, True
        hi = getattr(m, "le", hi)
    extra = f.json_schema_extra
    if isinstance(extra, dict) and "range" in extra:
        lo, hi, lo_open = extra["range"]
    if lo is None and hi is None:
        return None
    return _range_text(lo, hi, lo_open)


def _format_errors(err: ValidationError, root: Any = None) -> list[tuple[str, Any, str]]:
    """Problems of a validation error of model ``root`` (default :class:`Config`), as
    (key path, value, message)."""
    problems: list[tuple[str, Any, str]] = []
    seen: set[str] = set()
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        keys, _ = _walk(loc, root)
        path = ".".join(keys)
        value = e.get("input", _MISSING)
        etype = e["type"]
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if etype == "extra_forbidden":
            _, parent = _walk(loc[:-1], root)
            key = str(loc[-1])
            valid = sorted(parent.model_fields) if parent is not None else []
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            msg = "unknown key"
            if close:
                msg += f"; did you mean '{close[0]}'?"
            elif valid:
                msg += f"; valid keys here: {', '.join(valid)}"
        elif etype in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            _, parent = _walk(loc[:-1], root)
            rng = _field_range(parent, str(loc[-1]))
            if rng is None:  # a constrained list item or union member: bound from pydantic
                ctx = e.get("ctx", {})
                rng = _range_text(ctx.get("ge", ctx.get("gt")), ctx.get("le"), "gt" in ctx)
            if rng not in msg:
                msg = f"{msg} ({rng})"
        elif etype == "missing":
            msg = "required key is missing"
            value = _MISSING
        elif etype == "union_tag_invalid":
            ctx = e.get("ctx", {})
            key = str(ctx.get("discriminator", "kind")).strip("'")
            path, value = f"{path}.{key}", ctx.get("tag")
            msg = f"unknown {key}; expected one of {ctx.get('expected_tags', '')}"
        if path in seen and etype not in ("extra_forbidden", "missing"):
            # one message per key: a union reports a failure per member; keep the one
            # that is not merely "is not the literal alternative"
            j = next(i for i, p in enumerate(problems) if p[0] == path)
            if problems[j][2].startswith("Input should be '") and etype != "literal_error":
                problems[j] = (path, value, msg)
            continue
        seen.add(path)
        problems.append((path, value, msg))
    # A smart union (e.g. "all" or a list of ids) also reports that the value is not the
    # literal alternative; drop that when a deeper key explains the real problem.
    paths = [p for p, _, _ in problems]
    return [(p, v, m) for p, v, m in problems
            if not (m.startswith("Input should be '") and
                    any(q.startswith(p + ".") for q in paths))]


def _check_references(cfg: Config) -> list[tuple[str, Any, str]]:
    """Cross-key checks that a per-field validator cannot see."""
    problems: list[tuple[str, Any, str]] = []
    sizes = cfg.node_sizes()
    pops = sorted(cfg.populations)
    for section, names in (("populations", cfg.populations), ("sources", cfg.sources),
                           ("projections", cfg.projections), ("currents", cfg.currents),
                           ("muscles", cfg.muscles), ("ephapses", cfg.ephapses),
                           ("axon_inputs", cfg.axon_inputs),
                           ("recording.traces", cfg.recording.traces)):
        for name in names:
            if not _NAME.match(name):
                problems.append((f"{section}.{name}", _MISSING,
                                 "names must start with a letter or _ and contain only "
                                 "letters, digits and _"))
    for name, pop in cfg.populations.items():
        fields = [(key, getattr(pop, key)) for key in type(pop).model_fields]
        if pop.axon is not None:
            fields += [(f"axon.{key}", getattr(pop.axon, key))
                       for key in type(pop.axon).model_fields]
        for key, v in fields:
            if isinstance(v, Values) and len(v.values) != pop.size:
                problems.append((f"populations.{name}.{key}", _MISSING,
                                 f"{len(v.values)} values for {pop.size} neurons (size); "
                                 f"give exactly one per neuron"))
    for name, pop in cfg.populations.items():
        if pop.axon is not None and (pop.release_gain != 1.0 or pop.release_depression > 0):
            problems.append((f"populations.{name}.release_depression", _MISSING,
                             "release gain and depression act on a population's synapses "
                             "at the soma; a population with an axon cannot have them yet "
                             "(its collaterals are reached along the axon)"))
    for name in set(cfg.populations) & set(cfg.sources):
        problems.append((f"sources.{name}", _MISSING,
                         f"name '{name}' is already a population; names must be unique"))

    def ref(path: str, name: str, allowed: list[str], what: str) -> bool:
        if name in allowed:
            return True
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append((path, name, f"no {what} of that name (known: "
                                     f"{', '.join(allowed) or 'none'}){hint}"))
        return False

    sim = cfg.simulation
    for name, p in cfg.projections.items():
        ref(f"projections.{name}.pre", p.pre, sorted(sizes), "population or source")
        if ref(f"projections.{name}.post", p.post, pops, "population") and \
                p.fan_in is not None and p.pre in sizes:
            n_pre = sizes[p.pre] - (1 if (p.pre == p.post and not p.allow_autapses) else 0)
            if p.fan_in > n_pre:
                problems.append((f"projections.{name}.fan_in", p.fan_in,
                                 f"larger than the {n_pre} available presynaptic neurons "
                                 f"of '{p.pre}'"))
    for name, c in cfg.currents.items():
        if ref(f"currents.{name}.target", c.target, pops, "population") and \
                c.neurons != "all":
            _check_ids(problems, f"currents.{name}.neurons", c.neurons, sizes[c.target])
    for name, m in cfg.muscles.items():
        ref(f"muscles.{name}.pool", m.pool, pops, "population")
    _check_axons(cfg, problems, ref)
    for name in (cfg.neuromodulation.populations if cfg.neuromodulation else {}):
        ref(f"neuromodulation.populations.{name}", name, pops, "population")
    spikes = cfg.recording.spikes
    if spikes != "all":
        for i, name in enumerate(spikes):
            ref(f"recording.spikes.{i}", name, sorted(sizes), "population or source")
    for name, t in cfg.recording.traces.items():
        if ref(f"recording.traces.{name}.population", t.population, pops, "population"):
            if t.neurons != "all":
                _check_ids(problems, f"recording.traces.{name}.neurons", t.neurons,
                           sizes[t.population])
        if not _is_multiple(t.interval_ms, sim.dt_ms):
            problems.append((f"recording.traces.{name}.interval_ms", t.interval_ms,
                             f"must be a whole multiple of simulation.dt_ms = {sim.dt_ms}"))
    if not _is_multiple(sim.duration_ms, sim.dt_ms):
        problems.append(("simulation.duration_ms", sim.duration_ms,
                         f"must be a whole multiple of simulation.dt_ms = {sim.dt_ms}"))
    if not _is_multiple(sim.chunk_ms, sim.dt_ms):
        problems.append(("simulation.chunk_ms", sim.chunk_ms,
                         f"must be a whole multiple of simulation.dt_ms = {sim.dt_ms}"))
    return problems


def _param_bounds(spec: Any) -> tuple[float | None, float | None]:
    """Smallest and largest value a parameter spec can take (None: unbounded)."""
    if isinstance(spec, (int, float)):
        return float(spec), float(spec)
    if isinstance(spec, PoolScale):
        return min(spec.first, spec.last), max(spec.first, spec.last)
    if isinstance(spec, Values):
        return min(spec.values), max(spec.values)
    return spec.low, spec.high


def _check_axons(cfg: Config, problems: list, ref: Any) -> None:
    """Lesion sites and stimulation points on the axon, ephapses and axon inputs."""
    dt = cfg.simulation.dt_ms
    with_axon = sorted(k for k, p in cfg.populations.items() if p.axon is not None)
    lesioned = sorted(k for k in with_axon if cfg.populations[k].axon.lesion_mm is not None)
    for name in with_axon:
        ax = cfg.populations[name].axon
        path = f"populations.{name}.axon"
        if ax.refractory_ms < dt:
            problems.append((f"{path}.refractory_ms", ax.refractory_ms,
                             f"must be at least one step (simulation.dt_ms = {dt})"))
        shortest, _ = _param_bounds(ax.length_mm)
        if ax.lesion_mm is not None and shortest is not None and ax.lesion_mm >= shortest:
            problems.append((f"{path}.lesion_mm", ax.lesion_mm,
                             f"must lie on the axon: below the shortest length_mm "
                             f"({shortest:g})"))
    for name, e in cfg.ephapses.items():
        for key in ("pre", "post"):
            target = getattr(e, key)
            if ref(f"ephapses.{name}.{key}", target, sorted(cfg.populations), "population") \
                    and target not in lesioned:
                problems.append((f"ephapses.{name}.{key}", target,
                                 "ephapses couple axons at their lesion: give "
                                 f"populations.{target}.axon.lesion_mm"))
        if e.delay_ms < dt:
            problems.append((f"ephapses.{name}.delay_ms", e.delay_ms,
                             f"must be at least one step (simulation.dt_ms = {dt})"))
    sizes = cfg.node_sizes()
    for name, a in cfg.axon_inputs.items():
        path = f"axon_inputs.{name}"
        ok_src = ref(f"{path}.source", a.source, sorted(cfg.sources), "source")
        if not ref(f"{path}.target", a.target, sorted(cfg.populations), "population"):
            continue
        ax = cfg.populations[a.target].axon
        if ax is None:
            problems.append((f"{path}.target", a.target,
                             f"has no axon: add a [populations.{a.target}.axon] table"))
            continue
        n_axons = sizes[a.target]
        if a.axons != "all":
            _check_ids(problems, f"{path}.axons", a.axons, n_axons)
            n_axons = len(a.axons)
        if a.at_mm == "lesion":
            if ax.lesion_mm is None:
                problems.append((f"{path}.at_mm", a.at_mm,
                                 f"populations.{a.target}.axon has no lesion_mm"))
        else:
            shortest, _ = _param_bounds(ax.length_mm)
            if shortest is not None and a.at_mm > shortest:
                problems.append((f"{path}.at_mm", a.at_mm,
                                 f"must lie on the axon: at most the shortest length_mm "
                                 f"({shortest:g})"))
        if ok_src and sizes[a.source] not in (1, n_axons):
            problems.append((f"{path}.source", a.source,
                             f"has {sizes[a.source]} generators; give 1 (each spike excites "
                             f"every listed axon) or {n_axons} (one per axon)"))


def _check_ids(problems: list, path: str, ids: list[int], size: int) -> None:
    bad = [i for i in ids if i >= size]
    if bad:
        problems.append((path, bad, f"node ids must be < the population size {size}"))
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        problems.append((path, dup, "node ids must not repeat"))


def _is_multiple(x: float, dt: float) -> bool:
    n = round(x / dt)
    return n >= 1 and abs(n * dt - x) <= 1e-9 * max(1.0, abs(x))


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> Config:
    """Validate a plain dict (as read from a file) into a :class:`Config`.

    Raises
    ------
    ConfigError
        Listing every problem found, each with key path, value and what is allowed.
    """
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _format_errors(exc)) from None
    problems = _check_references(cfg)
    if problems:
        raise ConfigError(source, problems)
    cfg._source = source
    return cfg


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a run configuration.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file (the format of ``configs/``) or a ``.yaml``/``.yml`` file.
    overrides : sequence of str
        ``"key.path=value"`` items applied before validation, e.g.
        ``["simulation.duration_ms=500", "populations.mn.pic_gain=2"]``.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        If the file cannot be read or any key is unknown, mistyped or out of range.

    Examples
    --------
    >>> cfg = load_config("configs/motor_pool.toml", ["simulation.duration_ms=200"])
    >>> cfg.simulation.duration_ms
    200.0
    """
    path = Path(path)
    data = read_config_data(path)
    source = str(path)
    if overrides:
        source += " (with --set " + ", ".join(overrides) + ")"
        try:
            data = apply_overrides(data, overrides)
        except (ValueError, IndexError, KeyError) as exc:
            raise ConfigError(source, [("", _MISSING, str(exc))]) from None
    return config_from_dict(data, source)
