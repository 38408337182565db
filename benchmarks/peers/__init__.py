"""Peer-simulator implementations of the COBA benchmark network.

Each module exposes one ``run(...) -> dict`` function (Brian2: ``brian2_coba``,
NEST: ``nest_coba``) returning timings, spike count and synapse count, so a
benchmark script can put them side by side with mnsim.  The peer packages are
imported lazily inside the worker processes, so this package can be imported
from an environment that does not have Brian2 or NEST installed; point
``BENCH_PEER_PYTHON`` (or the ``python=`` argument) at an interpreter that does.

Check ``mean_rate_Hz`` before comparing timings: for some random draws (seed,
or Brian2's OpenMP thread count, which changes the draws) the activity dies
after the initial burst (~0.15 Hz instead of ~19 Hz).
"""
