"""Checker for the exercise of notebook 03: a 'same' convolution, for even and non-square kernels, from zero padding
and a 'valid' correlation.

The learner writes ``fn(x, k) -> out``, the 'same' convolution x * k of shape (H, W) as scipy (and cnnlib) define it,
using only np.pad, a 'valid' correlate2d and flips. Section 2 of the notebook says which window of the 'full' result
'same' keeps; the step it does not show is turning that window into padding. Keeping rows t, ..., t + H − 1 of the
full convolution (t = ⌊(KH − 1)/2⌋) drops t of the KH − 1 zero rows above x and the rest below it, so the padding is

    top = KH − 1 − t = ⌊KH/2⌋,  bottom = ⌊(KH − 1)/2⌋          (the same for the columns with KW)

and the kernel is turned by 180°. For an even side the two differ, and the other way round from the correlation's
'same'. Every case has a kernel with at least one even side and no symmetry, so each mistake gives its own answer.
"""

import numpy as np

from ..signal import convolve2d, correlate2d, rot180
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_same_convolution"]


def _cases(seed, shapes):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(xs), rng.standard_normal(ks)) for xs, ks in shapes]


def _shortcut_list():
    return [_shortcuts.two_d_operations("convolve2d"),
            Shortcut("`rot180`", targets=(rot180,), names=("rot180",),
                     why="does the turn for you; the exercise asks you to do it with slicing or np.flip")]


def _same_reference(x, k):
    return convolve2d(x, k, "same")


def _padded(x, rows, cols, kernel):
    """A 'valid' correlation of x padded by rows = (top, bottom) and cols = (left, right) with ``kernel``."""
    return correlate2d(np.pad(x, (rows, cols)), kernel, "valid")


def _split(K, before):
    return before, K - 1 - before


SAME_MISTAKES = [
    Mistake("forgot to flip",
            "the padding is right, but you correlated with k itself: that is a 'same' CORRELATION (with this "
            "padding). A convolution slides k turned by 180°.",
            lambda x, k: _padded(x, _split(k.shape[0], k.shape[0] // 2), _split(k.shape[1], k.shape[1] // 2), k)),
    Mistake("padded like the correlation's 'same'",
            "your result is the right numbers shifted by one row or column. For an even side, 'same' keeps a "
            "different window of the full result for a convolution than for a correlation (section 2): work out "
            "from that window how many zero rows stay above x and how many below.",
            lambda x, k: _padded(x, _split(k.shape[0], (k.shape[0] - 1) // 2),
                                 _split(k.shape[1], (k.shape[1] - 1) // 2), k[::-1, ::-1])),
    Mistake("padded K//2 on both sides",
            "your result is one row or column too large: for an even side, equal padding on both sides cannot give "
            "H rows. The KH − 1 zero rows must be shared unequally between top and bottom.",
            lambda x, k: _padded(x, (k.shape[0] // 2,) * 2, (k.shape[1] // 2,) * 2, k[::-1, ::-1])),
    Mistake("padded (K-1)//2 on both sides",
            "your result is one row or column too small: for an even side, equal padding on both sides cannot give "
            "H rows. The KH − 1 zero rows must be shared unequally between top and bottom.",
            lambda x, k: _padded(x, ((k.shape[0] - 1) // 2,) * 2, ((k.shape[1] - 1) // 2,) * 2, k[::-1, ::-1])),
    Mistake("transposed instead of rotating",
            "you used k.T: a transpose is not a 180° turn (that reverses both axes).",
            lambda x, k: _padded(x, _split(k.shape[1], k.shape[1] // 2), _split(k.shape[0], k.shape[0] // 2), k.T)),
]

# every kernel has an even side; both sides even, one even and one odd, non-square
SAME_CASES = _cases(313, [((5, 7), (2, 4)), ((6, 5), (4, 3)), ((4, 6), (3, 2))])


def _draw(rng):
    """New cases at grading time: every kernel has an even side and no symmetry; non-square ones and a square even
    one, so that each mistake gives its own answer."""
    kernels = [(int(rng.choice([2, 4])), int(rng.choice([3, 5]))), (int(rng.choice([3, 5])), int(rng.choice([2, 4]))),
               (4, 4) if rng.random() < 0.5 else (2, 2)]
    shapes = [((int(rng.integers(KH + 1, 9)), int(rng.integers(KW + 1, 9))), (KH, KW)) for KH, KW in kernels]
    return _cases(int(rng.integers(2**31)), shapes)


def _all_shortcuts():
    modes = Shortcut("the modes 'full' and 'same'", constants=("full", "same"),
                     why="do the padding for you; the exercise asks you to pad x yourself and use 'valid'")
    return _shortcut_list() + [modes]


# Check ``my_same_convolve2d(x, k) -> x * k`` in 'same' mode (the shape of x), built from zero padding and a 'valid'
# correlation. Names: "forgot to flip", "padded like the correlation's 'same'", "padded K//2 on both sides",
# "padded (K-1)//2 on both sides", "transposed instead of rotating". The self-check refuses convolve2d, rot180 and
# the modes "full" and "same"; while graded, only numpy, pad2d and a 'valid' correlate2d can be imported.
EXERCISE = Exercise("my_same_convolve2d", "check_same_convolution", "'same' convolution from padding",
                    "03_convolution_vs_correlation", _same_reference, SAME_CASES, _draw, SAME_MISTAKES,
                    allow={"cnnlib.signal": ("correlate2d", "pad2d")}, modes={"correlate2d": ("valid",)},
                    shortcuts=_all_shortcuts)
check_same_convolution = self_check(EXERCISE)
