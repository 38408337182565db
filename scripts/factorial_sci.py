#!/usr/bin/env python
"""Which knob makes the spasm? PIC x inhibition x excitation, factorial, several seeds.

    .venv/bin/python scripts/factorial_sci.py [--seeds 5]

Every condition starts from configs/healthy.toml and the same 5-pulse cutaneous train.
The levels are read from the scenario configs (see factors()):

- PIC        normal: pic_gain 0.7          high: the populations.mn.pic_* keys of
                                           sci_spasm (gain 2.0, inactivation -65 mV)
- inhibition normal                        impaired: the rest of sci_spasm (motoneuron
                                           chloride reversal -65 mV, inhibitory synapses
                                           at half strength)
- excitation normal                        high: sci_excitation_only (interneuron ->
                                           motoneuron 6 -> 16 nS)

Prints and saves (results/factorial_sci/) the spasm-duration table (mean +- sd over
seeds, definition: mnsim.analysis.reflex_duration_ms) and the main effect of each factor,
next to the motoneuron pool's mean rate 0.5-1 s after the stimulus (sustained_rate_Hz,
when the interneurons have fallen silent) and 1-2 s after it (late_rate_Hz). The
duration's threshold is an absolute floor (two of the smallest motor units firing at
8 Hz), so the size of the initial reflex does not change it. Runs last 4 s with the
stimulus at 1 s: a spasm still firing at the end of the run would measure 3 s.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pandas as pd

import mnsim
from mnsim.analysis import reflex_duration_ms

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = ROOT / "configs" / "healthy.toml"
OUT = ROOT / "results" / "factorial_sci"

def _overrides(name: str) -> list[str]:
    """The keys a scenario config sets on top of healthy.toml, as --set overrides."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    data = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
    assert data.pop("extends") == "healthy.toml", name
    out = []

    def walk(prefix: str, d: dict) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                out.append(f"{prefix}{k}={v}")
    walk("", data)
    return out


def factors() -> dict[str, dict[str, list[str]]]:
    """Factor levels as config overrides, read from the scenario configs so that "high"
    and "impaired" mean exactly what sci_spasm and sci_excitation_only change: the
    motoneuron PIC keys of sci_spasm (PIC), the rest of sci_spasm (inhibition: chloride
    reversal and inhibitory synapse strengths), and sci_excitation_only (excitation)."""
    sci = _overrides("sci_spasm")
    pic = [o for o in sci if o.startswith("populations.mn.pic_")]
    inhibition = [o for o in sci if o not in pic]
    healthy = mnsim.load_config(HEALTHY)
    for o in inhibition:   # only chloride reversals and inhibitory synapses
        parts = o.split("=")[0].split(".")
        assert (parts[-1] == "inh_reversal_mV" or parts[0] == "projections"
                and healthy.projections[parts[1]].receptor == "inh"), o
    return {"pic": {"normal": [], "high": pic},
            "inhibition": {"normal": [], "impaired": inhibition},
            "excitation": {"normal": [], "high": _overrides("sci_excitation_only")}}


FACTORS = factors()


def spasm_durations_s(seeds: list[int]) -> pd.DataFrame:
    """One row per condition and seed: the factor levels and the spasm duration (s)."""
    rows = []
    levels = [list(v) for v in FACTORS.values()]
    for combo in itertools.product(*levels):
        overrides = [o for f, lvl in zip(FACTORS, combo) for o in FACTORS[f][lvl]]
        for seed in seeds:
            cfg = mnsim.load_config(HEALTHY, overrides + [f"simulation.seed={seed}",
                                                          "recording.traces={}"])
            res = mnsim.simulate(cfg)
            stim = cfg.sources["cutaneous"].start_ms
            sustained = res.rates("mn", t_start_ms=stim + 500.0, t_stop_ms=stim + 1000.0)
            late = res.rates("mn", t_start_ms=stim + 1000.0, t_stop_ms=stim + 2000.0)
            rows.append({**dict(zip(FACTORS, combo)), "seed": seed,
                         "spasm_s": reflex_duration_ms(res, "muscle", stim) / 1000.0,
                         "sustained_rate_Hz": float(sustained.mean()),
                         "late_rate_Hz": float(late.mean())})
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Mean +- sd per condition, and each factor's main effect (mean difference, s)."""
    g = df.groupby(list(FACTORS))
    table = g.spasm_s.agg(["mean", "std", "min", "max", "count"]).join(
        g[["sustained_rate_Hz", "late_rate_Hz"]].mean())
    effects = pd.Series({f: df[df[f] != "normal"].spasm_s.mean()
                         - df[df[f] == "normal"].spasm_s.mean() for f in FACTORS},
                        name="main effect (s)")
    return table, effects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    df = spasm_durations_s(list(range(1, args.seeds + 1)))
    table, effects = summarise(df)
    print("spasm duration (s), mean +- sd over", args.seeds, "seeds")
    print(table.round(3).to_string())
    print("\nmain effects (high/impaired minus normal, s):")
    print(effects.round(3).to_string())
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / "runs.csv", index=False)
    table.to_csv(OUT / "table.csv")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 3.6))
    labels = [" / ".join(k) for k in table.index]
    ax.bar(range(len(table)), table["mean"], yerr=table["std"], capsize=3, color=[
        "C3" if (k[0] == "high" and k[1] == "impaired") else "0.6" for k in table.index])
    ax.set_xticks(range(len(table)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("spasm duration (s)")
    ax.set_title("PIC / inhibition / excitation", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "spasm_duration.png", dpi=120)
    print(f"\nwrote {OUT}/runs.csv, table.csv, spasm_duration.png")


if __name__ == "__main__":
    main()
