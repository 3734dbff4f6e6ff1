"""Checker for the exercise of notebook 03: a true convolution built from a correlation.

The learner writes ``fn(x, k) -> out``, the 'valid' convolution x * k, using only ``correlate2d`` and array
flips. The right answer is x ⋆ rot180(k), where rot180(k)[m, n] = k[KH-1-m, KW-1-n].
The cases use non-square, non-symmetric kernels, so each mistake below gives an answer of its own.
"""

import numpy as np

from ..signal import convolve2d, correlate2d, rot180
from . import _shortcuts
from ._core import Mistake, Shortcut, check_function

__all__ = ["check_convolve_via_correlate", "check_full_convolution"]


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
                          MISTAKES, shortcuts=_shortcut_list(), hidden=hidden)


def _shortcut_list():
    return [_shortcuts.two_d_operations("convolve2d"),
            Shortcut("`rot180`", targets=(rot180,), names=("rot180",),
                     why="does the turn for you; the exercise asks you to do it with slicing or np.flip")]


# ---- exercise 2: a 'full' convolution from zero padding and a 'valid' correlation --------------------------
def _full_reference(x, k):
    return convolve2d(x, k, "full")


def _padded(x, k, top, bottom, left, right, kernel):
    return correlate2d(np.pad(x, ((top, bottom), (left, right))), kernel, "valid")


FULL_MISTAKES = [
    Mistake("forgot to flip",
            "the padding is right, but you correlated with k itself: that is the full CORRELATION. A convolution "
            "slides k turned by 180°.",
            lambda x, k: _padded(x, k, k.shape[0] - 1, k.shape[0] - 1, k.shape[1] - 1, k.shape[1] - 1, k)),
    Mistake("padded by KH instead of KH - 1",
            "your result is two rows and two columns too large. The last full window overlaps x in one pixel, "
            "so it sticks out by KH - 1 rows (KW - 1 columns): pad by KH - 1 and KW - 1.",
            lambda x, k: _padded(x, k, k.shape[0], k.shape[0], k.shape[1], k.shape[1], k[::-1, ::-1])),
    Mistake("padded only one side",
            "you padded only the top and left. Windows stick out on every side of x: pad KH - 1 rows above AND "
            "below, KW - 1 columns left AND right.",
            lambda x, k: _padded(x, k, k.shape[0] - 1, 0, k.shape[1] - 1, 0, k[::-1, ::-1])),
    Mistake("transposed instead of rotating",
            "you used k.T: a transpose is not a 180° turn (that is k[::-1, ::-1]).",
            lambda x, k: _padded(x, k, k.shape[1] - 1, k.shape[1] - 1, k.shape[0] - 1, k.shape[0] - 1, k.T)),
]

FULL_CASES = _cases(313, [((4, 6), (2, 3)), ((5, 4), (3, 3)), ((3, 5), (3, 2))])
FULL_HIDDEN_CASES = _cases(3131, [((6, 3), (2, 2)), ((4, 7), (3, 4))])


def check_full_convolution(fn, hidden=False):
    """Check ``fn(x, k) -> x * k`` in 'full' mode, built from zero padding and a 'valid' correlation.

    Names: "forgot to flip", "padded by KH instead of KH - 1", "padded only one side", "transposed instead of
    rotating". Refuses convolve2d, rot180 and any use of the modes "full" and "same".
    """
    modes = Shortcut("the modes 'full' and 'same'", constants=("full", "same"),
                     why="do the padding for you; the exercise asks you to pad x yourself and use 'valid'")
    return check_function("full convolution from padding", fn, _full_reference,
                          FULL_HIDDEN_CASES if hidden else FULL_CASES, FULL_MISTAKES,
                          shortcuts=_shortcut_list() + [modes], hidden=hidden)
