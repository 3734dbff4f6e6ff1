"""ConvTranspose2D: gradient checks, naive-vs-fast, the Conv2D identity, and torch.nn.functional.conv_transpose2d.

The torch tests are skipped when torch is not installed; CI installs torch==2.13.0 so they run there.
"""

import itertools

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.gradcheck import check_layer, rel_error

GRAD_TOL = 1e-7
TORCH_TOL = 1e-10

# (N, C, H, W, F, kernel_size): channels, batch sizes, non-square inputs and kernels
SHAPES = [
    (2, 2, 4, 5, 3, 3),
    (1, 3, 5, 3, 2, (2, 3)),
    (2, 1, 3, 4, 1, (3, 2)),
    (1, 4, 4, 4, 5, 2),
    (3, 2, 5, 6, 2, 1),
    (1, 1, 6, 5, 3, (4, 3)),
]
STRIDES = [1, 2, 3, (1, 2), (3, 2)]
PADDINGS = [0, 1, (2, 1)]
OUTPUT_PADDINGS = [0, 1, 2, (1, 0)]
DILATIONS = [1, 2, (1, 3)]


def _valid(s, op, d):
    """PyTorch's rule: on each axis output_padding < stride or output_padding < dilation."""
    pair = lambda v: (v, v) if np.isscalar(v) else v  # noqa: E731
    return all(o < a or o < b for o, a, b in zip(pair(op), pair(s), pair(d)))


def _configs():
    out = []
    combos = [c for c in itertools.product(STRIDES, PADDINGS, OUTPUT_PADDINGS, DILATIONS) if _valid(c[0], c[2], c[3])]
    for n, (s, p, op, d) in enumerate(combos):
        N, C, H, W, F, k = SHAPES[n % len(SHAPES)]
        layer = layers.ConvTranspose2D(C, F, k, s, p, op, d, rng=np.random.default_rng(0))
        try:
            layer.output_shape((N, C, H, W))
        except ValueError:  # the padding crops everything away: such configs are tested in test_bad_input
            continue
        out.append((N, C, H, W, F, k, s, p, op, d))
    return out


CONFIGS = _configs()
# a small, varied subset for the slow numerical gradient checks
GRAD_CONFIGS = CONFIGS[::9]


def cfg_id(c):
    N, C, H, W, F, k, s, p, op, d = c
    return f"N{N}C{C}H{H}W{W}F{F}-k{k}-s{s}-p{p}-op{op}-d{d}".replace(" ", "")


def make(cfg, rng, bias=True):
    N, C, H, W, F, k, s, p, op, d = cfg
    layer = layers.ConvTranspose2D(C, F, k, stride=s, padding=p, output_padding=op, dilation=d, rng=rng)
    if bias:
        layer.params["b"] = rng.standard_normal(F)
    return layer, rng.standard_normal((N, C, H, W))


def test_enough_configurations():
    assert len(CONFIGS) >= 100
    assert len(GRAD_CONFIGS) >= 10


# ---------------------------------------------------------------------------------------------- shapes, init
@pytest.mark.parametrize("cfg", CONFIGS[::7], ids=cfg_id)
def test_output_size_formula(cfg):
    N, C, H, W, F, k, s, p, op, d = cfg
    layer, x = make(cfg, np.random.default_rng(0))
    (KH, KW), (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (layer.kernel_size, layer.stride, layer.padding,
                                                         layer.output_padding, layer.dilation)
    assert layer.forward(x).shape == (N, F, (H - 1) * sh - 2 * ph + dh * (KH - 1) + oh + 1,
                                      (W - 1) * sw - 2 * pw + dw * (KW - 1) + ow + 1)


def test_init_weights_shape_scale_and_rng():
    a = layers.ConvTranspose2D(4, 6, (3, 2), rng=np.random.default_rng(5))
    b = layers.ConvTranspose2D(4, 6, (3, 2), rng=np.random.default_rng(5))
    assert a.params["W"].shape == (4, 6, 3, 2) and a.params["b"].shape == (6,)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])  # the rng decides everything
    bound = 1 / np.sqrt(6 * 3 * 2)  # PyTorch's default scale: fan = out_channels · KH · KW
    assert np.abs(a.params["W"]).max() <= bound
    assert np.abs(a.params["W"]).max() > 0.8 * bound
    assert not a._conv.params  # the Conv2D inside holds no weights of its own


def test_repr():
    layer = layers.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, rng=np.random.default_rng(0))
    assert repr(layer) == ("ConvTranspose2D(2, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
                           "output_padding=(1, 1), dilation=(1, 1))")


def test_float32_layer_computes_in_float32():
    rng = np.random.default_rng(1)
    cfg = (2, 2, 4, 5, 3, 3, 2, 1, 1, 1)
    layer64, x = make(cfg, rng)
    layer32 = layers.ConvTranspose2D(2, 3, 3, 2, 1, 1, rng=rng, dtype=np.float32)
    layer32.params = {key: v.astype(np.float32) for key, v in layer64.params.items()}
    y32, y64 = layer32.forward(x), layer64.forward(x)
    dout = rng.standard_normal(y64.shape)
    dx32, dx64 = layer32.backward(dout), layer64.backward(dout)
    assert y32.dtype == dx32.dtype == layer32.grads["W"].dtype == np.float32
    assert rel_error(y32, y64) < 1e-6 and rel_error(dx32, dx64) < 1e-6
    assert rel_error(layer32.grads["W"], layer64.grads["W"]) < 1e-6


# ---------------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("cfg", GRAD_CONFIGS, ids=cfg_id)
def test_gradients_match_numerical(cfg):
    rng = np.random.default_rng(2)
    layer, x = make(cfg, rng)
    errors = check_layer(layer, x, rng=rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) <= GRAD_TOL, errors


def test_in_a_sequential_encoder_decoder():
    """Conv2D stride 2 down, ConvTranspose2D stride 2 back up to the input size: the whole stack checks out."""
    from cnnlib.model import Sequential

    rng = np.random.default_rng(11)
    net = Sequential(layers.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng), layers.Tanh(),
                     layers.ConvTranspose2D(3, 2, 3, stride=2, padding=1, output_padding=1, rng=rng))
    x = rng.standard_normal((2, 2, 6, 6))
    assert net.forward(x).shape == x.shape
    errors = check_layer(net, x, rng=rng)
    assert max(errors.values()) <= GRAD_TOL, errors


class ConvTransposeRotatedKernelGrad(layers.ConvTranspose2D):
    """A classic slip: dW computed for the rotated kernel."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"][:, :, ::-1, ::-1].copy()
        return dx


def test_gradient_check_catches_a_wrong_backward():
    rng = np.random.default_rng(3)
    layer = ConvTransposeRotatedKernelGrad(2, 3, 3, stride=2, padding=1, rng=rng)
    errors = check_layer(layer, rng.standard_normal((1, 2, 4, 4)), rng=rng)
    assert errors["x"] <= GRAD_TOL and errors["b"] <= GRAD_TOL
    assert errors["W"] > 1e-2


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_naive_and_fast_agree(cfg):
    rng = np.random.default_rng(4)
    layer, x = make(cfg, rng)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    grads = dict(layer.grads)
    y_naive = layer.forward_naive(x)
    dx_naive = layer.backward_naive(dout)
    np.testing.assert_allclose(y, y_naive, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, dx_naive, rtol=1e-12, atol=1e-12)
    for key in ("W", "b"):
        np.testing.assert_allclose(grads[key], layer.grads[key], rtol=1e-12, atol=1e-12)
    # the fast backward also runs after forward_naive (it builds its columns then)
    layer.forward_naive(x)
    np.testing.assert_allclose(layer.backward(dout), dx, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------- the identity
def conv_pair(cfg, rng):
    """ConvTranspose2D(C -> F) with b = 0 and the Conv2D(F -> C) sharing its W, plus x and a δ for the pair."""
    layer, x = make(cfg, rng, bias=False)
    N, C, H, W, F, k, s, p, op, d = cfg
    conv = layers.Conv2D(F, C, k, stride=s, padding=layer.padding, dilation=d, rng=rng)
    conv.params = {"W": layer.params["W"], "b": np.zeros(C)}  # the same array: (C, F, KH, KW) is Conv2D's (F', C', ...)
    return layer, conv, x


def padded_to(a, shape):
    """a (N, C, h, w) with zero rows/columns added at the bottom/right up to shape."""
    out = np.zeros(shape)
    out[:, :, :a.shape[2], :a.shape[3]] = a
    return out


@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=cfg_id)
def test_forward_is_conv2d_input_gradient_and_backward_is_conv2d_forward(cfg):
    rng = np.random.default_rng(5)
    layer, conv, x = conv_pair(cfg, rng)
    y = layer.forward(x)
    delta = rng.standard_normal(y.shape)
    dx = layer.backward(delta)

    z = conv.forward(delta)  # Conv2D maps y's shape back to x's (plus output_padding's extra rows, if any)
    N, C, H, W = x.shape
    assert z.shape[:2] == (N, C) and z.shape[2] >= H and z.shape[3] >= W
    # ConvTranspose2D.backward(δ) == Conv2D.forward(δ)                  (on x's rows and columns)
    np.testing.assert_array_equal(dx, z[:, :, :H, :W])
    # ConvTranspose2D.forward(x) == Conv2D.backward(x)                   (x as Conv2D's δ; 0 past x)
    np.testing.assert_array_equal(y, conv.backward(padded_to(x, z.shape)))
    # and both layers find the same ∂C/∂W, with the roles of x and δ swapped
    np.testing.assert_array_equal(layer.grads["W"], conv.grads["W"])


@pytest.mark.parametrize("cfg", CONFIGS[1::10], ids=cfg_id)
def test_identity_holds_for_the_naive_loops_too(cfg):
    """The same identity between two independent loop implementations, so it is not true by shared code alone."""
    rng = np.random.default_rng(6)
    layer, conv, x = conv_pair(cfg, rng)
    y = layer.forward_naive(x)
    delta = rng.standard_normal(y.shape)
    dx = layer.backward_naive(delta)
    z = conv.forward_naive(delta)
    H, W = x.shape[2:]
    np.testing.assert_allclose(dx, z[:, :, :H, :W], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, conv.backward_naive(padded_to(x, z.shape)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("s,p,op", [(1, 0, 0), (2, 0, 0), (2, 1, 1), (3, 2, 2), ((2, 3), (0, 1), (1, 2))])
def test_one_channel_is_a_full_correlation_of_the_spread_input(s, p, op):
    """Notebook 05: spread x with s - 1 zeros, correlate fully with rot180(W), crop the padding."""
    from cnnlib.signal import correlate2d, insert_zeros, rot180

    rng = np.random.default_rng(12)
    layer = layers.ConvTranspose2D(1, 1, (3, 2), stride=s, padding=p, output_padding=op, rng=rng)
    x = rng.standard_normal((1, 1, 4, 5))
    y = layer.forward(x)[0, 0]
    (ph, pw), (oh, ow) = layer.padding, layer.output_padding
    full = correlate2d(insert_zeros(x[0, 0], s), rot180(layer.params["W"][0, 0]), "full")
    full = np.pad(full, ((0, oh), (0, ow)))  # output_padding: rows/columns no input pixel reaches
    np.testing.assert_allclose(y, full[ph:ph + y.shape[0], pw:pw + y.shape[1]], rtol=0, atol=1e-12)


def test_stride_two_upsamples_a_single_pixel_into_a_kernel_copy():
    """One pixel of value v, stride 2: the output holds v · W[0, f] at its place, nothing else."""
    layer = layers.ConvTranspose2D(1, 2, 3, stride=2, rng=np.random.default_rng(7))
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 2] = 2.5
    y = layer.forward(x)
    assert y.shape == (1, 2, 7, 7)
    expected = np.zeros_like(y)
    expected[0, :, 2:5, 4:7] = 2.5 * layer.params["W"][0]
    np.testing.assert_array_equal(y, expected)


# ---------------------------------------------------------------------------------------------- PyTorch
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_matches_torch_forward_and_backward(cfg, torch):
    rng = np.random.default_rng(8)
    layer, x = make(cfg, rng)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)

    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    xt, Wt, bt = t(x), t(layer.params["W"]), t(layer.params["b"])
    yt = torch.nn.functional.conv_transpose2d(xt, Wt, bt, stride=layer.stride, padding=layer.padding,
                                              output_padding=layer.output_padding, dilation=layer.dilation)
    yt.backward(torch.tensor(dout))
    for ours, theirs in [(y, yt), (dx, xt.grad), (layer.grads["W"], Wt.grad), (layer.grads["b"], bt.grad)]:
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape
        assert rel_error(ours, theirs) <= TORCH_TOL


def test_matches_torch_module_defaults_shapes(torch):
    """Same weight layout and output size as torch.nn.ConvTranspose2d built with the same arguments."""
    ours = layers.ConvTranspose2D(3, 5, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                  rng=np.random.default_rng(9))
    theirs = torch.nn.ConvTranspose2d(3, 5, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                      dtype=torch.float32)  # whatever default dtype another test left
    assert ours.params["W"].shape == tuple(theirs.weight.shape)
    x = np.random.default_rng(9).standard_normal((2, 3, 4, 5))
    assert ours.forward(x).shape == tuple(theirs(torch.tensor(x, dtype=torch.float32)).shape)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_propagates_like_torch(bad, torch):
    """Like the other layers, ConvTranspose2D does not reject NaN or inf; it spreads them where PyTorch does."""
    rng = np.random.default_rng(10)
    layer, x = make((1, 2, 4, 4, 2, 3, 2, 1, 1, 1), rng)
    x[0, 1, 2, 1] = bad
    y = layer.forward(x)
    yt = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(layer.params["W"]),
                                              torch.tensor(layer.params["b"]), stride=2, padding=1,
                                              output_padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(yt))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(yt))
    assert np.isnan(y).any() or np.isinf(y).any()
    finite = np.isfinite(yt)
    assert rel_error(y[finite], yt[finite]) <= TORCH_TOL
