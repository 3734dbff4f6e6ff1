"""The test suite's own numerical reference: central differences, written apart from cnnlib.gradcheck so that a
bug there cannot hide one in the code under test."""

import numpy as np


def numerical(f, x, h=1e-6):
    """Central differences of the scalar f at x (any shape)."""
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g
