"""Checker for the exercise of notebook 10: im2col, the copy that turns a convolution into one matrix product.

The learner writes ``fn(x, KH, KW) -> cols`` for ONE image x (C, H, W), stride 1, no padding:
cols has shape (C·KH·KW, H_out·W_out), with

    cols[(c, m, k), (i, j)] = x[c, i + m, j + k]       rows in (c, m, k) order, columns in (i, j) order

(both row-major), so that W.reshape(F, -1) @ cols equals the layer's output z.reshape(F, -1).
Cases use non-square images and kernels and two channels, so every mistake below gives its own answer
(tests/test_exercises_speed.py proves that none coincide).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..layers import Conv2D
from ._core import Mistake, Shortcut, check_function

__all__ = ["check_im2col", "check_col2im"]


def _windows(x, KH, KW):
    return sliding_window_view(x, (KH, KW), axis=(1, 2))  # (C, H_out, W_out, KH, KW)


def _reference(x, KH, KW):
    """x (C, H, W) -> cols (C·KH·KW, H_out·W_out), rows (c, m, k), columns (i, j)."""
    C, H, W = x.shape
    return _windows(x, KH, KW).transpose(0, 3, 4, 1, 2).reshape(C * KH * KW, -1)


def _channel_last_rows(x, KH, KW):
    C = x.shape[0]
    return _windows(x, KH, KW).transpose(3, 4, 0, 1, 2).reshape(C * KH * KW, -1)


def _kernel_axes_swapped(x, KH, KW):
    C = x.shape[0]
    return _windows(x, KH, KW).transpose(0, 4, 3, 1, 2).reshape(C * KH * KW, -1)


def _columns_column_major(x, KH, KW):
    C = x.shape[0]
    return _windows(x, KH, KW).transpose(0, 3, 4, 2, 1).reshape(C * KH * KW, -1)


def _transposed(x, KH, KW):
    return _reference(x, KH, KW).T


MISTAKES = [
    Mistake("rows in (m, k, c) order",
            "your rows put the channel last. W.reshape(F, -1) lists the weights as (c, m, k), channel first, "
            "so the rows of cols must follow the same order for the product to pair each weight with its pixel.",
            _channel_last_rows),
    Mistake("kernel axes swapped",
            "your rows run through the kernel column by column, (c, k, m). W.reshape(F, -1) goes row by row: "
            "(c, m, k), m the kernel row, k the kernel column.",
            _kernel_axes_swapped),
    Mistake("columns in (j, i) order",
            "your columns go down the image first, (j, i). Use row-major order (i, j), so that the product "
            "reshapes to (F, H_out, W_out) directly.",
            _columns_column_major),
    Mistake("transposed",
            "cols is transposed: use one ROW per kernel tap (c, m, k) and one COLUMN per output pixel (i, j), "
            "shape (C·KH·KW, H_out·W_out), so that W.reshape(F, -1) @ cols works.",
            _transposed),
]


def _cases(seed=909, shapes=(((2, 5, 6), (2, 3)), ((2, 6, 5), (3, 2)), ((1, 7, 6), (3, 3)))):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(x_shape), KH, KW) for x_shape, (KH, KW) in shapes]


CASES = _cases()
HIDDEN_CASES = _cases(9090, (((3, 4, 7), (2, 2)), ((2, 6, 4), (3, 2))))


def check_im2col(fn, hidden=False):
    """Check ``fn(x, KH, KW) -> cols`` (im2col of one image, stride 1).

    Names these mistakes: "rows in (m, k, c) order", "kernel axes swapped", "columns in (j, i) order",
    "transposed". Refuses Conv2D's own im2col. Returns a CheckResult.
    """
    own = Shortcut("`Conv2D._im2col`", targets=(Conv2D._im2col,) if hasattr(Conv2D, "_im2col") else (),
                   names=("_im2col", "Conv2D"), why="builds this matrix for you; the exercise asks you to build it")
    return check_function("im2col", fn, _reference, HIDDEN_CASES if hidden else CASES, MISTAKES,
                          shortcuts=[own], hidden=hidden)


# ---- exercise 2: col2im, the backward pass of the copy ------------------------------------------------------
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
COL2IM_HIDDEN_CASES = _col2im_cases(9190, [(2, 7, 4, 2, 2), (1, 5, 8, 3, 4)])


def check_col2im(fn, hidden=False):
    """Check ``fn(dcols, C, H, W, KH, KW) -> dx (C, H, W)``, the backward pass of im2col (stride 1, no padding).

    Names: "overwrites instead of accumulating", "rows read in (m, k, c) order", "columns read in (j, i) order".
    Refuses Conv2D (and its own _col2im) and numerical gradients.
    """
    from . import _shortcuts

    own = Shortcut("`Conv2D._col2im`", targets=tuple(getattr(Conv2D, n) for n in ("_col2im",) if hasattr(Conv2D, n)),
                   names=("_col2im", "Conv2D"), why="computes this for you; the exercise asks you to derive it")
    return check_function("col2im", fn, _col2im_reference, COL2IM_HIDDEN_CASES if hidden else COL2IM_CASES,
                          COL2IM_MISTAKES, shortcuts=[own] + _shortcuts.conv_layers(), hidden=hidden)
