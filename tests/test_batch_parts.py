"""The engine's Conv2D in two halves of the batch, and cnnlib.engine.threads.run_parts.

A float32 Conv2D with a large columns matrix sums its gradients over each half of the batch, and with two threads
works on the halves side by side. The results must be right (against a float64 reference, itself checked against
PyTorch and the naive loops, and against PyTorch in float32), the same bits on one thread as on two, and unchanged
by the next step. run_parts must keep the order of results, raise what a task raised, and leave the BLAS pool as
it found it.
"""

import threading
from contextlib import contextmanager

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.engine import conv as engine_conv
from cnnlib.engine.threads import parallel_threads, run_parts

threadpoolctl = pytest.importorskip("threadpoolctl")

# (C, F, kernel, padding, input size): the conv layers of LeNet-5 at batch 64, and one like them with 4 filters
SHAPES = [(1, 6, 5, 2, 28), (6, 16, 5, 0, 14), (2, 4, 5, 1, 26)]


def halves(layer, x_shape):
    return engine_conv.engine_of(layer).halves(x_shape)


def blas_sizes():
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def make(shape, dtype=np.float32):
    C, F, k, p, H = shape
    rng = np.random.default_rng(0)
    layer = layers.Conv2D(C, F, k, padding=p, rng=rng, dtype=dtype)
    layer.params["b"] = rng.standard_normal(F).astype(dtype)
    x = rng.standard_normal((64, C, H, H)).astype(dtype)
    dout = rng.standard_normal(layer.output_shape(x.shape)).astype(dtype)
    return layer, x, dout


def step(layer, x, dout, input_grad=True):
    z = layer.forward(x).copy()
    if input_grad:
        dx = layer.backward(dout).copy()
    else:
        assert layer.backward_params(dout) is None
        dx = None
    return z, dx, {k: g.copy() for k, g in layer.grads.items()}


@pytest.mark.parametrize("shape", SHAPES)
def test_these_layers_sum_over_two_halves_and_float64_over_the_batch(shape):
    layer, x, _ = make(shape)
    assert halves(layer, x.shape) == [slice(0, 32), slice(32, 64)]
    layer64, x64, _ = make(shape, np.float64)
    assert halves(layer64, x64.shape) == [slice(0, 64)]
    assert halves(layer, (1,) + x.shape[1:]) == [slice(0, 1)]  # one sample cannot be halved
    assert halves(layer, (8,) + x.shape[1:]) == [slice(0, 8)]  # too little work per half


def test_the_one_conv_layer_net_layer_stays_whole():
    """Conv2D(1, 3, 5) on 28x28 at batch 64 has 3.2e6 multiply-adds: below the limit, one part, one sum."""
    layer = layers.Conv2D(1, 3, 5, dtype=np.float32)
    assert halves(layer, (64, 1, 28, 28)) == [slice(0, 64)]


def test_one_part_on_one_thread_and_two_parts_side_by_side_on_two():
    layer, x, _ = make(SHAPES[0])
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        layer.forward(x)
        assert [s for s, _ in layer.cache["parts"]] == [slice(0, 64)]
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if parallel_threads() < 2:
            pytest.skip("this BLAS does not let cnnlib run parts side by side")
        layer.forward(x)
        assert [s for s, _ in layer.cache["parts"]] == [slice(0, 32), slice(32, 64)]


@pytest.mark.parametrize("shape", SHAPES)
def test_two_parts_match_a_float64_reference(shape):
    """The float32 result in two parts against the float64 layer (checked against PyTorch and the naive loops in
    test_torch_reference.py and test_layers.py), to float32 accuracy."""
    layer, x, dout = make(shape)
    ref, _, _ = make(shape, np.float64)
    ref.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        z, dx, grads = step(layer, x, dout)
    z64, dx64, grads64 = step(ref, x.astype(np.float64), dout.astype(np.float64))
    for ours, theirs in [(z, z64), (dx, dx64), (grads["W"], grads64["W"]), (grads["b"], grads64["b"])]:
        scale = np.abs(theirs).max()
        assert np.abs(ours - theirs).max() <= 1e-5 * scale


def test_two_parts_match_torch_float32():
    torch = pytest.importorskip("torch")
    layer, x, dout = make(SHAPES[0])
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        z, dx, grads = step(layer, x, dout)
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(layer.params["W"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True)
    zt = torch.nn.functional.conv2d(xt, Wt, bt, padding=2)
    zt.backward(torch.tensor(dout))
    for ours, theirs in [(z, zt), (dx, xt.grad), (grads["W"], Wt.grad), (grads["b"], bt.grad)]:
        theirs = theirs.detach().numpy()
        assert np.abs(ours - theirs).max() <= 1e-5 * np.abs(theirs).max()


@pytest.mark.parametrize("input_grad", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_one_thread_and_two_threads_give_the_same_bits(shape, input_grad):
    results = []
    for threads in (1, 2):
        layer, x, dout = make(shape)
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            results.append(step(layer, x, dout, input_grad))
    (z1, dx1, g1), (z2, dx2, g2) = results
    np.testing.assert_array_equal(z1, z2)
    if input_grad:
        np.testing.assert_array_equal(dx1, dx2)
    for key in g1:
        np.testing.assert_array_equal(g1[key], g2[key])


def test_values_of_step_k_survive_step_k_plus_1_in_two_parts():
    layer, x, dout = make(SHAPES[2])
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        z = layer.forward(x)
        dx = layer.backward(dout)
        grads = dict(layer.grads)
        kept = z.copy(), dx.copy(), {k: g.copy() for k, g in grads.items()}
        layer.forward(-x)
        layer.backward(2 * dout)
    np.testing.assert_array_equal(z, kept[0])
    np.testing.assert_array_equal(dx, kept[1])
    for key in grads:
        np.testing.assert_array_equal(grads[key], kept[2][key])


def test_parts_use_the_current_weights():
    """A part works with the W and b it is given, so weights changed between steps (by SGD, or replaced) count."""
    layer, x, _ = make(SHAPES[0])
    layer.forward(x)  # the parts exist now
    layer.params = {"W": -layer.params["W"], "b": layer.params["b"] + 1}  # a new dict, as a user might set
    z = layer.forward(x)
    fresh, _, _ = make(SHAPES[0])
    fresh.params = {k: v.copy() for k, v in layer.params.items()}
    np.testing.assert_array_equal(z, fresh.forward(x))
    assert not np.array_equal(z, make(SHAPES[0])[0].forward(x))  # the old weights would give something else


@pytest.mark.parametrize("threads", [1, 2])
def test_naive_backward_after_a_fast_forward(monkeypatch, threads):
    layer, x, _ = make(SHAPES[0])
    x = x[:4]  # the naive loops are slow: 4 samples, in two halves once the limit is lowered
    monkeypatch.setattr(engine_conv, "PART_MIN_MULTIPLY_ADDS", 1)
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        z = layer.forward(x)
        d = np.random.default_rng(1).standard_normal(z.shape).astype(np.float32)
        dx_naive = layer.backward_naive(d)
        layer.forward(x)
        dx = layer.backward(d)
    np.testing.assert_allclose(dx_naive, dx, rtol=1e-5, atol=1e-5)


# ---- run_parts -----------------------------------------------------------------------------------------------
def test_run_parts_returns_results_in_order_on_two_threads():
    names = {}

    def task(i):
        def run():
            names[i] = threading.current_thread().name
            return i * i
        return run

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if parallel_threads() < 2:
            pytest.skip("this BLAS does not let cnnlib run parts side by side")
        before = blas_sizes()
        assert run_parts([task(i) for i in range(5)]) == [0, 1, 4, 9, 16]
        assert blas_sizes() == before
    assert names[0] == threading.current_thread().name
    assert any(n.startswith("cnnlib-part") for n in names.values())  # some ran on the worker thread


def test_run_parts_one_after_the_other_on_one_thread():
    names = []
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert run_parts([lambda: names.append(threading.current_thread().name) or 7] * 3) == [7, 7, 7]
    assert set(names) == {threading.current_thread().name}


@pytest.mark.parametrize("failing", [0, 1])
def test_run_parts_raises_what_a_task_raised_and_restores_the_pool(failing):
    ran = []

    def ok():
        ran.append(1)
        return 1

    def bad():
        raise ValueError("part failed")

    tasks = [ok, ok]
    tasks[failing] = bad
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_sizes()
        with pytest.raises(ValueError, match="part failed"):
            run_parts(tasks)
        assert blas_sizes() == before
    assert ran == [1]  # the other task still ran to its end


def test_blas_uses_one_thread_per_part_while_two_parts_run():
    seen = []
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if parallel_threads() < 2:
            pytest.skip("this BLAS does not let cnnlib run parts side by side")
        run_parts([lambda: seen.append(blas_sizes())] * 2)
        assert blas_sizes() == [2] * len(blas_sizes())
    assert all(n == 1 for sizes in seen for n in sizes)


@contextmanager
def pool_switches_on_two_threads():
    """Within the block, BLAS's pool has 2 threads and every change of its size is recorded: yields the list."""
    from cnnlib.engine import threads

    libs = threads._blas()
    if not libs:
        pytest.skip("no BLAS that threadpoolctl can control")
    switches = []
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        originals = [lib.set_num_threads for lib in libs]
        for lib, orig in zip(libs, originals):
            lib.set_num_threads = lambda n, _orig=orig: (switches.append(n), _orig(n))[1]
        try:
            yield switches
        finally:
            for lib, orig in zip(libs, originals):
                lib.set_num_threads = orig


def test_tiny_products_leave_the_pool_alone_and_larger_ones_run_on_one_thread():
    """With 2 threads allowed: Dense(432, 10) at batch 64 (5.5e5 flops, which BLAS never splits) runs without
    switching the pool's size; Dense(120, 84) (1.3e6 flops) runs with the pool lowered to 1, then restored."""
    rng = np.random.default_rng(0)
    with pool_switches_on_two_threads() as switches:
        small = layers.Dense(432, 10, rng=rng, dtype=np.float32)
        small.backward(small.forward(rng.random((64, 432), dtype=np.float32)))
        assert switches == []
        larger = layers.Dense(120, 84, rng=rng, dtype=np.float32)
        larger.forward(rng.random((64, 120), dtype=np.float32))
    n = len(switches) // 2
    assert n >= 1 and switches == [1] * n + [2] * n


def test_a_small_net_never_switches_the_pool_size(monkeypatch):
    """The one-conv-layer net's products are its conv layer's slices (small-matrix products, which BLAS runs on one
    thread by itself) and one tiny dense product: with 2 threads allowed, a training step runs exactly as on one,
    without switching the pool's size and without handing work to a second thread."""
    from cnnlib.engine import threads
    from cnnlib.model import Sequential

    def no_worker_thread():
        raise AssertionError("the one-conv-layer net handed work to a second thread")

    monkeypatch.setattr(threads, "_executor", no_worker_thread)

    rng = np.random.default_rng(0)
    net = Sequential(layers.Conv2D(1, 3, 5, rng=rng, dtype=np.float32), layers.ReLU(), layers.MaxPool2D(2),
                     layers.Flatten(), layers.Dense(3 * 12 * 12, 10, rng=rng, dtype=np.float32))
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    with pool_switches_on_two_threads() as switches:
        net.backward(np.ones_like(net.forward(x)), input_grad=False)
    assert switches == []


def test_training_lenet5_gives_the_same_weights_on_one_thread_and_on_two():
    """Three SGD steps of a LeNet-5-style net in float32 (both conv layers work in halves on two threads), from the
    same weights on the same batches: every parameter ends with the same bits on 1 thread and on 2."""
    from cnnlib import SGD, SoftmaxCrossEntropy
    from cnnlib.model import Sequential

    def lenet(rng):
        f32 = np.float32
        return Sequential(layers.Conv2D(1, 6, 5, padding=2, rng=rng, dtype=f32), layers.ReLU(), layers.MaxPool2D(2),
                          layers.Conv2D(6, 16, 5, rng=rng, dtype=f32), layers.ReLU(), layers.MaxPool2D(2),
                          layers.Flatten(), layers.Dense(400, 120, rng=rng, dtype=f32), layers.ReLU(),
                          layers.Dense(120, 84, rng=rng, dtype=f32), layers.ReLU(), layers.Dense(84, 10, rng=rng, dtype=f32))

    data = np.random.default_rng(1)
    batches = [(data.random((64, 1, 28, 28), dtype=np.float32), data.integers(0, 10, 64)) for _ in range(3)]
    trained = []
    for threads in (1, 2):
        net = lenet(np.random.default_rng(0))
        loss, opt = SoftmaxCrossEntropy(), SGD(net, lr=0.05, momentum=0.9)
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            for x, y in batches:
                loss.forward(net.forward(x), y)
                net.backward(loss.backward(), input_grad=False)
                opt.step()
        trained.append({name: p.copy() for name, p, _ in net.parameters()})
    assert trained[0].keys() == trained[1].keys()
    for name in trained[0]:
        np.testing.assert_array_equal(trained[0][name], trained[1][name], err_msg=name)
    first = lenet(np.random.default_rng(0))
    assert not np.array_equal(first.layers[0].params["W"], trained[0]["0.W"])  # training did change the weights
