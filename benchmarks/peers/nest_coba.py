"""COBA network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1) in NEST.

Uses ``iaf_cond_exp`` (exponential conductances, adaptive GSL integrator),
``pairwise_bernoulli`` connectivity without autapses and the minimal delay
(one time step).  Inhibitory weights are negative conductances, as NEST
expects.  By default every call runs in a fresh interpreter (see ``_isolate``);
``isolate=False`` runs in the current process (the kernel is reset first).

CLI: python -m benchmarks.peers.nest_coba --n 4000 --duration-ms 1000 --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
from time import perf_counter

from ._isolate import run_module

DT_MS = 0.1
EXC_FRACTION = 0.8
MEAN_IN_DEGREE = 80.0
W_EXC_NS = 6.0
W_INH_NS = -67.0  # negative: NEST routes it to the inhibitory conductance

NEURON_PARAMS = {
    "C_m": 200.0,       # pF
    "g_L": 10.0,        # nS
    "E_L": -60.0,       # mV
    "V_th": -50.0,      # mV
    "V_reset": -60.0,   # mV
    "t_ref": 5.0,       # ms
    "E_ex": 0.0,        # mV
    "E_in": -80.0,      # mV
    "tau_syn_ex": 5.0,  # ms
    "tau_syn_in": 10.0,  # ms
    "I_e": 0.0,         # pA
}


def run(n_neurons: int, duration_ms: float, threads: int = 1, seed: int = 1,
        *, isolate: bool = True, python: str | None = None) -> dict:
    """Simulate the COBA network; return timings (s), spike and synapse counts.

    ``sim_time_s`` is the wall time of ``nest.Simulate`` alone; ``total_time_s``
    also covers kernel reset, node creation, initial conditions and connection.
    """
    if threads < 1:
        raise ValueError("threads must be >= 1")
    if isolate:
        args = ["--n", str(n_neurons), "--duration-ms", str(duration_ms),
                "--threads", str(threads), "--seed", str(seed)]
        return run_module(__name__, args, python)
    return _simulate(n_neurons, duration_ms, threads, seed)


def _simulate(n_neurons: int, duration_ms: float, threads: int, seed: int) -> dict:
    """Build and run the network in this process (see ``run``)."""
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on import
    import nest
    import numpy as np

    nest.verbosity = nest.VerbosityLevel.ERROR
    t_start_s = perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT_MS, "local_num_threads": threads,
                          "rng_seed": seed, "print_time": False})

    neurons = nest.Create("iaf_cond_exp", n_neurons, params=NEURON_PARAMS)
    rng = np.random.default_rng(seed)
    neurons.set(V_m=rng.uniform(-60.0, -50.0, n_neurons),
                g_ex=np.clip(rng.normal(40.0, 15.0, n_neurons), 0.0, None),
                g_in=np.clip(rng.normal(200.0, 120.0, n_neurons), 0.0, None))

    n_exc = int(EXC_FRACTION * n_neurons)
    # Own synapse-model copies let us count the network's synapses cheaply.
    nest.CopyModel("static_synapse", "coba_exc", {"weight": W_EXC_NS, "delay": DT_MS})
    nest.CopyModel("static_synapse", "coba_inh", {"weight": W_INH_NS, "delay": DT_MS})
    rule = {"rule": "pairwise_bernoulli", "p": MEAN_IN_DEGREE / n_neurons,
            "allow_autapses": False}
    nest.Connect(neurons[:n_exc], neurons, rule, {"synapse_model": "coba_exc"})
    nest.Connect(neurons[n_exc:], neurons, rule, {"synapse_model": "coba_inh"})

    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)

    t_sim_s = perf_counter()
    nest.Simulate(duration_ms)
    sim_time_s = perf_counter() - t_sim_s
    total_time_s = perf_counter() - t_start_s

    n_spikes = int(recorder.n_events)
    n_synapses = int(nest.GetDefaults("coba_exc", "num_connections")
                     + nest.GetDefaults("coba_inh", "num_connections"))
    return {
        "simulator": "nest", "target": "iaf_cond_exp", "threads": threads,
        "n_neurons": n_neurons, "duration_ms": duration_ms,
        "sim_time_s": sim_time_s, "total_time_s": total_time_s,
        "n_spikes": n_spikes, "mean_rate_Hz": n_spikes / n_neurons / (duration_ms / 1000.0),
        "n_synapses": n_synapses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="number of neurons")
    parser.add_argument("--duration-ms", type=float, default=1000.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = run(args.n, args.duration_ms, args.threads, args.seed, isolate=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
