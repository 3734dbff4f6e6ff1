"""The im2col checker of notebook 10: a right answer passes, each listed mistake is named.

Every solution and every mistake is written here independently of cnnlib, with plain loops.
"""

import itertools

import numpy as np
import pytest

from cnnlib.exercises import check_im2col
from cnnlib.exercises.speed import CASES


def im2col_loops(x, KH, KW, row_order="cmk", col_order="ij"):
    """One row per kernel tap, one column per output pixel, in the orders given."""
    C, H, W = x.shape
    H_out, W_out = H - KH + 1, W - KW + 1
    ranges = {"c": range(C), "m": range(KH), "k": range(KW)}
    rows = list(itertools.product(*(ranges[a] for a in row_order)))
    pixels = [(i, j) for i in range(H_out) for j in range(W_out)] if col_order == "ij" else \
             [(i, j) for j in range(W_out) for i in range(H_out)]
    cols = np.zeros((len(rows), len(pixels)))
    for r, tap in enumerate(rows):
        t = dict(zip(row_order, tap))
        for p, (i, j) in enumerate(pixels):
            cols[r, p] = x[t["c"], i + t["m"], j + t["k"]]
    return cols


def im2col_by_stacking(x, KH, KW):
    C, H, W = x.shape
    H_out, W_out = H - KH + 1, W - KW + 1
    return np.stack([x[c, m:m + H_out, k:k + W_out].ravel()
                     for c in range(C) for m in range(KH) for k in range(KW)])


MISTAKES = {
    "rows in (m, k, c) order": lambda x, KH, KW: im2col_loops(x, KH, KW, row_order="mkc"),
    "kernel axes swapped": lambda x, KH, KW: im2col_loops(x, KH, KW, row_order="ckm"),
    "columns in (j, i) order": lambda x, KH, KW: im2col_loops(x, KH, KW, col_order="ji"),
    "transposed": lambda x, KH, KW: im2col_loops(x, KH, KW).T,
}


@pytest.mark.parametrize("solution", [im2col_loops, im2col_by_stacking])
def test_right_answers_pass(solution):
    result = check_im2col(solution)
    assert result and result.mistake is None


def test_the_product_with_the_reshaped_kernel_is_the_convolution():
    """Why the order matters: W.reshape(F, -1) @ cols reproduces a direct correlation."""
    x, KH, KW = CASES[0]
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, x.shape[0], KH, KW))
    z = (W.reshape(3, -1) @ im2col_loops(x, KH, KW)).reshape(3, x.shape[1] - KH + 1, x.shape[2] - KW + 1)
    for f, i, j in np.ndindex(*z.shape):
        assert z[f, i, j] == pytest.approx(np.sum(x[:, i:i + KH, j:j + KW] * W[f]))


@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_mistake_is_named(name):
    result = check_im2col(MISTAKES[name])
    assert not result
    assert result.mistake == name


def test_no_two_variants_coincide_on_the_first_case():
    x, KH, KW = CASES[0]
    variants = {"right": im2col_loops(x, KH, KW), **{n: f(x, KH, KW) for n, f in MISTAKES.items()}}
    for (a, va), (b, vb) in itertools.combinations(variants.items(), 2):
        assert not (va.shape == vb.shape and np.allclose(va, vb)), f"{a} and {b} give the same answer"


def test_random_answer_reports_the_first_difference():
    def random_answer(x, KH, KW):
        return np.random.default_rng(1).standard_normal(im2col_loops(x, KH, KW).shape)

    result = check_im2col(random_answer)
    assert not result and result.mistake is None
    assert "differs first at index" in result.message


def test_a_function_that_raises_or_returns_none_is_reported():
    def broken(x, KH, KW):
        raise ValueError("bad shape")

    result = check_im2col(broken)
    assert not result and "raised ValueError: bad shape" in result.message
    result = check_im2col(lambda x, KH, KW: None)
    assert not result and "returned None" in result.message
