"""The convolution-via-correlation checker of notebook 03: right answers pass, each listed mistake is named.

Solutions and mistakes are written here independently of cnnlib, with scipy.signal or plain loops.
"""

import itertools

import numpy as np
import pytest
import scipy.signal

from cnnlib.exercises import check_convolve_via_correlate
from cnnlib.exercises.convolution import CASES


def convolve_flip(x, k):
    """An honest answer in another spelling: np.flip over both axes is the 180° rotation."""
    return scipy.signal.correlate2d(x, np.flip(k), "valid")


def convolve_loops(x, k):
    """(x * k)[i, j] = Σ_m Σ_n x[i - m, j - n] k[m, n], indexed so that the output starts where k fits."""
    KH, KW = k.shape
    out = np.zeros((x.shape[0] - KH + 1, x.shape[1] - KW + 1))
    for i, j in np.ndindex(*out.shape):
        for m, n in np.ndindex(KH, KW):
            out[i, j] += x[i + KH - 1 - m, j + KW - 1 - n] * k[m, n]
    return out


MISTAKES = {
    "forgot to flip": lambda x, k: scipy.signal.correlate2d(x, k, "valid"),
    "flipped only rows": lambda x, k: scipy.signal.correlate2d(x, np.flipud(k), "valid"),
    "flipped only columns": lambda x, k: scipy.signal.correlate2d(x, np.fliplr(k), "valid"),
    "transposed instead of rotating": lambda x, k: scipy.signal.correlate2d(x, np.transpose(k), "valid"),
}


@pytest.mark.parametrize("solution", [convolve_flip, convolve_loops])
def test_right_answers_pass(solution):
    result = check_convolve_via_correlate(solution)
    assert result and result.mistake is None


def test_loops_match_a_hand_worked_case():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    k = np.array([[1.0, 10.0], [100.0, 1000.0]])
    # the rotated kernel [[1000, 100], [10, 1]] slides over x
    np.testing.assert_allclose(convolve_loops(x, k), [[1000 + 200 + 40 + 5, 2000 + 300 + 50 + 6]])


@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_mistake_is_named(name):
    result = check_convolve_via_correlate(MISTAKES[name])
    assert not result and result.mistake == name


def test_no_two_variants_coincide_on_any_case():
    variants = dict(MISTAKES, right=convolve_flip)
    for x, k in CASES:
        outs = {name: fn(x, k) for name, fn in variants.items()}
        for (a, oa), (b, ob) in itertools.combinations(outs.items(), 2):
            assert not (oa.shape == ob.shape and np.allclose(oa, ob)), f"{a} and {b} coincide"


def test_a_random_wrong_answer_is_located():
    def wrong(x, k):
        out = convolve_flip(x, k)
        out[0, 1] *= -1.0
        return out

    result = check_convolve_via_correlate(wrong)
    assert not result and result.mistake is None and "differs first at index (0, 1)" in result.message


def test_a_function_that_raises_is_reported():
    result = check_convolve_via_correlate(lambda x, k: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message


def test_the_unfinished_stub_is_reported():
    result = check_convolve_via_correlate(lambda x, k: None)
    assert not result and "returned None" in result.message
