"""Checker for the exercise of notebook 10: col2im, the backward pass of the im2col copy.

im2col copies one image x (C, H, W) (stride 1, no padding) into cols (C·KH·KW, H_out·W_out), with

    cols[(c, m, k), (i, j)] = x[c, i + m, j + k]       rows in (c, m, k) order, columns in (i, j) order

(both row-major). The learner writes ``fn(dcols, C, H, W, KH, KW) -> dx`` (C, H, W), the backward pass of that
copy. Cases use non-square images and kernels and several channels, so every mistake below gives its own answer.
"""

import numpy as np

from ..layers import Conv2D
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_col2im"]


# im2col copies x[c, i + m, j + k] into cols[(c, m, k), (i, j)]. Its backward pass (the adjoint) sends every entry
# of dcols back to the pixel it was copied from, and ADDS, because a pixel was copied into many columns:
#     dx[c, i + m, j + k] += dcols[(c, m, k), (i, j)]
def _col2im(dcols, C, H, W, KH, KW, row_order=(0, 1, 2), column_major=False, accumulate=True):
    H_out, W_out = H - KH + 1, W - KW + 1
    shape = [(C, KH, KW)[a] for a in row_order]
    d = dcols.reshape(*shape, *((W_out, H_out) if column_major else (H_out, W_out)))
    d = np.moveaxis(d, (0, 1, 2), row_order)  # back to (c, m, k, ., .)
    if column_major:
        d = d.swapaxes(3, 4)
    dx = np.zeros((C, H, W))
    for m in range(KH):
        for k in range(KW):
            if accumulate:
                dx[:, m:m + H_out, k:k + W_out] += d[:, m, k]
            else:
                dx[:, m:m + H_out, k:k + W_out] = d[:, m, k]
    return dx


def _col2im_reference(dcols, C, H, W, KH, KW):
    return _col2im(dcols, C, H, W, KH, KW)


COL2IM_MISTAKES = [
    Mistake("overwrites instead of accumulating",
            "a pixel was copied into several columns (one per window that contains it), so its gradient is the "
            "SUM of what those columns receive: use +=, not =.",
            lambda d, C, H, W, KH, KW: _col2im(d, C, H, W, KH, KW, accumulate=False)),
    Mistake("rows read in (m, k, c) order",
            "you read the rows of dcols with the channel last. They are in im2col's order, (c, m, k).",
            lambda d, C, H, W, KH, KW: _col2im(d, C, H, W, KH, KW, row_order=(1, 2, 0))),
    Mistake("columns read in (j, i) order",
            "you read the columns of dcols column-major. They are in im2col's order, (i, j), row-major.",
            lambda d, C, H, W, KH, KW: _col2im(d, C, H, W, KH, KW, column_major=True)),
]


def _col2im_cases(seed, shapes):
    rng = np.random.default_rng(seed)
    cases = []
    for C, H, W, KH, KW in shapes:
        cases.append((rng.standard_normal((C * KH * KW, (H - KH + 1) * (W - KW + 1))), C, H, W, KH, KW))
    return cases


COL2IM_CASES = _col2im_cases(919, [(2, 5, 6, 2, 3), (1, 6, 5, 3, 3), (3, 4, 7, 3, 2)])


def _draw(rng):
    """New cases at grading time: several channels, non-square images and kernels."""
    shapes = []
    for C in (int(rng.integers(2, 4)), 1):
        KH, KW = (int(v) for v in rng.choice([2, 3, 4], size=2, replace=False))
        shapes.append((C, int(rng.integers(KH + 1, 8)), int(rng.integers(KW + 1, 8)), KH, KW))
    return _col2im_cases(int(rng.integers(2**31)), shapes)


def _shortcut_list():
    from . import _shortcuts

    own = Shortcut("`Conv2D._col2im`", targets=tuple(getattr(Conv2D, n) for n in ("_col2im",) if hasattr(Conv2D, n)),
                   names=("_col2im", "Conv2D"), why="computes this for you; the exercise asks you to derive it")
    return [own] + _shortcuts.conv_layers()


# Check ``col2im(dcols, C, H, W, KH, KW) -> dx (C, H, W)``, the backward pass of im2col (stride 1, no padding).
# Names: "overwrites instead of accumulating", "rows read in (m, k, c) order", "columns read in (j, i) order".
# Refuses Conv2D (and its own _col2im) and numerical gradients.
EXERCISE = Exercise("col2im", "check_col2im", "col2im", "10_speed_ladder", _col2im_reference, COL2IM_CASES, _draw,
                    COL2IM_MISTAKES, shortcuts=_shortcut_list)
check_col2im = self_check(EXERCISE)
