#!/usr/bin/env python
"""Cross-check mnsim against Brian2 on the spinal reference network, seed by seed.

    .venv/bin/python benchmarks/compare_spinal.py                       # 4 seeds x 2 s
    .venv/bin/python benchmarks/compare_spinal.py --seeds 1 2 3 4 5 6 --target cpp_standalone
    BENCH_PEER_PYTHON=/work/bench-venv/bin/python .venv/bin/python benchmarks/compare_spinal.py

Both simulators read benchmarks/networks/spinal.toml (Brian2 through
benchmarks/peers/brian2_spinal.py, in its own interpreter: BENCH_PEER_PYTHON), and the
same statistics (``brian2_spinal.activity``) are computed from both sets of spikes. For
each seed the network is simulated once in each simulator. Printed, as mean +- sd across
seeds:

* the mean rate per population and source, the ratio mnsim / Brian2 and the difference
  in units of its standard error (z);
* the synchrony of each population (Fano factor of its spike count in 5-ms bins);
* the rate in each quarter of the run (steady, no runaway);
* the rate profile across each population (tenths, neuron 0 first: for the motoneuron
  pool, smallest units first);
* the wall times.

Exit status 1 if the mean rates of a population differ by more than --tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPINAL = ROOT / "benchmarks" / "networks" / "spinal.toml"

from benchmarks.peers import brian2_spinal  # noqa: E402  (needs ROOT on sys.path)


def mnsim_run(config: Path, duration_ms: float, seed: int) -> dict:
    """One mnsim run in this process: activity per population and source, timings."""
    import mnsim

    cfg = mnsim.load_config(config, [f"simulation.seed={seed}",
                                     f"simulation.duration_ms={duration_ms}"])
    t0_s = time.perf_counter()
    res = mnsim.simulate(cfg)
    total_time_s = time.perf_counter() - t0_s
    sizes = cfg.node_sizes()
    stats = {}
    for name in res.rates().index:
        times_ms, ids = res.spike_arrays(name)
        stats[name] = brian2_spinal.activity(times_ms, ids, sizes[name], duration_ms,
                                             cfg.simulation.dt_ms)
    return {"simulator": "mnsim", "seed": seed, "duration_ms": duration_ms,
            "sim_time_s": res.wall_time_s, "total_time_s": total_time_s,
            "activity": stats, "rates_Hz": {k: a["rate_Hz"] for k, a in stats.items()}}


def stacked(runs: list[dict], name: str, key: str) -> np.ndarray:
    """``activity[name][key]`` of every run (one row per seed)."""
    return np.array([r["activity"][name][key] for r in runs], float)


def mean_sd(x: np.ndarray) -> str:
    """``mean +- sd`` across seeds (sample sd)."""
    return f"{x.mean():8.3f} +-{x.std(ddof=1) if x.size > 1 else np.nan:6.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=SPINAL)
    ap.add_argument("--duration-ms", type=float, default=2000.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--target", default="cython", choices=brian2_spinal.TARGETS,
                    help="Brian2 code generation target (numpy: no compiler, slow)")
    ap.add_argument("--tolerance", type=float, default=0.05,
                    help="largest accepted relative difference of mean rates")
    ap.add_argument("--json", type=Path, help="also write every run's result here")
    args = ap.parse_args(argv)

    mn_runs, b2_runs = [], []
    for seed in args.seeds:
        mn_runs.append(mnsim_run(args.config, args.duration_ms, seed))
        b2_runs.append(brian2_spinal.run(args.duration_ms, args.target, seed=seed,
                                         config=args.config))
        print(f"seed {seed}: simulation mnsim {mn_runs[-1]['sim_time_s']:.2f} s, "
              f"brian2 ({args.target}) {b2_runs[-1]['sim_time_s']:.2f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"mnsim": mn_runs, "brian2": b2_runs}, indent=1))

    n = len(args.seeds)
    names = list(mn_runs[0]["activity"])
    populations = set(brian2_spinal.load_spinal(args.config)["populations"])
    label = {k: k if k in populations else f"{k} (source)" for k in names}

    print(f"\nMean rate (Hz) over {n} seeds x {args.duration_ms:g} ms, mean +- sd across "
          f"seeds; z = difference / its standard error")
    print(f"{'':<14}{'mnsim':>17}{'brian2':>17}{'ratio':>8}{'z':>7}")
    worst = 0.0  # largest relative difference over the populations (not the sources)
    for name in names:
        a, b = stacked(mn_runs, name, "rate_Hz"), stacked(b2_runs, name, "rate_Hz")
        if b.mean() > 0:
            ratio = a.mean() / b.mean()
        else:  # a population silent in Brian2 agrees only if it is silent in mnsim too
            ratio = 1.0 if a.mean() == 0 else np.inf
        se = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n) if n > 1 else np.nan
        z = (a.mean() - b.mean()) / se if se > 0 else np.nan
        if name in populations:
            worst = max(worst, abs(ratio - 1.0))
        print(f"{label[name]:<14}{mean_sd(a):>17}{mean_sd(b):>17}{ratio:>8.4f}{z:>7.2f}")

    print(f"\nSynchrony: Fano factor of the population spike count in "
          f"{brian2_spinal.SYNC_BIN_ms:g}-ms bins after {brian2_spinal.ONSET_ms:g} ms "
          f"(1 = independent neurons)")
    print(f"{'':<14}{'mnsim':>17}{'brian2':>17}{'ratio':>8}")
    for name in names:
        a, b = stacked(mn_runs, name, "fano_5ms"), stacked(b2_runs, name, "fano_5ms")
        print(f"{label[name]:<14}{mean_sd(a):>17}{mean_sd(b):>17}{a.mean() / b.mean():>8.3f}")

    print("\nRate (Hz) in each quarter of the run, mean over seeds")
    print(f"{'':<14}{'mnsim':>28}   {'brian2':>28}")
    for name in names:
        a = stacked(mn_runs, name, "rate_quarters_Hz").mean(axis=0)
        b = stacked(b2_runs, name, "rate_quarters_Hz").mean(axis=0)
        print(f"{label[name]:<14}" + "".join(f"{x:7.2f}" for x in a) + "   "
              + "".join(f"{x:7.2f}" for x in b))

    print("\nRate (Hz) of each tenth of a population (neuron 0 first), mean over seeds")
    for name in names:
        if name not in populations:
            continue
        a = stacked(mn_runs, name, "rate_deciles_Hz").mean(axis=0)
        b = stacked(b2_runs, name, "rate_deciles_Hz").mean(axis=0)
        print(f"{name:<5} mnsim  " + " ".join(f"{x:6.2f}" for x in a))
        print(f"{'':<5} brian2 " + " ".join(f"{x:6.2f}" for x in b))

    def times(runs: list[dict], key: str) -> str:
        x = np.array([r[key] for r in runs])
        return f"median {np.median(x):.2f} s (min {x.min():.2f}, max {x.max():.2f})"

    print(f"\nWall time per {args.duration_ms:g}-ms run (the first mnsim run also loads the "
          f"compiled kernels)")
    print(f"  mnsim  simulation {times(mn_runs, 'sim_time_s')}")
    print(f"         build + simulation {times(mn_runs, 'total_time_s')}")
    print(f"  brian2 ({args.target}) simulation {times(b2_runs, 'sim_time_s')}")
    print(f"         construction + code generation + compilation + simulation "
          f"{times(b2_runs, 'total_time_s')}")
    ok = worst <= args.tolerance
    print(f"\nlargest relative difference of population mean rates: {100 * worst:.2f} % "
          f"({'within' if ok else 'OUTSIDE'} {100 * args.tolerance:g} %)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
