"""The kernel/bias-gradient checker of notebook 09: a right answer passes, each listed mistake is named.

Every solution and every mistake is written here independently of cnnlib: with scipy.signal or plain loops.
"""

import itertools

import numpy as np
import pytest
import scipy.signal

from cnnlib.exercises import check_kernel_bias_grads
from cnnlib.exercises.mnist import CASES


def grads_scipy(x, delta):
    N, C = x.shape[:2]
    F = delta.shape[1]
    dW = np.zeros((F, C, x.shape[2] - delta.shape[2] + 1, x.shape[3] - delta.shape[3] + 1))
    for n, f, c in itertools.product(range(N), range(F), range(C)):
        dW[f, c] += scipy.signal.correlate2d(x[n, c], delta[n, f], "valid")
    return dW, delta.sum(axis=(0, 2, 3))


def grads_loops(x, delta):
    """Each δ[n, f, i, j] adds the window under it to dW[f] and itself to db[f]."""
    N, F, H_out, W_out = delta.shape
    KH, KW = x.shape[2] - H_out + 1, x.shape[3] - W_out + 1
    dW, db = np.zeros((F, x.shape[1], KH, KW)), np.zeros(F)
    for n, f, i, j in np.ndindex(*delta.shape):
        dW[f] += delta[n, f, i, j] * x[n, :, i:i + KH, j:j + KW]
        db[f] += delta[n, f, i, j]
    return dW, db


def convolved(x, delta):
    dW, db = grads_scipy(x, delta)
    N, C = x.shape[:2]
    conv = np.zeros_like(dW)
    for n, f, c in itertools.product(range(N), range(delta.shape[1]), range(C)):
        conv[f, c] += scipy.signal.convolve2d(x[n, c], delta[n, f], "valid")
    return conv, db


def first_digit_only(x, delta):
    return grads_loops(x[:1], delta[:1])


def averaged_over_batch(x, delta):
    dW, db = grads_loops(x, delta)
    return dW / x.shape[0], db / x.shape[0]


def bias_mean_over_map(x, delta):
    dW, _ = grads_loops(x, delta)
    return dW, delta.mean(axis=(2, 3)).sum(axis=0)


MISTAKES = {
    "convolved instead of correlating": convolved,
    "used only the first digit": first_digit_only,
    "averaged over the batch": averaged_over_batch,
    "averaged the bias over the map": bias_mean_over_map,
}


@pytest.mark.parametrize("solution", [grads_scipy, grads_loops])
def test_right_answers_pass(solution):
    result = check_kernel_bias_grads(solution)
    assert result and result.mistake is None
    assert "all 3 cases agree" in str(result)


@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_mistake_is_named(name):
    result = check_kernel_bias_grads(MISTAKES[name])
    assert not result
    assert result.mistake == name


def test_no_two_variants_coincide_on_the_first_case():
    x, delta = CASES[0]
    variants = {"right": grads_loops(x, delta), **{n: f(x, delta) for n, f in MISTAKES.items()}}
    for (a, va), (b, vb) in itertools.combinations(variants.items(), 2):
        same = all(np.shape(p) == np.shape(q) and np.allclose(p, q) for p, q in zip(va, vb))
        assert not same, f"{a} and {b} give the same answer"


def test_random_answer_reports_the_first_difference():
    def random_answer(x, delta):
        dW, db = grads_loops(x, delta)
        return dW + np.random.default_rng(1).standard_normal(dW.shape), db

    result = check_kernel_bias_grads(random_answer)
    assert not result and result.mistake is None
    assert "differs first at index" in result.message


def test_a_function_that_raises_or_returns_none_is_reported():
    def broken(x, delta):
        raise IndexError("oops")

    result = check_kernel_bias_grads(broken)
    assert not result and "raised IndexError: oops" in result.message

    def stub(x, delta):
        return None

    result = check_kernel_bias_grads(stub)
    assert not result and "returned None" in result.message
