"""Motor axons: conduction, collision, refractoriness, ectopic and ephaptic excitation.

Each neuron of a population with an ``axon`` table owns one axon, modelled as a line of
positions ``0 … end`` in units of the distance a spike travels in one step
(``conduction_velocity · dt``): position 0 is the soma and its recurrent collaterals,
``end`` the muscle's endplates (``length_mm``). A spike is a point moving one position
per step, orthodromically (+1, towards the muscle) or antidromically (-1).

Per step ``k`` (run by the engine at the start of the step, before synaptic input):

1. every spike moves one position. An orthodromic and an antidromic spike on the same
   axon that meet (cross or land on one position) annihilate: collision;
2. an orthodromic spike reaching ``end`` is recorded as a spike at the muscle
   (``/spikes/<population>.terminal``). An antidromic spike reaching 0 activates the
   collaterals (the population's projections, e.g. onto Renshaw cells) and invades the
   soma unless the soma is refractory: reset, refractory period, AHP, recorded as a
   soma spike;
3. spikes are born at sites (soma, lesion, stimulation points) from soma spikes,
   ``axon_inputs``, ephaptic transmission and after-discharges. A birth is blocked if
   any spike passed or was born at that site within the axon's refractory period;
   otherwise one spike leaves in each direction the axon continues in (a soma spike only
   orthodromically). Every excitation of a lesion site (passage or birth) is transmitted
   to each ephaptically coupled axon with chance ``transmission`` after ``delay_ms``, and
   sets off a train of after-discharges with chance ``afterdischarge_probability``.

Because spikes in one direction that share a site are at least one refractory period
apart, an axon never holds more than ``2 (end / refractory + 2)`` spikes; the per-axon
slot arrays are sized for that. Random draws (ephaptic transmission, after-discharges)
come from a counter-based hash of (seed, step, axon, coupling), so they do not depend
on how the run is cut into chunks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._numerics import NJIT
from ._synapses import _deposit

__all__ = ["Axons", "build_axons", "axon_step", "TERMINAL_SUFFIX", "AXON_PARAMS"]

#: Spikes arriving at the muscle are recorded as the node set "<population>.terminal".
TERMINAL_SUFFIX = ".terminal"
#: Per-axon parameters written with the population's parameters.
AXON_PARAMS = ("axon_conduction_velocity_m_per_s", "axon_length_mm")
_NEVER = -(1 << 40)

# site indices on every axon
SOMA, LESION = 0, 1
# counters in Axons.stats
BIRTHS, BLOCKED, COLLISIONS, EPHAPTIC, INVASIONS, OVERFLOW = range(6)
STAT_NAMES = ("births", "blocked_births", "collisions", "ephaptic_excitations",
              "soma_invasions", "pending_overflow")


@dataclass
class Axons:
    """Every array of the axon model; empty (``n == 0``) when no population has axons."""

    neuron: np.ndarray        # (A,) int64 global neuron index of each axon
    axon_of: np.ndarray       # (n_neurons,) int64, -1 for neurons without an axon
    end: np.ndarray           # (A,) int64 position of the endplates
    refractory: np.ndarray    # (A,) int64 steps
    site: np.ndarray          # (A, S) int64 positions: 0 soma, 1 lesion (-1: none), inputs
    last: np.ndarray          # (A, S) int64 step of the last excitation of each site
    pos: np.ndarray           # (A, K) int64 positions of the spikes in flight
    direction: np.ndarray     # (A, K) int64 +1 orthodromic, -1 antidromic
    count: np.ndarray         # (A,) int64 spikes in flight
    active: np.ndarray        # (A,) int64 axons with spikes, first n_active[0] valid
    active_at: np.ndarray     # (A,) int64 index in ``active``, -1 if idle
    n_active: np.ndarray      # (1,) int64
    term_node: np.ndarray     # (A,) int64 node id of the axon's terminal spikes
    eph_ptr: np.ndarray       # (A+1,) int64 CSR of couplings by source axon
    eph_post: np.ndarray      # (E,) int64
    eph_delay: np.ndarray     # (E,) int64 steps
    eph_p: np.ndarray         # (E,) float64 transmission probability
    ad_p: np.ndarray          # (A,) float64 after-discharge probability
    ad_n: np.ndarray          # (A,) int64 after-discharges per train
    ad_interval: np.ndarray   # (A,) int64 steps
    pend_step: np.ndarray     # (C,) int64 pending excitations of lesion sites
    pend_axon: np.ndarray     # (C,) int64
    pend_left: np.ndarray     # (C,) int64 after-discharges still to follow (0: ephaptic)
    n_pend: np.ndarray        # (1,) int64
    in_ptr: np.ndarray        # (n_source_nodes+1,) int64 CSR: source node -> births
    in_axon: np.ndarray       # int64
    in_site: np.ndarray       # int64
    seed: np.ndarray          # (1,) uint64
    stats: np.ndarray         # (len(STAT_NAMES),) int64
    pop_names: list           # populations with axons, in node order
    pop_first: np.ndarray     # (P_axon+1,) first axon of each such population

    @property
    def n(self) -> int:
        return int(self.neuron.size)

    def kernel_args(self) -> tuple:
        return (self.neuron, self.axon_of, self.end, self.refractory, self.site, self.last,
                self.pos, self.direction, self.count, self.active, self.active_at,
                self.n_active, self.term_node, self.eph_ptr, self.eph_post, self.eph_delay,
                self.eph_p, self.ad_p, self.ad_n, self.ad_interval, self.pend_step,
                self.pend_axon, self.pend_left, self.n_pend, self.in_ptr, self.in_axon,
                self.in_site, self.seed, self.stats)


def build_axons(cfg, net) -> Axons:
    """Positions, couplings and input maps of every axon of ``net`` (a network whose
    populations, sources and parameters are built)."""
    from .build import draw, rng_for, to_steps

    dt = net.dt_ms
    seed = cfg.simulation.seed
    n = net.n_neurons
    pops = [p for p in net.pop_names if cfg.populations[p].axon is not None]
    sizes = [cfg.populations[p].size for p in pops]
    first = np.zeros(len(pops) + 1, np.int64)
    np.cumsum(sizes, out=first[1:])
    A = int(first[-1])
    axon_first = {p: int(first[i]) for i, p in enumerate(pops)}
    neuron = np.concatenate([np.arange(*net.node_range(p)) for p in pops]
                            ) if pops else np.empty(0, np.int64)
    axon_of = np.full(n, -1, np.int64)
    axon_of[neuron] = np.arange(A)

    # inputs get one site each per target population, after soma and lesion
    inputs = [(name, a) for name, a in cfg.axon_inputs.items()]
    n_sites = 2 + len(inputs)
    step_mm = np.zeros(A)  # distance travelled per step, mm
    end = np.zeros(A, np.int64)
    refr = np.zeros(A, np.int64)
    site = np.full((A, n_sites), -1, np.int64)
    ad_p, ad_n, ad_iv = np.zeros(A), np.ones(A, np.int64), np.ones(A, np.int64)
    for p in pops:
        ax = cfg.populations[p].axon
        a0, size = axon_first[p], cfg.populations[p].size
        sl = slice(a0, a0 + size)
        cv = draw(ax.conduction_velocity_m_per_s, size,
                  rng_for(seed, f"param/{p}/axon/conduction_velocity_m_per_s"))
        length = draw(ax.length_mm, size, rng_for(seed, f"param/{p}/axon/length_mm"))
        net.params[p]["axon_conduction_velocity_m_per_s"] = cv
        net.params[p]["axon_length_mm"] = length
        step_mm[sl] = cv * dt
        end[sl] = np.maximum(1, to_steps(length / step_mm[sl], 1.0))
        refr[sl] = max(1, int(to_steps(ax.refractory_ms, dt)))
        site[sl, SOMA] = 0
        if ax.lesion_mm is not None:
            site[sl, LESION] = np.minimum(to_steps(ax.lesion_mm / step_mm[sl], 1.0),
                                          end[sl] - 1)
        ad_p[sl] = ax.afterdischarge_probability
        ad_n[sl] = ax.afterdischarge_spikes
        ad_iv[sl] = max(1, int(to_steps(ax.afterdischarge_interval_ms, dt)))

    # axon inputs: source node -> (axon, site) births
    n_src_nodes = net.n_nodes - n
    per_node: list[list[tuple[int, int]]] = [[] for _ in range(n_src_nodes)]
    for j, (name, a) in enumerate(inputs):
        size = cfg.populations[a.target].size
        local = np.arange(size) if a.axons == "all" else np.asarray(a.axons, np.int64)
        axons = local + axon_first[a.target]
        if a.at_mm == "lesion":
            s = LESION
        else:
            s = 2 + j
            site[axons, s] = np.minimum(to_steps(a.at_mm / step_mm[axons], 1.0), end[axons])
        s0, s1 = net.node_range(a.source)
        for g in range(s1 - s0):
            targets = axons if s1 - s0 == 1 else axons[g:g + 1]
            per_node[s0 - n + g].extend((int(x), s) for x in targets)
    in_ptr = np.zeros(n_src_nodes + 1, np.int64)
    np.cumsum([len(x) for x in per_node], out=in_ptr[1:])
    flat = [t for x in per_node for t in x]
    in_axon = np.array([t[0] for t in flat], np.int64)
    in_site = np.array([t[1] for t in flat], np.int64)

    # ephaptic couplings, CSR by the axon whose lesion is excited
    pre_l, post_l, delay_l, p_l = [], [], [], []
    for name, e in cfg.ephapses.items():
        rng = rng_for(seed, f"ephapse/{name}")
        npre, npost = cfg.populations[e.pre].size, cfg.populations[e.post].size
        mask = rng.random((npre, npost)) < e.probability
        if e.pre == e.post:  # no self-coupling; a two-way pair is drawn once
            mask = np.triu(mask, 1) if e.bidirectional else mask & ~np.eye(npre, dtype=bool)
        i, j = np.nonzero(mask)
        i, j = i + axon_first[e.pre], j + axon_first[e.post]
        pairs = [(i, j)] + ([(j, i)] if e.bidirectional else [])
        for a, b in pairs:
            pre_l.append(a)
            post_l.append(b)
            delay_l.append(np.full(a.size, max(1, int(to_steps(e.delay_ms, dt)))))
            p_l.append(np.full(a.size, e.transmission))
    if pre_l:
        pre, post = np.concatenate(pre_l), np.concatenate(post_l)
        delay, prob = np.concatenate(delay_l), np.concatenate(p_l)
        order = np.argsort(pre, kind="stable")
        pre, post, delay, prob = pre[order], post[order], delay[order], prob[order]
    else:
        pre = post = delay = np.empty(0, np.int64)
        prob = np.empty(0)
    eph_ptr = np.zeros(A + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=A), out=eph_ptr[1:])

    # capacities: spikes per axon, and pending lesion excitations
    slots = int(2 * (np.max(end // refr) + 2)) if A else 1
    degree = np.diff(eph_ptr)
    longest = max(int(delay.max()) if delay.size else 0,
                  int(np.max(ad_iv)) if A else 0)
    per_axon = (longest // refr + 2) * (degree + np.where(ad_p > 0, 1, 0))
    cap = int(per_axon.sum()) + 16 if A else 1

    term0 = net.n_nodes
    return Axons(
        neuron=neuron.astype(np.int64), axon_of=axon_of, end=end, refractory=refr,
        site=site, last=np.full((A, n_sites), _NEVER, np.int64),
        pos=np.zeros((A, slots), np.int64), direction=np.zeros((A, slots), np.int64),
        count=np.zeros(A, np.int64), active=np.zeros(A, np.int64),
        active_at=np.full(A, -1, np.int64), n_active=np.zeros(1, np.int64),
        term_node=term0 + np.arange(A, dtype=np.int64),
        eph_ptr=eph_ptr, eph_post=post.astype(np.int64), eph_delay=delay.astype(np.int64),
        eph_p=prob.astype(np.float64), ad_p=ad_p, ad_n=ad_n, ad_interval=ad_iv,
        pend_step=np.zeros(cap, np.int64), pend_axon=np.zeros(cap, np.int64),
        pend_left=np.zeros(cap, np.int64), n_pend=np.zeros(1, np.int64),
        in_ptr=in_ptr, in_axon=in_axon, in_site=in_site,
        seed=np.array([zlib.crc32(b"axons") ^ (seed & 0xFFFFFFFFFFFF)], np.uint64),
        stats=np.zeros(len(STAT_NAMES), np.int64), pop_names=pops, pop_first=first)


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------
@njit(**NJIT)
def _mix(x):
    """splitmix64 finaliser: a well-mixed 64-bit hash of ``x``."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(**NJIT)
def _uniform(seed, k, a, c):
    """A uniform number in [0, 1) for (step ``k``, axon ``a``, coupling ``c``)."""
    h = _mix(seed ^ _mix(np.uint64(k) * np.uint64(0x9E3779B97F4A7C15)
                         + _mix(np.uint64(a) + (np.uint64(c) << np.uint64(32)))))
    return (h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(**NJIT)
def _add_spike(ax, a, p, d):
    pos, direction, count, active, active_at, n_active = ax[6], ax[7], ax[8], ax[9], \
        ax[10], ax[11]
    c = count[a]
    pos[a, c] = p
    direction[a, c] = d
    count[a] = c + 1
    if c == 0:
        active_at[a] = n_active[0]
        active[n_active[0]] = a
        n_active[0] += 1


@njit(**NJIT)
def _pend(ax, k, a, left):
    """Schedule an excitation of axon ``a``'s lesion at step ``k`` (``left`` > 0: an
    after-discharge, with ``left - 1`` more to follow)."""
    pend_step, pend_axon, pend_left, n_pend, stats = ax[20], ax[21], ax[22], ax[23], ax[28]
    m = n_pend[0]
    if m >= pend_step.size:
        stats[OVERFLOW] += 1  # reported (and raised) by the driver
        return
    pend_step[m] = k
    pend_axon[m] = a
    pend_left[m] = left
    n_pend[0] = m + 1


@njit(**NJIT)
def _excite_lesion(ax, k, a, may_start_train):
    """The lesion site of axon ``a`` was excited at step ``k`` (a spike passed or was
    born there): ephaptic transmission to the coupled axons and, by chance (not for an
    after-discharge itself), a train of after-discharges."""
    eph_ptr, eph_post, eph_delay, eph_p = ax[13], ax[14], ax[15], ax[16]
    ad_p, ad_n, ad_interval, seed = ax[17], ax[18], ax[19], ax[27]
    for c in range(eph_ptr[a], eph_ptr[a + 1]):
        if eph_p[c] >= 1.0 or _uniform(seed[0], k, a, c + 1) < eph_p[c]:
            _pend(ax, k + eph_delay[c], eph_post[c], 0)
    if may_start_train and ad_p[a] > 0.0 and _uniform(seed[0], k, a, 0) < ad_p[a]:
        _pend(ax, k + ad_interval[a], a, ad_n[a])


@njit(**NJIT)
def birth(ax, k, a, s, may_start_train=True):
    """Excite site ``s`` of axon ``a`` at step ``k``. Returns True if spikes were born,
    False if the site was refractory."""
    end, refractory, site, last, stats = ax[2], ax[3], ax[4], ax[5], ax[28]
    if k - last[a, s] < refractory[a]:
        stats[BLOCKED] += 1
        return False
    p = site[a, s]
    for q in range(site.shape[1]):  # sites may coincide: all of them are excited
        if site[a, q] == p:
            last[a, q] = k
    stats[BIRTHS] += 1
    if p < end[a]:
        _add_spike(ax, a, p, 1)
    if p > 0 and s != SOMA:
        _add_spike(ax, a, p, -1)
    if s == LESION or site[a, LESION] == p:
        _excite_lesion(ax, k, a, may_start_train)
    return True


@njit(**NJIT)
def move(ax, k, nrn, st, record, spk_step, spk_node, n_spk, exc, inh, ring_exc, ring_inh):
    """Advance every spike in flight to step ``k``: collisions, sites passed, arrivals at
    the soma (collaterals, invasion) and at the muscle. Returns the new ``n_spk``."""
    (neuron, axon_of, end, refractory, site, last, pos, direction, count, active,
     active_at, n_active) = ax[:12]
    term_node, stats = ax[12], ax[28]
    v, g_exc, g_inh, g_ahp, refractory_left = st[0], st[1], st[2], st[3], st[5]
    reset, refractory_steps, ahp_increment = nrn[4], nrn[5], nrn[7]
    n_sites = site.shape[1]
    j = 0
    while j < n_active[0]:
        a = active[j]
        c = count[a]
        both = False
        for s in range(c):
            pos[a, s] += direction[a, s]
            both = both or direction[a, s] != direction[a, 0]
        if both:  # collisions: opposite spikes whose order reversed (or who met)
            for s in range(c):
                if direction[a, s] != 1:
                    continue
                for r in range(c):
                    if direction[a, r] == -1 and pos[a, s] - 1 < pos[a, r] + 1 \
                            and pos[a, s] >= pos[a, r]:
                        direction[a, s] = 0
                        direction[a, r] = 0
                        stats[COLLISIONS] += 1
                        break
        for s in range(c):
            d = direction[a, s]
            p = pos[a, s]
            if d == -1 and p <= 0:  # arrival at the soma and its collaterals
                direction[a, s] = 0
                last[a, SOMA] = k
                i = neuron[a]
                _deposit(i, k, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc)
                _deposit(i, k, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh)
                if refractory_left[i] == 0:  # invasion
                    v[i] = reset[i]
                    refractory_left[i] = max(refractory_steps[i] - 1, 0)
                    g_ahp[i] += ahp_increment[i]
                    stats[INVASIONS] += 1
                    if record[i]:
                        spk_step[n_spk] = k
                        spk_node[n_spk] = i
                        n_spk += 1
            elif d == 1 and p >= end[a]:  # arrival at the muscle
                direction[a, s] = 0
                t = term_node[a]
                if record[t]:
                    spk_step[n_spk] = k
                    spk_node[n_spk] = t
                    n_spk += 1
            elif d != 0:
                for q in range(1, n_sites):
                    if site[a, q] == p:
                        last[a, q] = k
                if site[a, LESION] == p:
                    _excite_lesion(ax, k, a, True)
        m = 0  # compact the survivors
        for s in range(c):
            if direction[a, s] != 0:
                pos[a, m] = pos[a, s]
                direction[a, m] = direction[a, s]
                m += 1
        count[a] = m
        if m == 0:  # idle: swap-remove from the active list (j now holds another axon)
            moved = active[n_active[0] - 1]
            active[j] = moved
            active_at[moved] = j
            active_at[a] = -1
            n_active[0] -= 1
        else:
            j += 1
    return n_spk


@njit(**NJIT)
def due(ax, k):
    """Births of the lesion excitations due at step ``k``: ephaptic transmission and
    after-discharges."""
    pend_step, pend_axon, pend_left, n_pend = ax[20], ax[21], ax[22], ax[23]
    ad_interval, stats = ax[19], ax[28]
    m = 0
    while m < n_pend[0]:
        if pend_step[m] != k:
            m += 1
            continue
        a, left = pend_axon[m], pend_left[m]
        last = n_pend[0] - 1  # swap-remove first: births append new entries
        pend_step[m] = pend_step[last]
        pend_axon[m] = pend_axon[last]
        pend_left[m] = pend_left[last]
        n_pend[0] = last
        if left == 0:
            if birth(ax, k, a, LESION):
                stats[EPHAPTIC] += 1
        else:  # one after-discharge; the train goes on even when one is blocked
            birth(ax, k, a, LESION, False)
            if left > 1:
                _pend(ax, k + ad_interval[a], a, left - 1)


@njit(**NJIT)
def axon_step(ax, k, nrn, st, spiked, record, spk_step, spk_node, n_spk, exc, inh,
              ring_exc, ring_inh):
    """The axon part of step ``k``: spikes in flight move, soma spikes of the last update
    enter their axons (and reach the collaterals unless blocked), pending lesion
    excitations are born. Returns the new ``n_spk``."""
    neuron, n_active, n_pend = ax[0], ax[11], ax[23]
    g_exc, g_inh = st[1], st[2]
    if n_active[0]:
        n_spk = move(ax, k, nrn, st, record, spk_step, spk_node, n_spk, exc, inh,
                     ring_exc, ring_inh)
    for a in range(neuron.size):
        i = neuron[a]
        if spiked[i] and birth(ax, k, a, SOMA):
            _deposit(i, k, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc)
            _deposit(i, k, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh)
    if n_pend[0]:
        due(ax, k)
    return n_spk


@njit(**NJIT)
def inputs(ax, k, node, n_neurons):
    """Births at the sites that source ``node``'s spike at step ``k`` excites."""
    in_ptr, in_axon, in_site = ax[24], ax[25], ax[26]
    j = node - n_neurons
    for m in range(in_ptr[j], in_ptr[j + 1]):
        birth(ax, k, in_axon[m], in_site[m])
