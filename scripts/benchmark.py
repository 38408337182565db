#!/usr/bin/env python
"""Speed of mnsim against Brian2 and NEST on the same networks, side by side, in one run.

    .venv/bin/python scripts/benchmark.py              # full: COBA-4000 x 10 s, scaling, RSS
    .venv/bin/python scripts/benchmark.py --quick      # shorter runs, same tables
    BENCH_PEER_PYTHON=/path/to/venv/bin/python scripts/benchmark.py --nest

Peers run in their own interpreter (``pip install -e .[bench]`` in this venv, or point
BENCH_PEER_PYTHON at a venv that has brian2 / nest-simulator). Missing peers are reported
and skipped. Every figure is measured in this run; ratios are mnsim / peer.

The spinal reference network is configs/sci_spasm.toml, run as mnsim runs it and
translated to Brian2 by benchmarks/peers/brian2_config.py (NEST has no PIC neuron).

Writes results/benchmark/{coba.csv, spinal.csv, coba_rates.csv, scaling.csv,
startup_memory.csv, scaling.png}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COBA = ROOT / "benchmarks" / "networks" / "coba.toml"
SPINAL = ROOT / "configs" / "sci_spasm.toml"  # the spinal reference network
OUT = ROOT / "results" / "benchmark"
MIN_ALIVE_HZ = 5.0  # COBA can die out after its opening burst for some draws


def coba_overrides(n: int, duration_ms: float, seed: int) -> list[str]:
    n_exc = int(0.8 * n)
    p = 80.0 / n
    return [f"populations.exc.size={n_exc}", f"populations.inh.size={n - n_exc}",
            f"simulation.duration_ms={duration_ms}", f"simulation.seed={seed}",
            f"simulation.chunk_ms={min(1000.0, duration_ms)}",
            *(f"projections.{k}.probability={p}" for k in ("ee", "ei", "ie", "ii"))]


# -- mnsim ------------------------------------------------------------------------------
def mnsim_coba(n: int, duration_ms: float, seed: int = 3, end_to_end: bool = False) -> dict:
    """Simulation-phase timing of COBA in this (warm) process; with ``end_to_end``, also
    the user's wait for the same run in a fresh process (``mnsim_end_to_end``)."""
    import mnsim
    from mnsim.build import build
    from mnsim.engine import run
    from mnsim.io import MemoryWriter

    for s in range(seed, seed + 5):
        cfg = mnsim.load_config(COBA, coba_overrides(n, duration_ms, s))
        t0 = time.perf_counter()
        net = build(cfg)
        t_build = time.perf_counter() - t0
        writer = MemoryWriter()
        sim = run(net, writer)
        n_spikes = sum(writer.spike_arrays(p)[0].size for p in ("exc", "inh"))
        rate = n_spikes / n / (duration_ms / 1000)
        if rate >= MIN_ALIVE_HZ:
            break
    n_syn = net.exc.size + net.inh.size
    return {"simulator": "mnsim", "target": "numba", "threads": 1, "n_neurons": n,
            "duration_ms": duration_ms, "seed": s, "sim_time_s": sim,
            "build_time_s": t_build, "n_spikes": int(n_spikes), "mean_rate_Hz": rate,
            "n_synapses": int(n_syn),
            "total_time_s": (mnsim_end_to_end(COBA, coba_overrides(n, duration_ms, s))
                             if end_to_end else np.nan)}


def _subprocess_seconds(code: str, env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return wall, proc.stdout


def mnsim_end_to_end(config: Path, overrides: list[str]) -> float:
    """What a user waits for one run, comparable to a peer's ``total_time_s``: a fresh
    process with a warm kernel cache, timed from after ``import mnsim`` to the end of
    ``mnsim.simulate`` (config, build, loading the compiled kernels, run, output in
    memory)."""
    code = textwrap.dedent(f"""
        import time
        import mnsim
        t0 = time.perf_counter()
        mnsim.simulate(mnsim.load_config({str(config)!r}, {overrides!r}))
        print(time.perf_counter() - t0)
    """)
    _, out = _subprocess_seconds(code)
    return float(out.split()[-1])


def mnsim_startup(tmp: Path) -> list[dict]:
    """Cold compile, cached start, and end-to-end user wait (fresh process, warm cache)."""
    cache = tmp / "numba_cache"
    tiny = textwrap.dedent(f"""
        import mnsim
        cfg = mnsim.load_config({str(COBA)!r}, {coba_overrides(100, 10.0, 3)!r})
        mnsim.simulate(cfg)
    """)
    cold, _ = _subprocess_seconds(tiny, {"NUMBA_CACHE_DIR": str(cache)})
    warm, _ = _subprocess_seconds(tiny, {"NUMBA_CACHE_DIR": str(cache)})
    e2e_code = textwrap.dedent(f"""
        import mnsim
        cfg = mnsim.load_config({str(COBA)!r}, {coba_overrides(4000, 2000.0, 3)!r})
        mnsim.simulate(cfg, {str(tmp / 'e2e.h5')!r}, overwrite=True)
    """)
    e2e, _ = _subprocess_seconds(e2e_code, {"NUMBA_CACHE_DIR": str(cache)})
    # every kernel: both specialisations of the time loop, the axon and muscle kernels
    every = textwrap.dedent("""
        from mnsim.sweep.executors import warm_kernels
        import mnsim
        warm_kernels(mnsim.load_config("configs/h_reflex.toml"))
    """)
    cold_all, _ = _subprocess_seconds(every, {"NUMBA_CACHE_DIR": str(tmp / "cache_all")})
    return [{"measure": "first COBA run, empty numba cache (compiles its kernels)",
             "value": cold, "unit": "s", "target": "< 15"},
            {"measure": "every kernel (plain, axons + release, muscle), empty cache",
             "value": cold_all, "unit": "s", "target": "< 15"},
            {"measure": "same run, second process (cache hit)", "value": warm, "unit": "s",
             "target": ""},
            {"measure": "end-to-end 2 s COBA-4000 to HDF5, fresh process, warm cache",
             "value": e2e, "unit": "s", "target": "< 3"}]


def mnsim_peak_rss(tmp: Path, duration_ms: float) -> list[dict]:
    """Peak RSS beyond interpreter + imports + compiled kernels, in a fresh process."""
    rows = []
    for label, traces in (("spikes only", False), ("+ v_mV of 100 neurons", True)):
        over = coba_overrides(4000, duration_ms, 3)
        if traces:
            over += ['recording.traces.v.population="exc"',
                     "recording.traces.v.neurons=" + json.dumps(list(range(100))),
                     "recording.traces.v.interval_ms=0.1"]
        code = textwrap.dedent(f"""
            import threading, time, mnsim

            def rss_kb():
                with open("/proc/self/status") as f:
                    return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

            small = mnsim.load_config({str(COBA)!r}, {coba_overrides(100, 10.0, 3)!r})
            mnsim.simulate(small)  # imports done, kernels loaded
            base = rss_kb()
            peak = [base]
            done = threading.Event()

            def watch():  # the run's own peak, not the import/compile peak
                while not done.is_set():
                    peak[0] = max(peak[0], rss_kb())
                    time.sleep(0.005)

            t = threading.Thread(target=watch)
            t.start()
            cfg = mnsim.load_config({str(COBA)!r}, {over!r})
            mnsim.simulate(cfg, {str(tmp / 'rss.h5')!r}, overwrite=True)
            done.set()
            t.join()
            print(base, max(peak[0], rss_kb()))
        """)
        _, out = _subprocess_seconds(code)
        base_kb, peak_kb = map(int, out.split())
        rows.append({"measure": f"peak RSS beyond imports, {duration_ms / 1000:g} s "
                                f"COBA-4000, {label}",
                     "value": (peak_kb - base_kb) / 1024, "unit": "MB", "target": "< 300"})
    return rows


# -- peers --------------------------------------------------------------------------------
def peer(kind: str, n: int, duration_ms: float, threads: int, target: str | None = None,
         seed: int = 1) -> dict | None:
    try:
        if kind == "brian2":
            from benchmarks.peers import brian2_coba
            for s in range(seed, seed + 5):
                r = brian2_coba.run(n, duration_ms, target, threads=threads, seed=s)
                if r["mean_rate_Hz"] >= MIN_ALIVE_HZ:
                    break
        else:
            from benchmarks.peers import nest_coba
            r = nest_coba.run(n, duration_ms, threads=threads, seed=seed)
        r["seed"] = s if kind == "brian2" else seed
        return r
    except Exception as exc:  # report and go on: a missing peer must not stop the run
        print(f"  [skipped {kind} {target or ''} x{threads}: "
              f"{str(exc).strip().splitlines()[-1][:160]}]")
        return None


def mnsim_spinal(seed: int, repeats: int = 3) -> dict:
    """The spinal reference network in this (warm) process: the median simulation-phase
    time of ``repeats`` runs, spikes and synaptic events (each spike of a neuron or
    source times its number of synapses) of the last."""
    import mnsim
    from mnsim.build import build
    from mnsim.engine import run
    from mnsim.io import MemoryWriter

    cfg = mnsim.load_config(SPINAL, [f"simulation.seed={seed}"])
    sims = []
    for _ in range(repeats):
        net = build(cfg)
        writer = MemoryWriter()
        sims.append(run(net, writer))
    out_degree = np.diff(net.exc.indptr) + np.diff(net.inh.indptr)
    rates, n_spikes, n_events = {}, 0, 0
    for name, size in cfg.node_sizes().items():
        _, ids = writer.spike_arrays(name)
        start, _ = net.node_range(name)
        n_events += int(out_degree[start + np.asarray(ids, np.int64)].sum())
        rates[name] = ids.size / size / (cfg.simulation.duration_ms / 1000)
        n_spikes += ids.size if name in cfg.populations else 0
    return {"simulator": "mnsim", "target": "numba", "threads": 1,
            "n_neurons": net.n_neurons, "duration_ms": cfg.simulation.duration_ms,
            "dt_ms": cfg.simulation.dt_ms, "seed": seed, "sim_time_s": float(np.median(sims)),
            "total_time_s": mnsim_end_to_end(SPINAL, [f"simulation.seed={seed}"]),
            "n_spikes": n_spikes, "n_syn_events": n_events,
            "n_synapses": int(net.exc.size + net.inh.size),
            **{f"rate_Hz.{k}": v for k, v in rates.items()}}


def spinal_rows(peers: bool) -> pd.DataFrame:
    """The spinal reference network (configs/sci_spasm.toml: motoneuron pool with AHP and
    PIC, premotor interneurons, Renshaw cells; a cutaneous train at 1 s triggers a
    spasm) in mnsim and Brian2, same seed, each simulator's own connectivity draw."""
    import mnsim

    cfg = mnsim.load_config(SPINAL)
    seed = cfg.simulation.seed
    mnsim.simulate(cfg)  # kernels loaded
    rows = [mnsim_spinal(seed)]
    if peers:
        from benchmarks.peers import brian2_config

        for target, threads in (("cpp_standalone", 1), ("cpp_standalone", 2), ("cython", 1)):
            try:
                r = brian2_config.run(None, target, threads=threads, seed=seed, config=SPINAL)
            except Exception as exc:
                print(f"  [skipped brian2 {target} x{threads}: "
                      f"{str(exc).strip().splitlines()[-1][:160]}]")
                continue
            rows.append({**{k: r[k] for k in ("simulator", "target", "threads", "n_neurons",
                                               "duration_ms", "seed", "sim_time_s",
                                               "total_time_s", "n_syn_events",
                                               "n_synapses")},
                         "dt_ms": cfg.simulation.dt_ms, "n_spikes": r["n_neuron_spikes"],
                         **{f"rate_Hz.{k}": v for k, v in r["rates_Hz"].items()}})
    df = pd.DataFrame(rows)
    steps = df.duration_ms / df.dt_ms
    df["mean_rate_Hz"] = df.n_spikes / df.n_neurons / (df.duration_ms / 1000)
    df["ns_per_neuron_step"] = df.sim_time_s / (df.n_neurons * steps) * 1e9
    df["spikes_per_s"] = df.n_spikes / df.sim_time_s
    df["syn_events_per_s"] = df.n_syn_events / df.sim_time_s
    df["mnsim/peer (sim)"] = df.sim_time_s.iloc[0] / df.sim_time_s
    df["mnsim/peer (e2e)"] = df.total_time_s.iloc[0] / df.total_time_s
    df.loc[0, ["mnsim/peer (sim)", "mnsim/peer (e2e)"]] = np.nan
    return df


def rate_agreement(n_seeds: int, duration_ms: float) -> pd.DataFrame:
    """COBA-4000 mean rate over seeds in mnsim and Brian2 (runs that died are left out:
    the network can fall silent after its opening burst for some draws)."""
    import mnsim
    from benchmarks.peers import brian2_coba

    rows = []
    for s in range(1, n_seeds + 1):
        res = mnsim.simulate(mnsim.load_config(COBA, coba_overrides(4000, duration_ms, s)))
        r = res.rates()
        rows.append({"simulator": "mnsim", "seed": s,
                     "rate_Hz": float((r.loc["exc", "spikes"] + r.loc["inh", "spikes"])
                                      / 4000 / (duration_ms / 1000))})
        try:
            b = brian2_coba.run(4000, duration_ms, "cython", seed=s, warm_run=False)
            rows.append({"simulator": "brian2", "seed": s, "rate_Hz": b["mean_rate_Hz"]})
        except Exception as exc:
            print(f"  [skipped brian2 seed {s}: {str(exc).strip().splitlines()[-1][:120]}]")
    df = pd.DataFrame(rows)
    df["alive"] = df.rate_Hz >= MIN_ALIVE_HZ
    return df


def per_event_figures(r: dict) -> dict:
    steps = r["duration_ms"] / 0.1
    events = r["n_spikes"] * r["n_synapses"] / r["n_neurons"]  # mean out-degree
    return {**r,
            "ns_per_neuron_step": r["sim_time_s"] / (r["n_neurons"] * steps) * 1e9,
            "spikes_per_s": r["n_spikes"] / r["sim_time_s"],
            "syn_events_per_s": events / r["sim_time_s"],
            "ns_per_syn_event": r["sim_time_s"] / max(events, 1) * 1e9}


def print_machine() -> None:
    """Header: cores, CPU, versions, so that a table is never read without its machine."""
    import platform

    import numba

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"machine: {os.cpu_count()} cores ({usable} usable by this process), {cpu}; "
          f"{platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"numba {numba.__version__}; peers run in "
          f"{os.environ.get('BENCH_PEER_PYTHON') or sys.executable}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (about 2 minutes)")
    ap.add_argument("--nest", action="store_true", help="include NEST (slow: minutes)")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    q = args.quick
    dur4k, dur40k = (2000.0, 500.0) if q else (10000.0, 2000.0)

    print_machine()
    mnsim_coba(200, 50.0)  # compile / load kernels before timing anything

    print("\n== COBA (dt 0.1 ms), 1 thread unless noted ==")
    rows = []
    for n, dur in ((4000, dur4k), (40000, dur40k)):
        rows.append(mnsim_coba(n, dur, end_to_end=True))
        if not args.no_peers:
            for target, threads in (("cpp_standalone", 1), ("cpp_standalone", 2),
                                    ("cython", 1)):
                rows.append(peer("brian2", n, dur, threads, target))
            if args.nest:
                for threads in (1, 2):
                    rows.append(peer("nest", n, min(dur, 1000.0 if q else dur), threads))
    table = pd.DataFrame([per_event_figures(r) for r in rows if r is not None])
    for n, grp in table.groupby("n_neurons"):
        ref = grp[grp.simulator == "mnsim"].iloc[0]
        table.loc[grp.index, "mnsim/peer (sim)"] = [
            ref.sim_time_s / (r.sim_time_s * ref.duration_ms / r.duration_ms)
            if r.simulator != "mnsim" else np.nan for r in grp.itertuples()]
        table.loc[grp.index, "mnsim/peer (e2e)"] = [  # only for the same duration
            ref.total_time_s / r.total_time_s
            if r.simulator != "mnsim" and r.duration_ms == ref.duration_ms else np.nan
            for r in grp.itertuples()]
        table.loc[grp.index, "rate vs mnsim"] = grp.mean_rate_Hz / ref.mean_rate_Hz
    cols = ["simulator", "target", "threads", "n_neurons", "duration_ms", "seed",
            "sim_time_s", "total_time_s", "mean_rate_Hz", "rate vs mnsim",
            "ns_per_neuron_step", "ns_per_syn_event", "spikes_per_s", "syn_events_per_s",
            "mnsim/peer (sim)", "mnsim/peer (e2e)"]
    table = table.reindex(columns=cols)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    table.to_csv(OUT / "coba.csv", index=False)

    print(f"\n== spinal reference network ({SPINAL.relative_to(ROOT)}, its own duration "
          f"and seed; mnsim: median of 3 runs) ==")
    spinal = spinal_rows(not args.no_peers)
    cols = ["simulator", "target", "threads", "n_neurons", "duration_ms", "seed",
            "sim_time_s", "total_time_s", "mean_rate_Hz", "ns_per_neuron_step",
            "spikes_per_s", "syn_events_per_s", "mnsim/peer (sim)", "mnsim/peer (e2e)"]
    fmt = lambda x: f"{x:.3g}"  # noqa: E731
    print(spinal[cols].to_string(index=False, float_format=fmt))
    rate_cols = [c for c in spinal.columns if c.startswith("rate_Hz.")]
    print("mean rate per population (Hz), the same runs:")
    print(spinal[["simulator", "target", "threads", *rate_cols]]
          .rename(columns=lambda c: c.removeprefix("rate_Hz."))
          .to_string(index=False, float_format=fmt))
    print("(one seed, two connectivity draws; rates over seeds and the spasm: "
          "benchmarks/compare_spinal.py)")
    spinal.to_csv(OUT / "spinal.csv", index=False)

    if not args.no_peers:
        print("\n== COBA-4000 firing rate over seeds: mnsim vs Brian2 (accuracy check) ==")
        rates = rate_agreement(4 if q else 10, 3000.0)
        alive = rates[rates.alive]
        agg = alive.groupby("simulator").rate_Hz.agg(["mean", "std", "count"])
        agg["died"] = rates[~rates.alive].groupby("simulator").size().reindex(
            agg.index).fillna(0).astype(int)
        print(agg.to_string(float_format=lambda x: f"{x:.3g}"))
        if {"mnsim", "brian2"} <= set(agg.index):
            m, b = agg.loc["mnsim"], agg.loc["brian2"]
            sem = float(np.hypot(m["std"] / np.sqrt(m["count"]),
                                 b["std"] / np.sqrt(b["count"])))
            print(f"mnsim / brian2 mean rate = {m['mean'] / b['mean']:.3f} "
                  f"(difference {m['mean'] - b['mean']:+.2f} Hz, standard error {sem:.2f} Hz)")
        rates.to_csv(OUT / "coba_rates.csv", index=False)

    print("\n== mnsim scaling (COBA, in-degree 80) ==")
    scale = []
    for n in (1000, 4000, 16000, 64000):
        dur = (500.0 if n >= 64000 else 1000.0) if q else (1000.0 if n >= 64000 else 2000.0)
        r = per_event_figures(mnsim_coba(n, dur))
        r["s_per_neuron_second"] = r["sim_time_s"] / (n * dur / 1000)
        scale.append(r)
    scale = pd.DataFrame(scale)
    print(scale[["n_neurons", "duration_ms", "sim_time_s", "mean_rate_Hz",
                 "ns_per_neuron_step", "ns_per_syn_event", "s_per_neuron_second"]]
          .to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    scale.to_csv(OUT / "scaling.csv", index=False)

    print("\n== start-up and memory ==")
    with tempfile.TemporaryDirectory() as tmp:
        misc = mnsim_startup(Path(tmp))
        misc += mnsim_peak_rss(Path(tmp), 20000.0 if q else 60000.0)
        if not q:
            misc += mnsim_peak_rss(Path(tmp), 20000.0)[:1]
    misc = pd.DataFrame(misc)
    print(misc.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    misc.to_csv(OUT / "startup_memory.csv", index=False)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for a, col, title in ((ax[0], "ns_per_neuron_step", "simulation time per neuron-step"),
                          (ax[1], "ns_per_syn_event", "simulation time per synaptic event")):
        a.loglog(scale.n_neurons, scale[col], "o-", color="k", lw=2, label="mnsim x1")
        peers = table[table.simulator != "mnsim"]
        for (sim, target, threads), g in peers.groupby(["simulator", "target", "threads"]):
            a.loglog(g.n_neurons, g[col], "x--", label=f"{sim} {target} x{threads}")
        a.set(xlabel="neurons (COBA, in-degree 80)", ylabel=col.replace("_", " "),
              title=title)
        a.grid(True, which="both", alpha=0.3)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "scaling.png", dpi=120)
    print(f"\nwrote {OUT}/coba.csv, scaling.csv, startup_memory.csv, scaling.png")


if __name__ == "__main__":
    main()
