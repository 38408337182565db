"""Run a peer benchmark module in a fresh interpreter and collect its result.

Isolation keeps every run independent (no leftover Brian2 device state, NEST
kernel, threads or memory) and lets the caller use a different virtual
environment from the one holding the peer simulators.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

#: Directory that contains the ``benchmarks`` package (the repository root).
REPO_ROOT = Path(__file__).resolve().parents[2]


def peer_python(python: str | None = None) -> str:
    """Interpreter for peer runs: argument, then $BENCH_PEER_PYTHON, then this one."""
    return python or os.environ.get("BENCH_PEER_PYTHON") or sys.executable


def run_module(module: str, cli_args: list[str], python: str | None = None) -> dict:
    """Run ``python -m module *cli_args`` and parse the JSON dict it prints last."""
    env = dict(os.environ, PYNEST_QUIET="1")
    proc = subprocess.run(
        [peer_python(python), "-m", module, *cli_args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(cli_args)} failed (exit {proc.returncode}):\n"
            f"{proc.stderr[-4000:]}"
        )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{module} printed no JSON result:\n{proc.stdout[-4000:]}")
