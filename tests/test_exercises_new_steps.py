"""The exercises that ask for a step the notebooks do not show: right answers pass, each named mistake is named.

Every expected value comes from an independent source: central differences written here, scipy.signal, or hand
arithmetic. Every mistake is written here the way a learner would write it, not taken from the checkers.
"""

import numpy as np
import pytest
import scipy.signal

from cnnlib import exercises
from cnnlib.exercises import convolution, mnist, mlp, recovery, rotation, stride


def numerical(f, x, h=1e-6):
    """Central differences of the scalar f at x (any shape)."""
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


def assert_named(result, *names):
    assert not result, result
    for name in names:
        assert name in result.mistakes, (name, result.message)


# ---- 01: the hidden δ through tanh ---------------------------------------------------------------------------
def tanh_right(W, d, z):
    return (W.T @ d) * (1 - np.tanh(z) ** 2)


def test_tanh_answer_matches_central_differences():
    for W, d, z in mlp._cases(1002, ((3, 3), (3, 4), (2, 5))):
        num = numerical(lambda v: d @ (W @ np.tanh(v)), z)  # C is linear in z^{l+1} with slope δ^{l+1}
        np.testing.assert_allclose(tanh_right(W, d, z), num, atol=1e-8)
    assert exercises.check_hidden_delta_tanh(tanh_right)


@pytest.mark.parametrize("name, fn", [
    ("used the sigmoid's derivative", lambda W, d, z: (W.T @ d) * np.exp(-z) / (1 + np.exp(-z)) ** 2),
    ("used a(1 - a) with a = tanh(z)", lambda W, d, z: (W.T @ d) * np.tanh(z) * (1 - np.tanh(z))),
    ("used 1 - z² instead of 1 - tanh(z)²", lambda W, d, z: (W.T @ d) * (1 - z * z)),
    ("forgot the tanh'(z) factor", lambda W, d, z: W.T @ d),
    ("used W instead of Wᵀ", lambda W, d, z: (W @ d) * (1 - np.tanh(z) ** 2)),
])
def test_tanh_mistakes_are_named(name, fn):
    assert_named(exercises.check_hidden_delta_tanh(fn), name)


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


# ---- 03: a full convolution from padding ---------------------------------------------------------------------
def full_from_padding(top, bottom, left, right, kernel_of):
    def fn(x, k):
        return scipy.signal.correlate2d(np.pad(x, ((top(k), bottom(k)), (left(k), right(k)))), kernel_of(k), "valid")
    return fn


KH1 = lambda k: k.shape[0] - 1  # noqa: E731
KW1 = lambda k: k.shape[1] - 1  # noqa: E731


def test_full_convolution_right_answer():
    right = full_from_padding(KH1, KH1, KW1, KW1, np.flip)
    for x, k in convolution.FULL_CASES:
        np.testing.assert_allclose(right(x, k), scipy.signal.convolve2d(x, k, "full"))
    assert exercises.check_full_convolution(right)


@pytest.mark.parametrize("name, fn", [
    ("forgot to flip", full_from_padding(KH1, KH1, KW1, KW1, lambda k: k)),
    ("padded by KH instead of KH - 1",
     full_from_padding(lambda k: k.shape[0], lambda k: k.shape[0], lambda k: k.shape[1], lambda k: k.shape[1],
                       np.flip)),
    ("padded only one side", full_from_padding(KH1, lambda k: 0, KW1, lambda k: 0, np.flip)),
    ("transposed instead of rotating",
     full_from_padding(lambda k: k.shape[1] - 1, lambda k: k.shape[1] - 1, lambda k: k.shape[0] - 1,
                       lambda k: k.shape[0] - 1, np.transpose)),
])
def test_full_convolution_mistakes_are_named(name, fn):
    assert_named(exercises.check_full_convolution(fn), name)


def test_full_mode_is_refused():
    result = exercises.check_full_convolution(lambda x, k: scipy.signal.correlate2d(x, np.flip(k), mode="full"))
    assert not result and result.mistake == "used a shortcut" and "'full'" in result.message


# ---- 04: the backward pass of a convolution forward ----------------------------------------------------------
def conv_layer_numerical(x, W, delta, b=0.3):
    def cost(x_, W_, b_):
        return np.sum(delta * (scipy.signal.convolve2d(x_, W_, "valid") + b_))
    return (numerical(lambda v: cost(v, W, b), x), numerical(lambda v: cost(x, v, b), W),
            numerical(lambda v: cost(x, W, v[0]), [b])[0])


def conv_layer_right(x, W, delta):
    return (scipy.signal.correlate2d(delta, W, "full"), np.flip(scipy.signal.correlate2d(x, delta, "valid")),
            delta.sum())


def test_convolution_layer_right_answer_matches_central_differences():
    for x, W, delta in rotation.CASES:
        for got, want in zip(conv_layer_right(x, W, delta), conv_layer_numerical(x, W, delta)):
            np.testing.assert_allclose(got, want, atol=1e-7)


def scatter_backward(kernel_of, rotate_dw=True, accumulate=True, db=np.sum):
    def fn(x, W, delta):
        KH, KW = W.shape
        K = kernel_of(W)
        dx, dV = np.zeros_like(x), np.zeros_like(W)
        for i, j in np.ndindex(*delta.shape):
            if accumulate:
                dx[i:i + KH, j:j + KW] += delta[i, j] * K
            else:
                dx[i:i + KH, j:j + KW] = delta[i, j] * K
            dV += delta[i, j] * x[i:i + KH, j:j + KW]
        return dx, (np.flip(dV) if rotate_dw else dV), db(delta)
    return fn


def test_convolution_layer_honest_scatter_passes():
    assert exercises.check_convolution_layer_backward(scatter_backward(np.flip))


@pytest.mark.parametrize("names, fn", [
    (["used the correlation layer's dx"], scatter_backward(lambda W: W)),
    (["forgot to rotate dW"], scatter_backward(np.flip, rotate_dw=False)),
    (["overwrites instead of accumulating"], scatter_backward(np.flip, accumulate=False)),
    (["averaged the bias gradient"], scatter_backward(np.flip, db=np.mean)),
    # several at once: each output is diagnosed on its own, and every mistake is named
    (["used the correlation layer's dx", "forgot to rotate dW", "averaged the bias gradient"],
     scatter_backward(lambda W: W, rotate_dw=False, db=np.mean)),
])
def test_convolution_layer_mistakes_are_named(names, fn):
    result = exercises.check_convolution_layer_backward(fn)
    assert_named(result, *names)
    assert len(result.mistakes) == len(names)


def test_correlate2d_is_refused_in_the_by_hand_exercise():
    result = exercises.check_convolution_layer_backward(conv_layer_right)
    assert not result and result.mistake == "used a shortcut" and "correlate2d" in result.message


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


# ---- 06: the gradient of the filter-recovery loss ------------------------------------------------------------
def recovery_forward(x, W):
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    z = np.zeros((N, F, H - KH + 1, Wd - KW + 1))
    for n, f, i, j in np.ndindex(*z.shape):
        z[n, f, i, j] = np.sum(x[n, :, i:i + KH, j:j + KW] * W[f])
    return z


def recovery_loops(divide="N", sign=1, samples=None, flip=False):
    """dW written as a learner would: loop over the taps, multiply the input window by the residual."""
    def fn(x, W, y):
        x, y = (x, y) if samples is None else (x[:samples], y[:samples])
        r = sign * (recovery_forward(x, W) - y)
        F, C, KH, KW = W.shape
        Ho, Wo = r.shape[2:]
        dW = np.zeros(W.shape)
        for f, c, m, k in np.ndindex(F, C, KH, KW):
            dW[f, c, m, k] = np.sum(x[:, c, m:m + Ho, k:k + Wo] * r[:, f])
        dW = dW / {"N": len(x), "all": r.size, "none": 1}[divide]
        return np.flip(dW, axis=(2, 3)) if flip else dW
    return fn


recovery_right = recovery_loops()


def test_recovery_gradient_matches_central_differences():
    for x, W, y in recovery.CASES:
        num = numerical(lambda v: np.sum((recovery_forward(x, v) - y) ** 2) / (2 * len(x)), W)
        np.testing.assert_allclose(recovery_right(x, W, y), num, atol=1e-6)
    assert exercises.check_filter_recovery_gradient(recovery_right)
    assert exercises.check_filter_recovery_gradient(recovery_right, hidden=True)


@pytest.mark.parametrize("name, fn", [
    ("forgot the 1/N", recovery_loops(divide="none")),
    ("divided by every output, not by N", recovery_loops(divide="all")),
    ("residual with the wrong sign", recovery_loops(sign=-1)),
    ("used only the first sample", recovery_loops(samples=1, divide="none")),
    ("rotated dW", recovery_loops(flip=True)),
])
def test_recovery_mistakes_are_named(name, fn):
    assert_named(exercises.check_filter_recovery_gradient(fn), name)
    assert_named(exercises.check_filter_recovery_gradient(fn, hidden=True), name)


def test_recovery_refuses_the_loss_layer():
    from cnnlib.losses import MeanSquaredError

    def with_loss(x, W, y):
        loss = MeanSquaredError()
        loss.forward(recovery_forward(x, W), y)
        return recovery_loops(divide="none")(x, W, recovery_forward(x, W) - loss.backward())

    result = exercises.check_filter_recovery_gradient(with_loss)
    assert not result and result.mistake == "used a shortcut" and "MeanSquaredError" in result.message


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


# ---- 10: col2im, the adjoint of im2col -----------------------------------------------------------------------
def im2col_loops(x, KH, KW):
    C, H, W = x.shape
    Ho, Wo = H - KH + 1, W - KW + 1
    cols = np.zeros((C * KH * KW, Ho * Wo))
    for c, m, k, i, j in np.ndindex(C, KH, KW, Ho, Wo):
        cols[(c * KH + m) * KW + k, i * Wo + j] = x[c, i + m, j + k]
    return cols


def col2im_loops(order="cmk", columns="ij", accumulate=True):
    def fn(dcols, C, H, W, KH, KW):
        Ho, Wo = H - KH + 1, W - KW + 1
        dx = np.zeros((C, H, W))
        for c, m, k, i, j in np.ndindex(C, KH, KW, Ho, Wo):
            row = (c * KH + m) * KW + k if order == "cmk" else (m * KW + k) * C + c
            col = i * Wo + j if columns == "ij" else j * Ho + i
            if accumulate:
                dx[c, i + m, j + k] += dcols[row, col]
            else:
                dx[c, i + m, j + k] = dcols[row, col]
        return dx
    return fn


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), dcols> = <x, col2im(dcols)> for every x and dcols: the definition of a backward pass."""
    from cnnlib.exercises import speed

    rng = np.random.default_rng(9)
    for dcols, C, H, W, KH, KW in speed.COL2IM_CASES:
        x = rng.standard_normal((C, H, W))
        assert np.isclose(np.sum(im2col_loops(x, KH, KW) * dcols), np.sum(x * col2im_loops()(dcols, C, H, W, KH, KW)))
    assert exercises.check_col2im(col2im_loops())


@pytest.mark.parametrize("name, fn", [
    ("overwrites instead of accumulating", col2im_loops(accumulate=False)),
    ("rows read in (m, k, c) order", col2im_loops(order="mkc")),
    ("columns read in (j, i) order", col2im_loops(columns="ji")),
])
def test_col2im_mistakes_are_named(name, fn):
    assert_named(exercises.check_col2im(fn), name)


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
