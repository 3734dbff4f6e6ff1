"""The conv-backward checker of notebook 04: a right answer passes, each listed mistake is named.

Every solution and every mistake is written here independently of cnnlib: with scipy.signal or plain loops.
"""

import itertools

import numpy as np
import pytest
import scipy.signal

from cnnlib.exercises import check_conv_backward
from cnnlib.exercises.rotation import CASES
from cnnlib.signal import correlate2d


# ---- independent right answers ---------------------------------------------------------------------------
def backward_scipy(x, W, delta):
    # the full CONVOLUTION of δ with W is the full correlation with the rotated W
    return scipy.signal.convolve2d(delta, W, "full"), scipy.signal.correlate2d(x, delta, "valid"), delta.sum()


def backward_loops(x, W, delta):
    """Each output z[i, j] = Σ x[i+m, j+n] W[m, n] + b sends δ[i, j] back along every product it used."""
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    KH, KW = W.shape
    for i, j in np.ndindex(*delta.shape):
        dx[i:i + KH, j:j + KW] += delta[i, j] * W
        dW += delta[i, j] * x[i:i + KH, j:j + KW]
    return dx, dW, float(delta.sum())


# ---- independent wrong answers, written the way a learner would --------------------------------------------
def forgot_rotation(x, W, delta):
    return scipy.signal.correlate2d(delta, W, "full"), scipy.signal.correlate2d(x, delta, "valid"), delta.sum()


def valid_not_full(x, W, delta):
    return (scipy.signal.correlate2d(delta, np.flip(W), "valid"), scipy.signal.correlate2d(x, delta, "valid"),
            delta.sum())


def swapped_dw_scipy(x, W, delta):
    return scipy.signal.convolve2d(delta, W, "full"), scipy.signal.correlate2d(delta, x, "valid"), delta.sum()


def swapped_dw_cnnlib(x, W, delta):
    return scipy.signal.convolve2d(delta, W, "full"), correlate2d(delta, x, "valid"), delta.sum()


def transposed(x, W, delta):
    return (scipy.signal.correlate2d(delta, np.transpose(W), "full"), scipy.signal.correlate2d(x, delta, "valid"),
            delta.sum())


def padded_by(offset):
    def fn(x, W, delta):
        KH, KW = W.shape
        padded = np.pad(delta, ((KH - 1 + offset,) * 2, (KW - 1 + offset,) * 2))
        dx = scipy.signal.correlate2d(padded, np.flip(W), "valid")
        return dx, scipy.signal.correlate2d(x, delta, "valid"), delta.sum()
    return fn


MISTAKES = {
    "forgot the rotation": [forgot_rotation],
    "used 'valid' instead of 'full'": [valid_not_full],
    "swapped the arguments for dW": [swapped_dw_scipy, swapped_dw_cnnlib],
    "transposed the kernel instead of rotating it": [transposed],
    "padding off by one": [padded_by(-1), padded_by(+1)],
}


@pytest.mark.parametrize("solution", [backward_scipy, backward_loops])
def test_right_answers_pass(solution):
    result = check_conv_backward(solution)
    assert result and result.passed and result.mistake is None
    assert "all 3 cases agree" in str(result)


def test_reference_matches_loops_on_a_hand_worked_case():
    # x 2x3, W 1x2, δ 2x2: worked on paper
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    W = np.array([[10.0, 100.0]])
    delta = np.array([[1.0, -1.0], [2.0, 0.5]])
    dx, dW, db = backward_loops(x, W, delta)
    np.testing.assert_allclose(dx, [[10.0, 90.0, -100.0], [20.0, 205.0, 50.0]])
    np.testing.assert_allclose(dW, [[1 - 2 + 8 + 2.5, 2 - 3 + 10 + 3.0]])
    assert db == 2.5
    assert check_conv_backward(lambda *a: backward_loops(*a))


@pytest.mark.parametrize("name,fn", [(name, fn) for name, fns in MISTAKES.items() for fn in fns],
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_each_mistake_is_named(name, fn):
    result = check_conv_backward(fn)
    assert not result
    assert result.mistake == name
    assert result.case == 0


def test_no_two_variants_coincide_on_any_case():
    variants = {"right": backward_scipy}
    variants.update({f"{name} #{k}": fn for name, fns in MISTAKES.items()
                     for k, fn in enumerate(fns) if fn is not swapped_dw_cnnlib})

    def same(a, b):
        return all(np.shape(p) == np.shape(q) and np.allclose(p, q) for p, q in zip(a, b))

    for x, W, delta in CASES:
        assert x.shape[0] != x.shape[1] and not np.allclose(W, np.flip(W))
        outputs = {name: fn(x, W, delta) for name, fn in variants.items()}
        for (a, oa), (b, ob) in itertools.combinations(outputs.items(), 2):
            assert not same(oa, ob), f"{a} and {b} coincide"


def test_a_random_wrong_answer_is_located():
    def wrong(x, W, delta):
        dx, dW, db = backward_scipy(x, W, delta)
        dx = dx.copy()
        dx[1, 2] += 0.5
        return dx, dW, db

    result = check_conv_backward(wrong)
    assert not result and result.mistake is None
    assert "dx differs first at index (1, 2)" in result.message


def test_wrong_bias_gradient_is_located():
    result = check_conv_backward(lambda x, W, delta: backward_scipy(x, W, delta)[:2] + (delta.mean(),))
    assert not result and result.mistake is None
    assert "db differs" in result.message


def test_a_function_that_raises_is_reported():
    def broken(x, W, delta):
        raise RuntimeError("oops")

    result = check_conv_backward(broken)
    assert not result and "raised RuntimeError: oops" in result.message


def test_the_unfinished_stub_is_reported():
    result = check_conv_backward(lambda x, W, delta: None)
    assert not result and "returned None" in result.message
