"""Command line: ``mnsim run | validate | info | plot``. Thin: every command calls the
Python API (click chosen for composable subcommands and repeatable ``--set``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from .config import ConfigError, load_config

SET_HELP = ("Override a config key, e.g. --set simulation.duration_ms=500 "
            "--set populations.mn.pic_gain=2 (repeatable; values parsed as TOML).")


def _load(config: str, overrides: tuple[str, ...]):
    try:
        return load_config(config, overrides)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mnsim")
def main() -> None:
    """mnsim: motoneuron spinal-circuit simulator."""


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="HDF5 file to write [default: results/<config name>.h5].")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help=SET_HELP)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file (only "
              "once the new run has completed).")
@click.option("--plot/--no-plot", default=True, show_default=True,
              help="Also write a raster/trace figure next to the output (.png).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def run(config: str, output: str | None, overrides: tuple[str, ...], overwrite: bool,
        plot: bool, progress: bool) -> None:
    """Simulate CONFIG and write one HDF5 file (SONATA spikes, traces, provenance)."""
    from .api import simulate

    cfg = _load(config, overrides)
    out = Path(output) if output else Path("results") / f"{Path(config).stem}.h5"
    if out.exists() and not overwrite:
        click.echo(f"{out} exists; pass --overwrite or choose -o", err=True)
        sys.exit(1)
    res = simulate(cfg, out, overwrite=overwrite, progress=progress)
    click.echo(f"wrote {out}  ({res.wall_time_s:.2f} s wall for "
               f"{res.duration_ms:g} ms biological)")
    click.echo(res.rates().to_string())
    if plot:
        from .plot import plot_run

        fig = plot_run(res, out.with_suffix(".png"))
        click.echo(f"wrote {fig}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help=SET_HELP)
def validate(config: str, overrides: tuple[str, ...]) -> None:
    """Check CONFIG (and overrides) without running; exit status 2 if invalid."""
    cfg = _load(config, overrides)
    sim = cfg.simulation
    n = sum(p.size for p in cfg.populations.values())
    click.echo(f"{config}: OK  ({len(cfg.populations)} populations, {n} neurons, "
               f"{len(cfg.sources)} sources, {len(cfg.projections)} projections; "
               f"{sim.duration_ms:g} ms at dt {sim.dt_ms:g} ms, seed {sim.seed})")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-p", "--population", required=True, help="Population to measure.")
@click.option("--neurons", default=None, metavar="IDS",
              help="Comma-separated node ids [default: all].")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help=SET_HELP)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the table (one row per neuron) as CSV.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw the properties against node id, published ranges shaded "
                   "(.png).")
@click.option("--ramp/--no-ramp", default=True, show_default=True,
              help="Measure recruitment hysteresis on a triangular current ramp.")
def cells(config: str, population: str, neurons: str | None, overrides: tuple[str, ...],
          csv_path: str | None, plot_path: str | None, ramp: bool) -> None:
    """Measure intrinsic properties of a population's neurons (current clamp, no
    synapses): rheobase, input resistance, time constant, AHP, ramp hysteresis; and
    compare them with published rat motoneuron ranges."""
    import pandas as pd

    from .cells import PROPERTIES, RAT_MG_RANGES, compare, intrinsic_properties

    cfg = _load(config, overrides)
    try:
        ids = None if neurons is None else [int(x) for x in neurons.split(",") if x]
        props = intrinsic_properties(cfg, population, neurons=ids, ramp=ramp)
    except (KeyError, ValueError) as exc:
        click.echo(f"{config}: {exc.args[0] if exc.args else exc}", err=True)
        sys.exit(2)
    shown = props if len(props) <= 12 else props.iloc[
        sorted(set(np.linspace(0, len(props) - 1, 11).round().astype(int)))]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        click.echo(f"{population} of {config} ({len(props)} neurons"
                   f"{'' if shown is props else ', every ~10th shown'}):")
        click.echo(shown.T.round(2).to_string())
        click.echo("\nagainst rat medial gastrocnemius (Bakels & Kernell 1993):")
        click.echo(compare(props, RAT_MG_RANGES).round(2).to_string())
    click.echo("\n" + "\n".join(f"  {k}: {PROPERTIES[k]}" for k in props.columns))
    if csv_path:
        props.to_csv(csv_path)
        click.echo(f"wrote {csv_path}")
    if plot_path:
        from .plot import plot_cells

        click.echo(f"wrote {plot_cells(props, plot_path, RAT_MG_RANGES, f'{population} of {config}')}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def info(file: str) -> None:
    """Describe a run file: provenance, populations, spikes, traces."""
    from .api import open_run
    from .io import IncompleteRunError

    try:
        res = open_run(file)
    except IncompleteRunError as exc:
        click.echo(f"{exc}", err=True)
        sys.exit(1)
    a = res.attrs
    click.echo(f"{file}: complete mnsim run (format {a['format_version']})")
    for k in ("config_source", "seed", "duration_ms", "dt_ms", "wall_time_s", "created",
              "mnsim_version", "numba_version", "numpy_version", "h5py_version"):
        click.echo(f"  {k:15s} {a.get(k)}")
    click.echo("populations:")
    rates = res.rates()
    width = max([12, *map(len, res.populations)])
    for name, s in res.populations.items():
        line = f"  {name:{width}s} {s['kind']:8s} size {s['size']:7d}"
        if name in rates.index:
            line += (f"   spikes {int(rates.loc[name, 'spikes']):9d}   mean rate "
                     f"{rates.loc[name, 'rate_Hz']:8.2f} Hz")
        else:
            line += "   (spikes not recorded)"
        click.echo(line)
    for name in res.muscles:
        m = res.muscle(name)
        click.echo(f"muscle {name} (pool {m.attrs['pool']}, {m.sizes['unit']} units): peak "
                   f"force {float(m.force_mN.max()):.1f} mN, EMG peak-to-peak "
                   f"{float(m.emg_mV.max() - m.emg_mV.min()):.3f} mV")
    counts = res.axon_counts()
    if counts:
        click.echo("motor axons: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                               for k, v in counts.items()))
    groups = res.trace_groups
    if groups:
        click.echo("traces:")
        for name, g in groups.items():
            click.echo(f"  {name:12s} {g['population']}: {', '.join(g['variables'])} "
                       f"every {g['interval_ms']:g} ms")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="PNG to write [default: FILE with .png].")
@click.option("--t-start-ms", type=float, default=0.0)
@click.option("--t-stop-ms", type=float, default=None)
def plot(file: str, output: str | None, t_start_ms: float, t_stop_ms: float | None) -> None:
    """Raster and traces of a run file as a PNG."""
    from .api import open_run
    from .plot import plot_run

    out = plot_run(open_run(file), output or Path(file).with_suffix(".png"),
                   t_start_ms=t_start_ms, t_stop_ms=t_stop_ms)
    click.echo(f"wrote {out}")


# -- sweeps -------------------------------------------------------------------------------
@main.group()
def sweep() -> None:
    """Parameter sweeps: run, status, collect, plot (and submit / worker for SLURM)."""


def _sweep_error(exc: Exception) -> None:
    click.echo(str(exc), err=True)
    sys.exit(2 if isinstance(exc, ConfigError) else 1)


@sweep.command("run")
@click.argument("spec_or_dir", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Sweep folder for a new spec [default: results/sweeps/<spec name>].")
@click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
              help="Override the spec's [executor] kind.")
@click.option("--workers", type=int, default=None, help="Local processes (0 = all cores).")
@click.option("--address", default=None, help="dask scheduler address.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def sweep_run(spec_or_dir: str, output: str | None, executor: str | None,
              workers: int | None, address: str | None, progress: bool) -> None:
    """Run every unfinished run of SPEC_OR_DIR (a spec file, or a folder to resume)."""
    from .sweep import SweepLockedError, run_sweep

    try:
        sw = run_sweep(spec_or_dir, output, executor=executor, workers=workers,
                       address=address, progress=progress)
    except (ConfigError, SweepLockedError, FileExistsError, ValueError) as exc:
        _sweep_error(exc)
    c = sw.counts()
    click.echo(f"{sw.path}: " + ", ".join(f"{v} {k}" for k, v in c.items()))
    if c["failed"]:
        click.echo(f"failed runs are listed by `mnsim sweep status {sw.path}`; run the "
                   f"same command again to retry them", err=True)
        sys.exit(1)


@sweep.command("submit")
@click.argument("spec_or_dir", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Sweep folder for a new spec [default: results/sweeps/<spec name>].")
@click.option("--resume", is_flag=True, help="Submit only chunks with unfinished runs.")
@click.option("--dry-run", is_flag=True, help="Write the job script, do not submit.")
def sweep_submit(spec_or_dir: str, output: str | None, resume: bool, dry_run: bool) -> None:
    """Submit the sweep as one SLURM array job and return at once."""
    from .sweep.slurm import submit
    from .sweep.store import SweepDir, create_sweep_dir

    try:
        p = Path(spec_or_dir)
        d = SweepDir(p) if p.is_dir() else create_sweep_dir(
            p, output or Path("results") / "sweeps" / p.stem)
        info = submit(d, resume=resume, dry_run=dry_run)
    except (ConfigError, FileExistsError, ValueError, RuntimeError) as exc:
        _sweep_error(exc)
    if not info["tasks"]:
        click.echo(f"{d.path}: every run is done; nothing to submit")
        return
    what = f"job {info['job_id']}" if info["job_id"] else "dry run (not submitted)"
    click.echo(f"{what}: array {info['array']} ({info['tasks']} tasks), script "
               f"{info['script']}\nfollow with: mnsim sweep status {d.path}")


@sweep.command("worker", hidden=True)
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--chunk", type=int, required=True)
def sweep_worker(directory: str, chunk: int) -> None:
    """Run one chunk of a sweep (the body of a SLURM array task)."""
    from .sweep.slurm import run_chunk
    from .sweep.store import SweepDir

    for r in run_chunk(SweepDir(directory), chunk):
        click.echo(f"{r['run_id']}: {r['status']} {r['error']}".rstrip())


@sweep.command("status")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--failed", "show_failed", is_flag=True, help="List failed runs and errors.")
def sweep_status(directory: str, show_failed: bool) -> None:
    """Done / running / failed / pending runs, from the files alone (no sacct)."""
    from .sweep import open_sweep

    sw = open_sweep(directory)
    st = sw.dir.status()
    counts = st["status"].value_counts()
    total = len(st)
    click.echo(f"{directory}: {total} runs: " + ", ".join(
        f"{int(counts.get(k, 0))} {k}" for k in ("done", "running", "failed", "pending")))
    if show_failed:
        for r in st[st.status == "failed"].itertuples():
            click.echo(f"  {r.run_id} (point {r.point}, replicate {r.replicate}): {r.error}")


@sweep.command("collect")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def sweep_collect(directory: str) -> None:
    """Rebuild DIRECTORY/summary.h5 from the run files."""
    from .sweep import open_sweep

    df = open_sweep(directory).collect()
    click.echo(f"wrote {Path(directory) / 'summary.h5'} ({len(df)} runs, "
               f"{int((df.status == 'done').sum())} done)")


@sweep.command("plot")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--metric", required=True, help="e.g. rate_Hz.mn")
@click.option("--x", "x_key", required=True, help="swept key on the x axis")
@click.option("--y", "y_key", default=None, help="swept key on the y axis (heatmap)")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
def sweep_plot(directory: str, metric: str, x_key: str, y_key: str | None,
               output: str | None) -> None:
    """Heatmap (or curve) of a metric's mean over replicates, as PNG."""
    from .sweep import open_sweep

    try:
        out = open_sweep(directory).plot(metric, x_key, y_key, output)
    except KeyError as exc:
        _sweep_error(ValueError(exc.args[0]))
    click.echo(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
