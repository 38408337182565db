"""Where numba caches mnsim's compiled kernels: one folder per version of the sources.

numba checks a cached function only against its own source file. After an update that
changes a function it calls in another module (a kernel inlined from ``_synapses.py``
into ``engine.py``, say), it would load stale machine code for the caller. So the cache
folder is named by a digest of every source file of the package: any change gives a
fresh folder, and identical sources share one.

The folder lies under ``NUMBA_CACHE_DIR`` if set (SLURM jobs point it at node-local
scratch), else under the package's ``__pycache__`` if writable, else under the user's
cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)/mnsim.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator

PACKAGE = Path(__file__).resolve().parent


def source_digest(root: Path = PACKAGE) -> str:
    """A 16-hex-digit digest of every ``.py`` file under ``root`` (names and contents)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_dir(root: Path = PACKAGE) -> Path:
    """The folder for the kernels compiled from the sources under ``root``."""
    base = os.environ.get("NUMBA_CACHE_DIR")
    if base:
        parent = Path(base)
    elif os.access(root, os.W_OK):
        parent = root / "__pycache__"
    else:
        parent = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnsim"
    return parent / f"mnsim-kernels-{source_digest(root)}"


@contextlib.contextmanager
def kernel_cache() -> Iterator[Path]:
    """While open, functions decorated with ``cache=True`` cache into :func:`cache_dir`
    (numba fixes a function's cache folder when it is decorated); numba's own setting
    is restored after, so other code in the process is unaffected."""
    from numba.core import config

    before = config.CACHE_DIR
    path = cache_dir()
    config.CACHE_DIR = str(path)
    try:
        yield path
    finally:
        config.CACHE_DIR = before
