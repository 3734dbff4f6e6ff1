"""cnnlib.signal against scipy.signal (the independent reference) and hand-worked examples."""

import zlib

import numpy as np
import pytest
import scipy.signal

from cnnlib.signal import (convolve2d, correlate2d, correlate2d_naive, insert_zeros, output_size, pad2d,
                           rot180)

SHAPES = [((5, 5), (3, 3)), ((6, 7), (2, 2)), ((7, 6), (2, 3)), ((4, 9), (4, 1)), ((8, 8), (4, 4)),
          ((3, 3), (3, 3)), ((1, 6), (1, 2)), ((9, 5), (1, 1))]
MODES = ["valid", "full", "same"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("xs,ks", SHAPES)
def test_correlate_and_convolve_equal_scipy(xs, ks, mode):
    rng = np.random.default_rng(zlib.crc32(repr((xs, ks, mode)).encode()))
    x, k = rng.standard_normal(xs), rng.standard_normal(ks)
    np.testing.assert_allclose(correlate2d(x, k, mode), scipy.signal.correlate2d(x, k, mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(convolve2d(x, k, mode), scipy.signal.convolve2d(x, k, mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(correlate2d_naive(x, k, mode), scipy.signal.correlate2d(x, k, mode), rtol=1e-12,
                               atol=1e-12)
    assert correlate2d(x, k, mode).shape == (output_size(xs[0], ks[0], mode), output_size(xs[1], ks[1], mode))


def test_integer_inputs_match_scipy():
    x = np.arange(20).reshape(4, 5)
    k = np.array([[1, 2], [3, 4]])
    for mode in MODES:
        np.testing.assert_array_equal(correlate2d(x, k, mode), scipy.signal.correlate2d(x, k, mode))


def test_hand_worked_correlation_and_convolution():
    x = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    k = np.array([[1.0, 0], [0, -1]])
    # correlation: x[i, j] - x[i+1, j+1]
    np.testing.assert_array_equal(correlate2d(x, k), [[-4, -4], [-4, -4]])
    # convolution flips the kernel: -x[i, j] + x[i+1, j+1]
    np.testing.assert_array_equal(convolve2d(x, k), [[4, 4], [4, 4]])


def test_rot180_is_not_transpose():
    k = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(rot180(k), [[6, 5, 4], [3, 2, 1]])
    np.testing.assert_array_equal(rot180(rot180(k)), k)
    np.testing.assert_array_equal(rot180(np.stack([k, 2 * k])), [[[6, 5, 4], [3, 2, 1]], [[12, 10, 8], [6, 4, 2]]])


def test_insert_zeros_by_hand():
    a = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(insert_zeros(a, 2), [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    np.testing.assert_array_equal(insert_zeros(a, (1, 3)), [[1, 0, 0, 2], [3, 0, 0, 4]])
    np.testing.assert_array_equal(insert_zeros(a, 1), a)


def test_pad2d_forms():
    a = np.ones((2, 3))
    assert pad2d(a, 1).shape == (4, 5)
    assert pad2d(a, (1, 2)).shape == (4, 7)
    p = pad2d(a, (1, 0, 0, 2))
    assert p.shape == (3, 5) and p[0].sum() == 0 and p[:, -2:].sum() == 0


@pytest.mark.parametrize("call,match", [
    (lambda: correlate2d(np.ones(3), np.ones((2, 2))), r"2-D array \(H, W\), got shape \(3,\)"),
    (lambda: correlate2d(np.ones((3, 3)), np.ones((2, 2)), "wrap"), "mode to be one of"),
    (lambda: convolve2d(np.ones((2, 2)), np.ones((3, 3))), r"kernel no larger than x; got x of shape \(2, 2\)"),
    (lambda: correlate2d(np.ones((0, 3)), np.ones((1, 1))), "non-empty"),
    (lambda: insert_zeros(np.ones((2, 2)), 0), "stride >= 1"),
    (lambda: pad2d(np.ones((2, 2)), -1), "padding >= 0"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="numeric x"):
        correlate2d(np.array([["a", "b"], ["c", "d"]]), np.ones((1, 1)))
