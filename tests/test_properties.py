"""Hypothesis property tests: linearity, adjointness and the output-size formula, over random configurations."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib import layers
from cnnlib.signal import convolve2d, correlate2d, rot180


@st.composite
def conv_setups(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(N=N, C=C, F=F, H=H, W=W, k=(kh, kw), s=(sh, sw), p=(ph, pw), d=(dh, dw), seed=seed)


def build(cfg):
    rng = np.random.default_rng(cfg["seed"])
    layer = layers.Conv2D(cfg["C"], cfg["F"], cfg["k"], stride=cfg["s"], padding=cfg["p"], dilation=cfg["d"], rng=rng)
    return layer, rng, rng.standard_normal((cfg["N"], cfg["C"], cfg["H"], cfg["W"]))


@settings(max_examples=60, deadline=None)
@given(conv_setups())
def test_output_shape_follows_the_size_formula(cfg):
    layer, _, x = build(cfg)
    z = layer.forward(x)
    expected = tuple(1 + (n + 2 * p - d * (k - 1) - 1) // s
                     for n, p, d, k, s in zip((cfg["H"], cfg["W"]), cfg["p"], cfg["d"], cfg["k"], cfg["s"]))
    assert z.shape == (cfg["N"], cfg["F"]) + expected


@settings(max_examples=60, deadline=None)
@given(conv_setups(), st.floats(-3, 3), st.floats(-3, 3))
def test_conv_is_linear_in_x_and_in_W(cfg, a, b):
    layer, rng, x1 = build(cfg)
    x2 = rng.standard_normal(x1.shape)
    layer.params["b"][...] = 0
    lhs = layer.forward(a * x1 + b * x2)
    np.testing.assert_allclose(lhs, a * layer.forward(x1) + b * layer.forward(x2), rtol=1e-9, atol=1e-9)
    W1 = layer.params["W"].copy()
    W2 = rng.standard_normal(W1.shape)
    layer.params["W"] = a * W1 + b * W2
    lhs = layer.forward(x1)
    layer.params["W"] = W1
    z1 = layer.forward(x1)
    layer.params["W"] = W2
    np.testing.assert_allclose(lhs, a * z1 + b * layer.forward(x1), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(conv_setups())
def test_backward_is_the_adjoint_of_forward(cfg):
    # <conv(x), y> = <x, conv_backward(y)> for the bias-free layer: backward is the transpose of forward
    layer, rng, x = build(cfg)
    layer.params["b"][...] = 0
    z = layer.forward(x)
    y = rng.standard_normal(z.shape)
    assert np.isclose(np.vdot(z, y), np.vdot(x, layer.backward(y)), rtol=1e-9, atol=1e-9)
    # and the weight gradient is the adjoint in W: <conv_W(x), y> = <W, dW>
    assert np.isclose(np.vdot(z, y), np.vdot(layer.params["W"], layer.grads["W"]), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_convolution_is_correlation_with_the_rotated_kernel_and_commutes(H, W, kh, kw, seed):
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((H + kh, W + kw)), rng.standard_normal((kh, kw))
    for mode in ("valid", "full"):
        np.testing.assert_allclose(convolve2d(x, k, mode), correlate2d(x, rot180(k), mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(convolve2d(x, k, "full"), convolve2d(k, x, "full"), rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 8), st.integers(0, 2**32 - 1))
def test_pooling_backward_is_adjoint_of_the_routing(k, s, H, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 2, H + k, H + k))
    for layer in (layers.MaxPool2D(k, s), layers.AvgPool2D(k, s)):
        out = layer.forward(x)
        y = rng.standard_normal(out.shape)
        dx = layer.backward(y)
        # both poolings are linear in x along the routing they chose: <out, y> = <x, dx>
        assert np.isclose(np.vdot(out, y), np.vdot(x, dx), rtol=1e-9, atol=1e-9)
