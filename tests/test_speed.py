"""cnnlib.speed: the einsum rung of the ladder equals Conv2D (and PyTorch), over strides, paddings and shapes."""

from types import SimpleNamespace

import numpy as np
import pytest

from cnnlib import Conv2D, rel_error
from cnnlib import speed

CONFIGS = [  # (N, C, H, W, F, KH, KW, stride, padding)
    (2, 1, 7, 7, 2, 3, 3, 1, 0),
    (2, 3, 8, 6, 4, 3, 2, 1, 1),
    (3, 2, 9, 8, 3, 2, 3, 2, 0),
    (2, 2, 10, 9, 2, 3, 3, (2, 3), (1, 2)),
    (1, 3, 11, 7, 2, 4, 3, 3, 2),   # floor in H_out: the last rows of x_pad are in no window
    (2, 1, 28, 28, 3, 5, 5, 1, 0),  # the conv layer of the one-conv-layer net (notebook 09)
]


def make(config, rng):
    N, C, H, W, F, KH, KW, stride, padding = config
    layer = Conv2D(C, F, (KH, KW), stride=stride, padding=padding, rng=rng)
    layer.params["b"] = rng.standard_normal(F)
    x = rng.standard_normal((N, C, H, W))
    return layer, x, stride, padding


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("optimize", [False, True])
def test_einsum_conv_equals_conv2d(config, optimize):
    rng = np.random.default_rng(9)
    layer, x, stride, padding = make(config, rng)
    z = layer.forward(x)
    dout = rng.standard_normal(z.shape)
    dx = layer.backward(dout)
    W, b = layer.params["W"], layer.params["b"]
    z2 = speed.conv2d_einsum(x, W, b, stride, padding, optimize=optimize)
    dx2, dW2, db2 = speed.conv2d_einsum_backward(x, W, dout, stride, padding, optimize=optimize)
    assert z2.shape == z.shape and dx2.shape == x.shape and dW2.shape == W.shape and db2.shape == b.shape
    assert rel_error(z2, z) < 1e-12
    assert rel_error(dx2, dx) < 1e-12
    assert rel_error(dW2, layer.grads["W"]) < 1e-12
    assert rel_error(db2, layer.grads["b"]) < 1e-12


def test_einsum_conv_equals_the_naive_loops_by_hand():
    """A fully independent check: z and dx from explicit loops over every index."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 5, 6))
    W = rng.standard_normal((2, 2, 2, 3))
    b = rng.standard_normal(2)
    s = 2
    z = speed.conv2d_einsum(x, W, b, stride=s)
    H_out, W_out = (5 - 2) // s + 1, (6 - 3) // s + 1
    want = np.zeros((1, 2, H_out, W_out))
    for f in range(2):
        for i in range(H_out):
            for j in range(W_out):
                want[0, f, i, j] = np.sum(x[0, :, i * s:i * s + 2, j * s:j * s + 3] * W[f]) + b[f]
    np.testing.assert_allclose(z, want, rtol=1e-12)
    dout = rng.standard_normal(want.shape)
    dx, dW, db = speed.conv2d_einsum_backward(x, W, dout, stride=s)
    dx_want = np.zeros_like(x)
    for f in range(2):
        for i in range(H_out):
            for j in range(W_out):
                dx_want[0, :, i * s:i * s + 2, j * s:j * s + 3] += dout[0, f, i, j] * W[f]
    np.testing.assert_allclose(dx, dx_want, rtol=1e-12, atol=1e-14)


def test_wrong_shapes_are_explained():
    with pytest.raises(ValueError, match="same C"):
        speed.conv2d_einsum(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 2, 2)), np.zeros(1))
    with pytest.raises(ValueError, match="expected dout of shape"):
        speed.conv2d_einsum_backward(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))


def test_torch_rung_equals_conv2d():
    pytest.importorskip("torch")
    assert speed.torch_available()
    rng = np.random.default_rng(4)
    layer, x, stride, padding = make(CONFIGS[3], rng)
    z = layer.forward(x)
    dout = rng.standard_normal(z.shape)
    dx = layer.backward(dout)
    zt, dxt, dWt, dbt = speed.torch_conv2d(x, layer.params["W"], layer.params["b"], dout, stride, padding)
    assert rel_error(zt, z) < 1e-12 and rel_error(dxt, dx) < 1e-12
    assert rel_error(dWt, layer.grads["W"]) < 1e-12 and rel_error(dbt, layer.grads["b"]) < 1e-12


def test_best_time_takes_the_fastest_run(monkeypatch):
    # a fake clock: the three runs of 2 calls take 6, 2 and 4 seconds
    ticks = iter([0.0, 6.0, 10.0, 12.0, 20.0, 24.0])
    monkeypatch.setattr(speed, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    calls = []
    assert speed.best_time(lambda: calls.append(1), repeat=3, number=2) == 1.0
    assert len(calls) == 6


@pytest.mark.parametrize("padding", [0, 2, "same"])
def test_conv_stage_times_follows_the_layer(padding):
    rng = np.random.default_rng(5)
    layer = Conv2D(2, 3, (3, 2), padding=padding, rng=rng)
    layer.params["b"] = rng.standard_normal(3)
    x = rng.standard_normal((4, 2, 9, 8))
    dout = rng.standard_normal(layer.output_shape(x.shape))
    times = speed.conv_stage_times(layer, x, dout, repeat=1)
    assert list(times)[0].startswith("im2col") and list(times)[-1].startswith("col2im")
    assert len(times) == 8 and all(t > 0 for t in times.values())


def test_conv_stage_times_notices_a_layer_that_no_longer_matches(monkeypatch):
    rng = np.random.default_rng(6)
    layer = Conv2D(1, 2, 3, rng=rng)
    x = rng.standard_normal((2, 1, 6, 6))
    dout = rng.standard_normal((2, 2, 4, 4))
    real_forward = layer.forward
    monkeypatch.setattr(layer, "forward", lambda a: real_forward(a) + 1.0)  # the library changed under us
    with pytest.raises(ValueError, match="out of date"):
        speed.conv_stage_times(layer, x, dout, repeat=1)
    with pytest.raises(ValueError, match="stride-1"):
        speed.conv_stage_times(Conv2D(1, 2, 3, stride=2, rng=rng), x, rng.standard_normal((2, 2, 2, 2)))


def test_single_threaded_limits_blas_and_torch_and_restores_them():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    torch = pytest.importorskip("torch")

    def blas_threads():
        return {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}

    before, torch_before = blas_threads(), torch.get_num_threads()
    with speed.single_threaded():
        assert set(blas_threads().values()) == {1}
        assert torch.get_num_threads() == 1
    assert blas_threads() == before and torch.get_num_threads() == torch_before
