#!/usr/bin/env python
"""Cross-check mnsim against Brian2 on the spinal reference network, seed by seed.

    .venv/bin/python benchmarks/compare_spinal.py                       # 4 seeds x 2 s
    .venv/bin/python benchmarks/compare_spinal.py --seeds 1 2 3 4 5 6 --target cpp_standalone
    BENCH_PEER_PYTHON=/work/bench-venv/bin/python .venv/bin/python benchmarks/compare_spinal.py

Both simulators read benchmarks/networks/spinal.toml (Brian2 through
benchmarks/peers/brian2_spinal.py, in its own interpreter: BENCH_PEER_PYTHON). For each
seed the network is simulated once in each; the table gives, per population and source,
the mean rate +- sd across seeds, the ratio mnsim / Brian2 and the difference in units
of its standard error. A second table compares the firing-rate profile across the
motoneuron pool (tenths of the pool, smallest units first), and the last lines give the
wall times. Exit status 1 if any population's mean rates differ by more than --tolerance.
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


def mnsim_run(config: Path, duration_ms: float, seed: int) -> dict:
    """One mnsim run in this process: rates per population and source, timings."""
    import mnsim

    cfg = mnsim.load_config(config, [f"simulation.seed={seed}",
                                     f"simulation.duration_ms={duration_ms}"])
    t0_s = time.perf_counter()
    res = mnsim.simulate(cfg)
    total_time_s = time.perf_counter() - t0_s
    table = res.rates()
    quarter_ms = duration_ms / 4
    quarters = {name: [float(res.rates(t_start_ms=q * quarter_ms, t_stop_ms=(q + 1) * quarter_ms
                                       if q < 3 else None).loc[name, "rate_Hz"])
                       for q in range(4)] for name in table.index}
    deciles = {}
    for name in cfg.populations:
        per_neuron = res.rates(name).to_numpy()
        deciles[name] = [float(x.mean()) for x in np.array_split(per_neuron, 10)]
    return {"simulator": "mnsim", "seed": seed, "duration_ms": duration_ms,
            "sim_time_s": res.wall_time_s, "total_time_s": total_time_s,
            "rates_Hz": table["rate_Hz"].astype(float).to_dict(),
            "n_spikes": table["spikes"].astype(int).to_dict(),
            "rate_quarters_Hz": quarters, "rate_deciles_Hz": deciles}


def brian2_targets() -> tuple[str, ...]:
    """Brian2 targets of the peer ("numpy" needs no compiler, for a quick look only)."""
    from benchmarks.peers.brian2_spinal import TARGETS

    return TARGETS


def summarise(runs: list[dict], key: str) -> dict[str, np.ndarray]:
    """Per name, the values of ``runs[i][key][name]`` stacked over seeds."""
    names = runs[0][key]
    return {n: np.array([r[key][n] for r in runs], float) for n in names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=SPINAL)
    ap.add_argument("--duration-ms", type=float, default=2000.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--target", default="cython", choices=brian2_targets(),
                    help="Brian2 code generation target")
    ap.add_argument("--tolerance", type=float, default=0.05,
                    help="largest accepted relative difference of mean rates")
    ap.add_argument("--json", type=Path, help="also write every run's result here")
    args = ap.parse_args(argv)

    from benchmarks.peers import brian2_spinal

    mn_runs, b2_runs = [], []
    for seed in args.seeds:
        mn_runs.append(mnsim_run(args.config, args.duration_ms, seed))
        b2_runs.append(brian2_spinal.run(args.duration_ms, args.target, seed=seed,
                                         config=args.config))
        print(f"seed {seed}: mnsim {mn_runs[-1]['sim_time_s']:.2f} s, "
              f"brian2 ({args.target}) {b2_runs[-1]['sim_time_s']:.2f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"mnsim": mn_runs, "brian2": b2_runs}, indent=1))

    n = len(args.seeds)
    mn_rates, b2_rates = summarise(mn_runs, "rates_Hz"), summarise(b2_runs, "rates_Hz")
    print(f"\nMean rate (Hz) over {n} seeds x {args.duration_ms:g} ms, mean +- sd across "
          f"seeds; z = difference / its standard error")
    print(f"{'population':<16}{'mnsim':>16}{'brian2':>16}{'ratio':>8}{'z':>7}")
    worst = 0.0  # largest relative difference over the populations (not the sources)
    for name in mn_rates:
        a, b = mn_rates[name], b2_rates[name]
        if b.mean() > 0:
            ratio = a.mean() / b.mean()
        else:  # a population silent in Brian2 agrees only if it is silent in mnsim too
            ratio = 1.0 if a.mean() == 0 else np.inf
        se = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n) if n > 1 else np.nan
        z = (a.mean() - b.mean()) / se if se > 0 else np.nan
        if name in mn_runs[0]["rate_deciles_Hz"]:
            worst = max(worst, abs(ratio - 1.0))
        kind = "" if name in mn_runs[0]["rate_deciles_Hz"] else " (source)"
        print(f"{name + kind:<16}{a.mean():>9.3f} +-{a.std(ddof=1):6.3f}"
              f"{b.mean():>9.3f} +-{b.std(ddof=1):6.3f}{ratio:>8.4f}{z:>7.2f}")

    mn_dec, b2_dec = summarise(mn_runs, "rate_deciles_Hz"), summarise(b2_runs,
                                                                      "rate_deciles_Hz")
    for name in mn_dec:
        print(f"\n{name}: mean rate (Hz) of each tenth of the population, neuron 0 first")
        print("  mnsim  " + " ".join(f"{x:6.2f}" for x in mn_dec[name].mean(axis=0)))
        print("  brian2 " + " ".join(f"{x:6.2f}" for x in b2_dec[name].mean(axis=0)))

    mn_q, b2_q = summarise(mn_runs, "rate_quarters_Hz"), summarise(b2_runs, "rate_quarters_Hz")
    print(f"\nRate (Hz) in each quarter of the run, mean over seeds")
    print(f"{'population':<16}{'mnsim':>28}   {'brian2':>28}")
    for name in mn_q:
        print(f"{name:<16}" + "".join(f"{x:7.2f}" for x in mn_q[name].mean(axis=0)) + "   "
              + "".join(f"{x:7.2f}" for x in b2_q[name].mean(axis=0)))

    def times(runs: list[dict], key: str) -> str:
        x = np.array([r[key] for r in runs])
        return f"{x.mean():.2f} s (min {x.min():.2f})"

    print(f"\nWall time per {args.duration_ms:g}-ms run")
    print(f"  mnsim  simulation {times(mn_runs, 'sim_time_s')}, "
          f"build + simulation {times(mn_runs, 'total_time_s')}")
    print(f"  brian2 ({args.target}) simulation {times(b2_runs, 'sim_time_s')}, "
          f"construction + code generation + simulation {times(b2_runs, 'total_time_s')}")
    ok = worst <= args.tolerance
    print(f"\nlargest relative difference of mean rates: {100 * worst:.2f} % "
          f"({'within' if ok else 'OUTSIDE'} {100 * args.tolerance:g} %)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
