"""Every layer and the loss against torch.autograd, float64, relative error <= 1e-10 (forward and backward).

Skipped when torch is not installed; CI installs torch==2.13.0 so these run there.
"""

import numpy as np
import pytest
from configs import CONV_CONFIGS, POOL_CONFIGS, conv_id, pool_id

from cnnlib import layers
from cnnlib.gradcheck import rel_error
from cnnlib.losses import MeanSquaredError, SoftmaxCrossEntropy

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = 1e-10


def t(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def torch_padding(layer):
    """Our (top, bottom, left, right) as PyTorch arguments: symmetric ints, or 'same' for the split case."""
    top, bottom, left, right = layer.pad
    if top == bottom and left == right:
        return (top, left)
    assert layer.padding == "same"
    return "same"


def assert_close(ours, theirs):
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    assert rel_error(ours, theirs) <= TOL


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_conv2d_matches_torch(cfg):
    N, C, H, W, Fo, k, s, p, d = cfg
    rng = np.random.default_rng(10)
    layer = layers.Conv2D(C, Fo, k, stride=s, padding=p, dilation=d, rng=rng)
    layer.params["b"] = rng.standard_normal(Fo)
    x = rng.standard_normal((N, C, H, W))
    z = layer.forward(x)
    dout = rng.standard_normal(z.shape)
    dx = layer.backward(dout)

    xt, Wt, bt = t(x), t(layer.params["W"]), t(layer.params["b"])
    zt = F.conv2d(xt, Wt, bt, stride=layer.stride, padding=torch_padding(layer), dilation=layer.dilation)
    zt.backward(t(dout, grad=False))
    assert_close(z, zt)
    assert_close(dx, xt.grad)
    assert_close(layer.grads["W"], Wt.grad)
    assert_close(layer.grads["b"], bt.grad)


@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=pool_id)
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool_matches_torch_including_ties(cfg, ties):
    N, C, H, W, k, s = cfg
    rng = np.random.default_rng(11)
    # with ties, values come from a tiny set so most windows hold repeated maxima
    x = rng.integers(0, 3, (N, C, H, W)).astype(float) if ties else rng.standard_normal((N, C, H, W))
    layer = layers.MaxPool2D(k, s)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    xt = t(x)
    ot = F.max_pool2d(xt, layer.kernel_size, layer.stride)
    ot.backward(t(dout, grad=False))
    assert_close(out, ot)
    assert_close(dx, xt.grad)


@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=pool_id)
def test_avgpool_matches_torch(cfg):
    N, C, H, W, k, s = cfg
    rng = np.random.default_rng(12)
    x = rng.standard_normal((N, C, H, W))
    layer = layers.AvgPool2D(k, s)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    xt = t(x)
    ot = F.avg_pool2d(xt, layer.kernel_size, layer.stride)
    ot.backward(t(dout, grad=False))
    assert_close(out, ot)
    assert_close(dx, xt.grad)


@pytest.mark.parametrize("N,i,o", [(1, 3, 2), (5, 7, 4), (8, 432, 10)])
def test_dense_matches_torch(N, i, o):
    rng = np.random.default_rng(13)
    layer = layers.Dense(i, o, rng=rng)
    layer.params["b"] = rng.standard_normal(o)
    x = rng.standard_normal((N, i))
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    xt, Wt, bt = t(x), t(layer.params["W"]), t(layer.params["b"])
    yt = F.linear(xt, Wt, bt)
    yt.backward(t(dout, grad=False))
    for ours, theirs in [(y, yt), (dx, xt.grad), (layer.grads["W"], Wt.grad), (layer.grads["b"], bt.grad)]:
        assert_close(ours, theirs)


@pytest.mark.parametrize("cls,fn", [(layers.ReLU, torch.relu), (layers.Sigmoid, torch.sigmoid),
                                    (layers.Tanh, torch.tanh), (layers.Flatten, lambda v: v.flatten(1))])
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5, 5)])
def test_elementwise_layers_match_torch(cls, fn, shape):
    rng = np.random.default_rng(14)
    x = rng.standard_normal(shape) * 3
    x.flat[0] = 0.0  # ReLU's convention at the kink must match too
    layer = cls()
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    xt = t(x)
    yt = fn(xt)
    yt.backward(t(dout, grad=False))
    assert_close(y, yt)
    assert_close(dx, xt.grad)


@pytest.mark.parametrize("N,K,scale", [(1, 2, 1.0), (7, 10, 1.0), (16, 5, 30.0), (3, 4, 1e4)])
def test_softmax_cross_entropy_matches_torch(N, K, scale):
    rng = np.random.default_rng(15)
    logits = rng.standard_normal((N, K)) * scale
    labels = rng.integers(0, K, N)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, labels)
    grad = loss.backward()
    lt = t(logits)
    vt = F.cross_entropy(lt, torch.tensor(labels))
    vt.backward()
    assert abs(value - vt.item()) <= TOL * max(1.0, abs(vt.item()))
    assert_close(grad, lt.grad)


def test_mean_squared_error_matches_torch():
    rng = np.random.default_rng(16)
    a, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    loss = MeanSquaredError()
    value = loss.forward(a, y)
    grad = loss.backward()
    at = t(a)
    vt = 0.5 * F.mse_loss(at, t(y, grad=False), reduction="sum") / 6  # the textbook (1/2N) Σ ||a - y||²
    vt.backward()
    assert abs(value - vt.item()) <= TOL * abs(vt.item())
    assert_close(grad, at.grad)


def test_one_conv_net_end_to_end_matches_torch():
    from cnnlib.model import Sequential

    rng = np.random.default_rng(17)
    net = Sequential(layers.Conv2D(1, 3, 5, rng=rng), layers.ReLU(), layers.MaxPool2D(2), layers.Flatten(),
                     layers.Dense(432, 10, rng=rng))
    x, labels = rng.standard_normal((4, 1, 28, 28)), rng.integers(0, 10, 4)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(net.forward(x), labels)
    net.backward(loss.backward())

    W1, b1, W2, b2 = (t(p) for _, p, _ in net.parameters())
    h = F.max_pool2d(torch.relu(F.conv2d(t(x, grad=False), W1, b1)), 2).flatten(1)
    vt = F.cross_entropy(F.linear(h, W2, b2), torch.tensor(labels))
    vt.backward()
    assert abs(value - vt.item()) <= TOL * vt.item()
    for (_, _, g), pt in zip(net.parameters(), (W1, b1, W2, b2)):
        assert_close(g, pt.grad)
