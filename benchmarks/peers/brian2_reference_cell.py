"""Write tests/data/brian2_single_cell.json: one conductance-based LIF cell in Brian2,
driven by scheduled excitatory and inhibitory spikes and a bias current, integrated with
exponential Euler at dt = 0.1 ms. tests/test_neuron.py replays the same input in mnsim
and compares the membrane potential sample by sample (an independent simulator check).

    BENCH python: python -m benchmarks.peers.brian2_reference_cell   (needs brian2)

Conventions differ by one step, and the test accounts for it: a Brian2 spike generator
firing at t acts on its targets from t + dt (it fires after the state update of its
step), an mnsim source spike at t acts from t; Brian2 stamps a neuron's spike with the
start of the step in which it crossed threshold, mnsim with the end.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "brian2_single_cell.json"
CELL = dict(capacitance_pF=200.0, leak_conductance_nS=10.0, leak_reversal_mV=-60.0,
            threshold_mV=-50.0, reset_mV=-60.0, refractory_ms=5.0, exc_reversal_mV=0.0,
            inh_reversal_mV=-80.0, exc_tau_ms=5.0, inh_tau_ms=10.0, bias_current_nA=0.05)
W_EXC_nS, W_INH_nS, DURATION_ms = 6.0, 30.0, 300.0


def main() -> None:
    import brian2 as b2
    from brian2 import mV, ms

    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * ms
    c = CELL
    eqs = f"""
    dv/dt = ({c['leak_conductance_nS']}*nS*({c['leak_reversal_mV']}*mV - v)
             + ge*({c['exc_reversal_mV']}*mV - v) + gi*({c['inh_reversal_mV']}*mV - v)
             + {c['bias_current_nA']}*nA) / ({c['capacitance_pF']}*pF) : volt (unless refractory)
    dge/dt = -ge / ({c['exc_tau_ms']}*ms) : siemens
    dgi/dt = -gi / ({c['inh_tau_ms']}*ms) : siemens
    """
    cell = b2.NeuronGroup(1, eqs, threshold=f"v > {c['threshold_mV']}*mV",
                          reset=f"v = {c['reset_mV']}*mV", refractory=c["refractory_ms"] * ms,
                          method="exponential_euler")
    cell.v = c["leak_reversal_mV"] * mV
    rng = np.random.default_rng(0)
    t_exc = np.sort(rng.choice(np.arange(1, 3000), 600, replace=False)) * 0.1
    t_inh = np.sort(rng.choice(np.arange(1, 3000), 100, replace=False)) * 0.1
    gen_e = b2.SpikeGeneratorGroup(1, np.zeros(t_exc.size, int), t_exc * ms)
    gen_i = b2.SpikeGeneratorGroup(1, np.zeros(t_inh.size, int), t_inh * ms)
    syn_e = b2.Synapses(gen_e, cell, on_pre=f"ge += {W_EXC_nS}*nS")
    syn_i = b2.Synapses(gen_i, cell, on_pre=f"gi += {W_INH_nS}*nS")
    syn_e.connect()
    syn_i.connect()
    vm = b2.StateMonitor(cell, "v", record=0)
    spikes = b2.SpikeMonitor(cell)
    b2.run(DURATION_ms * ms)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "simulator": f"brian2 {b2.__version__}", "method": "exponential_euler",
        "dt_ms": 0.1, "duration_ms": DURATION_ms, "cell": CELL, "w_exc_nS": W_EXC_nS,
        "w_inh_nS": W_INH_nS, "t_exc_ms": t_exc.tolist(), "t_inh_ms": t_inh.tolist(),
        "v_mV": np.round(np.asarray(vm.v[0] / mV), 12).tolist(),
        "spike_times_ms": np.asarray(spikes.t / ms).tolist()}))
    print(f"wrote {OUT} ({len(spikes.t)} spikes)")


if __name__ == "__main__":
    main()
