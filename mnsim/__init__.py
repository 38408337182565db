"""mnsim: motoneuron spinal-circuit simulator.

Conductance-based integrate-and-fire networks of motoneurons and interneurons, compiled
with numba, configured by validated TOML/YAML files, written to HDF5 (SONATA spikes).

>>> import mnsim
>>> cfg = mnsim.load_config("configs/motor_pool.toml")
>>> res = mnsim.simulate(cfg, "results/example.h5", overwrite=True)
>>> res.spikes("mn")
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._cache import kernel_cache

with kernel_cache():  # every module with compiled kernels, decorated here (see _cache)
    from . import _numerics, _synapses, axons, engine, muscle  # noqa: F401

from . import analysis, cells  # noqa: F401  (mnsim.analysis, mnsim.cells after import mnsim)
from .api import open_run as open  # noqa: A001  (mnsim.open mirrors xarray.open_dataset)
from .api import simulate
from .config import Config, ConfigError, load_config
from .io import IncompleteRunError
from .result import Result
from .sweep import open_sweep, run_sweep

__all__ = ["load_config", "simulate", "open", "Result", "Config", "ConfigError",
           "IncompleteRunError", "run_sweep", "open_sweep", "__version__"]
