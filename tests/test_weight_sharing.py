"""cnnlib.weight_sharing: the dense matrix of a convolution, checked against scipy.signal and hand-worked arrays."""

import numpy as np
import pytest
from scipy import signal

from cnnlib.weight_sharing import conv_matrix, fan_out, kernel_taps, receptive_field, tie_gradient, weight_copies

SHAPES = [((4, 4), (2, 2)), ((5, 7), (3, 2)), ((6, 3), (1, 3)), ((3, 3), (3, 3)), ((28, 28), (5, 5))]


@pytest.mark.parametrize("input_shape, kernel_shape", SHAPES)
def test_matrix_times_x_is_valid_correlation(input_shape, kernel_shape):
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal(input_shape), rng.standard_normal(kernel_shape)
    M = conv_matrix(W, input_shape)
    H_out, W_out = input_shape[0] - kernel_shape[0] + 1, input_shape[1] - kernel_shape[1] + 1
    assert M.shape == (H_out * W_out, x.size)
    np.testing.assert_allclose((M @ x.ravel()).reshape(H_out, W_out), signal.correlate2d(x, W, "valid"), atol=1e-12)


@pytest.mark.parametrize("input_shape, kernel_shape", SHAPES)
def test_transpose_is_full_convolution(input_shape, kernel_shape):
    rng = np.random.default_rng(1)
    W = rng.standard_normal(kernel_shape)
    H_out, W_out = input_shape[0] - kernel_shape[0] + 1, input_shape[1] - kernel_shape[1] + 1
    delta = rng.standard_normal((H_out, W_out))
    back = (conv_matrix(W, input_shape).T @ delta.ravel()).reshape(input_shape)
    np.testing.assert_allclose(back, signal.convolve2d(delta, W, "full"), atol=1e-12)
    np.testing.assert_allclose(back, signal.correlate2d(delta, W[::-1, ::-1], "full"), atol=1e-12)


def test_hand_worked_matrix():
    # 3x3 input, 2x2 kernel [[1, 2], [3, 4]]: each row is the kernel laid over one 2x2 window of the flat input
    M = conv_matrix(np.array([[1, 2], [3, 4]]), (3, 3))
    expected = np.array([
        [1, 2, 0, 3, 4, 0, 0, 0, 0],
        [0, 1, 2, 0, 3, 4, 0, 0, 0],
        [0, 0, 0, 1, 2, 0, 3, 4, 0],
        [0, 0, 0, 0, 1, 2, 0, 3, 4],
    ])
    np.testing.assert_array_equal(M, expected)
    assert M.dtype.kind == "i"


def test_taps_count_connections_and_copies():
    T = kernel_taps((5, 5), (28, 28))
    assert T.shape == (24 * 24, 28 * 28)
    assert (T >= 0).sum() == 24 * 24 * 25  # cut connections: 25 per output pixel
    assert np.array_equal(np.bincount(T[T >= 0]), np.full(25, 24 * 24))  # each weight has one copy per output
    assert T[0, 0] == 0 and T[0, 28 * 4 + 4] == 24 and T[0, 5] == -1


def test_receptive_field_and_fan_out_against_loops():
    x_shape, k_shape = (4, 5), (2, 3)
    H_out, W_out = 3, 3
    for i in range(H_out):
        for j in range(W_out):
            got = receptive_field(i, j, k_shape, x_shape)
            assert got == [((i + m, j + n), (m, n)) for m in range(2) for n in range(3)]
    # every (output, input, weight) triple must appear exactly once from each side
    from_outputs = {((i, j), p, w) for i in range(H_out) for j in range(W_out)
                    for p, w in receptive_field(i, j, k_shape, x_shape)}
    from_inputs = {(o, (p, q), w) for p in range(4) for q in range(5) for o, w in fan_out(p, q, k_shape, x_shape)}
    assert from_outputs == from_inputs and len(from_outputs) == H_out * W_out * 6
    assert fan_out(0, 0, k_shape, x_shape) == [((0, 0), (0, 0))]
    assert fan_out(3, 4, k_shape, x_shape) == [((2, 2), (1, 2))]
    assert len(fan_out(1, 2, k_shape, x_shape)) == 6


def test_tied_gradient_is_sum_of_copies_and_a_correlation():
    rng = np.random.default_rng(2)
    x, delta = rng.standard_normal((5, 6)), rng.standard_normal((3, 4))
    dM = np.outer(delta.ravel(), x.ravel())
    copies = weight_copies(dM, (3, 3), (5, 6))
    assert copies.shape == (3, 4, 3, 3)
    np.testing.assert_allclose(copies[1, 2], delta[1, 2] * x[1:4, 2:5])
    np.testing.assert_allclose(tie_gradient(dM, (3, 3), (5, 6)), signal.correlate2d(x, delta, "valid"), atol=1e-12)


def test_tied_gradient_matches_a_numerical_derivative():
    rng = np.random.default_rng(3)
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((2, 3))
    target = rng.standard_normal((3, 3))

    def cost(Wv):
        return 0.5 * np.sum((signal.correlate2d(x, Wv, "valid") - target) ** 2)

    delta = signal.correlate2d(x, W, "valid") - target
    numeric = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = 1e-6
        numeric[idx] = (cost(W + e) - cost(W - e)) / 2e-6
    np.testing.assert_allclose(tie_gradient(np.outer(delta.ravel(), x.ravel()), W.shape, x.shape), numeric, rtol=1e-6)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no larger than the input"):
        conv_matrix(np.ones((4, 2)), (3, 3))
    with pytest.raises(ValueError, match="2-D kernel"):
        conv_matrix(np.ones(3), (3, 3))
    with pytest.raises(ValueError, match="dM of shape"):
        weight_copies(np.ones((4, 8)), (2, 2), (3, 3))
    with pytest.raises(ValueError, match="output pixel inside"):
        receptive_field(2, 0, (2, 2), (3, 3))
    with pytest.raises(ValueError, match="input pixel inside"):
        fan_out(0, 3, (2, 2), (3, 3))
