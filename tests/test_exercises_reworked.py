"""The eight exercises reworked so that each asks for a step no cell above it shows (notebooks 01, 03, 04, 06, 08,
10, 11, 12). For each: the checker's reference agrees with an independent one (central differences written here,
scipy.signal or PyTorch); a right answer and an honest alternative written another way pass the shown and the hidden
cases; every named mistake, written out here the way a learner would write it, is recognised by its name.
"""

import textwrap

import numpy as np
import pytest
import scipy.signal

from cnnlib import exercises
from cnnlib.exercises import autodiff, convolution, mlp, recovery, rotation, softmax, speed, transposed
from finite_differences import numerical  # noqa: E402 - the suite's own reference
from honest_answers import HONEST  # noqa: E402

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def torch_in_float64():
    """The torch references here compute in float64, the checkers' dtype; other test modules keep torch's default."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)




def drawn(module, name="EXERCISE", k=(0, 1, 2)):
    """Cases the grader would draw with the generators default_rng(k) (shapes and values change with k)."""
    return [case for seed in k for case in getattr(module, name).draw(np.random.default_rng(seed))]


def passes(check, fn):
    """The shown cases, and cases drawn from several generators as the grader draws them."""
    result = check(fn)
    assert result, result.message
    for k in range(4):
        result = check.exercise.check(fn, hidden=True, rng=np.random.default_rng(k))
        assert result, (k, result.message)


def named_on_drawn_cases(check, fn, name):
    """The learner's mistake ``fn``, on every drawn case where it gives a wrong answer, is named by the grader's
    judge (in its own process, as from arrays that came back from the sandbox)."""
    exercise, seen = check.exercise, 0
    for seed in range(3):
        for args in exercise.draw(np.random.default_rng(seed)):
            try:
                out = fn(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
            except Exception:   # the mistake cannot even run on this case
                continue
            verdict = exercise.judge(args, out if isinstance(out, tuple) else (out,))
            if verdict is not None:
                seen += 1
                assert name in verdict.mistakes, (name, verdict.message)
    assert seen, f"no drawn case shows the mistake {name!r}"


def assert_named(result, *names):
    assert not result, result
    for name in names:
        assert name in result.mistakes, (name, result.message)


def t(a):
    return torch.tensor(np.asarray(a, dtype=float), requires_grad=True)


# ---- 01: BP2 through LeNet-5's scaled tanh, a batch in rows, from the activations --------------------------------
A, S = 1.7159, 2.0 / 3.0


def tanh_right(W, d, a):
    return (d @ W) * S * (A - a ** 2 / A)


def tanh_loops(W, d, a):
    out = np.zeros_like(a)
    for n, j in np.ndindex(*a.shape):
        th = a[n, j] / A                                   # tanh(S z)
        out[n, j] = sum(d[n, k] * W[k, j] for k in range(W.shape[0])) * A * S * (1 - th * th)
    return out


def test_tanh_reference_matches_autograd():
    for W, d, a in mlp.CASES + drawn(mlp):
        z = t(np.arctanh(a / A) / S)                       # the pre-activation that gave a
        (torch.tensor(d) * (A * torch.tanh(S * z) @ torch.tensor(W).T)).sum().backward()
        np.testing.assert_allclose(mlp._tanh_reference(W, d, a), z.grad.numpy(), atol=1e-10)


def test_tanh_right_and_honest_loops_pass():
    passes(exercises.check_hidden_delta_tanh, tanh_right)
    passes(exercises.check_hidden_delta_tanh, tanh_loops)


@pytest.mark.parametrize("name, fn", [
    ("used the derivative of the plain tanh", lambda W, d, a: (d @ W) * (1 - a ** 2)),
    ("forgot the inner factor S", lambda W, d, a: (d @ W) * (A - a ** 2 / A)),
    ("wrote tanh(Sz) as a instead of a/A", lambda W, d, a: (d @ W) * A * S * (1 - a ** 2)),
    ("evaluated the derivative at a instead of z", lambda W, d, a: (d @ W) * A * S / np.cosh(S * a) ** 2),
    ("forgot the f'(z) factor", lambda W, d, a: d @ W),
    ("used Wᵀ as in the column form", lambda W, d, a: (d @ W.T) * S * (A - a ** 2 / A)),
])
def test_tanh_mistakes_are_named(name, fn):
    assert_named(exercises.check_hidden_delta_tanh(fn), name)
    named_on_drawn_cases(exercises.check_hidden_delta_tanh, fn, name)


# ---- 03: 'same' convolution for even, non-square kernels ----------------------------------------------------------
def same_right(x, k):
    KH, KW = k.shape
    return scipy.signal.correlate2d(np.pad(x, ((KH // 2, (KH - 1) // 2), (KW // 2, (KW - 1) // 2))), np.flip(k),
                                    "valid")


def same_loops(x, k):
    """(x * k)[i, j] = Σ x[i + t − m, j + u − n] k[m, n] with the offsets t, u of scipy's centre, x zero outside."""
    KH, KW = k.shape
    t_, u = (KH - 1) // 2, (KW - 1) // 2
    out = np.zeros_like(x)
    for i, j, m, n in np.ndindex(*x.shape, KH, KW):
        r, c = i + t_ - m, j + u - n
        if 0 <= r < x.shape[0] and 0 <= c < x.shape[1]:
            out[i, j] += x[r, c] * k[m, n]
    return out


def test_same_reference_matches_scipy():
    for x, k in convolution.SAME_CASES + drawn(convolution):
        assert any(side % 2 == 0 for side in k.shape)
        np.testing.assert_allclose(convolution._same_reference(x, k), scipy.signal.convolve2d(x, k, "same"),
                                   atol=1e-12)


def test_same_right_and_honest_loops_pass():
    passes(exercises.check_same_convolution, same_right)
    passes(exercises.check_same_convolution, same_loops)


def _pad_corr(x, k, rows, cols):
    return scipy.signal.correlate2d(np.pad(x, (rows, cols)), k, "valid")


@pytest.mark.parametrize("name, fn", [
    ("forgot to flip", lambda x, k: _pad_corr(x, k, (k.shape[0] // 2, (k.shape[0] - 1) // 2),
                                              (k.shape[1] // 2, (k.shape[1] - 1) // 2))),
    ("padded like the correlation's 'same'", lambda x, k: _pad_corr(x, np.flip(k), ((k.shape[0] - 1) // 2, k.shape[0] // 2),
                                                                    ((k.shape[1] - 1) // 2, k.shape[1] // 2))),
    ("padded K//2 on both sides", lambda x, k: _pad_corr(x, np.flip(k), (k.shape[0] // 2,) * 2, (k.shape[1] // 2,) * 2)),
    ("padded (K-1)//2 on both sides", lambda x, k: _pad_corr(x, np.flip(k), ((k.shape[0] - 1) // 2,) * 2,
                                                             ((k.shape[1] - 1) // 2,) * 2)),
    ("transposed instead of rotating", lambda x, k: _pad_corr(x, k.T, (k.shape[1] // 2, (k.shape[1] - 1) // 2),
                                                              (k.shape[0] // 2, (k.shape[0] - 1) // 2))),
])
def test_same_mistakes_are_named(name, fn):
    assert_named(exercises.check_same_convolution(fn), name)
    named_on_drawn_cases(exercises.check_same_convolution, fn, name)


def test_same_mode_is_refused():
    result = exercises.check_same_convolution(lambda x, k: scipy.signal.convolve2d(x, k, "same"))
    assert not result and result.mistake == "used a shortcut"


# ---- 04: backward of a full-convolution layer with channels and a bias ----------------------------------------------
def full_layer_stamping(x, W, delta):
    """Each input pixel stamped x[c, a, b]·W[c] at (a, b): collect back along the same stamp."""
    C, H, Wd = x.shape
    KH, KW = W.shape[1:]
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for c, a, b in np.ndindex(C, H, Wd):
        dx[c, a, b] = np.sum(delta[a:a + KH, b:b + KW] * W[c])
        dW[c] += x[c, a, b] * delta[a:a + KH, b:b + KW]
    return dx, dW, delta.sum()


def full_layer_einsum(x, W, delta):
    KH, KW = W.shape[1:]
    win = np.lib.stride_tricks.sliding_window_view(delta, (KH, KW))        # (H, W, KH, KW)
    return np.einsum("abmn,cmn->cab", win, W), np.einsum("abmn,cab->cmn", win, x), float(delta.sum())


def test_full_layer_reference_matches_autograd():
    for x, W, delta in rotation.CASES + drawn(rotation):
        xt, Wt, bt = t(x[None]), t(W[:, None]), t(0.3)
        z = torch.nn.functional.conv_transpose2d(xt, Wt)[0, 0] + bt      # Σ_c x[c] * W[c], 'full'
        assert z.shape == delta.shape
        (z * torch.tensor(delta)).sum().backward()
        dx, dW, db = rotation._full_layer_reference(x, W, delta)
        np.testing.assert_allclose(dx, xt.grad[0].numpy(), atol=1e-10)
        np.testing.assert_allclose(dW, Wt.grad[:, 0].numpy(), atol=1e-10)
        np.testing.assert_allclose(db, bt.grad.item(), atol=1e-10)


def test_full_layer_forward_is_a_sum_of_full_convolutions():
    x, W, delta = rotation.CASES[0]
    z = torch.nn.functional.conv_transpose2d(torch.tensor(x[None]), torch.tensor(W[:, None]))[0, 0].numpy()
    np.testing.assert_allclose(z, sum(scipy.signal.convolve2d(x[c], W[c], "full") for c in range(len(x))),
                               atol=1e-12)


def test_full_layer_right_and_honest_variants_pass():
    passes(exercises.check_convolution_layer_backward, full_layer_stamping)
    passes(exercises.check_convolution_layer_backward, full_layer_einsum)


def _with(fn, k, value):
    def variant(x, W, delta):
        out = list(full_layer_einsum(x, W, delta))
        out[k] = value(x, W, delta, out[k])
        return tuple(out)
    return variant


def _overwriting(x, W, delta):
    C, H, Wd = x.shape
    KH, KW = W.shape[1:]
    dx, _, db = full_layer_stamping(x, W, delta)
    dW = np.zeros_like(W)
    for c, a, b in np.ndindex(C, H, Wd):
        dW[c] = x[c, a, b] * delta[a:a + KH, b:b + KW]
    return dx, dW, db


@pytest.mark.parametrize("name, fn", [
    ("rotated the kernel in dx", _with(full_layer_einsum, 0, lambda x, W, d, _: full_layer_einsum(
        x, np.flip(W, axis=(1, 2)), d)[0])),
    ("rotated dW", _with(full_layer_einsum, 1, lambda x, W, d, dW: dW[:, ::-1, ::-1])),
    ("overwrites instead of accumulating", _overwriting),
    ("averaged the bias gradient", _with(full_layer_einsum, 2, lambda x, W, d, _: d.mean())),
    ("counted the bias once per channel", _with(full_layer_einsum, 2, lambda x, W, d, db: len(x) * db)),
])
def test_full_layer_mistakes_are_named(name, fn):
    assert_named(exercises.check_convolution_layer_backward(fn), name)
    named_on_drawn_cases(exercises.check_convolution_layer_backward, fn, name)


def test_full_layer_names_two_mistakes_at_once():
    def both(x, W, delta):
        dx, dW, db = full_layer_einsum(x, W, delta)
        return full_layer_einsum(x, np.flip(W, axis=(1, 2)), delta)[0], dW[:, ::-1, ::-1], db
    assert_named(exercises.check_convolution_layer_backward(both), "rotated the kernel in dx", "rotated dW")


def test_full_layer_refuses_correlate2d():
    def with_scipy(x, W, delta):
        return (np.array([scipy.signal.correlate2d(delta, w, "valid") for w in W]),
                np.array([scipy.signal.correlate2d(delta, xc, "valid") for xc in x]), delta.sum())
    result = exercises.check_convolution_layer_backward(with_scipy)
    assert not result and result.mistake == "used a shortcut"


# ---- 06: the Huber filter-recovery gradients, with a bias ------------------------------------------------------------
def huber_forward(x, W, b):
    KH, KW = W.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))   # (N, C, H_out, W_out, KH, KW)
    return np.einsum("ncijuv,fcuv->nfij", win, W) + b[None, :, None, None]


def huber_right(x, W, b, y, tau):
    KH, KW = W.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))
    delta = np.clip(huber_forward(x, W, b) - y, -tau, tau) / len(x)
    return np.einsum("ncijuv,nfij->fcuv", win, delta), delta.sum(axis=(0, 2, 3))


def huber_loops(x, W, b, y, tau):
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    z = huber_forward(x, W, b)
    dW, db = np.zeros_like(W), np.zeros_like(b)
    for n, f, i, j in np.ndindex(*z.shape):
        r = z[n, f, i, j] - y[n, f, i, j]
        g = (r if abs(r) <= tau else tau * np.sign(r)) / N
        dW[f] += g * x[n, :, i:i + KH, j:j + KW]
        db[f] += g
    return dW, db


def test_huber_reference_matches_autograd_and_central_differences():
    for x, W, b, y, tau in recovery.CASES + drawn(recovery):
        r = huber_forward(x, W, b) - y
        assert (np.abs(r) > tau).any() and (np.abs(r) <= tau).any()   # both pieces of h_τ matter
        Wt, bt = t(W), t(b)
        z = torch.nn.functional.conv2d(torch.tensor(x), Wt, bt)
        (torch.nn.functional.huber_loss(z, torch.tensor(y), reduction="sum", delta=tau) / len(x)).backward()
        dW, db = recovery._reference(x, W, b, y, tau)
        np.testing.assert_allclose(dW, Wt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-10)


def test_huber_db_matches_central_differences():
    x, W, b, y, tau = recovery.CASES[0]

    def loss(bb):
        r = huber_forward(x, W, bb) - y
        return np.sum(np.where(np.abs(r) <= tau, r * r / 2, tau * (np.abs(r) - tau / 2))) / len(x)
    np.testing.assert_allclose(recovery._reference(x, W, b, y, tau)[1], numerical(loss, b), atol=1e-6)


def test_huber_right_and_honest_loops_pass():
    passes(exercises.check_filter_recovery_gradient, huber_right)
    passes(exercises.check_filter_recovery_gradient, huber_loops)


def _huber_with(residual, bias_scale=lambda delta: 1.0):
    def variant(x, W, b, y, tau):
        KH, KW = W.shape[2:]
        win = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))
        delta = residual(huber_forward(x, W, b) - y, tau, len(x))
        return np.einsum("ncijuv,nfij->fcuv", win, delta), delta.sum(axis=(0, 2, 3)) * bias_scale(delta)
    return variant


@pytest.mark.parametrize("name, fn", [
    ("used the squared error's residual", _huber_with(lambda r, tau, N: r / N)),
    ("clipped at 1 instead of τ", _huber_with(lambda r, tau, N: np.clip(r, -1, 1) / N)),
    ("used only the linear part", _huber_with(lambda r, tau, N: tau * np.sign(r) / N)),
    ("forgot the 1/N", _huber_with(lambda r, tau, N: np.clip(r, -tau, tau))),
    ("residual with the wrong sign", _huber_with(lambda r, tau, N: np.clip(-r, -tau, tau) / N)),
    ("averaged the bias gradient over positions", _huber_with(lambda r, tau, N: np.clip(r, -tau, tau) / N,
                                                              lambda d: 1.0 / (d.shape[2] * d.shape[3]))),
])
def test_huber_mistakes_are_named(name, fn):
    assert_named(exercises.check_filter_recovery_gradient(fn), name)
    named_on_drawn_cases(exercises.check_filter_recovery_gradient, fn, name)


# ---- 08: class-weighted softmax cross-entropy -------------------------------------------------------------------
def weighted_right(logits, labels, weights):
    N = len(labels)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[np.arange(N), labels] -= 1.0
    w = weights[labels]
    return p * w[:, None] / w.sum()


def weighted_loops(logits, labels, weights):
    """Row by row, with log-sum-exp written out."""
    out = np.zeros_like(logits)
    total = sum(weights[c] for c in labels)
    for n, row in enumerate(logits):
        top = max(row)
        e = [np.exp(v - top) for v in row]
        for k in range(len(row)):
            out[n, k] = weights[labels[n]] * (e[k] / sum(e) - (k == labels[n])) / total
    return out


def test_weighted_reference_matches_pytorch():
    for z, y, w in softmax.CASES + drawn(softmax):
        assert len(np.unique(y)) < len(y)                   # some class repeats, so Σ w[y_n] ≠ N·mean(w)
        zt = t(z)
        torch.nn.functional.cross_entropy(zt, torch.tensor(y), weight=torch.tensor(w)).backward()
        np.testing.assert_allclose(softmax._reference(z, y, w), zt.grad.numpy(), atol=1e-12)


def test_weighted_right_and_honest_loops_pass():
    passes(exercises.check_softmax_ce_backward, weighted_right)
    passes(exercises.check_softmax_ce_backward, weighted_loops)


def _naive(logits, labels, weights):
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    g = p - np.eye(logits.shape[1])[labels]
    return g * weights[labels][:, None] / weights[labels].sum()


@pytest.mark.parametrize("name, fn", [
    ("naive softmax overflows", _naive),
    ("divided by N, not by the total weight",
     lambda z, y, w: weighted_right(z, y, w) * w[y].sum() / len(y)),
    ("forgot the class weights", lambda z, y, w: weighted_right(z, y, np.ones_like(w))),
    ("weighted the columns, not the samples",
     lambda z, y, w: weighted_right(z, y, np.ones_like(w)) * len(y) * w[None, :] / w[y].sum()),
    ("sign error", lambda z, y, w: -weighted_right(z, y, w)),
])
def test_weighted_mistakes_are_named(name, fn):
    assert_named(exercises.check_softmax_ce_backward(fn), name)
    named_on_drawn_cases(exercises.check_softmax_ce_backward, fn, name)


def test_jacobian_message_does_not_give_the_formula_away():
    def diagonal_only(logits, labels):
        from scipy.special import softmax as sp_softmax
        p = sp_softmax(logits, axis=1)
        g = (p - np.eye(logits.shape[1])[labels]) / len(labels)
        return p * (1 - p) * g
    result = exercises.check_softmax_mse_backward(diagonal_only)
    assert_named(result, "used only the diagonal of the Jacobian")
    for giveaway in ("⊙", "<p, g>", "⟨p, g⟩", "Σ_i p_i g_i", "p pᵀ) g"):
        assert giveaway not in result.message, result.message


# ---- 10: col2im with stride and dilation ------------------------------------------------------------------------
def im2col(x, KH, KW, s, d):
    """Written from the definition cols[(c, m, k), (i, j)] = x[c, s i + d m, s j + d k]."""
    C, H, W = x.shape
    Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
    cols = np.zeros((C * KH * KW, Ho * Wo))
    for c, m, k, i, j in np.ndindex(C, KH, KW, Ho, Wo):
        cols[(c * KH + m) * KW + k, i * Wo + j] = x[c, s * i + d * m, s * j + d * k]
    return cols


def col2im_right(dcols, C, H, W, KH, KW, s, d):
    Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
    g = dcols.reshape(C, KH, KW, Ho, Wo)
    dx = np.zeros((C, H, W))
    for m in range(KH):
        for k in range(KW):
            dx[:, d * m:d * m + s * (Ho - 1) + 1:s, d * k:d * k + s * (Wo - 1) + 1:s] += g[:, m, k]
    return dx


def col2im_add_at(dcols, C, H, W, KH, KW, s, d):
    Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
    c, m, k, i, j = np.meshgrid(*map(np.arange, (C, KH, KW, Ho, Wo)), indexing="ij")
    dx = np.zeros((C, H, W))
    np.add.at(dx, (c, s * i + d * m, s * j + d * k), dcols.reshape(C, KH, KW, Ho, Wo))
    return dx


def test_col2im_reference_is_the_adjoint_of_im2col_and_equals_torch_fold():
    rng = np.random.default_rng(5)
    for dcols, C, H, W, KH, KW, s, d in speed.COL2IM_CASES + drawn(speed):
        x = rng.standard_normal((C, H, W))
        dx = speed._col2im_reference(dcols, C, H, W, KH, KW, s, d)
        np.testing.assert_allclose(np.sum(im2col(x, KH, KW, s, d) * dcols), np.sum(x * dx), rtol=1e-10)
        folded = torch.nn.functional.fold(torch.tensor(dcols[None]), (H, W), (KH, KW), dilation=d, stride=s)
        np.testing.assert_allclose(dx, folded[0].numpy(), atol=1e-12)


def test_col2im_right_and_add_at_pass():
    passes(exercises.check_col2im, col2im_right)
    passes(exercises.check_col2im, col2im_add_at)


def _col2im_variant(offset, step, order="cmk", assign=False):
    def variant(dcols, C, H, W, KH, KW, s, d):
        Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
        o, st = offset(s, d), step(s, d)
        g = (dcols.reshape(C, KH, KW, Ho, Wo) if order == "cmk"
             else dcols.reshape(KH, KW, C, Ho, Wo).transpose(2, 0, 1, 3, 4))
        dx = np.zeros((C, H, W))
        for m in range(KH):
            for k in range(KW):
                rows, cols = slice(o * m, o * m + st * (Ho - 1) + 1, st), slice(o * k, o * k + st * (Wo - 1) + 1, st)
                if assign:
                    dx[:, rows, cols] = g[:, m, k]
                else:
                    dx[:, rows, cols] += g[:, m, k]
        return dx
    return variant


@pytest.mark.parametrize("name, fn", [
    ("overwrites instead of accumulating", _col2im_variant(lambda s, d: d, lambda s, d: s, assign=True)),
    ("ignored the dilation", _col2im_variant(lambda s, d: 1, lambda s, d: s)),
    ("ignored the stride", _col2im_variant(lambda s, d: d, lambda s, d: 1)),
    ("swapped stride and dilation", _col2im_variant(lambda s, d: s, lambda s, d: d)),
    ("rows read in (u, v, c) order", _col2im_variant(lambda s, d: d, lambda s, d: s, order="mkc")),
])
def test_col2im_mistakes_are_named(name, fn):
    assert_named(exercises.check_col2im(fn), name)
    named_on_drawn_cases(exercises.check_col2im, fn, name)


# ---- 11: the weight gradient of a transposed convolution ---------------------------------------------------------
def tconv_dw_right(x, delta, KH, KW, s, p):
    dp = np.pad(delta, p)
    dW = np.zeros((KH, KW))
    for (a, b), v in np.ndenumerate(x):
        dW += v * dp[s * a:s * a + KH, s * b:s * b + KW]
    return dW


def tconv_dw_spread(x, delta, KH, KW, s, p):
    """Spread x with s − 1 zeros (np.kron with a one-hot block, then trimmed) and correlate it with padded δ."""
    block = np.zeros((s, s))
    block[0, 0] = 1.0
    spread = np.kron(x, block)[:s * (x.shape[0] - 1) + 1, :s * (x.shape[1] - 1) + 1]
    win = np.lib.stride_tricks.sliding_window_view(np.pad(delta, p), spread.shape)   # (KH, KW, ...)
    return np.einsum("mnab,ab->mn", win, spread)


def test_tconv_dw_reference_matches_autograd():
    for x, delta, KH, KW, s, p in transposed.CASES + drawn(transposed):
        Wt = t(np.zeros((1, 1, KH, KW)) + 0.5)
        y = torch.nn.functional.conv_transpose2d(torch.tensor(x[None, None]), Wt, stride=s, padding=p)
        assert y.shape[2:] == delta.shape
        (y[0, 0] * torch.tensor(delta)).sum().backward()
        np.testing.assert_allclose(transposed._reference(x, delta, KH, KW, s, p), Wt.grad[0, 0].numpy(), atol=1e-10)


def test_tconv_dw_right_and_spread_pass():
    passes(exercises.check_conv_transpose_weight_gradient, tconv_dw_right)
    passes(exercises.check_conv_transpose_weight_gradient, tconv_dw_spread)


def _tconv_variant(step, pad, rotate=False):
    def variant(x, delta, KH, KW, s, p):
        dp = np.pad(delta, pad(p))
        dW = np.zeros((KH, KW))
        st = step(s)
        for (a, b), v in np.ndenumerate(x):
            dW += v * dp[st * a:st * a + KH, st * b:st * b + KW]
        return np.flip(dW) if rotate else dW
    return variant


def _tconv_uncropped(x, delta, KH, KW, s, p):
    Hk, Wk = KH - 2 * p, KW - 2 * p                       # the only kernel size that fits without the zeros
    dW = np.zeros((Hk, Wk))
    for (a, b), v in np.ndenumerate(x):
        dW += v * delta[s * a:s * a + Hk, s * b:s * b + Wk]
    return dW


@pytest.mark.parametrize("name, fn", [
    ("ignored the stride", _tconv_variant(lambda s: 1, lambda p: p)),
    ("rotated dW", _tconv_variant(lambda s: s, lambda p: p, rotate=True)),
    ("did not undo the crop", _tconv_uncropped),
    ("undid the crop on one side only", _tconv_variant(lambda s: s, lambda p: ((2 * p, 0), (2 * p, 0)))),
])
def test_tconv_dw_mistakes_are_named(name, fn):
    assert_named(exercises.check_conv_transpose_weight_gradient(fn), name)
    named_on_drawn_cases(exercises.check_conv_transpose_weight_gradient, fn, name)


def test_tconv_dw_refuses_the_layer():
    def with_layer(x, delta, KH, KW, s, p):
        from cnnlib.layers import ConvTranspose2D
        layer = ConvTranspose2D(1, 1, (KH, KW), stride=s, padding=p)
        layer.forward(x[None, None])
        layer.backward(delta[None, None])
        return layer.grads["W"][0, 0]
    result = exercises.check_conv_transpose_weight_gradient(with_layer)
    assert not result and result.mistake == "used a shortcut"


# ---- 12: the backward of strided, dilated tap slices -------------------------------------------------------------
def taps_right(grads, x_shape, s, d):
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[d * m:d * m + s * (Ho - 1) + 1:s, d * n:d * n + s * (Wo - 1) + 1:s] += grads[m, n]
    return dx


def taps_add_at(grads, x_shape, s, d):
    KH, KW, Ho, Wo = grads.shape
    m, n, i, j = np.meshgrid(np.arange(KH), np.arange(KW), np.arange(Ho), np.arange(Wo), indexing="ij")
    dx = np.zeros(x_shape)
    np.add.at(dx, (d * m + s * i, d * n + s * j), grads)
    return dx


def test_taps_reference_matches_autograd_and_the_dilated_conv_input_gradient():
    rng = np.random.default_rng(12)
    for grads, x_shape, s, d in autodiff.CASES + drawn(autodiff):
        KH, KW, Ho, Wo = grads.shape
        xt = t(rng.standard_normal(x_shape))
        taps = torch.stack([torch.stack([xt[d * m:d * m + s * (Ho - 1) + 1:s, d * n:d * n + s * (Wo - 1) + 1:s]
                                         for n in range(KW)]) for m in range(KH)])
        (taps * torch.tensor(grads)).sum().backward()
        np.testing.assert_allclose(autodiff._reference(grads, x_shape, s, d), xt.grad.numpy(), atol=1e-12)
        # with grads[m, n] = W[m, n]·δ the scatter is the input gradient of a strided, dilated convolution
        W, delta = rng.standard_normal((KH, KW)), rng.standard_normal((Ho, Wo))
        read = (d * (KH - 1) + s * (Ho - 1) + 1, d * (KW - 1) + s * (Wo - 1) + 1)   # the part of x the taps read
        dx = torch.nn.grad.conv2d_input((1, 1) + read, torch.tensor(W[None, None]),
                                        torch.tensor(delta[None, None]), stride=s, dilation=d)[0, 0].numpy()
        dx = np.pad(dx, ((0, x_shape[0] - read[0]), (0, x_shape[1] - read[1])))
        np.testing.assert_allclose(autodiff._reference(W[:, :, None, None] * delta, x_shape, s, d), dx, atol=1e-12)


def test_taps_right_and_add_at_pass():
    passes(exercises.check_taps_backward, taps_right)
    passes(exercises.check_taps_backward, taps_add_at)


def _taps_variant(offset, step, swap=False, assign=False, start=np.zeros):
    def variant(grads, x_shape, s, d):
        KH, KW, Ho, Wo = grads.shape
        o, st = offset(s, d), step(s, d)
        dx = start(x_shape)
        for m in range(KH):
            for n in range(KW):
                r, c = (n, m) if swap else (m, n)
                rows = slice(o * r, o * r + st * (Ho - 1) + 1, st)
                cols = slice(o * c, o * c + st * (Wo - 1) + 1, st)
                if assign:
                    dx[rows, cols] = grads[m, n]
                else:
                    dx[rows, cols] += grads[m, n]
        return dx
    return variant


@pytest.mark.parametrize("name, fn", [
    ("forgot to accumulate", _taps_variant(lambda s, d: d, lambda s, d: s, assign=True)),
    ("ignored the dilation", _taps_variant(lambda s, d: 1, lambda s, d: s)),
    ("swapped stride and dilation", _taps_variant(lambda s, d: s, lambda s, d: d)),
    ("wrong slice: offset u·s", _taps_variant(lambda s, d: s, lambda s, d: s)),
    ("wrong slice: swapped rows and columns", _taps_variant(lambda s, d: d, lambda s, d: s, swap=True)),
    ("missing zeros", _taps_variant(lambda s, d: d, lambda s, d: s, start=np.ones)),
])
def test_taps_mistakes_are_named(name, fn):
    assert_named(exercises.check_taps_backward(fn), name)
    named_on_drawn_cases(exercises.check_taps_backward, fn, name)


@pytest.mark.parametrize("check, honest", [
    (exercises.check_hidden_delta_tanh, tanh_loops), (exercises.check_same_convolution, same_loops),
    (exercises.check_convolution_layer_backward, full_layer_stamping),
    (exercises.check_filter_recovery_gradient, huber_loops), (exercises.check_softmax_ce_backward, weighted_loops),
    (exercises.check_col2im, col2im_add_at), (exercises.check_conv_transpose_weight_gradient, tconv_dw_spread),
    (exercises.check_taps_backward, taps_add_at),
])
def test_a_random_wrong_answer_is_located_not_named(check, honest):
    """An answer no mistake explains gets 'differs first at', never a mistake's name."""
    def off_by_a_bit(*args):
        out = honest(*args)
        return tuple(np.asarray(o) + 0.37 for o in out) if isinstance(out, tuple) else np.asarray(out) + 0.37
    result = check(off_by_a_bit)
    assert not result
    assert result.mistake is None and "differs first at" in result.message, result.message


# ---- the same, through the real grader: the code runs in the sandbox, the verdict is decided outside ------------
SANDBOXED = {  # checker: (the honest answer's function in honest_answers.HONEST, a mistake written into it, its name)
    "check_hidden_delta_tanh": ("hidden_delta_tanh", "return out",
                                "return out / ((2 / 3) * 1.7159 * (1 - (a / 1.7159) ** 2)) * (1 - a * a)",
                                "used the derivative of the plain tanh"),
    "check_same_convolution": ("my_same_convolve2d", "np.flip(k)", "k", "forgot to flip"),
    "check_convolution_layer_backward": ("convolution_layer_backward", 'np.einsum("abmn,cab->cmn", win, x)',
                                         'np.flip(np.einsum("abmn,cab->cmn", win, x), axis=(1, 2))', "rotated dW"),
    "check_filter_recovery_gradient": ("filter_recovery_gradient", "np.clip(z - y, -tau, tau)", "(z - y)",
                                       "used the squared error's residual"),
    "check_softmax_ce_backward": ("softmax_ce_backward", "/ total", "/ len(labels)",
                                  "divided by N, not by the total weight"),
    "check_col2im": ("col2im", "(c, s * i + d * m, s * j + d * k)", "(c, d * i + s * m, d * j + s * k)",
                     "swapped stride and dilation"),
    "check_conv_transpose_weight_gradient": ("conv_transpose_weight_gradient",
                                             'return np.einsum("mnab,ab->mn", win, spread)',
                                             'return np.einsum("mnab,ab->mn", win, spread)[::-1, ::-1]', "rotated dW"),
    "check_taps_backward": ("taps_backward", "(dilation * m + stride * i, dilation * n + stride * j)",
                            "(m + stride * i, n + stride * j)", "ignored the dilation"),
}


@pytest.mark.parametrize("checker", sorted(SANDBOXED))
def test_the_sandboxed_grader_passes_an_honest_answer_and_names_a_mistake(checker, tmp_path):
    from cnnlib import grade

    function, old, new, name = SANDBOXED[checker]
    honest = textwrap.dedent(HONEST[function])
    assert old in honest
    (tmp_path / "honest.py").write_text(honest)
    (tmp_path / "mistaken.py").write_text(honest.replace(old, new))
    for seed in (3, 11):
        verdict = grade.grade_file(tmp_path / "honest.py", seed=seed, out=lambda _: None)[checker]
        assert verdict.passed and verdict.hidden[0] == verdict.hidden[1] > 0, verdict.message
    verdict = grade.grade_file(tmp_path / "mistaken.py", seed=3, out=lambda _: None)[checker]
    assert not verdict.passed and name in verdict.mistakes, verdict.message
