"""The Python entry points: load a config, simulate it, open a run file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from .build import build
from .config import Config, load_config
from .engine import run
from .io import H5Store, HDF5Writer, MemoryWriter
from .result import Result

__all__ = ["simulate", "open_run", "load_config"]


def simulate(config: Config | str | os.PathLike, output: str | os.PathLike | None = None,
             *, overwrite: bool = False,
             progress: bool | Callable[[float], None] = False) -> Result:
    """Build and run a network.

    Parameters
    ----------
    config : Config or path
        A validated :class:`~mnsim.config.Config` (see :func:`mnsim.load_config`) or the
        path of a config file.
    output : path, optional
        HDF5 file to write. Without it the result is kept in memory (fine for short runs;
        long runs with many traces should write a file, which is streamed chunk by chunk).
    overwrite : bool
        Replace an existing ``output`` (only once the new run has completed).
    progress : bool or callable
        ``True`` shows a progress bar (biological time, ETA); a callable is called after
        each chunk with the biological time simulated so far (ms).

    Returns
    -------
    Result
        Lazy on the file if ``output`` was given, in memory otherwise.

    Examples
    --------
    >>> cfg = mnsim.load_config("configs/motor_pool.toml", ["simulation.duration_ms=500"])
    >>> res = mnsim.simulate(cfg, "results/example.h5", overwrite=True)
    >>> res.rates()
    """
    if not isinstance(config, Config):
        config = load_config(config)
    net = build(config)
    writer = (HDF5Writer(output, config_source=config.source, overwrite=overwrite)
              if output is not None else MemoryWriter(config_source=config.source))
    bar = None
    callback: Callable[[float], None] | None = None
    if progress is True:
        from tqdm.auto import tqdm
        bar = tqdm(total=round(config.simulation.duration_ms, 6), unit="ms",
                   desc="simulating", unit_scale=False, dynamic_ncols=True,
                   bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} ms biological "
                              "[{elapsed}<{remaining}, {rate_fmt}]")

        def callback(t_ms: float) -> None:
            bar.update(t_ms - bar.n)
    elif callable(progress):
        callback = progress
    try:
        wall = run(net, writer, callback)
        t0 = time.perf_counter()
        _derived_output(net, writer)
        writer.finish(wall + time.perf_counter() - t0)
    except BaseException:
        writer.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    if output is not None:
        return Result(H5Store(output), Path(output))
    return Result(writer, None)


def _derived_output(net, writer) -> None:
    """Signals computed from the spikes once the run is over (muscle force and EMG)."""
    from .muscle import muscle_signals

    from .axons import STAT_NAMES, TERMINAL_SUFFIX

    cfg = net.config
    if net.axons.n:
        writer.axon_counts(dict(zip(STAT_NAMES, net.axons.stats.tolist())))
    for name, m in cfg.muscles.items():
        if not net.record_spikes[slice(*net.node_range(m.pool))].any():
            raise ValueError(f"muscles.{name} needs the spikes of '{m.pool}'; add it to "
                             f"recording.spikes")
        # with an axon, the muscle is driven by the spikes that reach it
        at_muscle = m.pool + (TERMINAL_SUFFIX if m.pool in net.axons.pop_names else "")
        t, ids = writer.spike_arrays(at_muscle)
        writer.muscle(name, m.pool, muscle_signals(m, t, ids, cfg.populations[m.pool].size,
                                                   net.n_steps * net.dt_ms))


def open_run(path: str | os.PathLike, allow_incomplete: bool = False) -> Result:
    """Open a run file lazily (``mnsim.open``).

    Raises :class:`~mnsim.io.IncompleteRunError` for a file whose run did not complete,
    unless ``allow_incomplete``.
    """
    return Result(H5Store(path, allow_incomplete=allow_incomplete), Path(path))
