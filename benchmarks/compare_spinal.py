#!/usr/bin/env python
"""Cross-check mnsim against Brian2 on the spinal reference network, seed by seed.

    .venv/bin/python benchmarks/compare_spinal.py            # configs/sci_spasm.toml, 4 seeds
    .venv/bin/python benchmarks/compare_spinal.py --seeds 1 2 3 4 5 6 --target cpp_standalone
    .venv/bin/python benchmarks/compare_spinal.py --connectivity mnsim   # the very same network
    .venv/bin/python benchmarks/compare_spinal.py --config configs/healthy.toml
    BENCH_PEER_PYTHON=/work/bench-venv/bin/python .venv/bin/python benchmarks/compare_spinal.py

Both simulators read the same config (default configs/sci_spasm.toml, the spinal
reference network: a brief cutaneous train at t = 1 s triggers a spasm). mnsim runs it
directly; Brian2 through benchmarks/peers/brian2_config.py, in its own interpreter
(BENCH_PEER_PYTHON). The same statistics (``brian2_config.activity``) are computed from
both sets of spikes. For each seed the network is simulated once in each simulator.
Printed, as mean +- sd across seeds:

* the mean rate per population and source, the ratio mnsim / Brian2 and the difference
  in units of its standard error (z);
* if the config has a ``train`` source (the stimulus): the spasm. For every population,
  its spikes before the stimulus and how long it keeps firing after it
  (``brian2_config.response``: the episode that starts within 100 ms of the stimulus,
  until the first silence of 200 ms; "censored" if it still runs at the end of the
  run), and whether each simulator shows the spasm of the scenario: the motoneuron
  pool (--pool) silent before the stimulus and firing for at least --spasm-min-ms
  after it;
* the rate of each population over time (bins of ``brian2_config.TIME_BIN_ms``);
* the synchrony of each population (Fano factor of its spike count in 5-ms bins);
* the rate profile across each population (tenths, neuron 0 first: for the motoneuron
  pool, smallest units first);
* with ``--connectivity mnsim`` (Brian2 runs mnsim's own draws of the connectivity, so
  both simulate the same network): how long the two spike trains stay identical and the
  fraction of spikes matched within one step;
* the wall times.

With ``--connectivity brian2`` (default) the two simulators run two independent samples
of the network (connectivity, weights and delays drawn by each), so per-seed results
differ by the network realisation and only their statistics across seeds compare.

Exit status 1 if the mean rates of a population differ by more than --tolerance, or if
the two simulators disagree on the spasm in any seed.
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
CONFIG = ROOT / "configs" / "sci_spasm.toml"

from benchmarks.peers import brian2_config  # noqa: E402  (needs ROOT on sys.path)


def mnsim_run(config: Path, duration_ms: float | None, seed: int, stimulus_ms: float | None
              ) -> dict:
    """One mnsim run in this process: activity per population and source, spikes (in
    steps), timings."""
    import mnsim

    overrides = [f"simulation.seed={seed}"]
    if duration_ms is not None:
        overrides.append(f"simulation.duration_ms={duration_ms}")
    cfg = mnsim.load_config(config, overrides)
    duration_ms = cfg.simulation.duration_ms
    dt_ms = cfg.simulation.dt_ms
    t0_s = time.perf_counter()
    res = mnsim.simulate(cfg)
    total_time_s = time.perf_counter() - t0_s
    sizes = cfg.node_sizes()
    stats, spikes = {}, {}
    for name in res.rates().index:
        times_ms, ids = res.spike_arrays(name)
        stats[name] = brian2_config.activity(times_ms, ids, sizes[name], duration_ms,
                                             dt_ms, stimulus_ms)
        spikes[name] = [np.rint(np.asarray(times_ms) / dt_ms).astype(np.int64),
                        np.asarray(ids, np.int64)]
    return {"simulator": "mnsim", "seed": seed, "duration_ms": duration_ms,
            "sim_time_s": res.wall_time_s, "total_time_s": total_time_s,
            "activity": stats, "rates_Hz": {k: a["rate_Hz"] for k, a in stats.items()},
            "spikes": spikes}


def stacked(runs: list[dict], name: str, key: str) -> np.ndarray:
    """``activity[name][key]`` of every run (one row per seed)."""
    return np.array([r["activity"][name][key] for r in runs], float)


def mean_sd(x: np.ndarray) -> str:
    """``mean +- sd`` across seeds (sample sd)."""
    return f"{x.mean():8.3f} +-{x.std(ddof=1) if x.size > 1 else np.nan:6.3f}"


def has_spasm(activity: dict, pool: str, spasm_min_ms: float) -> bool:
    """The pool is silent before the stimulus and fires for ``spasm_min_ms`` after it."""
    a = activity[pool]
    return a["spikes_before_stimulus"] == 0 and a["response_ms"] >= spasm_min_ms


def spike_agreement(a: list, b: list) -> tuple[int | None, float]:
    """Two spike trains of one population, each ``[steps, ids]``: the step of the first
    spike (in time order) that differs, None if none does, and the fraction of the
    spikes of ``a`` that ``b`` has in the same neuron within one step."""
    ka = sorted(zip(*(np.asarray(x).tolist() for x in a)))
    kb = sorted(zip(*(np.asarray(x).tolist() for x in b)))
    first = next((min(x[0], y[0]) for x, y in zip(ka, kb) if x != y), None)
    if first is None and len(ka) != len(kb):
        first = (ka[len(kb)] if len(ka) > len(kb) else kb[len(ka)])[0]
    if not ka:
        return first, float("nan")
    big = 1 << 32
    key_b = np.sort(np.array([i * big + s for s, i in kb], np.int64))
    key_a = np.array([i * big + s for s, i in ka], np.int64)
    pos = np.clip(np.searchsorted(key_b, key_a), 1, max(1, key_b.size - 1))
    if key_b.size == 0:
        return first, 0.0
    near = np.minimum(np.abs(key_b[pos] - key_a), np.abs(key_b[pos - 1] - key_a))
    return first, float(np.mean(near <= 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--duration-ms", type=float, default=None,
                    help="default: simulation.duration_ms of the config")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--target", default="cython", choices=brian2_config.TARGETS,
                    help="Brian2 code generation target (numpy: no compiler, slow)")
    ap.add_argument("--connectivity", default="brian2", choices=brian2_config.CONNECTIVITY,
                    help="who draws Brian2's connectivity: Brian2 itself (an independent "
                         "sample of the network) or mnsim's streams (the same network)")
    ap.add_argument("--tolerance", type=float, default=0.05,
                    help="largest accepted relative difference of mean rates")
    ap.add_argument("--pool", default="mn", help="the motoneuron population")
    ap.add_argument("--spasm-min-ms", type=float, default=1000.0,
                    help="a spasm: the pool fires at least this long after the stimulus")
    ap.add_argument("--json", type=Path, help="also write every run's result here")
    args = ap.parse_args(argv)

    raw = brian2_config.load_config(args.config)
    populations = set(raw["populations"])
    stim = brian2_config.stimulus_ms(raw)
    same_network = args.connectivity == "mnsim"
    mn_runs, b2_runs = [], []
    for seed in args.seeds:
        mn_runs.append(mnsim_run(args.config, args.duration_ms, seed, stim))
        b2_runs.append(brian2_config.run(args.duration_ms, args.target, seed=seed,
                                         config=args.config, connectivity=args.connectivity,
                                         spikes=same_network))
        print(f"seed {seed}: simulation mnsim {mn_runs[-1]['sim_time_s']:.2f} s, "
              f"brian2 ({args.target}) {b2_runs[-1]['sim_time_s']:.2f} s", flush=True)
    duration_ms = mn_runs[0]["duration_ms"]
    if args.json:
        def jsonable(r: dict) -> dict:
            return {k: v for k, v in r.items() if k != "spikes"}
        args.json.write_text(json.dumps({"mnsim": [jsonable(r) for r in mn_runs],
                                         "brian2": [jsonable(r) for r in b2_runs]},
                                        indent=1))

    n = len(args.seeds)
    names = list(mn_runs[0]["activity"])
    label = {k: k if k in populations else f"{k} (source)" for k in names}
    sample = ("the same network (mnsim's connectivity draws)" if same_network else
              "independent samples of the network (connectivity drawn by each simulator)")
    print(f"\n{args.config.name}: {n} seeds x {duration_ms:g} ms, {sample}")

    print("\nMean rate (Hz), mean +- sd across seeds; z = difference / its standard error")
    print(f"{'':<20}{'mnsim':>17}{'brian2':>17}{'ratio':>8}{'z':>7}")
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
        print(f"{label[name]:<20}{mean_sd(a):>17}{mean_sd(b):>17}{ratio:>8.4f}{z:>7.2f}")

    spasm_ok = True
    if stim is not None:
        print(f"\nResponse to the stimulus at {stim:g} ms: spikes before it, and how long "
              f"each population fires after it (ms; episode starting within "
              f"{brian2_config.RESPONSE_ONSET_ms:g} ms, ended by "
              f"{brian2_config.RESPONSE_GAP_ms:g} ms of silence; '>' = still firing "
              f"at the end of the run in that many seeds)")
        print(f"{'':<10}{'mnsim: before':>15}{'after':>20}   "
              f"{'brian2: before':>15}{'after':>20}")
        for name in names:
            if name not in populations:
                continue
            cols = []
            for runs in (mn_runs, b2_runs):
                before = stacked(runs, name, "spikes_before_stimulus")
                dur = stacked(runs, name, "response_ms")
                cens = int(stacked(runs, name, "response_censored").sum())
                cols.append(f"{before.mean():15.1f}{mean_sd(dur):>20}"
                            f"{(' >' + str(cens)) if cens else '':<3}")
            print(f"{name:<10}" + "".join(cols))
        if args.pool in populations:
            mn_spasm = [has_spasm(r["activity"], args.pool, args.spasm_min_ms)
                        for r in mn_runs]
            b2_spasm = [has_spasm(r["activity"], args.pool, args.spasm_min_ms)
                        for r in b2_runs]
            spasm_ok = mn_spasm == b2_spasm
            print(f"spasm ('{args.pool}' silent before the stimulus, firing >= "
                  f"{args.spasm_min_ms:g} ms after it): mnsim in {sum(mn_spasm)}/{n} "
                  f"seeds, brian2 in {sum(b2_spasm)}/{n} seeds"
                  f"{'' if spasm_ok else ' (DISAGREE)'}")

    bin_ms = brian2_config.TIME_BIN_ms
    print(f"\nRate (Hz) in {bin_ms:g}-ms bins, mean over seeds (first row mnsim, second "
          f"brian2)")
    for name in names:
        a = stacked(mn_runs, name, "rate_bins_Hz").mean(axis=0)
        b = stacked(b2_runs, name, "rate_bins_Hz").mean(axis=0)
        print(f"{name:<10} mnsim  " + " ".join(f"{x:6.1f}" for x in a))
        print(f"{'':<10} brian2 " + " ".join(f"{x:6.1f}" for x in b))

    print(f"\nSynchrony: Fano factor of the population spike count in "
          f"{brian2_config.SYNC_BIN_ms:g}-ms bins after {brian2_config.ONSET_ms:g} ms "
          f"(1 = independent neurons)")
    print(f"{'':<20}{'mnsim':>17}{'brian2':>17}{'ratio':>8}")
    for name in names:
        a, b = stacked(mn_runs, name, "fano_5ms"), stacked(b2_runs, name, "fano_5ms")
        print(f"{label[name]:<20}{mean_sd(a):>17}{mean_sd(b):>17}{a.mean() / b.mean():>8.3f}")

    print("\nRate (Hz) of each tenth of a population (neuron 0 first), mean over seeds")
    for name in names:
        if name not in populations:
            continue
        a = stacked(mn_runs, name, "rate_deciles_Hz").mean(axis=0)
        b = stacked(b2_runs, name, "rate_deciles_Hz").mean(axis=0)
        print(f"{name:<10} mnsim  " + " ".join(f"{x:6.2f}" for x in a))
        print(f"{'':<10} brian2 " + " ".join(f"{x:6.2f}" for x in b))

    if same_network:
        dt_ms = float(raw["simulation"].get("dt_ms", 0.1))
        print("\nSame network, spike by spike: the first spike that differs (ms; '-' if "
              "none) and the fraction of mnsim's spikes that Brian2 has within one step")
        for seed, m, b in zip(args.seeds, mn_runs, b2_runs):
            parts = []
            for name in names:
                first, frac = spike_agreement(m["spikes"][name], b["spikes"][name])
                shown = "-" if first is None else f"{first * dt_ms:.1f}"
                parts.append(f"{name} {shown} / {100 * frac:.1f} %")
            print(f"  seed {seed}: " + ", ".join(parts))

    def times(runs: list[dict], key: str) -> str:
        x = np.array([r[key] for r in runs])
        return f"median {np.median(x):.2f} s (min {x.min():.2f}, max {x.max():.2f})"

    print(f"\nWall time per {duration_ms:g}-ms run (the first mnsim run also loads the "
          f"compiled kernels)")
    print(f"  mnsim  simulation {times(mn_runs, 'sim_time_s')}")
    print(f"         build + simulation {times(mn_runs, 'total_time_s')}")
    print(f"  brian2 ({args.target}) simulation {times(b2_runs, 'sim_time_s')}")
    print(f"         construction + code generation + compilation + simulation "
          f"{times(b2_runs, 'total_time_s')}")
    ok = worst <= args.tolerance
    print(f"\nlargest relative difference of population mean rates: {100 * worst:.2f} % "
          f"({'within' if ok else 'OUTSIDE'} {100 * args.tolerance:g} %)")
    return 0 if ok and spasm_ok else 1


if __name__ == "__main__":
    sys.exit(main())
