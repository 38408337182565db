"""Turn a validated :class:`~mnsim.config.Config` into the arrays the engine advances.

One builder allocates every array (per-neuron parameters and state as a struct of arrays,
CSR connectivity, ring buffers, recording buffers); the kernels in :mod:`mnsim.engine`
only fill them.

Random streams: every random draw comes from its own ``numpy.random.Generator`` seeded
by ``SeedSequence([seed, crc32(purpose)])``, where ``purpose`` names what is drawn
("param/mn/capacitance_pF", "connect/ia_mn", "source/ia/block/3", ...). Adding a
population or changing ``chunk_ms`` therefore never changes the numbers drawn for
anything else.

Node numbering: neurons of all populations first (in config order), then source nodes.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .axons import TERMINAL_SUFFIX, Axons, build_axons
from .config import (
    BurstingSource,
    Config,
    ConfigError,
    LogNormal,
    Normal,
    PoolScale,
    Values,
    PoissonSource,
    Population,
    TrainSource,
    TRACE_VARIABLES,
    Uniform,
    profile_points,
)

__all__ = ["Network", "build", "rng_for", "pwl_eval", "poisson_block", "bursting_block"]

#: Largest delay ring buffer (both receptors) a build may allocate: (longest delay + 2
#: steps) x neurons x 8 bytes x 2.
MAX_DELAY_BUFFER_BYTES = 4 * 2**30

#: Half-inactivation used when a PIC does not inactivate: h_inf(V) rounds to exactly 1.
NO_INACTIVATION_mV = 1000.0

#: Source spikes are drawn in blocks of this much biological time, each block from its
#: own seeded stream, so the spikes do not depend on the chunk length.
SOURCE_BLOCK_ms = 1000.0

#: Trace variable codes understood by the engine (same order as TRACE_VARIABLES).
TRACE_CODES = {name: i for i, name in enumerate(TRACE_VARIABLES)}


def rng_for(seed: int, purpose: str, *extra: int) -> np.random.Generator:
    """The random stream for ``purpose`` (a stable name) under the root ``seed``."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, zlib.crc32(purpose.encode()), *extra]))


def pwl_eval(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear profile through ``(times, values)`` evaluated at ``t``.

    Constant before the first and after the last breakpoint. A repeated time is a jump:
    the later value applies from that time on (right-continuous).
    """
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    t = np.asarray(t, float)
    idx = np.searchsorted(times, t, side="right")  # times[idx-1] <= t < times[idx]
    out = np.empty_like(t)
    before = idx == 0
    after = idx >= len(times)
    mid = ~(before | after)
    out[before] = values[0]
    out[after] = values[-1]
    i = idx[mid]
    t0, t1 = times[i - 1], times[i]
    v0, v1 = values[i - 1], values[i]
    span = t1 - t0
    frac = np.where(span > 0, (t[mid] - t0) / np.where(span > 0, span, 1.0), 0.0)
    out[mid] = v0 + frac * (v1 - v0)
    return out


# --------------------------------------------------------------------------------------
# Per-neuron parameters
# --------------------------------------------------------------------------------------
def draw(spec: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """Values of a parameter spec for ``n`` neurons (or synapses)."""
    if isinstance(spec, (int, float)):
        return np.full(n, float(spec))
    if isinstance(spec, Values):
        if len(spec.values) != n:
            raise ValueError(f"{len(spec.values)} values for {n} neurons")
        return np.array(spec.values, dtype=float)
    if isinstance(spec, PoolScale):
        if n == 1:
            return np.array([spec.first])
        if spec.scale == "linear":
            return np.linspace(spec.first, spec.last, n)
        return spec.first * (spec.last / spec.first) ** (np.arange(n) / (n - 1))
    if isinstance(spec, Uniform):
        return rng.uniform(spec.low, spec.high, n)
    if isinstance(spec, Normal):
        x = rng.normal(spec.mean, spec.sd, n)
    elif isinstance(spec, LogNormal):
        s2 = math.log1p((spec.sd / spec.mean) ** 2)
        x = rng.lognormal(math.log(spec.mean) - s2 / 2, math.sqrt(s2), n)
    else:
        raise TypeError(f"unknown parameter spec {spec!r}")  # pragma: no cover
    if spec.low is not None or spec.high is not None:
        x = np.clip(x, spec.low, spec.high)
    return x


NEURON_PARAMS = ("capacitance_pF", "leak_conductance_nS", "leak_reversal_mV",
                 "threshold_mV", "reset_mV", "refractory_ms", "bias_current_nA",
                 "ahp_increment_nS", "ahp_tau_ms", "pic_conductance_nS",
                 "pic_half_activation_mV", "pic_slope_mV", "pic_tau_ms",
                 "pic_inactivation_half_mV", "pic_inactivation_slope_mV",
                 "pic_inactivation_tau_ms",
                 "v_init_mV", "g_exc_init_nS", "g_inh_init_nS")


def population_params(cfg: Config, name: str) -> dict[str, np.ndarray]:
    """Per-neuron parameter arrays of one population, as named in the config."""
    pop: Population = cfg.populations[name]
    out: dict[str, np.ndarray] = {}
    seed = cfg.simulation.seed
    for key in NEURON_PARAMS:
        spec = getattr(pop, key)
        if spec is None:  # v_init_mV: the leak reversal; inactivation: none (NaN)
            out[key] = (out["leak_reversal_mV"].copy() if key == "v_init_mV"
                        else np.full(pop.size, np.nan))
            continue
        # An unclipped normal draw can in principle leave the declared range; validation
        # requires mean +- 6 sd inside it, so that needs a > 6 sd draw.
        out[key] = draw(spec, pop.size, rng_for(seed, f"param/{name}/{key}"))
    return out


def neuromodulate(cfg: Config, params: dict[str, dict[str, np.ndarray]]
                  ) -> dict[str, float]:
    """Apply ``[neuromodulation]`` to drawn parameters; return each population's pic_gain.

    A population listed under ``neuromodulation.populations`` has ``bias_current_nA``,
    ``threshold_mV`` and ``pic_half_activation_mV`` shifted, and ``pic_gain`` raised, by
    ``(tone - 1)`` times its ``*_per_tone`` effects (pic_gain floored at 0). ``params``
    is updated (new arrays), so the stored parameters are the ones in effect. The draws
    themselves do not depend on the tone: a tone sweep keeps common random numbers.
    """
    gains = {name: float(pop.pic_gain) for name, pop in cfg.populations.items()}
    nm = cfg.neuromodulation
    if nm is None:
        return gains
    d = nm.tone - 1.0
    for name, eff in nm.populations.items():
        par = params[name]
        for key in ("bias_current_nA", "threshold_mV", "pic_half_activation_mV"):
            par[key] = par[key] + d * getattr(eff, f"{key}_per_tone")
        gains[name] = max(0.0, gains[name] + d * eff.pic_gain_per_tone)
    return gains


# --------------------------------------------------------------------------------------
# Connectivity
# --------------------------------------------------------------------------------------
def _bernoulli_pairs(n_pre: int, n_post: int, p: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """All (pre, post) pairs, each present independently with probability ``p``.

    Skips between successive present pairs of the flattened n_pre x n_post grid are
    geometric, so the cost grows with the number of synapses, not of pairs.
    """
    total = n_pre * n_post
    if p <= 0 or total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if p >= 1:
        flat = np.arange(total, dtype=np.int64)
    else:
        chunks = []
        pos = -1
        batch = int(total * p + 5 * math.sqrt(total * p) + 16)
        while pos < total:
            gaps = rng.geometric(p, size=batch).astype(np.int64)
            steps = pos + np.cumsum(gaps)
            chunks.append(steps[steps < total])
            pos = int(steps[-1])
        flat = np.concatenate(chunks)
    return flat // n_post, flat % n_post


def _fixed_fan_in(n_pre: int, n_post: int, k: int, same: bool, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each post neuron gets ``k`` distinct presynaptic partners (never itself if
    ``same`` is true, i.e. pre and post are one population and autapses are off)."""
    pre = np.empty(n_post * k, np.int64)
    for j in range(n_post):
        if same:
            c = rng.choice(n_pre - 1, size=k, replace=False)
            c[c >= j] += 1  # skip j itself
        else:
            c = rng.choice(n_pre, size=k, replace=False)
        pre[j * k:(j + 1) * k] = np.sort(c)
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    return pre, post


@dataclass
class Synapses:
    """Synapses of one receptor type in CSR order by presynaptic node."""

    indptr: np.ndarray   # (n_nodes + 1,) int64
    post: np.ndarray     # (n_syn,) uint32, global neuron index
    weight: np.ndarray   # (n_syn,) float64, nS
    delay: np.ndarray    # (n_syn,) int32, whole steps

    @property
    def size(self) -> int:
        return int(self.post.size)


def _csr(n_nodes: int, pre: np.ndarray, post: np.ndarray, w: np.ndarray,
         d: np.ndarray) -> Synapses:
    order = np.argsort(pre, kind="stable")
    counts = np.bincount(pre, minlength=n_nodes)
    indptr = np.zeros(n_nodes + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Synapses(indptr, post[order].astype(np.uint32), w[order].astype(np.float64),
                    d[order].astype(np.int32))


# --------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------
def _max_rate(rate_t: np.ndarray, rate_v: np.ndarray, t0: float, t1: float) -> float:
    """Largest rate on [t0, t1]: at the ends and at every breakpoint inside (both sides
    of a jump are breakpoints)."""
    inside = rate_v[(rate_t >= t0) & (rate_t <= t1)]
    ends = pwl_eval(rate_t, rate_v, np.array([t0, t1]))
    return float(max(ends.max(), inside.max() if inside.size else 0.0))


def poisson_block(rng: np.random.Generator, t0_ms: float, t1_ms: float, n: int,
                  rate_t: np.ndarray, rate_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events of ``n`` independent Poisson generators on ``[t0_ms, t1_ms)``.

    The rate (Hz) is the piecewise-linear profile through ``(rate_t, rate_v)``
    (:func:`pwl_eval`); a time-varying rate is drawn by thinning at its maximum.
    Returns unsorted times (ms, float64) and generator ids (int64, 0 ... n-1).
    """
    rmax = _max_rate(rate_t, rate_v, t0_ms, t1_ms)
    if rmax <= 0:
        return np.empty(0), np.empty(0, np.int64)
    count = rng.poisson(rmax * n * (t1_ms - t0_ms) / 1000.0)
    t = rng.uniform(t0_ms, t1_ms, count)
    ids = rng.integers(0, n, count)
    if not np.all(rate_v == rmax):  # thinning for a time-varying rate
        keep = rng.uniform(0.0, rmax, count) < pwl_eval(rate_t, rate_v, t)
        t, ids = t[keep], ids[keep]
    return t, ids


def bursting_block(rng: np.random.Generator, t0_ms: float, t1_ms: float, n: int,
                   rate_t: np.ndarray, rate_v: np.ndarray, *, spikes_per_burst: float,
                   intra_burst_Hz: float, spikes_per_burst_dist: str = "fixed",
                   intra_burst_jitter_ms: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of the bursts of ``n`` generators whose onsets fall in ``[t0_ms, t1_ms)``.

    Onsets: :func:`poisson_block` at the burst rate ``(rate_t, rate_v)`` (Hz). A burst
    at t_b has K spikes at ``t_b + j * 1000 / intra_burst_Hz + e_j``, j = 0 ... K-1,
    e_0 = 0, e_j uniform in +-``intra_burst_jitter_ms``; K = ``spikes_per_burst``
    ("fixed"), 1 + Poisson(spikes_per_burst - 1) ("poisson") or geometric on 1, 2, ...
    with mean ``spikes_per_burst`` ("geometric"). Spikes of a burst may fall after
    ``t1_ms``: the caller keeps them for the next blocks. Returns unsorted times (ms)
    and generator ids (int64). See :class:`mnsim.config.BurstingSource`.
    """
    onsets, ids = poisson_block(rng, t0_ms, t1_ms, n, rate_t, rate_v)
    m = spikes_per_burst
    if spikes_per_burst_dist == "fixed":
        k = np.full(onsets.size, int(m), np.int64)
    elif spikes_per_burst_dist == "poisson":
        k = 1 + rng.poisson(m - 1.0, onsets.size)
    elif spikes_per_burst_dist == "geometric":
        k = rng.geometric(1.0 / m, onsets.size)
    else:
        raise ValueError(f"spikes_per_burst_dist = {spikes_per_burst_dist!r}: expected "
                         f"'fixed', 'poisson' or 'geometric'")
    burst = np.repeat(np.arange(onsets.size), k)
    j = np.arange(burst.size) - np.repeat(np.cumsum(k) - k, k)  # index within the burst
    t = onsets[burst] + j * (1000.0 / intra_burst_Hz)
    if intra_burst_jitter_ms > 0:
        e = rng.uniform(-intra_burst_jitter_ms, intra_burst_jitter_ms, burst.size)
        t += np.where(j > 0, e, 0.0)
    return t, ids[burst]


class SourceStream:
    """Spikes of one source, generated lazily in fixed blocks of biological time."""

    def __init__(self, name: str, src: Any, offset: int, seed: int, dt_ms: float):
        self.name, self.src, self.offset, self.seed, self.dt = name, src, offset, seed, dt_ms
        rate = (src.rate_Hz if isinstance(src, PoissonSource) else
                src.burst_rate_Hz if isinstance(src, BurstingSource) else None)
        if rate is not None and not isinstance(rate, (int, float)):
            t, v = profile_points(rate, "Hz")
            self.rate_t, self.rate_v = np.asarray(t, float), np.asarray(v, float)
        elif rate is not None:
            self.rate_t, self.rate_v = np.array([0.0]), np.array([float(rate)])
        else:  # deterministic schedule: steps of every spike, sorted once
            s = src
            if isinstance(s, TrainSource):
                pulses = np.arange(s.pulses) * (1000.0 / s.frequency_Hz)
                onsets = s.start_ms + np.arange(s.repeats) * s.repeat_every_ms
                times = (onsets[:, None] + pulses[None, :]).ravel()
            else:
                times = np.asarray(s.times_ms, float)
            self._sched = np.sort(to_steps(times, dt_ms))
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._next_block = 0  # bursting: blocks generated so far
        self._k_asked = 0     # bursting: first step of the latest request

    def _poisson_block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Spike times and local ids in block b, i.e. [b T, (b+1) T), T = SOURCE_BLOCK_ms."""
        rng = rng_for(self.seed, f"source/{self.name}/block", b)
        return poisson_block(rng, b * SOURCE_BLOCK_ms, (b + 1) * SOURCE_BLOCK_ms,
                             self.src.size, self.rate_t, self.rate_v)

    def _bursting_events(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, local ids) of burst spikes in steps ``[k0, k1)``.

        Block b holds the bursts whose onsets fall in [b T, (b+1) T); their later spikes
        can spill into any following block, so a block is kept until its last spike is
        behind the requested steps. Blocks are pure functions of (seed, name, b), so the
        spikes do not depend on how the run is cut into requests.
        """
        s, dt = self.src, self.dt
        if k0 < self._k_asked:  # asked for the past again: rebuild from the first block
            self._cache, self._next_block = {}, 0
        self._k_asked = k0
        # a spike at t falls in step floor(t / dt), never before its burst's onset
        last = int(math.floor(k1 * dt / SOURCE_BLOCK_ms))
        while self._next_block <= last:
            b = self._next_block
            t, ids = bursting_block(
                rng_for(self.seed, f"source/{self.name}/block", b), b * SOURCE_BLOCK_ms,
                (b + 1) * SOURCE_BLOCK_ms, s.size, self.rate_t, self.rate_v,
                spikes_per_burst=s.spikes_per_burst, intra_burst_Hz=s.intra_burst_Hz,
                spikes_per_burst_dist=s.spikes_per_burst_dist,
                intra_burst_jitter_ms=s.intra_burst_jitter_ms)
            self._cache[b] = (np.floor(t / dt).astype(np.int64), ids)
            self._next_block += 1
        self._cache = {b: v for b, v in self._cache.items()
                       if v[0].size and v[0].max() >= k0}
        if not self._cache:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        steps = np.concatenate([v[0] for v in self._cache.values()])
        ids = np.concatenate([v[1] for v in self._cache.values()])
        keep = (steps >= k0) & (steps < k1)
        return steps[keep], ids[keep]

    def events(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, global node ids) of spikes in steps ``[k0, k1)``."""
        dt = self.dt
        n = self.src.size
        if isinstance(self.src, BurstingSource):
            steps, i = self._bursting_events(k0, k1)
            return steps, i.astype(np.int64) + self.offset
        if isinstance(self.src, PoissonSource):
            # a spike at time t falls in step floor(t / dt); load every block that can
            # hold such spikes (one block early: rounding at a block's end)
            b0 = max(0, int(math.floor(k0 * dt / SOURCE_BLOCK_ms)) - 1)
            b1 = int(math.floor(k1 * dt / SOURCE_BLOCK_ms))
            self._cache = {k: v for k, v in self._cache.items() if k >= b0}
            ts, ids = [], []
            for b in range(b0, b1 + 1):
                if b not in self._cache:
                    self._cache[b] = self._poisson_block(b)
                ts.append(self._cache[b][0])
                ids.append(self._cache[b][1])
            steps = np.floor(np.concatenate(ts) / dt).astype(np.int64)
            i = np.concatenate(ids)
            keep = (steps >= k0) & (steps < k1)
            return steps[keep], i[keep].astype(np.int64) + self.offset
        a, b = np.searchsorted(self._sched, [k0, k1])
        steps = np.repeat(self._sched[a:b], n)
        i = np.tile(np.arange(n, dtype=np.int64), b - a)
        return steps, i + self.offset


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------
@dataclass
class TraceGroup:
    """One ``[recording.traces.<name>]`` entry, resolved."""

    name: str
    population: str
    variables: list[str]
    node_ids: np.ndarray      # local ids within the population
    global_ids: np.ndarray    # neuron indices in the flat state arrays
    interval_steps: int

    def n_samples(self, n_steps: int) -> int:
        """Samples in a run of ``n_steps``: at steps 0, interval, 2 interval, ..."""
        return -(-n_steps // self.interval_steps)


@dataclass
class Network:
    """Every array a run needs; built once by :func:`build`, advanced by the engine."""

    config: Config
    dt_ms: float
    n_steps: int
    chunk_steps: int
    pop_names: list[str]
    pop_start: np.ndarray       # (P+1,) neuron offsets of populations
    src_names: list[str]
    src_start: np.ndarray       # (S+1,) node offsets of sources (>= n_neurons)
    params: dict[str, dict[str, np.ndarray]]  # per population, as named in the config
    # struct of arrays handed to the kernels
    neuron: dict[str, np.ndarray] = field(default_factory=dict)
    pop: dict[str, np.ndarray] = field(default_factory=dict)
    state: dict[str, np.ndarray] = field(default_factory=dict)
    exc: Synapses | None = None
    inh: Synapses | None = None
    ring_exc: np.ndarray | None = None
    ring_inh: np.ndarray | None = None
    sources: list[SourceStream] = field(default_factory=list)
    currents: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    inj_ids: np.ndarray | None = None
    record_spikes: np.ndarray | None = None  # (n_nodes + n_axons,) uint8
    traces: list[TraceGroup] = field(default_factory=list)
    axons: Axons | None = None
    release: dict[str, np.ndarray] = field(default_factory=dict)  # per node
    term_names: list[str] = field(default_factory=list)  # "<population>.terminal"
    term_start: np.ndarray | None = None  # (T+1,) node offsets of axon terminals

    @property
    def n_neurons(self) -> int:
        return int(self.pop_start[-1])

    @property
    def n_nodes(self) -> int:
        return int(self.src_start[-1])

    def node_sets(self) -> list[tuple[str, str, int, int]]:
        """(name, kind, start, stop) of every population ("neurons"), source ("source")
        and set of axon terminals ("terminal"), in node order."""
        out = []
        for names, starts, kind in ((self.pop_names, self.pop_start, "neurons"),
                                    (self.src_names, self.src_start, "source"),
                                    (self.term_names, self.term_start, "terminal")):
            out += [(nm, kind, int(starts[i]), int(starts[i + 1]))
                    for i, nm in enumerate(names)]
        return out

    def node_range(self, name: str) -> tuple[int, int]:
        """Global [start, stop) of a population, source or set of axon terminals."""
        for nm, _, a, b in self.node_sets():
            if nm == name:
                return a, b
        raise KeyError(name)


def to_steps(ms, dt: float):
    """Whole steps nearest to ``ms`` (halves round up, for scalars and arrays alike).

    The 1e-9 keeps a half that floating point renders as 1.4999999999999998 a half.
    """
    return np.floor(np.asarray(ms, float) / dt + 0.5 + 1e-9).astype(np.int64)


_UNIFORM_KEYS = ("dt_over_c", "g_leak", "g_leak_e_leak", "threshold", "reset",
                 "refractory_steps", "i_bias")


def _mark_uniform(net: Network, pops: list, sizes: list[int], cfg: Config) -> None:
    """Flag populations the lean kernel can advance: one value per parameter for all
    neurons, no AHP, no PIC and no injected current."""
    targeted = {c.target for c in cfg.currents.values()}
    flags, par = [], np.zeros((len(pops), len(_UNIFORM_KEYS)))
    for p, (name, a, b) in enumerate(zip(net.pop_names, net.pop_start[:-1],
                                         net.pop_start[1:])):
        nr = {k: v[a:b] for k, v in net.neuron.items()}
        same = all(np.all(nr[k] == nr[k][0]) for k in _UNIFORM_KEYS)
        ok = (same and not np.any(nr["ahp_increment"]) and not net.pop["has_pic"][p]
              and name not in targeted)
        flags.append(ok)
        par[p] = [nr[k][0] for k in _UNIFORM_KEYS]
    net.pop["uniform"] = np.array(flags, np.bool_)
    net.pop["uniform_par"] = par


def _steps(ms: float, dt: float) -> int:
    return int(to_steps(ms, dt))


def build(cfg: Config) -> Network:
    """Allocate and fill every array of a run described by ``cfg``."""
    source = cfg.source
    sim = cfg.simulation
    dt = sim.dt_ms
    seed = sim.seed
    pop_names = list(cfg.populations)
    src_names = list(cfg.sources)
    sizes = [cfg.populations[p].size for p in pop_names]
    pop_start = np.zeros(len(pop_names) + 1, np.int64)
    np.cumsum(sizes, out=pop_start[1:])
    n = int(pop_start[-1])
    src_start = np.full(len(src_names) + 1, n, np.int64)
    np.cumsum([cfg.sources[s].size for s in src_names], out=src_start[1:])
    src_start[1:] += n
    net = Network(config=cfg, dt_ms=dt, n_steps=_steps(sim.duration_ms, dt),
                  chunk_steps=max(1, _steps(sim.chunk_ms, dt)), pop_names=pop_names,
                  pop_start=pop_start, src_names=src_names, src_start=src_start,
                  params={p: population_params(cfg, p) for p in pop_names})
    pic_gain = neuromodulate(cfg, net.params)  # per population, after the tone

    # -- per-neuron arrays in kernel units (pF, nS, mV, pA, steps) -----------------
    cat = lambda key: np.concatenate([net.params[p][key] for p in pop_names])  # noqa
    pops = [cfg.populations[p] for p in pop_names]
    g_l = cat("leak_conductance_nS")
    net.neuron = dict(
        dt_over_c=dt / cat("capacitance_pF"),
        g_leak=g_l,
        g_leak_e_leak=g_l * cat("leak_reversal_mV"),
        threshold=cat("threshold_mV"),
        reset=cat("reset_mV"),
        refractory_steps=to_steps(cat("refractory_ms"), dt).astype(np.int32),
        i_bias=cat("bias_current_nA") * 1000.0,
        ahp_increment=cat("ahp_increment_nS"),
        ahp_decay=np.exp(-dt / cat("ahp_tau_ms")),
        g_pic=cat("pic_conductance_nS") * np.repeat([pic_gain[p] for p in pop_names],
                                                    sizes),
        pic_v_half=cat("pic_half_activation_mV"),
        pic_inv_slope=1.0 / cat("pic_slope_mV"),
        pic_decay=np.exp(-dt / cat("pic_tau_ms")),
        # no inactivation: half-inactivation far above any voltage, so h_inf = 1 exactly
        pic_h_v_half=np.nan_to_num(cat("pic_inactivation_half_mV"), nan=NO_INACTIVATION_mV),
        pic_h_inv_slope=1.0 / cat("pic_inactivation_slope_mV"),
        pic_h_decay=np.exp(-dt / cat("pic_inactivation_tau_ms")),
    )
    net.pop = dict(
        start=pop_start,
        e_exc=np.array([p.exc_reversal_mV for p in pops]),
        e_inh=np.array([p.inh_reversal_mV for p in pops]),
        e_ahp=np.array([p.ahp_reversal_mV for p in pops]),
        e_pic=np.array([p.pic_reversal_mV for p in pops]),
        exc_decay=np.exp(-dt / np.array([p.exc_tau_ms for p in pops])),
        inh_decay=np.exp(-dt / np.array([p.inh_tau_ms for p in pops])),
        has_pic=np.array([bool(np.any(net.params[p]["pic_conductance_nS"] > 0)
                               and pic_gain[p] > 0) for p in pop_names],
                         np.bool_),
    )
    v0 = cat("v_init_mV")
    g_pic = net.neuron["g_pic"]
    v_half = net.neuron["pic_v_half"]
    net.state = dict(
        v=v0.copy(),
        g_exc=cat("g_exc_init_nS"),
        g_inh=cat("g_inh_init_nS"),
        g_ahp=np.zeros(n),
        # PIC starts at its steady state for the initial voltage
        pic_m=np.where(g_pic > 0, 1.0 / (1.0 + np.exp(-(v0 - v_half)
                                                     * net.neuron["pic_inv_slope"])), 0.0),
        refractory_left=np.zeros(n, np.int32),
        i_inj=np.zeros(n),
        g_pic_open=np.zeros(n),  # g_pic * m * h during the current step
        pic_h=np.where(g_pic > 0, 1.0 / (1.0 + np.exp(
            (v0 - net.neuron["pic_h_v_half"]) * net.neuron["pic_h_inv_slope"])), 1.0),
    )

    # -- connectivity -------------------------------------------------------------
    n_nodes = int(src_start[-1])
    per_receptor: dict[str, list[tuple[np.ndarray, ...]]] = {"exc": [], "inh": []}
    longest_delay: dict[str, int] = {}  # steps, per projection
    for name, pr in cfg.projections.items():
        rng = rng_for(seed, f"connect/{name}")
        pre0, pre1 = net.node_range(pr.pre)
        post0, post1 = net.node_range(pr.post)
        n_pre, n_post = pre1 - pre0, post1 - post0
        same = pr.pre == pr.post and not pr.allow_autapses
        if pr.probability is not None:
            pre, post = _bernoulli_pairs(n_pre, n_post, pr.probability, rng)
            if same:
                keep = pre != post
                pre, post = pre[keep], post[keep]
        else:
            pre, post = _fixed_fan_in(n_pre, n_post, pr.fan_in, same, rng)
        w = draw(pr.weight_nS, pre.size, rng_for(seed, f"weight/{name}"))
        d_ms = draw(pr.delay_ms, pre.size, rng_for(seed, f"delay/{name}"))
        d = to_steps(d_ms, dt)
        if np.any(w < 0):
            raise ConfigError(source, [(f"projections.{name}.weight_nS", float(w.min()),
                                        "drew a negative weight; add low = 0 to the "
                                        "distribution")])
        if np.any(d < 0):
            raise ConfigError(source, [(f"projections.{name}.delay_ms", float(d_ms.min()),
                                        "drew a negative delay; add low = 0 to the "
                                        "distribution")])
        per_receptor[pr.receptor].append((pre + pre0, post + post0, w, d))
        if d.size:
            longest_delay[name] = int(d.max())
    # A spike emitted in step k with a delay of d steps is added at the start of step
    # k + 1 + d (source spikes, timed at the start of their step, at k + d); the ring
    # holds max_delay + 2 slots.
    max_d = 0
    for receptor, parts in per_receptor.items():
        if parts:
            pre, post, w, d = (np.concatenate(x) for x in zip(*parts))
        else:
            pre = post = d = np.empty(0, np.int64)
            w = np.empty(0)
        if d.size:
            max_d = max(max_d, int(d.max()))
        setattr(net, receptor, _csr(n_nodes, pre, post, w, d))
    n_slots = max_d + 2
    ring_bytes = 2 * n_slots * n * 8
    if ring_bytes > MAX_DELAY_BUFFER_BYTES:
        longest = max(longest_delay, key=longest_delay.get)
        raise ConfigError(source, [(
            f"projections.{longest}.delay_ms", cfg.projections[longest].delay_ms,
            f"the longest delay ({max_d} steps) needs a {ring_bytes / 2**30:.1f} GiB delay "
            f"buffer for {n} neurons (limit {MAX_DELAY_BUFFER_BYTES / 2**30:.0f} GiB); "
            f"shorten the delay or raise dt_ms")])
    net.ring_exc = np.zeros((n_slots, n))
    net.ring_inh = np.zeros((n_slots, n))
    # populations that receive delayed input need their ring slot absorbed each step
    for receptor in ("exc", "inh"):
        syn = getattr(net, receptor)
        delayed = syn.post[syn.delay > 0].astype(np.int64)
        net.pop[f"delayed_{receptor}"] = np.array(
            [bool(np.any((delayed >= a) & (delayed < b)))
             for a, b in zip(pop_start[:-1], pop_start[1:])], np.bool_)

    # -- sources and injected currents ---------------------------------------------
    net.sources = [SourceStream(s, cfg.sources[s], int(src_start[i]), seed, dt)
                   for i, s in enumerate(src_names)]
    # release at the terminals of each node (neurons, then the fibres of each source):
    # gain, and the resource x (1 = rested) with the step of its last use
    nodes = pops + [cfg.sources[s] for s in src_names]
    counts = [n.size for n in nodes]
    gain = np.repeat([n.release_gain for n in nodes], counts).astype(float)
    use = np.repeat([n.release_depression for n in nodes], counts).astype(float)
    net.release = dict(
        modulated=(gain != 1.0) | (use > 0.0), gain=gain, use=use,  # any: engine path
        rate_per_step=np.repeat([dt / n.release_recovery_ms for n in nodes],
                                counts).astype(float),
        x=np.ones(gain.size), last_step=np.zeros(gain.size, np.int64))
    _mark_uniform(net, pops, sizes, cfg)
    all_inj: list[np.ndarray] = []
    for name, c in cfg.currents.items():
        t0, _ = net.node_range(c.target)
        size = cfg.populations[c.target].size
        ids = np.arange(size) if c.neurons == "all" else np.asarray(c.neurons)
        t, v = profile_points(c, "nA")
        gids = (ids + t0).astype(np.int64)
        net.currents.append((np.asarray(t, float), np.asarray(v, float) * 1000.0, gids))
        all_inj.append(gids)
    net.inj_ids = (np.unique(np.concatenate(all_inj)) if all_inj
                   else np.empty(0, np.int64))

    # -- motor axons; their spikes at the muscle are nodes after the sources ---------
    net.axons = build_axons(cfg, net)
    ax = net.axons
    net.term_names = [p + TERMINAL_SUFFIX for p in ax.pop_names]
    net.term_start = n_nodes + ax.pop_first

    # -- recording ------------------------------------------------------------------
    rec = cfg.recording
    names = list(cfg.node_sizes()) if rec.spikes == "all" else rec.spikes
    net.record_spikes = np.zeros(n_nodes + ax.n, np.uint8)
    for nm in names:
        a, b = net.node_range(nm)
        net.record_spikes[a:b] = 1
        if nm in ax.pop_names:  # a recorded pool records its spikes at the muscle too
            a, b = net.node_range(nm + TERMINAL_SUFFIX)
            net.record_spikes[a:b] = 1
    for name, tr in rec.traces.items():
        a, _ = net.node_range(tr.population)
        size = cfg.populations[tr.population].size
        ids = np.arange(size) if tr.neurons == "all" else np.asarray(tr.neurons, np.int64)
        net.traces.append(TraceGroup(name, tr.population, list(tr.variables), ids,
                                     ids + a, _steps(tr.interval_ms, dt)))
    return net
