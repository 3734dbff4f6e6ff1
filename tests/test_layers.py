"""Every layer: float64 gradient checks against numerical gradients, and naive-vs-fast agreement."""

import numpy as np
import pytest
from configs import CONV_CONFIGS, POOL_CONFIGS, conv_id, pool_id

from cnnlib import layers
from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error

TOL = 1e-7


def make_conv(cfg, rng):
    N, C, H, W, F, k, s, p, d = cfg
    layer = layers.Conv2D(C, F, k, stride=s, padding=p, dilation=d, rng=rng)
    layer.params["b"] = rng.standard_normal(F)
    return layer, rng.standard_normal((N, C, H, W))


def pool_input(cfg, rng):
    """Distinct values spaced far apart (no ties, no near-ties: max-pool is differentiable there)."""
    N, C, H, W, _, _ = cfg
    return rng.permutation(N * C * H * W).reshape(N, C, H, W) * 0.1 + rng.uniform(0, 0.01)


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_conv_gradients_match_numerical(cfg):
    rng = np.random.default_rng(1)
    layer, x = make_conv(cfg, rng)
    errors = check_layer(layer, x, rng=rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_conv_naive_and_fast_agree(cfg):
    rng = np.random.default_rng(2)
    layer, x = make_conv(cfg, rng)
    z = layer.forward(x)
    dout = rng.standard_normal(z.shape)
    dx = layer.backward(dout)
    grads = dict(layer.grads)
    z_naive = layer.forward_naive(x)
    dx_naive = layer.backward_naive(dout)
    np.testing.assert_allclose(z, z_naive, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, dx_naive, rtol=1e-12, atol=1e-12)
    for key in ("W", "b"):
        np.testing.assert_allclose(grads[key], layer.grads[key], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=pool_id)
@pytest.mark.parametrize("cls", [layers.MaxPool2D, layers.AvgPool2D])
def test_pool_gradients_and_naive(cls, cfg):
    rng = np.random.default_rng(3)
    N, C, H, W, k, s = cfg
    layer = cls(k, s)
    x = pool_input(cfg, rng)
    assert check_layer(layer, x, rng=rng)["x"] <= TOL
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    np.testing.assert_allclose(layer.forward_naive(x), out, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(layer.backward_naive(dout), dx, rtol=1e-12, atol=1e-12)


def test_maxpool_tie_goes_to_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 3.0], [3.0, 3.0]]]])  # three tied maxima
    for forward, backward in [("forward", "backward"), ("forward_naive", "backward_naive")]:
        layer = layers.MaxPool2D(2)
        getattr(layer, forward)(x)
        dx = getattr(layer, backward)(np.array([[[[5.0]]]]))
        np.testing.assert_array_equal(dx, [[[[0.0, 5.0], [0.0, 0.0]]]])


def test_maxpool_overlapping_windows_accumulate_by_hand():
    # windows of 2 with stride 1 over [0, 9, 1]: both windows pick the 9 -> it receives both gradients
    x = np.array([[[[0.0, 9.0, 1.0]]]])
    layer = layers.MaxPool2D((1, 2), stride=1)
    np.testing.assert_array_equal(layer.forward(x), [[[[9.0, 9.0]]]])
    np.testing.assert_array_equal(layer.backward(np.array([[[[1.0, 2.0]]]])), [[[[0.0, 3.0, 0.0]]]])


def test_avgpool_spreads_one_over_k_squared_by_hand():
    layer = layers.AvgPool2D(2)
    layer.forward(np.arange(16.0).reshape(1, 1, 4, 4))
    dx = layer.backward(np.array([[[[4.0, 8.0], [0.0, -4.0]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, -1, -1], [0, 0, -1, -1]])


@pytest.mark.parametrize("N,i,o", [(1, 3, 2), (4, 5, 3), (3, 1, 1), (2, 432, 10)])
def test_dense_gradients_and_naive(N, i, o):
    rng = np.random.default_rng(4)
    layer = layers.Dense(i, o, rng=rng)
    layer.params["b"] = rng.standard_normal(o)
    x = rng.standard_normal((N, i))
    assert max(check_layer(layer, x, rng=rng).values()) <= TOL
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    grads = dict(layer.grads)
    np.testing.assert_allclose(layer.forward_naive(x), y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward_naive(dout), dx, rtol=1e-12, atol=1e-12)
    for key in grads:
        np.testing.assert_allclose(layer.grads[key], grads[key], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [layers.ReLU, layers.Sigmoid, layers.Tanh, layers.Flatten])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4, 5), (1, 7)])
def test_elementwise_layer_gradients(cls, shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the ReLU kink
    assert check_layer(cls(), x, rng=rng)["x"] <= TOL


def test_activation_values_by_hand():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(layers.ReLU().forward(x), [[0, 0, 3]])
    np.testing.assert_allclose(layers.Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(layers.Tanh().forward(x), np.tanh(x), rtol=1e-15)
    # ReLU's subgradient at exactly 0 is 0, as in PyTorch
    relu = layers.ReLU()
    relu.forward(x)
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0, 0, 1]])


def test_sigmoid_is_stable_for_large_inputs():
    y = layers.Sigmoid().forward(np.array([[-1000.0, 1000.0]]))
    np.testing.assert_array_equal(y, [[0.0, 1.0]])


def test_conv_output_size_formula():
    # H_out = 1 + (H + 2p - d(K-1) - 1) // s, checked by hand for one case: (10 + 2 - 2*2 - 1)//3 + 1 = 3
    layer = layers.Conv2D(1, 1, 3, stride=3, padding=1, dilation=2, rng=np.random.default_rng(0))
    assert layer.forward(np.zeros((1, 1, 10, 10))).shape == (1, 1, 3, 3)


def test_same_padding_keeps_size_and_splits_like_pytorch():
    layer = layers.Conv2D(1, 1, (4, 3), padding="same", rng=np.random.default_rng(0))
    assert layer.pad == (1, 2, 1, 1)  # total 3 rows: 1 on top, the extra one at the bottom
    assert layer.forward(np.zeros((1, 1, 6, 5))).shape == (1, 1, 6, 5)


def test_integer_input_is_cast_not_wrapped():
    x = np.full((1, 1, 3, 3), 200, dtype=np.uint8)
    for dtype in (np.float32, np.float64):
        conv = layers.Conv2D(1, 1, 2, rng=np.random.default_rng(0), dtype=dtype)
        conv.params["W"][...] = 1
        z = conv.forward(x)
        assert z.dtype == dtype
        np.testing.assert_array_equal(z, np.full((1, 1, 2, 2), 800))  # uint8 would have wrapped 800 to 32
    dense = layers.Dense(2, 1, rng=np.random.default_rng(0))
    dense.params["W"][...] = 1
    assert dense.forward(np.array([[255, 255]], dtype=np.uint8))[0, 0] == 510
    assert layers.ReLU().forward(np.array([[200]], dtype=np.uint8)).dtype == np.float64
    assert layers.MaxPool2D(1).forward(np.full((1, 1, 1, 1), 7, dtype=np.int8)).dtype == np.float64


def test_float32_layers_stay_float32():
    rng = np.random.default_rng(0)
    conv = layers.Conv2D(1, 2, 3, rng=rng, dtype=np.float32)
    x = rng.standard_normal((2, 1, 6, 6))
    z = conv.forward(x)
    dx = conv.backward(np.ones_like(z))
    assert z.dtype == dx.dtype == conv.grads["W"].dtype == conv.grads["b"].dtype == np.float32


def test_numerical_gradient_by_hand():
    # f(x) = x**2 elementwise, dout = 1 -> gradient 2x
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: v ** 2, x, np.ones(3)), 2 * x, rtol=1e-9)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored


def test_rel_error_by_hand():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0
    assert rel_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2)
    assert rel_error([3.0, 4.0], [3.0, 4.0]) == 0
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(2), np.zeros(3))


@pytest.mark.parametrize("make", [lambda: layers.ReLU(), lambda: layers.MaxPool2D(2), lambda: layers.MaxPool2D(3, 2)],
                         ids=["ReLU", "MaxPool2D(2)", "MaxPool2D(3, 2)"])
def test_blocked_gradients_are_plus_zero_not_minus_zero(make):
    """Where the gradient is blocked (ReLU off, a pool window's loser) dx is +0, as in PyTorch: a negative dout
    times 0 would print as "-0." in a notebook."""
    rng = np.random.default_rng(7)
    layer = make()
    x = rng.standard_normal((2, 3, 7, 7))
    out = layer.forward(x)
    dx = layer.backward(-np.abs(rng.standard_normal(out.shape)) - 0.1)  # every dout negative
    zeros = dx[dx == 0]
    assert zeros.size > 0 and not np.signbit(zeros).any()
