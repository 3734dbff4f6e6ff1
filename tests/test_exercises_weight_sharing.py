"""check_tied_weight_gradient: a correct dW passes; each known mistake, written here independently, is named."""

import itertools

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import check_tied_weight_gradient
from cnnlib.exercises.weight_sharing import _cases
from cnnlib.signal import correlate2d


def correct(x, delta):
    # loops over the definition: dW[m, n] = Σ_i Σ_j δ[i, j] x[i + m, j + n]
    H_out, W_out = delta.shape
    KH, KW = x.shape[0] - H_out + 1, x.shape[1] - W_out + 1
    dW = np.zeros((KH, KW))
    for m in range(KH):
        for n in range(KW):
            dW[m, n] = np.sum(delta * x[m:m + H_out, n:n + W_out])
    return dW


def swapped_scipy(x, delta):
    return signal.correlate2d(delta, x, "valid")  # scipy runs it (and rotates the answer)


def swapped_cnnlib(x, delta):
    return correlate2d(delta, x, "valid")  # cnnlib refuses: delta is smaller than x


def convolution(x, delta):
    return signal.convolve2d(x, delta, "valid")


def no_sum(x, delta):
    H_out, W_out = delta.shape
    KH, KW = x.shape[0] - H_out + 1, x.shape[1] - W_out + 1
    copies = np.zeros((H_out, W_out, KH, KW))
    for i in range(H_out):
        for j in range(W_out):
            copies[i, j] = delta[i, j] * x[i:i + KH, j:j + KW]
    return copies


def mean(x, delta):
    return no_sum(x, delta).mean(axis=(0, 1))


def full_mode(x, delta):
    return signal.correlate2d(x, delta, "full")


MISTAKES = {
    "swapped arguments": swapped_scipy,
    "used convolution instead of correlation": convolution,
    "forgot to sum the copies": no_sum,
    "took the mean instead of the sum": mean,
    "used 'full' instead of 'valid'": full_mode,
}


def test_correct_solution_passes():
    result = check_tied_weight_gradient(correct)
    assert result and result.mistake is None and "all 4 cases" in result.message


def test_scipy_solution_passes():
    assert check_tied_weight_gradient(lambda x, d: signal.correlate2d(x, d, "valid"))


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_is_named(name):
    result = check_tied_weight_gradient(MISTAKES[name])
    assert not result
    assert result.mistake == name, result.message


def test_swapped_arguments_named_when_cnnlib_refuses_to_run():
    with pytest.raises(ValueError):
        swapped_cnnlib(*_cases()[0])
    result = check_tied_weight_gradient(swapped_cnnlib)
    assert not result and result.mistake == "swapped arguments"


def test_cases_tell_every_variant_apart():
    variants = {"correct": correct, **MISTAKES}
    for (na, fa), (nb, fb) in itertools.combinations(variants.items(), 2):
        for x, d in _cases():
            a, b = fa(x, d), fb(x, d)
            assert a.shape != b.shape or not np.allclose(a, b), (na, nb)


def test_random_wrong_answer_reports_first_mismatch():
    def noise(x, d):
        return np.random.default_rng(7).standard_normal((x.shape[0] - d.shape[0] + 1, x.shape[1] - d.shape[1] + 1))

    result = check_tied_weight_gradient(noise)
    assert not result and result.mistake is None
    assert "differs first at index" in result.message


def test_a_function_that_raises_is_reported():
    def broken(x, d):
        return x @ d  # shapes do not fit in any case, whichever way round

    result = check_tied_weight_gradient(broken)
    assert not result and result.mistake is None and "raised ValueError" in result.message


def test_stub_returning_none_fails_without_raising():
    result = check_tied_weight_gradient(lambda x, d: None)
    assert not result and "returned None" in result.message
