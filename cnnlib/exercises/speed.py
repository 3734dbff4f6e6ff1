"""Checker for the exercise of notebook 09: im2col, the copy that turns a convolution into one matrix product.

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

__all__ = ["check_im2col"]


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
