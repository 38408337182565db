"""The time loop: compiled kernels that advance a built :class:`~mnsim.build.Network`.

:func:`advance` runs a chunk of steps entirely inside numba (no Python per step). The
Python driver :func:`run` cuts the run into chunks, feeds each chunk its source spikes
and injected-current samples, and hands the recorded spikes and traces to a writer.

Per step ``k`` (time ``t = k dt``), in this order:

1. source spikes scheduled in step ``k`` are recorded and delivered: zero-delay weights
   straight into the conductances, the others into the ring slot of step ``k + delay``;
2. the ring slot of step ``k`` is added to the conductances and cleared;
3. injected currents take their value at ``t``; traces are sampled (the state at ``t``,
   including every input arriving at ``t``);
4. every neuron advances by one exponential-Euler step (exact for the membrane equation
   with the conductances frozen over the step), conductances decay exactly;
5. neurons above threshold (and not refractory) spike at ``t + dt``: reset, refractory,
   AHP increment, and delivery to step ``k + 1 + delay`` (zero delay: straight into the
   conductances, which already hold their values for step ``k + 1``).
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

import numpy as np
from numba import njit

from ._numerics import G_FLUSH_nS, NJIT, exp_neg, sigmoid
from . import axons as _ax
from ._synapses import _absorb, _deposit, _deposit_scaled
from .build import Network, TRACE_CODES, pwl_eval

__all__ = ["advance", "run", "Writer"]

#: Minimum capacity of the per-call spike buffer. When a step could overflow it, the
#: kernel returns early, the spikes go to the writer, and the chunk resumes.
SPIKE_BUFFER_MIN = 1 << 16


# The loops below index views sliced to one population, `for i in range(n)`: with a
# range starting at 0, LLVM proves i >= 0 and drops numba's negative-index wraparound,
# which otherwise blocks vectorisation (measured: 7 -> 2 ns per neuron-step, COBA).


@njit(**NJIT)
def _gate_pic(lo, hi, nrn, st):
    """Open PIC conductance for this step (``g_pic_open = g_pic m h``), then relax the
    activation ``m`` towards ``m_inf(V)`` and the inactivation ``h`` towards ``h_inf(V)``
    exactly for frozen V. Run only for populations with a PIC, so the membrane loop
    below stays free of branches and vectorises."""
    g_pic, v_half, inv_slope, decay = (nrn[9][lo:hi], nrn[10][lo:hi], nrn[11][lo:hi],
                                       nrn[12][lo:hi])
    h_half, h_inv_slope, h_decay = nrn[13][lo:hi], nrn[14][lo:hi], nrn[15][lo:hi]
    v, pic_m, g_open, pic_h = st[0][lo:hi], st[4][lo:hi], st[7][lo:hi], st[8][lo:hi]
    for i in range(hi - lo):
        m = pic_m[i]
        h = pic_h[i]
        g_open[i] = g_pic[i] * m * h
        m_inf = sigmoid((v[i] - v_half[i]) * inv_slope[i])
        pic_m[i] = m_inf + (m - m_inf) * decay[i]
        h_inf = sigmoid((h_half[i] - v[i]) * h_inv_slope[i])
        pic_h[i] = h_inf + (h - h_inf) * h_decay[i]


@njit(**NJIT)
def _update_population(lo, hi, e_exc, e_inh, e_ahp, e_pic, exc_decay, inh_decay, nrn, st,
                       spiked):
    """One exponential-Euler step for neurons ``lo..hi-1``; sets ``spiked[i]``.

    Membrane (pF, nS, mV, pA): C dV/dt = sum_x g_x (E_x - V) + I_bias + I_inj, solved
    exactly for frozen conductances: V <- V_inf + (V - V_inf) exp(-G dt / C).
    """
    dt_over_c, g_leak, g_leak_e_leak = nrn[0][lo:hi], nrn[1][lo:hi], nrn[2][lo:hi]
    threshold, reset, refractory_steps = nrn[3][lo:hi], nrn[4][lo:hi], nrn[5][lo:hi]
    i_bias, ahp_increment, ahp_decay = nrn[6][lo:hi], nrn[7][lo:hi], nrn[8][lo:hi]
    v, g_exc, g_inh, g_ahp = st[0][lo:hi], st[1][lo:hi], st[2][lo:hi], st[3][lo:hi]
    refractory_left, i_inj, g_pic_open = st[5][lo:hi], st[6][lo:hi], st[7][lo:hi]
    fired = spiked[lo:hi]
    for i in range(hi - lo):
        ge = g_exc[i]
        gi = g_inh[i]
        ga = g_ahp[i]
        gp = g_pic_open[i]
        g_tot = g_leak[i] + ge + gi + ga + gp
        i_tot = (g_leak_e_leak[i] + ge * e_exc + gi * e_inh + ga * e_ahp + gp * e_pic
                 + i_bias[i] + i_inj[i])
        v_inf = i_tot / g_tot
        vi = v_inf + (v[i] - v_inf) * exp_neg(g_tot * dt_over_c[i])
        # decayed conductances below G_FLUSH_nS are set to 0: left alone they become
        # denormal floats after ~30,000 silent steps, which are ~50x slower to compute
        ge *= exc_decay
        gi *= inh_decay
        g_exc[i] = ge if ge > G_FLUSH_nS else 0.0
        g_inh[i] = gi if gi > G_FLUSH_nS else 0.0
        held = refractory_left[i] > 0
        fire = (not held) and vi > threshold[i]
        v[i] = reset[i] if (held or fire) else vi
        refractory_left[i] = (refractory_steps[i] - 1 if fire
                              else (refractory_left[i] - 1 if held else 0))
        ga *= ahp_decay[i]
        g_ahp[i] = (ga if ga > G_FLUSH_nS else 0.0) + (ahp_increment[i] if fire else 0.0)
        fired[i] = fire


@njit(**NJIT)
def _update_uniform(lo, hi, par, e_exc, e_inh, exc_decay, inh_decay, st, spiked):
    """The same step for a population whose parameters are one value for all neurons and
    which has no AHP, PIC or injected current (e.g. COBA): parameters are scalars and
    half the arrays are never read, which halves the cost (2.2 -> 1.1 ns/neuron-step).

    ``par`` = (dt/C, g_L, g_L E_L, threshold, reset, refractory steps, I_bias in pA).
    """
    dt_over_c, g_leak, g_leak_e_leak, threshold, reset = par[0], par[1], par[2], par[3], \
        par[4]
    refractory_steps, i_bias = int(par[5]), par[6]
    v, g_exc, g_inh = st[0][lo:hi], st[1][lo:hi], st[2][lo:hi]
    refractory_left = st[5][lo:hi]
    fired = spiked[lo:hi]
    for i in range(hi - lo):
        ge = g_exc[i]
        gi = g_inh[i]
        g_tot = g_leak + ge + gi
        v_inf = (g_leak_e_leak + ge * e_exc + gi * e_inh + i_bias) / g_tot
        vi = v_inf + (v[i] - v_inf) * exp_neg(g_tot * dt_over_c)
        ge *= exc_decay
        gi *= inh_decay
        g_exc[i] = ge if ge > G_FLUSH_nS else 0.0
        g_inh[i] = gi if gi > G_FLUSH_nS else 0.0
        held = refractory_left[i] > 0
        fire = (not held) and vi > threshold
        v[i] = reset if (held or fire) else vi
        refractory_left[i] = (refractory_steps - 1 if fire
                              else (refractory_left[i] - 1 if held else 0))
        fired[i] = fire


@njit(**NJIT)
def _sample(k, st, tr_ids, tr_var, tr_ptr, tr_interval, tr_buf, tr_offset, tr_rows,
            tr_max_rows):
    """Copy the traced variables of the state at step ``k`` into the trace buffer."""
    for g in range(tr_interval.size):
        if k % tr_interval[g] != 0 or tr_rows[g] >= tr_max_rows[g]:
            continue
        c0, c1 = tr_ptr[g], tr_ptr[g + 1]
        base = tr_offset[g] + tr_rows[g] * (c1 - c0)
        for c in range(c0, c1):
            code = tr_var[c]
            i = tr_ids[c]
            # codes follow config.TRACE_VARIABLES
            if code == 0:
                val = st[0][i]
            elif code == 1:
                val = st[1][i]
            elif code == 2:
                val = st[2][i]
            elif code == 3:
                val = st[3][i]
            elif code == 4:
                val = st[4][i]
            elif code == 5:
                val = st[6][i] * 1e-3  # injected current, pA -> nA
            else:
                val = st[8][i]
            tr_buf[base + c - c0] = val
        tr_rows[g] += 1


@njit(**NJIT)
def _release(rel, j, k):
    """Scale of node ``j``'s spike at step ``k``: release gain x the resource x,
    which has recovered towards 1 since its last use and is then depleted by the
    fraction ``use`` (x_n = 1 - (1 - x_{n-1}(1 - u)) exp(-dt_n / tau))."""
    gain, use, rate_per_step, x, last_step = rel
    if use[j] > 0.0:
        xj = 1.0 - (1.0 - x[j]) * np.exp(-(k - last_step[j]) * rate_per_step[j])
        x[j] = xj * (1.0 - use[j])
        last_step[j] = k
        return gain[j] * xj
    return gain[j]


@njit(**NJIT)
def advance(k0, k1, nrn, pops, st, exc, inh, ring_exc, ring_inh, events, ev_ptr,
            currents, rec, n_spk, traces, spiked, ax, rel):
    """Advance the network from step ``k0`` up to (not including) step ``k1``.

    Returns ``(k, ev_ptr, n_spk)``: the step reached (``k1`` unless the spike buffer
    would overflow first), the next unread source event, and the spikes recorded.

    ``ax`` and ``rel`` are both None for a network without motor axons and without
    release gain or depression at any node: numba then compiles a version without that
    code (``is None`` is decided at compile time), because those calls, even never
    taken, slow the time loop by 15 %. Otherwise both are given (either may be idle).
    """
    (pop_start, e_exc, e_inh, e_ahp, e_pic, exc_decay, inh_decay, has_pic, delayed_exc,
     delayed_inh, uniform, uniform_par) = pops
    ev_step, ev_node = events
    cur_val, cur_k0, cur_ptr, cur_ids, inj_ids = currents
    record, spk_step, spk_node = rec
    tr_ids, tr_var, tr_ptr, tr_interval, tr_buf, tr_offset, tr_rows, tr_max_rows = traces
    n_neurons = pop_start[-1]
    n_slots = ring_exc.shape[0]
    cap = spk_step.size
    g_exc, g_inh, i_inj = st[1], st[2], st[6]
    n_axons = 0
    if ax is not None:
        axon_of, n_axons, axon_inputs = ax[11], ax[0].shape[1], ax[9][-1] > 0
        soma = (st[0], st[1], st[2], st[3], st[5], nrn[4], nrn[5], nrn[7])
    for k in range(k0, k1):
        # room for the worst case of this step: every neuron, two spikes per axon (at the
        # soma and at the muscle) and all the step's source events
        e_end = ev_ptr
        while e_end < ev_step.size and ev_step[e_end] == k:
            e_end += 1
        if n_spk + n_neurons + 2 * n_axons + (e_end - ev_ptr) > cap:
            return k, ev_ptr, n_spk
        # 0. motor axons: spikes in flight move, soma spikes enter the axons
        if ax is not None:
            n_spk = _ax.axon_step(ax, k, soma, spiked, record, spk_step, spk_node,
                                  n_spk, exc, inh, ring_exc, ring_inh)
        # 1. source spikes (timed at the start of step k)
        while ev_ptr < e_end:
            node = ev_node[ev_ptr]
            if record[node]:
                spk_step[n_spk] = k
                spk_node[n_spk] = node
                n_spk += 1
            if rel is None:
                _deposit(node, k, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc)
                _deposit(node, k, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh)
            else:  # presynaptic gain or depression at some fibres' terminals
                scale = _release(rel, node, k)
                _deposit_scaled(node, k, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc,
                                scale)
                _deposit_scaled(node, k, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh,
                                scale)
            if ax is not None:
                if axon_inputs:
                    _ax.inputs(ax, k, node, n_neurons)
            ev_ptr += 1
        # 2. delayed increments arriving at t = k dt
        slot = k % n_slots
        for p in range(pop_start.size - 1):
            if delayed_exc[p]:
                _absorb(pop_start[p], pop_start[p + 1], slot, ring_exc, g_exc)
            if delayed_inh[p]:
                _absorb(pop_start[p], pop_start[p + 1], slot, ring_inh, g_inh)
        # 3. injected currents at t, then traces of the state at t
        if cur_ptr.size > 1:
            for j in range(inj_ids.size):
                i_inj[inj_ids[j]] = 0.0
            row = k - cur_k0
            for p in range(cur_ptr.size - 1):
                val = cur_val[row, p]
                for j in range(cur_ptr[p], cur_ptr[p + 1]):
                    i_inj[cur_ids[j]] += val
        if tr_ids.size:
            _sample(k, st, tr_ids, tr_var, tr_ptr, tr_interval, tr_buf, tr_offset, tr_rows,
                    tr_max_rows)
        # 4. neuron update, population by population
        for p in range(pop_start.size - 1):
            lo, hi = pop_start[p], pop_start[p + 1]
            if uniform[p]:
                _update_uniform(lo, hi, uniform_par[p], e_exc[p], e_inh[p], exc_decay[p],
                                inh_decay[p], st, spiked)
                continue
            if has_pic[p]:
                _gate_pic(lo, hi, nrn, st)
            _update_population(lo, hi, e_exc[p], e_inh[p], e_ahp[p], e_pic[p],
                               exc_decay[p], inh_decay[p], nrn, st, spiked)
        # 5. neuron spikes (timed at the end of step k) arrive at step k + 1 + delay;
        # those of neurons with an axon enter it at step k + 1 (0. above), and reach the
        # collaterals from there
        for i in range(n_neurons):
            if spiked[i]:
                if record[i]:
                    spk_step[n_spk] = k + 1
                    spk_node[n_spk] = i
                    n_spk += 1
                if ax is None:
                    _deposit(i, k + 1, exc[0], exc[1], exc[2], exc[3], ring_exc, g_exc)
                    _deposit(i, k + 1, inh[0], inh[1], inh[2], inh[3], ring_inh, g_inh)
                elif axon_of[i] < 0:  # (neurons with an axon have no release keys)
                    scale = _release(rel, i, k + 1)
                    _deposit_scaled(i, k + 1, exc[0], exc[1], exc[2], exc[3], ring_exc,
                                    g_exc, scale)
                    _deposit_scaled(i, k + 1, inh[0], inh[1], inh[2], inh[3], ring_inh,
                                    g_inh, scale)
    return k1, ev_ptr, n_spk


class Writer(Protocol):
    """Where a run's output goes (HDF5 file or memory); see :mod:`mnsim.io`."""

    def begin(self, net: Network) -> None: ...
    def spikes(self, steps: np.ndarray, nodes: np.ndarray) -> None: ...
    def traces(self, group: int, start_row: int, rows: np.ndarray) -> None: ...
    def spike_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]: ...
    def muscle(self, name: str, pool: str, signals: dict[str, np.ndarray]) -> None: ...
    def finish(self, wall_time_s: float) -> None: ...


def _kernel_args(net: Network):
    nr = net.neuron
    nrn = (nr["dt_over_c"], nr["g_leak"], nr["g_leak_e_leak"], nr["threshold"], nr["reset"],
           nr["refractory_steps"], nr["i_bias"], nr["ahp_increment"], nr["ahp_decay"],
           nr["g_pic"], nr["pic_v_half"], nr["pic_inv_slope"], nr["pic_decay"],
           nr["pic_h_v_half"], nr["pic_h_inv_slope"], nr["pic_h_decay"])
    p = net.pop
    pops = (p["start"], p["e_exc"], p["e_inh"], p["e_ahp"], p["e_pic"], p["exc_decay"],
            p["inh_decay"], p["has_pic"], p["delayed_exc"], p["delayed_inh"], p["uniform"],
            p["uniform_par"])
    s = net.state
    st = (s["v"], s["g_exc"], s["g_inh"], s["g_ahp"], s["pic_m"], s["refractory_left"],
          s["i_inj"], s["g_pic_open"], s["pic_h"])
    syn = lambda x: (x.indptr, x.post, x.weight, x.delay)  # noqa: E731
    return nrn, pops, st, syn(net.exc), syn(net.inh)


def run(net: Network, writer: Writer, progress: Callable[[float], None] | None = None
        ) -> float:
    """Advance ``net`` over the whole run, streaming output chunk by chunk to ``writer``.

    ``progress`` is called after each chunk with the biological time simulated (ms).
    Returns the wall time in seconds. Memory is bounded by the chunk length: traces and
    spikes leave the process for the writer after every chunk. The caller finishes the
    writer (after adding any derived output, see :func:`mnsim.api.simulate`).
    """
    t_start = time.perf_counter()
    nrn, pops, st, exc, inh = _kernel_args(net)
    # motor axons and release modulation share one specialisation of the time loop (two
    # in all: fewer to compile), in which either may be idle
    r = net.release
    extended = net.axons.n > 0 or bool(r["modulated"].any())
    ax = net.axons.kernel_args() if extended else None
    rel = ((r["gain"], r["use"], r["rate_per_step"], r["x"], r["last_step"])
           if extended else None)
    n = net.n_neurons
    chunk = net.chunk_steps
    spiked = np.zeros(n, np.bool_)
    spk_step = np.empty(max(4 * n + 1024, SPIKE_BUFFER_MIN), np.int64)
    spk_node = np.empty(spk_step.size, np.int32)

    # currents: breakpoint values sampled per step of each chunk
    cur_ptr = np.zeros(len(net.currents) + 1, np.int64)
    np.cumsum([len(c[2]) for c in net.currents], out=cur_ptr[1:])
    cur_ids = (np.concatenate([c[2] for c in net.currents]) if net.currents
               else np.empty(0, np.int64))

    # traces: one flat buffer with a block per group, sized for one chunk
    groups = net.traces
    tr_ptr = np.zeros(len(groups) + 1, np.int64)
    np.cumsum([len(g.variables) * g.global_ids.size for g in groups], out=tr_ptr[1:])
    tr_ids = np.concatenate([np.tile(g.global_ids, len(g.variables)) for g in groups]
                            ) if groups else np.empty(0, np.int64)
    tr_var = np.concatenate([np.repeat([TRACE_CODES[v] for v in g.variables],
                                       g.global_ids.size) for g in groups]
                            ) if groups else np.empty(0, np.int64)
    tr_interval = np.array([g.interval_steps for g in groups], np.int64)
    tr_max_rows = np.array([chunk // g.interval_steps + 1 for g in groups], np.int64)
    sizes = (tr_ptr[1:] - tr_ptr[:-1]) * tr_max_rows
    tr_offset = np.zeros(len(groups), np.int64)
    if groups:
        tr_offset[1:] = np.cumsum(sizes)[:-1]
    tr_buf = np.zeros(int(sizes.sum()))
    tr_rows = np.zeros(len(groups), np.int64)
    rows_written = np.zeros(len(groups), np.int64)

    writer.begin(net)
    k = 0
    while k < net.n_steps:
        k_end = min(k + chunk, net.n_steps)
        ev = [s.events(k, k_end) for s in net.sources]
        if ev:
            steps = np.concatenate([e[0] for e in ev])
            nodes = np.concatenate([e[1] for e in ev])
            order = np.lexsort((nodes, steps))
            ev_step, ev_node = steps[order], nodes[order].astype(np.int64)
        else:
            ev_step, ev_node = np.empty(0, np.int64), np.empty(0, np.int64)
        # the kernel needs room for one whole step: every neuron plus that step's events
        busiest = int(np.bincount(ev_step - k).max()) if ev_step.size else 0
        if spk_step.size < n + 2 * net.axons.n + busiest:
            spk_step = np.empty(2 * (n + 2 * net.axons.n + busiest), np.int64)
            spk_node = np.empty(spk_step.size, np.int32)
        rec = (net.record_spikes, spk_step, spk_node)
        t_ms = np.arange(k, k_end) * net.dt_ms
        cur_val = np.empty((k_end - k, len(net.currents)))
        for j, (ct, cv, _) in enumerate(net.currents):
            cur_val[:, j] = pwl_eval(ct, cv, t_ms)
        currents = (cur_val, k, cur_ptr, cur_ids, net.inj_ids)
        ev_ptr = 0
        kk = k
        while kk < k_end:
            tr_rows[:] = 0
            traces = (tr_ids, tr_var, tr_ptr, tr_interval, tr_buf, tr_offset, tr_rows,
                      tr_max_rows)
            k_was = kk
            kk, ev_ptr, n_spk = advance(kk, k_end, nrn, pops, st, exc, inh, net.ring_exc,
                                        net.ring_inh, (ev_step, ev_node), ev_ptr, currents,
                                        rec, 0, traces, spiked, ax, rel)
            if kk == k_was:  # cannot happen with the sizing above; never loop forever
                raise RuntimeError(f"engine made no progress at step {kk}")
            if n_spk:
                writer.spikes(spk_step[:n_spk], spk_node[:n_spk])
            for g in range(len(groups)):
                if tr_rows[g]:
                    ncol = tr_ptr[g + 1] - tr_ptr[g]
                    block = tr_buf[tr_offset[g]:tr_offset[g] + tr_rows[g] * ncol]
                    writer.traces(g, int(rows_written[g]), block.reshape(tr_rows[g], ncol))
                    rows_written[g] += tr_rows[g]
        if net.axons.state[_ax.OVERFLOW]:  # sized from a proven bound: a bug if hit
            raise RuntimeError("axon model: pending lesion excitations overflowed")
        if not np.all(np.isfinite(st[0])):
            bad = int(np.flatnonzero(~np.isfinite(st[0]))[0])
            raise FloatingPointError(
                f"membrane potential became non-finite in neuron {bad} before "
                f"t = {k_end * net.dt_ms:g} ms; check conductances and dt_ms")
        k = k_end
        if progress is not None:
            progress(k * net.dt_ms)
    return time.perf_counter() - t_start
