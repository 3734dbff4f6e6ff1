"""Checker for the exercise of notebook 03: a 'full' convolution from zero padding and a 'valid' correlation.

The learner writes ``fn(x, k) -> out``, the 'full' convolution x * k of shape (H + KH - 1, W + KW - 1), using
only np.pad, a 'valid' correlate2d and flips. The right answer pads x by KH - 1 rows and KW - 1 columns on every
side and correlates with rot180(k), where rot180(k)[m, n] = k[KH-1-m, KW-1-n].
The cases use non-square, non-symmetric kernels, so each mistake below gives an answer of its own.
"""

import numpy as np

from ..signal import convolve2d, correlate2d, rot180
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_full_convolution"]


def _cases(seed, shapes):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(xs), rng.standard_normal(ks)) for xs, ks in shapes]


def _shortcut_list():
    return [_shortcuts.two_d_operations("convolve2d"),
            Shortcut("`rot180`", targets=(rot180,), names=("rot180",),
                     why="does the turn for you; the exercise asks you to do it with slicing or np.flip")]


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


def _draw(rng):
    """New cases at grading time: non-square kernels (a square one too), never symmetric."""
    shapes = []
    for KH, KW in [(2, 3), (3, 3), tuple(int(v) for v in rng.choice([2, 3, 4], size=2, replace=False))]:
        shapes.append(((int(rng.integers(KH, 8)), int(rng.integers(KW, 8))), (KH, KW)))
    return _cases(int(rng.integers(2**31)), shapes)


def _all_shortcuts():
    modes = Shortcut("the modes 'full' and 'same'", constants=("full", "same"),
                     why="do the padding for you; the exercise asks you to pad x yourself and use 'valid'")
    return _shortcut_list() + [modes]


# Check ``my_full_convolve2d(x, k) -> x * k`` in 'full' mode, built from zero padding and a 'valid' correlation.
# Names: "forgot to flip", "padded by KH instead of KH - 1", "padded only one side", "transposed instead of
# rotating". The self-check refuses convolve2d, rot180 and the modes "full" and "same"; while graded, only
# numpy, pad2d and a 'valid' correlate2d can be imported.
EXERCISE = Exercise("my_full_convolve2d", "check_full_convolution", "full convolution from padding",
                    "03_convolution_vs_correlation", _full_reference, FULL_CASES, _draw, FULL_MISTAKES,
                    allow={"cnnlib.signal": ("correlate2d", "pad2d")}, modes={"correlate2d": ("valid",)},
                    shortcuts=_all_shortcuts)
check_full_convolution = self_check(EXERCISE)
