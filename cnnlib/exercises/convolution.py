"""Checker for the exercise of notebook 03: a true convolution built from a correlation.

The learner writes ``fn(x, k) -> out``, the 'valid' convolution x * k, using only ``correlate2d`` and array
flips. The right answer is x ⋆ rot180(k), where rot180(k)[m, n] = k[KH-1-m, KW-1-n].
The cases use non-square, non-symmetric kernels, so each mistake below gives an answer of its own.
"""

import numpy as np

from ..signal import convolve2d, correlate2d
from . import _shortcuts
from ._core import Mistake, check_function

__all__ = ["check_convolve_via_correlate"]


def _reference(x, k):
    return convolve2d(x, k, "valid")


MISTAKES = [
    Mistake("forgot to flip",
            "that is the correlation x ⋆ k. A convolution slides the kernel rotated by 180°: x ⋆ rot180(k).",
            lambda x, k: correlate2d(x, k, "valid")),
    Mistake("flipped only rows",
            "you reversed the rows of k (k[::-1, :]) but not its columns. Rotating by 180° reverses both axes.",
            lambda x, k: correlate2d(x, k[::-1, :], "valid")),
    Mistake("flipped only columns",
            "you reversed the columns of k (k[:, ::-1]) but not its rows. Rotating by 180° reverses both axes.",
            lambda x, k: correlate2d(x, k[:, ::-1], "valid")),
    Mistake("transposed instead of rotating",
            "you used k.T. A transpose swaps k[m, n] and k[n, m]; a 180° rotation maps k[m, n] to "
            "k[KH-1-m, KW-1-n], which is k[::-1, ::-1].",
            lambda x, k: correlate2d(x, k.T, "valid")),
]


def _cases(seed=303, shapes=None):
    rng = np.random.default_rng(seed)
    shapes = shapes or [((5, 6), (2, 3)),  # non-square kernel: the transposed kernel even changes the output shape
                        ((6, 5), (3, 3)),  # square, non-symmetric kernel: the transpose keeps the shape, not values
                        ((4, 7), (3, 2))]
    return [(rng.standard_normal(xs), rng.standard_normal(ks)) for xs, ks in shapes]


CASES = _cases()
HIDDEN_CASES = _cases(3030, [((7, 4), (3, 2)), ((5, 8), (2, 2))])


def check_convolve_via_correlate(fn, hidden=False):
    """Check ``fn(x, k) -> x * k`` ('valid'). Names: "forgot to flip", "flipped only rows", "flipped only
    columns", "transposed instead of rotating". Refuses convolve2d (cnnlib's, scipy's) and the reference.
    Returns a CheckResult."""
    return check_function("convolution via correlation", fn, _reference, HIDDEN_CASES if hidden else CASES,
                          MISTAKES, shortcuts=[_shortcuts.two_d_operations("convolve2d")], hidden=hidden)
