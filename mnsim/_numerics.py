"""Numeric settings shared by every compiled kernel, declared in one place.

``FASTMATH`` is only ``nsz`` (ignore the sign of zero). Contraction into FMA,
reassociation and approximate reciprocals are left off: they would let results differ
between CPU types (an AVX-512 node and an older one in the same cluster), and the neuron
loop vectorises without them (measured: no speed difference on COBA-4000). NaN/inf
semantics stay exact, so threshold comparisons and the engine's finiteness check hold.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FASTMATH = {"nsz"}

#: Conductances that decay below this (nS) are set to exactly 0 (see engine).
G_FLUSH_nS = 1e-12

#: Keyword arguments of every serial kernel.
NJIT = dict(cache=True, fastmath=FASTMATH, nogil=True, error_model="numpy")

# exp(-x) is evaluated as R(x/16)**16 with R the (2,2) Pade approximant of exp(-y):
#   R(y) = (1 - y/2 + y^2/12) / (1 + y/2 + y^2/12)
# Measured (tests/test_neuron.py::test_exp_neg_accuracy): relative error < 3e-8 for x <= 1 (a 0.1 ms step
# against a 0.1 ms effective membrane time constant), < 1e-4 for x <= 5, absolute error
# < 1e-6 everywhere. R is in (0, 1] for x >= 0 and needs no libm call, so the neuron
# loop vectorises. R decreases up to its minimum at y = sqrt(12) and rises after, so y is
# clamped just below it (x >= 55), where R**16 ~ 5e-19: monotone and positive overall.
_PADE_SCALE = 1.0 / 16.0
_PADE_CLAMP = 3.46


@njit(inline="always", **NJIT)
def exp_neg(x):
    """exp(-x) for x >= 0 (float64), without a libm call."""
    y = min(x * _PADE_SCALE, _PADE_CLAMP)
    y2 = y * y * (1.0 / 12.0)
    r = (1.0 - 0.5 * y + y2) / (1.0 + 0.5 * y + y2)
    r = r * r
    r = r * r
    r = r * r
    return r * r


@njit(inline="always", **NJIT)
def sigmoid(z):
    """1 / (1 + exp(-z)), through :func:`exp_neg` of |z|."""
    e = exp_neg(abs(z))
    return (1.0 if z >= 0.0 else e) / (1.0 + e)


def exp_neg_reference(x: np.ndarray) -> np.ndarray:
    """Exact ``exp(-x)``: the reference :func:`exp_neg` is tested against."""
    return np.exp(-np.asarray(x, dtype=float))
