"""What every Brian2 peer shares: device set-up and tear-down, and the timed run.

Timings follow one rule for every peer: ``sim_time_s`` is the simulation phase only
(``device._last_run_time`` for C++ standalone; for the runtime target, a second, warm
``run()`` from the stored initial state when ``warm_run``), ``total_time_s`` spans
network construction, code generation, compilation and the first simulation.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from time import perf_counter
from typing import Any, Callable, Iterator


@contextmanager
def brian2_device(b2: Any, target: str, threads: int, fresh_cache: bool,
                  prefix: str) -> Iterator[str | None]:
    """Select the device for ``target``; yields the standalone build folder (or None).

    Standalone: ``threads`` > 1 builds OpenMP code, 1 plain serial code. Runtime:
    ``target`` is the code-generation target (e.g. "cython"); ``fresh_cache`` compiles
    into an empty cache so that the compile time is always included.
    """
    b2.prefs.logging.file_log = False
    build_dir = cache_dir = None
    default_cache_dir = b2.prefs.codegen.runtime.cython.cache_dir
    if target == "cpp_standalone":
        build_dir = tempfile.mkdtemp(prefix=prefix)
        b2.set_device("cpp_standalone", build_on_run=False, directory=build_dir)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = target
        if fresh_cache:
            cache_dir = tempfile.mkdtemp(prefix="brian2_cython_")
            b2.prefs.codegen.runtime.cython.cache_dir = cache_dir
    try:
        yield build_dir
    finally:
        if build_dir is not None:
            b2.device.reinit()  # forget this build so a later call starts clean
            b2.set_device("runtime")
            shutil.rmtree(build_dir, ignore_errors=True)
        if cache_dir is not None:
            b2.prefs.codegen.runtime.cython.cache_dir = default_cache_dir
            shutil.rmtree(cache_dir, ignore_errors=True)


def timed_run(b2: Any, net: Any, duration_ms: float, build_dir: str | None,
              t_start_s: float, warm_run: bool,
              after_first: Callable[[], Any] = lambda: None) -> dict[str, Any]:
    """Run ``net`` for ``duration_ms``; ``after_first()`` reads the monitors of the first
    run. Returns sim_time_s, total_time_s, first_run_time_s and ``first`` (its result)."""
    from brian2 import ms

    if build_dir is not None:
        net.run(duration_ms * ms)
        b2.device.build(directory=build_dir, compile=True, run=True, clean=True)
        total = perf_counter() - t_start_s
        sim = first = float(b2.device._last_run_time)
        return {"sim_time_s": sim, "total_time_s": total, "first_run_time_s": first,
                "first": after_first()}
    if warm_run:
        net.store()
    t_run = perf_counter()
    net.run(duration_ms * ms)
    first = sim = perf_counter() - t_run
    total = perf_counter() - t_start_s
    result = after_first()
    if warm_run:
        net.restore()
        t_run = perf_counter()
        net.run(duration_ms * ms)
        sim = perf_counter() - t_run
    return {"sim_time_s": sim, "total_time_s": total, "first_run_time_s": first,
            "first": result}
