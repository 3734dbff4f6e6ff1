"""Checker for the exercise of notebook 10: col2im for a convolution with stride and dilation.

With stride s and dilation d, im2col copies one image x (C, H, W) (no padding) into cols (C·KH·KW, H_out·W_out):

    cols[(c, u, v), (i, j)] = x[c, s·i + d·u, s·j + d·v]      H_out = (H − d(KH − 1) − 1) // s + 1 (W_out alike)

rows in (c, u, v) order and columns in (i, j) order, both row-major: the worked example of the notebook with
s = d = 1. The learner writes ``fn(dcols, C, H, W, KH, KW, stride, dilation) -> dx`` (C, H, W), the backward pass
of that copy: every entry of dcols goes back to the pixel it was copied from and ADDS (windows overlap whenever
s < d(K − 1) + 1), and a pixel that no window reads (the rows or columns left over when s does not divide the
span) gets 0. Cases use non-square images and kernels, several channels and strides and dilations that differ.
"""

import numpy as np

from ..layers import Conv2D
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_col2im"]


def _out_size(H, K, s, d):
    return (H - d * (K - 1) - 1) // s + 1


def _col2im(dcols, C, H, W, KH, KW, s, d, *, offset=None, step=None, row_order=(0, 1, 2), accumulate=True):
    """dx[c, step·i + offset·u, step·j + offset·v] += dcols[(c, u, v), (i, j)]: the adjoint when offset = d and
    step = s. A variant whose positions run off the image raises (it cannot even run there)."""
    H_out, W_out = _out_size(H, KH, s, d), _out_size(W, KW, s, d)
    offset, step = d if offset is None else offset, s if step is None else step
    if offset * (KH - 1) + step * (H_out - 1) >= H or offset * (KW - 1) + step * (W_out - 1) >= W:
        raise ValueError("these positions run off the image")
    shape = [(C, KH, KW)[a] for a in row_order]
    g = np.moveaxis(dcols.reshape(*shape, H_out, W_out), (0, 1, 2), row_order)  # back to (c, u, v, i, j)
    dx = np.zeros((C, H, W))
    for u in range(KH):
        for v in range(KW):
            rows = slice(offset * u, offset * u + step * (H_out - 1) + 1, step)
            cols = slice(offset * v, offset * v + step * (W_out - 1) + 1, step)
            if accumulate:
                dx[:, rows, cols] += g[:, u, v]
            else:
                dx[:, rows, cols] = g[:, u, v]
    return dx


def _col2im_reference(dcols, C, H, W, KH, KW, stride, dilation):
    return _col2im(dcols, C, H, W, KH, KW, stride, dilation)


COL2IM_MISTAKES = [
    Mistake("overwrites instead of accumulating",
            "a pixel was copied into several columns (one per window that contains it), so its gradient is the "
            "SUM of what those copies receive: use +=, not =.",
            lambda g, C, H, W, KH, KW, s, d: _col2im(g, C, H, W, KH, KW, s, d, accumulate=False)),
    Mistake("ignored the dilation",
            "you sent tap (u, v) back to the neighbouring pixels of its window's corner. With dilation d the "
            "taps of one window are d pixels apart: ask where tap (u, v) of window (i, j) read x.",
            lambda g, C, H, W, KH, KW, s, d: _col2im(g, C, H, W, KH, KW, s, d, offset=1)),
    Mistake("ignored the stride",
            "you placed neighbouring windows one pixel apart. With stride s window (i, j) starts s·i rows and "
            "s·j columns into x.",
            lambda g, C, H, W, KH, KW, s, d: _col2im(g, C, H, W, KH, KW, s, d, step=1)),
    Mistake("swapped stride and dilation",
            "the stride spaces the WINDOWS (it multiplies i and j), the dilation spaces the TAPS inside a window "
            "(it multiplies u and v); you used them the other way round.",
            lambda g, C, H, W, KH, KW, s, d: _col2im(g, C, H, W, KH, KW, s, d, offset=s, step=d)),
    Mistake("rows read in (u, v, c) order",
            "you read the rows of dcols with the channel last. They are in im2col's order, (c, u, v).",
            lambda g, C, H, W, KH, KW, s, d: _col2im(g, C, H, W, KH, KW, s, d, row_order=(1, 2, 0))),
]


def _col2im_cases(seed, shapes):
    rng = np.random.default_rng(seed)
    cases = []
    for C, H, W, KH, KW, s, d in shapes:
        n_cols = _out_size(H, KH, s, d) * _out_size(W, KW, s, d)
        cases.append((rng.standard_normal((C * KH * KW, n_cols)), C, H, W, KH, KW, s, d))
    return cases


# (C, H, W, KH, KW, stride, dilation): overlapping windows, a row or column no window reads, s ≠ d, non-square.
# In the first case every mistake's positions fit inside x, so each is named there.
COL2IM_CASES = _col2im_cases(919, [(2, 15, 10, 4, 2, 3, 2), (2, 13, 11, 3, 2, 2, 4), (1, 8, 9, 3, 2, 3, 2), (3, 7, 8, 3, 3, 1, 2),
                                   (2, 6, 7, 2, 2, 2, 1)])


def _draw(rng):
    """New cases at grading time. First a stride larger than the dilation with at least KH windows per column, so
    that every mistake's positions fit in x; then a stride 1 with a dilation ≥ 2 (windows overlap); then a random
    one. Non-square kernels, several channels, up to s − 1 rows and columns that no window reads."""
    shapes = []
    for s, d in ((int(rng.integers(2, 4)), 1), (1, int(rng.integers(2, 4))), (3, 2)):
        KH, KW = (int(v) for v in rng.choice([2, 3], size=2, replace=False))
        Ho, Wo = KH + int(rng.integers(0, 2)), KW + int(rng.integers(0, 2))
        H = d * (KH - 1) + s * (Ho - 1) + 1 + int(rng.integers(0, s))
        W = d * (KW - 1) + s * (Wo - 1) + 1 + int(rng.integers(0, s))
        shapes.append((int(rng.integers(1, 4)) if shapes else 2, H, W, KH, KW, s, d))
    return _col2im_cases(int(rng.integers(2**31)), shapes)


def _shortcut_list():
    from . import _shortcuts

    own = Shortcut("`Conv2D._col2im`", targets=tuple(getattr(Conv2D, n) for n in ("_col2im",) if hasattr(Conv2D, n)),
                   names=("_col2im", "Conv2D"), why="computes this for you; the exercise asks you to derive it")
    return [own] + _shortcuts.conv_layers()


# Check ``col2im(dcols, C, H, W, KH, KW, stride, dilation) -> dx (C, H, W)``, the backward pass of im2col with stride
# and dilation (no padding). Names: "overwrites instead of accumulating", "ignored the dilation", "ignored the
# stride", "swapped stride and dilation", "rows read in (u, v, c) order". Refuses Conv2D (and its own _col2im) and
# numerical gradients; while graded, only numpy can be imported.
EXERCISE = Exercise("col2im", "check_col2im", "col2im with stride and dilation", "10_speed_ladder", _col2im_reference,
                    COL2IM_CASES, _draw, COL2IM_MISTAKES, shortcuts=_shortcut_list)
check_col2im = self_check(EXERCISE)
