"""The exercises that ask for a step the notebooks do not show: right answers pass, each named mistake is named.

Every expected value comes from an independent source: central differences written here, scipy.signal, or hand
arithmetic. Every mistake is written here the way a learner would write it, not taken from the checkers.
"""

import numpy as np
import pytest
import scipy.signal

from cnnlib import exercises
from cnnlib.exercises import mnist, stride
from finite_differences import numerical  # noqa: E402 - the suite's own reference




def assert_named(result, *names):
    assert not result, result
    for name in names:
        assert name in result.mistakes, (name, result.message)


# ---- 02: Mᵀδ as a scatter loop -------------------------------------------------------------------------------
def dense_matrix(W, shape):
    """M written from its definition: row (i, j) holds W[m, n] in column (i + m, j + n)."""
    H, Wd = shape
    KH, KW = W.shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    M = np.zeros((Ho * Wo, H * Wd))
    for i, j, m, n in np.ndindex(Ho, Wo, KH, KW):
        M[i * Wo + j, (i + m) * Wd + (j + n)] = W[m, n]
    return M


def scatter_right(delta, W, shape):
    return (dense_matrix(W, shape).T @ delta.ravel()).reshape(shape)


def scatter_with(kernel_of, accumulate=True):
    def fn(delta, W, shape):
        K = kernel_of(W)
        dx = np.zeros(shape)
        for i, j in np.ndindex(*delta.shape):
            for m, n in np.ndindex(*K.shape):
                if accumulate:
                    dx[i + m, j + n] += K[m, n] * delta[i, j]
                else:
                    dx[i + m, j + n] = K[m, n] * delta[i, j]
        return dx
    return fn


def test_scatter_right_answer_passes_and_matches_full_correlation():
    rng = np.random.default_rng(0)
    W, delta = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(scatter_right(delta, W, (4, 6)), scipy.signal.convolve2d(delta, W, "full"))
    assert exercises.check_scatter_input_gradient(scatter_right)
    assert exercises.check_scatter_input_gradient(scatter_with(lambda W: W))


@pytest.mark.parametrize("name, fn", [
    ("scattered the rotated kernel", scatter_with(np.flip)),
    ("transposed the kernel", scatter_with(np.transpose)),
    ("overwrites instead of accumulating", scatter_with(lambda W: W, accumulate=False)),
])
def test_scatter_mistakes_are_named(name, fn):
    result = exercises.check_scatter_input_gradient(fn)
    if name == "transposed the kernel" and result.case is not None and "shape" in result.message:
        pytest.fail(result.message)
    assert_named(result, name)


# ---- 05: dW with stride, padding and dilation ----------------------------------------------------------------
def strided_forward(x, W, s, p, d):
    xp = np.pad(x, p)
    KH, KW = W.shape
    Ho = (xp.shape[0] - d * (KH - 1) - 1) // s + 1
    Wo = (xp.shape[1] - d * (KW - 1) - 1) // s + 1
    z = np.zeros((Ho, Wo))
    for i, j, m, n in np.ndindex(Ho, Wo, KH, KW):
        z[i, j] += xp[i * s + m * d, j * s + n * d] * W[m, n]
    return z


def dw_loops(s_of, d_of, pad=True, flip=False):
    def fn(x, delta, KH, KW, s, p, d):
        s, d = s_of(s, d), d_of(s, d)
        xp = np.pad(x, p) if pad else x
        dW = np.zeros((KH, KW))
        for i, j, m, n in np.ndindex(*delta.shape, KH, KW):
            r, c = i * s + m * d, j * s + n * d
            if r < xp.shape[0] and c < xp.shape[1]:
                dW[m, n] += delta[i, j] * xp[r, c]
        return np.flip(dW) if flip else dW
    return fn


dw_right = dw_loops(lambda s, d: s, lambda s, d: d)


def test_strided_dw_matches_central_differences():
    for x, delta, KH, KW, s, p, d in stride.DW_CASES:
        W0 = np.zeros((KH, KW))
        assert strided_forward(x, W0, s, p, d).shape == delta.shape
        num = numerical(lambda v: np.sum(delta * strided_forward(x, v, s, p, d)), W0)
        np.testing.assert_allclose(dw_right(x, delta, KH, KW, s, p, d), num, atol=1e-7)
    assert exercises.check_strided_weight_gradient(dw_right)


@pytest.mark.parametrize("name, fn", [
    ("ignored the dilation", dw_loops(lambda s, d: s, lambda s, d: 1)),
    ("ignored the stride", dw_loops(lambda s, d: 1, lambda s, d: d)),
    ("swapped stride and dilation", dw_loops(lambda s, d: d, lambda s, d: s)),
    ("forgot the padding", dw_loops(lambda s, d: s, lambda s, d: d, pad=False)),
    ("rotated dW", dw_loops(lambda s, d: s, lambda s, d: d, flip=True)),
])
def test_strided_dw_mistakes_are_named(name, fn):
    assert_named(exercises.check_strided_weight_gradient(fn), name)


# ---- 09: from the dense layer back to δ at the conv layer ----------------------------------------------------
def net_cost(z, W_fc, delta_fc):
    N, F, H, W = z.shape
    a = np.maximum(z, 0)
    pooled = a.reshape(N, F, H // 2, 2, W // 2, 2).max(axis=(3, 5))
    return np.sum(delta_fc * (pooled.reshape(N, -1) @ W_fc.T))


def delta_by_hand(route="first", mask=True, order="C"):
    def fn(z, W_fc, delta_fc):
        N, F, H, W = z.shape
        flat = delta_fc @ W_fc
        if order == "C":
            d = flat.reshape(N, F, H // 2, W // 2)
        else:
            d = np.moveaxis(flat.reshape(N, H // 2, W // 2, F), 3, 1)
        a = np.maximum(z, 0)
        out = np.zeros_like(z)
        for n, f, i, j in np.ndindex(*d.shape):
            win = a[n, f, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            if route == "first":
                r, c = divmod(int(np.argmax(win)), 2)
                out[n, f, 2 * i + r, 2 * j + c] = d[n, f, i, j]
            elif route == "average":
                out[n, f, 2 * i:2 * i + 2, 2 * j:2 * j + 2] = d[n, f, i, j] / 4
            else:  # every entry of the window
                out[n, f, 2 * i:2 * i + 2, 2 * j:2 * j + 2] = d[n, f, i, j]
        return out * (z > 0) if mask else out
    return fn


def test_conv_delta_matches_central_differences():
    z, W_fc, delta_fc = mnist.MAP_CASES[1]  # the small one; the 3x24x24 case is checked by the checker itself
    num = numerical(lambda v: net_cost(v, W_fc, delta_fc), z)
    np.testing.assert_allclose(delta_by_hand()(z, W_fc, delta_fc), num, atol=1e-6)
    assert mnist.MAP_CASES[0][0].shape == (2, 3, 24, 24) and mnist.MAP_CASES[0][1].shape == (10, 432)
    assert exercises.check_conv_delta(delta_by_hand())


@pytest.mark.parametrize("name, fn", [
    ("forgot the ReLU mask", delta_by_hand(mask=False)),
    ("spread the gradient like average pooling", delta_by_hand(route="average")),
    ("unflattened in the wrong order", delta_by_hand(order="channels last")),
    ("used the pooled δ without routing", delta_by_hand(route="all")),
])
def test_conv_delta_mistakes_are_named(name, fn):
    assert_named(exercises.check_conv_delta(fn), name)


# ---- 08: softmax with a squared error ------------------------------------------------------------------------
def mse_cost(z, labels):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return 0.5 * np.sum((p - np.eye(z.shape[1])[labels]) ** 2) / len(labels)


def mse_through(jacobian):
    def fn(z, labels):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        g = (p - np.eye(z.shape[1])[labels]) / len(labels)
        return np.stack([jacobian(pn) @ gn for pn, gn in zip(p, g)])
    return fn


mse_right = mse_through(lambda p: np.diag(p) - np.outer(p, p))


def test_softmax_mse_matches_central_differences():
    from cnnlib.exercises import softmax

    for z, labels in softmax.MSE_CASES[:3]:
        np.testing.assert_allclose(mse_right(z, labels), numerical(lambda v: mse_cost(v, labels), z), atol=1e-8)
    assert exercises.check_softmax_mse_backward(mse_right)


@pytest.mark.parametrize("name, fn", [
    ("used the cross-entropy shortcut p - y", mse_through(lambda p: np.eye(len(p)))),
    ("used only the diagonal of the Jacobian", mse_through(lambda p: np.diag(p * (1 - p)))),
    ("forgot 1/N", lambda z, y: len(y) * mse_right(z, y)),
    ("sign error", lambda z, y: -mse_right(z, y)),
])
def test_softmax_mse_mistakes_are_named(name, fn):
    assert_named(exercises.check_softmax_mse_backward(fn), name)


# ---- 07: max pooling with padding ----------------------------------------------------------------------------
def padded_pool_cost(x, dout, k, s, p):
    xp = np.pad(x, p, constant_values=-np.inf)
    return sum(dout[i, j] * xp[i * s:i * s + k, j * s:j * s + k].max() for i, j in np.ndindex(*dout.shape))


def padded_pool(fill=-np.inf, crop="ends"):
    def fn(x, dout, k, s, p):
        xp = np.pad(x, p, constant_values=fill)
        dxp = np.zeros(xp.shape)
        for i, j in np.ndindex(*dout.shape):
            win = xp[i * s:i * s + k, j * s:j * s + k]
            r, c = divmod(int(np.argmax(win)), k)
            dxp[i * s + r, j * s + c] += dout[i, j]
        if crop == "ends":
            return dxp[p:dxp.shape[0] - p, p:dxp.shape[1] - p]
        if crop == "slice":
            return dxp[p:-p, p:-p]
        return dxp
    return fn


def test_padded_maxpool_matches_central_differences_and_pytorch():
    from cnnlib.exercises import pooling

    right = padded_pool()
    for x, dout, k, s, p in pooling.PADDED_CASES:
        num = numerical(lambda v: padded_pool_cost(v, dout, k, s, p), x)
        np.testing.assert_allclose(right(x, dout, k, s, p), num, atol=1e-7)
    assert exercises.check_padded_maxpool_backward(right)
    torch = pytest.importorskip("torch")
    for x, dout, k, s, p in pooling.PADDED_CASES + pooling.PADDED_EXERCISE.draw(np.random.default_rng(0)):
        xt = torch.tensor(x[None, None], requires_grad=True)
        torch.nn.functional.max_pool2d(xt, k, s, padding=p).backward(torch.tensor(dout[None, None]))
        np.testing.assert_allclose(right(x, dout, k, s, p), xt.grad[0, 0].numpy())


@pytest.mark.parametrize("name, fn", [
    ("padded with zeros instead of -inf", padded_pool(fill=0.0)),
    ("forgot to crop the padding", padded_pool(crop=None)),
    ("cropped with a[p:-p] (empty for p = 0)", padded_pool(crop="slice")),
])
def test_padded_maxpool_mistakes_are_named(name, fn):
    assert_named(exercises.check_padded_maxpool_backward(fn), name)
