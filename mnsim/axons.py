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
from ._synapses import _deposit_scaled

__all__ = ["Axons", "build_axons", "axon_step", "TERMINAL_SUFFIX"]

#: Spikes arriving at the muscle are recorded as the node set "<population>.terminal".
TERMINAL_SUFFIX = ".terminal"
_NEVER = -(1 << 40)

# site indices on every axon
SOMA, LESION = 0, 1
# rows of Axons.ia (per-axon integers)
NEURON, END, REFR, TERM, AD_N, AD_IV, COUNT, ACTIVE, ACTIVE_AT = range(9)
# entries of Axons.state: two counters, then the event counts reported after the run
N_ACTIVE, N_PEND, SEED = 0, 1, 2
BIRTHS, BLOCKED, COLLISIONS, EPHAPTIC, INVASIONS, OVERFLOW = range(3, 9)
STAT_NAMES = ("births", "blocked_births", "collisions", "ephaptic_excitations",
              "soma_invasions", "pending_overflow")


@dataclass
class Axons:
    """Every array of the axon model; empty (``n == 0``) when no population has axons.

    The kernels take a dozen arrays rather than one per quantity: numba's compile time
    grows steeply with the number of arrays handed from function to function (29
    separate arrays took 7.5 s to compile, most of a cold start).
    """

    ia: np.ndarray        # (9, A) int64: rows NEURON ... ACTIVE_AT (see above)
    spk: np.ndarray       # (2, A, K) int64: position, direction (+1/-1; 0 = free slot)
    sites: np.ndarray     # (2, A, S) int64: site position (-1: none), step last excited
    eph_ptr: np.ndarray   # (A+1,) int64: CSR of ephaptic couplings by source axon
    eph_pd: np.ndarray    # (2, E) int64: coupled axon, delay in steps
    eph_p: np.ndarray     # (E,) float64: transmission probability
    ad_p: np.ndarray      # (A,) float64: after-discharge probability
    pend: np.ndarray      # (3, C) int64: pending lesion excitations: step, axon,
                          #   after-discharges still to follow (0: ephaptic)
    state: np.ndarray     # (9,) int64: N_ACTIVE, N_PEND, SEED, then STAT_NAMES counts
    in_ptr: np.ndarray    # (n_source_nodes+1,) int64: CSR, source node -> births
    in_as: np.ndarray     # (2, M) int64: axon, site of each birth
    axon_of: np.ndarray   # (n_neurons,) int64, -1 for neurons without an axon
    pop_names: list       # populations with axons, in node order
    pop_first: np.ndarray  # (P_axon+1,) first axon of each such population

    @property
    def n(self) -> int:
        return int(self.ia.shape[1])

    @property
    def stats(self) -> np.ndarray:
        """Event counts over the run, in the order of STAT_NAMES."""
        return self.state[BIRTHS:]

    def kernel_args(self) -> tuple:
        return (self.ia, self.spk, self.sites, self.eph_ptr, self.eph_pd, self.eph_p,
                self.ad_p, self.pend, self.state, self.in_ptr, self.in_as, self.axon_of)


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

    ia = np.zeros((9, A), np.int64)
    ia[NEURON], ia[END], ia[REFR] = neuron, end, refr
    ia[TERM] = net.n_nodes + np.arange(A)
    ia[AD_N], ia[AD_IV], ia[ACTIVE_AT] = ad_n, ad_iv, -1
    state = np.zeros(9, np.int64)
    state[SEED] = zlib.crc32(b"axons") ^ (seed & 0xFFFFFFFFFFFF)
    return Axons(
        ia=ia, spk=np.zeros((2, A, slots), np.int64),
        sites=np.stack([site, np.full_like(site, _NEVER)]),
        eph_ptr=eph_ptr, eph_pd=np.stack([post, delay]).astype(np.int64).reshape(2, -1),
        eph_p=prob.astype(np.float64), ad_p=ad_p, pend=np.zeros((3, cap), np.int64),
        state=state, in_ptr=in_ptr,
        in_as=np.stack([in_axon, in_site]).astype(np.int64).reshape(2, -1),
        axon_of=axon_of, pop_names=pops, pop_first=first)


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
def _add_spike(ia, spk, state, a, p, d):
    c = ia[COUNT, a]
    spk[0, a, c] = p
    spk[1, a, c] = d
    ia[COUNT, a] = c + 1
    if c == 0:
        ia[ACTIVE_AT, a] = state[N_ACTIVE]
        ia[ACTIVE, state[N_ACTIVE]] = a
        state[N_ACTIVE] += 1


@njit(**NJIT)
def _pend(pend, state, k, a, left):
    """Schedule an excitation of axon ``a``'s lesion at step ``k`` (``left`` > 0: an
    after-discharge, with ``left - 1`` more to follow)."""
    m = state[N_PEND]
    if m >= pend.shape[1]:
        state[OVERFLOW] += 1  # reported (and raised) by the driver
        return
    pend[0, m] = k
    pend[1, m] = a
    pend[2, m] = left
    state[N_PEND] = m + 1


@njit(**NJIT)
def _excite_lesion(ia, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, a, may_start_train):
    """The lesion site of axon ``a`` was excited at step ``k`` (a spike passed or was
    born there): ephaptic transmission to the coupled axons and, by chance (not for an
    after-discharge itself), a train of after-discharges."""
    seed = np.uint64(state[SEED])
    for c in range(eph_ptr[a], eph_ptr[a + 1]):
        if eph_p[c] >= 1.0 or _uniform(seed, k, a, c + 1) < eph_p[c]:
            _pend(pend, state, k + eph_pd[1, c], eph_pd[0, c], 0)
    if may_start_train and ad_p[a] > 0.0 and _uniform(seed, k, a, 0) < ad_p[a]:
        _pend(pend, state, k + ia[AD_IV, a], a, ia[AD_N, a])


@njit(**NJIT)
def birth(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, a, s,
          may_start_train):
    """Excite site ``s`` of axon ``a`` at step ``k``. Returns True if spikes were born,
    False if the site was refractory."""
    if k - sites[1, a, s] < ia[REFR, a]:
        state[BLOCKED] += 1
        return False
    p = sites[0, a, s]
    for q in range(sites.shape[2]):  # sites may coincide: all of them are excited
        if sites[0, a, q] == p:
            sites[1, a, q] = k
    state[BIRTHS] += 1
    if p < ia[END, a]:
        _add_spike(ia, spk, state, a, p, 1)
    if p > 0 and s != SOMA:
        _add_spike(ia, spk, state, a, p, -1)
    if s == LESION or sites[0, a, LESION] == p:
        _excite_lesion(ia, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, a,
                       may_start_train)
    return True


@njit(**NJIT)
def _invade(i, v, g_ahp, refractory_left, reset, refractory_steps, ahp_increment):
    """An antidromic spike reaches soma ``i``: it resets it unless it is refractory."""
    if refractory_left[i] != 0:
        return False
    v[i] = reset[i]
    refractory_left[i] = max(refractory_steps[i] - 1, 0)
    g_ahp[i] += ahp_increment[i]
    return True


@njit(**NJIT)
def move(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, soma, record,
         spk_step, spk_node, n_spk, exc, inh, ring_exc, ring_inh):
    """Advance every spike in flight to step ``k``: collisions, sites passed, arrivals at
    the soma (collaterals, invasion) and at the muscle. ``soma`` = (v, g_exc, g_inh,
    g_ahp, refractory_left, reset, refractory_steps, ahp_increment). Returns the new
    ``n_spk``."""
    v, g_exc, g_inh, g_ahp, refractory_left, reset, refractory_steps, ahp_increment = soma
    pos, direction = spk[0], spk[1]
    n_sites = sites.shape[2]
    j = 0
    while j < state[N_ACTIVE]:
        a = ia[ACTIVE, j]
        c = ia[COUNT, a]
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
                        state[COLLISIONS] += 1
                        break
        for s in range(c):
            d = direction[a, s]
            p = pos[a, s]
            if d == -1 and p <= 0:  # arrival at the soma and its collaterals
                direction[a, s] = 0
                sites[1, a, SOMA] = k
                i = ia[NEURON, a]
                _deposit_scaled(i, k, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc, 1.0)
                _deposit_scaled(i, k, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh, 1.0)
                if _invade(i, v, g_ahp, refractory_left, reset, refractory_steps,
                           ahp_increment):
                    state[INVASIONS] += 1
                    if record[i]:
                        spk_step[n_spk] = k
                        spk_node[n_spk] = i
                        n_spk += 1
            elif d == 1 and p >= ia[END, a]:  # arrival at the muscle
                direction[a, s] = 0
                t = ia[TERM, a]
                if record[t]:
                    spk_step[n_spk] = k
                    spk_node[n_spk] = t
                    n_spk += 1
            elif d != 0:
                for q in range(1, n_sites):
                    if sites[0, a, q] == p:
                        sites[1, a, q] = k
                if sites[0, a, LESION] == p:
                    _excite_lesion(ia, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, a,
                                   True)
        m = 0  # compact the survivors
        for s in range(c):
            if direction[a, s] != 0:
                pos[a, m] = pos[a, s]
                direction[a, m] = direction[a, s]
                m += 1
        ia[COUNT, a] = m
        if m == 0:  # idle: swap-remove from the active list (j now holds another axon)
            moved = ia[ACTIVE, state[N_ACTIVE] - 1]
            ia[ACTIVE, j] = moved
            ia[ACTIVE_AT, moved] = j
            ia[ACTIVE_AT, a] = -1
            state[N_ACTIVE] -= 1
        else:
            j += 1
    return n_spk


@njit(**NJIT)
def due(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k):
    """Births of the lesion excitations due at step ``k``: ephaptic transmission and
    after-discharges."""
    m = 0
    while m < state[N_PEND]:
        if pend[0, m] != k:
            m += 1
            continue
        a, left = pend[1, m], pend[2, m]
        last = state[N_PEND] - 1  # swap-remove first: births append new entries
        pend[0, m], pend[1, m], pend[2, m] = pend[0, last], pend[1, last], pend[2, last]
        state[N_PEND] = last
        if left == 0:
            if birth(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, a,
                     LESION, True):
                state[EPHAPTIC] += 1
        else:  # one after-discharge; the train goes on even when one is blocked
            birth(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, a, LESION,
                  False)
            if left > 1:
                _pend(pend, state, k + ia[AD_IV, a], a, left - 1)


@njit(**NJIT)
def axon_step(ax, k, soma, spiked, record, spk_step, spk_node, n_spk, exc, inh,
              ring_exc, ring_inh):
    """The axon part of step ``k``: spikes in flight move, soma spikes of the last update
    enter their axons (and reach the collaterals unless blocked), pending lesion
    excitations are born. Returns the new ``n_spk``."""
    ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state = ax[:9]
    g_exc, g_inh = soma[1], soma[2]
    if state[N_ACTIVE]:
        n_spk = move(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, soma,
                     record, spk_step, spk_node, n_spk, exc, inh, ring_exc, ring_inh)
    for a in range(ia.shape[1]):
        i = ia[NEURON, a]
        if spiked[i] and birth(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state,
                               k, a, SOMA, True):
            _deposit_scaled(i, k, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc, 1.0)
            _deposit_scaled(i, k, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh, 1.0)
    if state[N_PEND]:
        due(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k)
    return n_spk


@njit(**NJIT)
def inputs(ax, k, node, n_neurons):
    """Births at the sites that source ``node``'s spike at step ``k`` excites."""
    ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, in_ptr, in_as = ax[:11]
    j = node - n_neurons
    for m in range(in_ptr[j], in_ptr[j + 1]):
        birth(ia, spk, sites, eph_ptr, eph_pd, eph_p, ad_p, pend, state, k, in_as[0, m],
              in_as[1, m], True)
