"""COBA network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1) in Brian2.

``run()`` builds and simulates the network with either the C++ standalone
device ("cpp_standalone") or the runtime device with Cython code generation
("cython"), and returns timings and activity as a dict.  By default every call
runs in a fresh interpreter (see ``_isolate``), so calls can be repeated and
mixed freely; ``isolate=False`` runs in the current process.

CLI: python -m benchmarks.peers.brian2_coba --n 4000 --duration-ms 1000 --target cpp_standalone
"""
from __future__ import annotations

import argparse
import json
from time import perf_counter

from ._brian2_run import brian2_device, timed_run
from ._isolate import run_module

TARGETS = ("cpp_standalone", "cython")
DT_MS = 0.1
EXC_FRACTION = 0.8
MEAN_IN_DEGREE = 80.0

# Membrane clamped during refractoriness; conductances keep decaying.
EQUATIONS = """
dv/dt = (g_l*(e_l - v) + g_e*(e_e - v) + g_i*(e_i - v)) / c_m : volt (unless refractory)
dg_e/dt = -g_e / tau_e : siemens
dg_i/dt = -g_i / tau_i : siemens
"""


def run(n_neurons: int, duration_ms: float, target: str, threads: int = 1, seed: int = 1,
        *, warm_run: bool = True, fresh_cache: bool = False, isolate: bool = True,
        python: str | None = None) -> dict:
    """Simulate the COBA network; return timings (s), spike and synapse counts.

    ``sim_time_s`` is the simulation phase only: ``device._last_run_time`` for
    cpp_standalone; for cython the wall time of a second, warm ``run()`` from the
    same initial state (``warm_run=True``) or else of the first run.
    ``total_time_s`` spans network construction, code generation, compilation
    and the (first) simulation.  Brian2 caches compiled Cython modules on disk,
    so only the very first cython run on a machine compiles; ``fresh_cache=True``
    uses an empty cache so that this cost is always included.  ``threads > 1`` is
    only supported by cpp_standalone (OpenMP).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if threads < 1 or (target == "cython" and threads != 1):
        raise ValueError("cython (runtime) is single-threaded; threads must be 1")
    if isolate:
        args = ["--n", str(n_neurons), "--duration-ms", str(duration_ms), "--target", target,
                "--threads", str(threads), "--seed", str(seed)]
        args += ([] if warm_run else ["--no-warm-run"]) + (["--fresh-cache"] if fresh_cache else [])
        return run_module(__name__, args, python)
    return _simulate(n_neurons, duration_ms, target, threads, seed, warm_run, fresh_cache)


def _simulate(n_neurons: int, duration_ms: float, target: str, threads: int, seed: int,
              warm_run: bool, fresh_cache: bool) -> dict:
    """Build and run the network in this process (see ``run``)."""
    import brian2 as b2
    from brian2 import mV, ms, nS, pF

    with brian2_device(b2, target, threads, fresh_cache, "brian2_coba_") as build_dir:
        t_start_s = perf_counter()
        b2.defaultclock.dt = DT_MS * ms
        b2.seed(seed)
        namespace = dict(c_m=200 * pF, g_l=10 * nS, e_l=-60 * mV, e_e=0 * mV, e_i=-80 * mV,
                         tau_e=5 * ms, tau_i=10 * ms, v_th=-50 * mV, v_reset=-60 * mV)
        neurons = b2.NeuronGroup(n_neurons, EQUATIONS, threshold="v > v_th", reset="v = v_reset",
                                 refractory=5 * ms, method="exponential_euler",
                                 namespace=namespace)
        neurons.v = "-60*mV + 10*mV*rand()"
        neurons.g_e = "clip(40 + 15*randn(), 0, inf) * nS"
        neurons.g_i = "clip(200 + 120*randn(), 0, inf) * nS"

        n_exc = int(EXC_FRACTION * n_neurons)
        p_connect = MEAN_IN_DEGREE / n_neurons
        exc_syn = _random_synapses(b2, neurons[:n_exc], neurons, "g_e_post += 6*nS", 0, p_connect)
        inh_syn = _random_synapses(b2, neurons[n_exc:], neurons, "g_i_post += 67*nS", n_exc,
                                   p_connect)
        spikes = b2.SpikeMonitor(neurons, record=False)
        net = b2.Network(neurons, exc_syn, inh_syn, spikes)
        timing = timed_run(b2, net, duration_ms, build_dir, t_start_s, warm_run,
                           after_first=lambda: int(spikes.num_spikes))
        n_spikes = timing["first"]
        n_synapses = int(len(exc_syn) + len(inh_syn))
    sim_time_s, total_time_s = timing["sim_time_s"], timing["total_time_s"]
    first_run_time_s = timing["first_run_time_s"]

    return {
        "simulator": "brian2", "target": target, "threads": threads,
        "n_neurons": n_neurons, "duration_ms": duration_ms,
        "sim_time_s": sim_time_s, "total_time_s": total_time_s,
        "first_run_time_s": first_run_time_s,
        "n_spikes": n_spikes, "mean_rate_Hz": n_spikes / n_neurons / (duration_ms / 1000.0),
        "n_synapses": n_synapses,
    }


def _random_synapses(b2, pre, post, on_pre: str, pre_offset: int, p_connect: float):
    """Bernoulli(p_connect) synapses from subgroup ``pre`` to ``post``, no autapses.

    ``i`` counts within the subgroup, so ``pre_offset`` (its first index) makes
    the autapse test absolute.  Both numbers enter the generated code as names,
    not literals, so cached Cython code is reused for any network size.
    """
    syn = b2.Synapses(pre, post, on_pre=on_pre,
                      namespace={"pre_offset": pre_offset, "p_connect": p_connect})
    syn.connect(condition="i + pre_offset != j", p="p_connect")
    return syn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="number of neurons")
    parser.add_argument("--duration-ms", type=float, default=1000.0)
    parser.add_argument("--target", choices=TARGETS, default="cpp_standalone")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-warm-run", action="store_true", help="cython: one run only")
    parser.add_argument("--fresh-cache", action="store_true", help="cython: empty code cache")
    args = parser.parse_args(argv)
    result = run(args.n, args.duration_ms, args.target, args.threads, args.seed,
                 warm_run=not args.no_warm_run, fresh_cache=args.fresh_cache, isolate=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
