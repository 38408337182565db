"""Slow, obvious reference implementations the compiled kernels are tested against."""

from __future__ import annotations

import numpy as np

from mnsim.build import Network, pwl_eval


def simulate_naive(net: Network) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Plain numpy time loop over the same built network, with np.exp and dense delivery.

    Follows the step order documented in :mod:`mnsim.engine`. Returns the recorded
    ``(spike_steps, spike_nodes)`` in the engine's order and the final state.
    """
    nr, p, s0 = net.neuron, net.pop, net.state
    n = net.n_neurons
    v, ge, gi, ga, m, h = (s0[k].copy() for k in ("v", "g_exc", "g_inh", "g_ahp", "pic_m",
                                                  "pic_h"))
    ref = s0["refractory_left"].astype(np.int64).copy()
    pop_of = np.repeat(np.arange(len(net.pop_names)), np.diff(net.pop_start))
    e_exc, e_inh, e_ahp, e_pic = (p[k][pop_of] for k in ("e_exc", "e_inh", "e_ahp", "e_pic"))
    d_exc, d_inh = p["exc_decay"][pop_of], p["inh_decay"][pop_of]
    n_slots = net.ring_exc.shape[0]
    ring = {"exc": np.zeros((n_slots, n)), "inh": np.zeros((n_slots, n))}
    syn = {"exc": net.exc, "inh": net.inh}

    g = {"exc": None, "inh": None}

    def deposit(node: int, k_arrive: int) -> None:
        # zero delay: straight into the conductance (it holds its value for k_arrive)
        for r, sy in syn.items():
            a, b = sy.indptr[node], sy.indptr[node + 1]
            for post, w, d in zip(sy.post[a:b], sy.weight[a:b], sy.delay[a:b]):
                if d == 0:
                    g[r][post] += w
                else:
                    ring[r][(k_arrive + d) % n_slots, post] += w

    ev = [src.events(0, net.n_steps) for src in net.sources]
    ev_step = np.concatenate([e[0] for e in ev]) if ev else np.empty(0, np.int64)
    ev_node = np.concatenate([e[1] for e in ev]) if ev else np.empty(0, np.int64)
    order = np.lexsort((ev_node, ev_step))
    ev_step, ev_node = ev_step[order], ev_node[order]
    out_step: list[int] = []
    out_node: list[int] = []
    rec = net.record_spikes
    j = 0
    for k in range(net.n_steps):
        g["exc"], g["inh"] = ge, gi  # deposit() adds into these arrays in place
        while j < ev_step.size and ev_step[j] == k:
            if rec[ev_node[j]]:
                out_step.append(k)
                out_node.append(int(ev_node[j]))
            deposit(int(ev_node[j]), k)
            j += 1
        i_inj = np.zeros(n)
        for t, val, ids in net.currents:
            i_inj[ids] += pwl_eval(t, val, np.array([k * net.dt_ms]))[0]
        slot = k % n_slots
        ge += ring["exc"][slot]
        gi += ring["inh"][slot]
        ring["exc"][slot] = 0.0
        ring["inh"][slot] = 0.0
        gp = nr["g_pic"] * m * h
        m_inf = 1.0 / (1.0 + np.exp(-(v - nr["pic_v_half"]) * nr["pic_inv_slope"]))
        m = m_inf + (m - m_inf) * nr["pic_decay"]
        with np.errstate(over="ignore"):
            h_inf = 1.0 / (1.0 + np.exp((v - nr["pic_h_v_half"]) * nr["pic_h_inv_slope"]))
        h = h_inf + (h - h_inf) * nr["pic_h_decay"]
        g_tot = nr["g_leak"] + ge + gi + ga + gp
        i_tot = (nr["g_leak_e_leak"] + ge * e_exc + gi * e_inh + ga * e_ahp + gp * e_pic
                 + nr["i_bias"] + i_inj)
        v_inf = i_tot / g_tot
        v = v_inf + (v - v_inf) * np.exp(-g_tot * nr["dt_over_c"])
        ge *= d_exc
        gi *= d_inh
        ge[ge <= 1e-12] = 0.0  # the engine's flush of decayed conductances
        gi[gi <= 1e-12] = 0.0
        held = ref > 0
        fire = ~held & (v > nr["threshold"])
        v = np.where(held | fire, nr["reset"], v)
        ref = np.where(fire, nr["refractory_steps"] - 1, np.where(held, ref - 1, 0))
        ga = ga * nr["ahp_decay"]
        ga = np.where(ga > 1e-12, ga, 0.0) + np.where(fire, nr["ahp_increment"], 0.0)
        g["exc"], g["inh"] = ge, gi
        for i in np.flatnonzero(fire):
            if rec[i]:
                out_step.append(k + 1)
                out_node.append(int(i))
            deposit(int(i), k + 1)
    state = {"v": v, "g_exc": ge, "g_inh": gi, "g_ahp": ga, "pic_m": m, "pic_h": h}
    return np.array(out_step, np.int64), np.array(out_node, np.int64), state
