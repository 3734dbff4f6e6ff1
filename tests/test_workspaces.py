"""The engine reuses workspaces between calls; what a layer returns must never be one of them.

For every layer: keep the output, dx and grads of step k, run step k + 1 on other data, and check that the values
from step k did not change. Also: reused workspaces give the same results as fresh ones, and the two ways of
skipping work (``backward_params``, ``Sequential.backward(input_grad=False)``) give the same grads.
"""

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.model import Sequential
from cnnlib.engine.memory import memory_of
from cnnlib.engine.threads import ONE_THREAD_FLOPS, blas_threads, threads_for

LAYERS = [
    ("conv stride 1", lambda rng: layers.Conv2D(2, 3, 3, rng=rng), (3, 2, 7, 6)),
    ("conv stride 1 padded", lambda rng: layers.Conv2D(2, 3, 3, padding=1, rng=rng), (3, 2, 7, 6)),
    ("conv 'same' float32", lambda rng: layers.Conv2D(1, 2, 4, padding="same", rng=rng, dtype=np.float32),
     (2, 1, 6, 6)),
    ("conv stride 2 padded dilated", lambda rng: layers.Conv2D(2, 3, 3, stride=2, padding=1, dilation=2, rng=rng),
     (3, 2, 9, 8)),
    ("conv stride 2 unpadded", lambda rng: layers.Conv2D(2, 3, 2, stride=2, rng=rng), (3, 2, 6, 6)),
    ("conv transpose stride 1", lambda rng: layers.ConvTranspose2D(2, 3, 3, rng=rng), (2, 2, 4, 5)),
    ("conv transpose stride 2", lambda rng: layers.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1,
                                                                   rng=rng), (2, 2, 4, 5)),
    ("max pool", lambda rng: layers.MaxPool2D(2), (2, 3, 6, 6)),
    ("max pool overlapping", lambda rng: layers.MaxPool2D(3, stride=2), (2, 3, 7, 7)),
    ("avg pool", lambda rng: layers.AvgPool2D(2), (2, 3, 6, 6)),
    ("relu", lambda rng: layers.ReLU(), (2, 3, 4, 4)),
    ("sigmoid", lambda rng: layers.Sigmoid(), (2, 3, 4, 4)),
    ("tanh", lambda rng: layers.Tanh(), (2, 3, 4, 4)),
    ("flatten", lambda rng: layers.Flatten(), (2, 3, 4, 4)),
    ("dense", lambda rng: layers.Dense(5, 4, rng=rng), (3, 5)),
]


def _step(layer, x, rng):
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    return out, dx, dict(layer.grads)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_values_returned_at_step_k_survive_step_k_plus_1(name, make, shape):
    rng = np.random.default_rng(3)
    layer = make(rng)
    out, dx, grads = _step(layer, rng.standard_normal(shape), rng)
    kept = out.copy(), dx.copy(), {k: g.copy() for k, g in grads.items()}
    _step(layer, rng.standard_normal(shape), rng)  # same shapes: every workspace is reused
    np.testing.assert_array_equal(out, kept[0], err_msg=f"{name}: forward's output changed at the next step")
    np.testing.assert_array_equal(dx, kept[1], err_msg=f"{name}: dx changed at the next step")
    for key, g in grads.items():
        np.testing.assert_array_equal(g, kept[2][key], err_msg=f"{name}: grads[{key!r}] changed at the next step")


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_reused_workspaces_give_the_results_of_fresh_ones(name, make, shape):
    """A layer that ran on other (and larger) inputs before gives exactly what a fresh copy of it gives."""
    rng = np.random.default_rng(4)
    used = make(np.random.default_rng(0))
    fresh = make(np.random.default_rng(0))
    bigger = (shape[0] + 1,) + shape[1:]
    for s in (shape, bigger, shape):  # fill the workspaces with other data, change their shape, come back
        _step(used, rng.standard_normal(s), rng)
    x = rng.standard_normal(shape)
    seed = int(rng.integers(1 << 30))
    a = _step(used, x, np.random.default_rng(seed))
    b = _step(fresh, x, np.random.default_rng(seed))
    for u, f in zip(a[:2], b[:2]):
        np.testing.assert_allclose(u, f, rtol=1e-12, atol=1e-12)
    for key in a[2]:
        np.testing.assert_allclose(a[2][key], b[2][key], rtol=1e-12, atol=1e-12)


def test_a_failing_alias_check_fails():
    """The check above can fail: a layer that returns its workspace is caught."""

    class Leaky(layers.ReLU):
        def forward(self, x):
            buf = memory_of(self).workspace("out", np.shape(x), np.float64)
            np.maximum(x, 0, out=buf)
            self.cache = buf > 0
            return self._remember(buf)

    rng = np.random.default_rng(5)
    layer = Leaky()
    out = layer.forward(rng.standard_normal((2, 3)))
    kept = out.copy()
    layer.forward(rng.standard_normal((2, 3)))
    assert not np.array_equal(out, kept)


@pytest.mark.parametrize("make", [lambda rng: layers.Conv2D(2, 3, 3, padding=1, rng=rng),
                                  lambda rng: layers.Conv2D(2, 3, 3, stride=2, rng=rng),
                                  lambda rng: layers.Dense(5, 4, rng=rng)])
def test_backward_params_fills_the_grads_of_backward(make):
    rng = np.random.default_rng(6)
    layer = make(rng)
    x = rng.standard_normal((2, 5) if isinstance(layer, layers.Dense) else (2, 2, 7, 7))
    dout = rng.standard_normal(layer.forward(x).shape)
    layer.backward(dout)
    full = {k: g.copy() for k, g in layer.grads.items()}
    layer.forward(x)
    assert layer.backward_params(dout) is None
    for key in full:
        np.testing.assert_allclose(layer.grads[key], full[key], rtol=1e-12, atol=1e-12)


def test_sequential_backward_without_input_grad_gives_the_same_grads():
    rng = np.random.default_rng(7)
    net = Sequential(layers.Conv2D(1, 3, 5, rng=rng), layers.ReLU(), layers.MaxPool2D(2), layers.Flatten(),
                     layers.Dense(3 * 4 * 4, 10, rng=rng))
    x = rng.standard_normal((4, 1, 12, 12))
    dout = rng.standard_normal(net.forward(x).shape)
    dx = net.backward(dout)
    assert dx.shape == x.shape
    full = {name: g.copy() for name, _, g in net.parameters()}
    net.forward(x)
    assert net.backward(dout, input_grad=False) is None
    for name, _, g in net.parameters():
        np.testing.assert_allclose(g, full[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_threads_for_small_and_large_products():
    assert threads_for(1e6, 2) == 1  # a small GEMM (the one-conv-layer net's are below 1e7 flops) stays on one thread
    assert threads_for(1e12, 2) == 2  # a large one gets every thread the pool has
    assert threads_for(1e12, 1) == 1  # but never more than the pool has


def test_blas_threads_restores_the_pool_size():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        with blas_threads(5e6):  # a product of 2.5e6 multiply-adds: one thread
            inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before
    assert all(n == 1 for n in inside)


def test_blas_threads_leaves_the_pool_alone_for_a_tiny_product():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with blas_threads(ONE_THREAD_FLOPS - 1):
            inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert all(n == 2 for n in inside)


def test_an_output_the_caller_dropped_is_reused_and_one_it_still_holds_is_not():
    rng = np.random.default_rng(8)
    relu, x = layers.ReLU(), rng.standard_normal((2, 3, 4, 4))
    first = id(relu.forward(x))  # dropped at once: the next call may reuse it
    held = relu.forward(x)
    assert id(held) == first
    again = relu.forward(-x)
    assert again is not held
    np.testing.assert_array_equal(held, np.maximum(x, 0))
    view = relu.forward(x)[0]  # only a view is kept: its base is still held
    relu.forward(-x)
    np.testing.assert_array_equal(view, np.maximum(x[0], 0))


def test_large_buffers_start_at_different_offsets_within_a_page():
    """A layer's workspaces and returned arrays are 64-byte aligned and do not all start at the same offset within a
    4 KB page (fresh mmap'd arrays all would, and then slow each other down: 4K aliasing)."""
    rng = np.random.default_rng(9)
    conv = layers.Conv2D(1, 6, 5, padding=2, rng=rng, dtype=np.float32)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    out = conv.forward(x)
    conv.backward(np.ones_like(out))
    mem = memory_of(conv)
    buffers = list(mem.workspaces.values()) + list(mem.returned_arrays.values())
    assert len(buffers) >= 6 and all(b.nbytes > 128 * 1024 for b in buffers[:3])
    offsets = [b.ctypes.data % 4096 for b in buffers]
    assert all(o % 64 == 0 for o in offsets)
    assert len(set(offsets)) == len(offsets), offsets
