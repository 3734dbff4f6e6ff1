"""No exercise can be passed by handing the work to something that already does it; honest answers still pass.

For every exercise: a wrapper of the checker's private reference, the reference itself (an alias), a notebook's
``*_solution``, the library layer or function, the same library code reached by a route whose names hide it,
autograd and a numerical gradient are all refused with a message naming the shortcut. An honest solution written
here, in another way than the notebook's, passes the shown and the hidden cases.
"""

import importlib

import numpy as np
import pytest
import scipy.signal

from cnnlib import exercises
from cnnlib.gradcheck import numerical_gradient
from cnnlib.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Tanh
from cnnlib.losses import SoftmaxCrossEntropy
from cnnlib.signal import convolve2d, correlate2d
from cnnlib.weight_sharing import conv_matrix


# ---- honest answers, written independently of the notebooks' solutions -----------------------------------
def honest_hidden_delta_tanh(W, d, a):
    A, S = 1.7159, 2.0 / 3.0
    return np.einsum("kj,nk->nj", W, d) * A * S / np.cosh(np.arctanh(a / A)) ** 2  # f' = A·S / cosh²(S z)


def honest_scatter(delta, W, shape):
    dx = np.zeros(shape)
    for (i, j), dij in np.ndenumerate(delta):
        dx[i:i + W.shape[0], j:j + W.shape[1]] += dij * W
    return dx


def honest_same(x, k):
    KH, KW = k.shape
    padded = np.pad(x, ((KH // 2, (KH - 1) // 2), (KW // 2, (KW - 1) // 2)))  # a convolution's 'same' split
    return np.einsum("ijuv,uv->ij", np.lib.stride_tricks.sliding_window_view(padded, k.shape), np.flip(k))


def honest_convolution_layer(x, W, delta):
    """The full-convolution layer z = Σ_c x[c] * W[c] + b: index by index, from the sum."""
    C, KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for c, a, b, m, n in np.ndindex(*x.shape, KH, KW):
        dx[c, a, b] += delta[a + m, b + n] * W[c, m, n]
        dW[c, m, n] += delta[a + m, b + n] * x[c, a, b]
    return dx, dW, delta.sum()


def honest_strided_dw(x, delta, KH, KW, s, p, d):
    xp = np.pad(x, p)
    dW = np.zeros((KH, KW))
    for i, j, m, n in np.ndindex(*delta.shape, KH, KW):
        dW[m, n] += delta[i, j] * xp[i * s + m * d, j * s + n * d]
    return dW


def honest_filter_recovery(x, W, b, y, tau):
    KH, KW = W.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))  # (N, C, H_out, W_out, KH, KW)
    z = np.einsum("ncijmk,fcmk->nfij", win, W) + b[:, None, None]
    delta = np.clip(z - y, -tau, tau) / len(x)
    return np.einsum("ncijmk,nfij->fcmk", win, delta), delta.sum(axis=(0, 2, 3))


def honest_maxpool(x, dout, k, s):
    dx = np.zeros(x.shape)
    for i, j in np.ndindex(*dout.shape):
        win = x[i * s:i * s + k, j * s:j * s + k]
        r, c = np.argwhere(win == win.max())[0]
        dx[i * s + r, j * s + c] += dout[i, j]
    return dx


def honest_softmax(logits, labels, weights):
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    p[np.arange(len(labels)), labels] -= 1
    return p * weights[labels][:, None] / weights[labels].sum()


def honest_conv_delta(z, W_fc, delta_fc):
    N, F, H, W = z.shape
    d = (delta_fc @ W_fc).reshape(N, F, H // 2, W // 2)
    a = np.where(z > 0, z, 0.0)
    blocks = a.reshape(N, F, H // 2, 2, W // 2, 2)
    out = np.zeros_like(z)
    for n, f, i, j in np.ndindex(*d.shape):
        block = blocks[n, f, i, :, j, :]
        r, c = np.unravel_index(block.argmax(), (2, 2))
        out[n, f, 2 * i + r, 2 * j + c] = d[n, f, i, j]
    return np.where(z > 0, out, 0.0)


def honest_padded_maxpool(x, dout, k, s, p):
    xp = np.full((x.shape[0] + 2 * p, x.shape[1] + 2 * p), -np.inf)
    xp[p:p + x.shape[0], p:p + x.shape[1]] = x
    dx = np.zeros(x.shape)
    for i, j in np.ndindex(*dout.shape):
        win = xp[i * s:i * s + k, j * s:j * s + k]
        r, c = np.argwhere(win == win.max())[0]
        dx[i * s + r - p, j * s + c - p] += dout[i, j]  # the winner is never a padded cell
    return dx


def honest_softmax_mse(logits, labels):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    g = p - np.eye(logits.shape[1])[labels]
    J = np.stack([np.diag(row) - np.outer(row, row) for row in p])  # the Jacobian, built in full
    return np.einsum("nij,nj->ni", J, g) / len(labels)


def honest_col2im(dcols, C, H, W, KH, KW, s, d):
    Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
    dx = np.zeros((C, H, W))
    for row, col in np.ndindex(*dcols.shape):
        c, m, k = np.unravel_index(row, (C, KH, KW))
        i, j = np.unravel_index(col, (Ho, Wo))
        dx[c, s * i + d * m, s * j + d * k] += dcols[row, col]
    return dx


# ---- the library doing the work -----------------------------------------------------------------------
def conv_layer(x, W, stride=1, padding=0, dilation=1):
    layer = Conv2D(1, 1, W.shape, stride=stride, padding=padding, dilation=dilation)
    layer.params["W"][0, 0] = W
    layer.forward(x[None, None])
    return layer


def library_convolution_layer(x, W, delta):
    """The full-convolution layer is a stride-1 transposed convolution: its backward gives all three gradients."""
    from cnnlib.layers import ConvTranspose2D

    layer = ConvTranspose2D(len(x), 1, W.shape[1:])
    layer.params["W"] = W[:, None].copy()
    layer.forward(x[None])
    return layer.backward(delta[None, None])[0], layer.grads["W"][:, 0], layer.grads["b"][0]


def library_strided_dw(x, delta, KH, KW, s, p, d):
    layer = conv_layer(x, np.zeros((KH, KW)), s, p, d)
    layer.backward(delta[None, None])
    return layer.grads["W"][0, 0]


def library_filter_recovery(x, W, b, y, tau):
    layer = Conv2D(W.shape[1], W.shape[0], W.shape[2:])
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    z = layer.forward(x)
    layer.backward(np.clip(z - y, -tau, tau) / len(x))
    return layer.grads["W"], layer.grads["b"]


def library_hidden_delta_tanh(W, d, a):
    layer = Tanh()
    layer.forward(np.arctanh(a / 1.7159))               # S·z
    return 1.7159 * (2.0 / 3.0) * layer.backward(d @ W)


def library_scatter(delta, W, shape):
    return (conv_matrix(W, shape).T @ delta.ravel()).reshape(shape)


def library_same(x, k):
    t, u = (k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2
    return scipy.signal.convolve2d(x, k)[t:t + x.shape[0], u:u + x.shape[1]]   # scipy's default mode, then the crop


def library_maxpool(x, dout, k, s):
    layer = MaxPool2D(k, s)
    layer.forward(x[None, None])
    return layer.backward(dout[None, None])[0, 0]


def library_softmax(logits, labels, weights):
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    w = weights[labels]
    return loss.backward() * len(labels) * w[:, None] / w.sum()


def library_padded_maxpool(x, dout, k, s, p):
    layer = MaxPool2D(k, s)
    layer.forward(np.pad(x, p, constant_values=-np.inf)[None, None])
    dxp = layer.backward(dout[None, None])[0, 0]
    return dxp[p:dxp.shape[0] - p, p:dxp.shape[1] - p]


def library_softmax_mse(logits, labels):
    from cnnlib.losses import MeanSquaredError, softmax

    loss = MeanSquaredError()
    p = softmax(logits)
    loss.forward(p, np.eye(logits.shape[1])[labels])
    g = loss.backward()
    return p * (g - np.sum(p * g, axis=1, keepdims=True))


def library_col2im(dcols, C, H, W, KH, KW, s, d):
    layer = Conv2D(C, 1, (KH, KW), stride=s, dilation=d)
    Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
    return layer._col2im(dcols, (1, C, H, W), Ho, Wo)[0]


def library_conv_delta(z, W_fc, delta_fc):
    relu, pool, flat, dense = ReLU(), MaxPool2D(2, 2), Flatten(), Dense(W_fc.shape[1], W_fc.shape[0])
    dense.params["W"] = W_fc
    dense.forward(flat.forward(pool.forward(relu.forward(z))))
    return relu.backward(pool.backward(flat.backward(dense.backward(delta_fc))))


def honest_tconv_dw(x, delta, KH, KW, s, p):
    """Index by index: W[m, n] met δ at (s·a + m − p, s·b + n − p) wherever that lies inside δ."""
    dW = np.zeros((KH, KW))
    for (a, b), v in np.ndenumerate(x):
        for m, n in np.ndindex(KH, KW):
            r, c = s * a + m - p, s * b + n - p
            if 0 <= r < delta.shape[0] and 0 <= c < delta.shape[1]:
                dW[m, n] += v * delta[r, c]
    return dW


def library_tconv_dw(x, delta, KH, KW, s, p):
    from cnnlib.layers import ConvTranspose2D

    layer = ConvTranspose2D(1, 1, (KH, KW), stride=s, padding=p)
    layer.forward(x[None, None])
    layer.backward(delta[None, None])
    return layer.grads["W"][0, 0]


def honest_taps(grads, x_shape, s, d):
    """np.add.at over every (tap, output pixel) pair: repeated entries add."""
    KH, KW, Ho, Wo = grads.shape
    m, n, i, j = np.meshgrid(np.arange(KH), np.arange(KW), np.arange(Ho), np.arange(Wo), indexing="ij")
    dx = np.zeros(x_shape)
    np.add.at(dx, (d * m + s * i, d * n + s * j), grads)
    return dx


def library_taps(grads, x_shape, s, d):
    from cnnlib.autodiff import Tensor

    KH, KW, Ho, Wo = grads.shape
    x = Tensor(np.zeros(x_shape))
    for m in range(KH):
        for n in range(KW):
            x[d * m:d * m + s * (Ho - 1) + 1:s, d * n:d * n + s * (Wo - 1) + 1:s].backward(grads[m, n])
    return x.grad


# (checker, honest answer, library shortcut, module of the checker, its private reference, the library module and
#  attribute that the hidden route reaches)
TABLE = {
    "check_hidden_delta_tanh": (honest_hidden_delta_tanh, library_hidden_delta_tanh, "mlp", "_tanh_reference",
                                ("cnnlib.layers", "Tanh")),
    "check_scatter_input_gradient": (honest_scatter, library_scatter, "weight_sharing", "_scatter_reference",
                                     ("cnnlib.weight_sharing", "conv_matrix")),
    "check_same_convolution": (honest_same, library_same, "convolution", "_same_reference",
                               ("cnnlib.signal", "convolve2d")),
    "check_convolution_layer_backward": (honest_convolution_layer, library_convolution_layer, "rotation",
                                         "_full_layer_reference", ("cnnlib.layers", "ConvTranspose2D")),
    "check_strided_weight_gradient": (honest_strided_dw, library_strided_dw, "stride", "_dw_reference",
                                      ("cnnlib.layers", "Conv2D")),
    "check_filter_recovery_gradient": (honest_filter_recovery, library_filter_recovery, "recovery", "_reference",
                                       ("cnnlib.layers", "Conv2D")),
    "check_maxpool_backward": (honest_maxpool, library_maxpool, "pooling", "_max_reference",
                               ("cnnlib.layers", "MaxPool2D")),
    "check_padded_maxpool_backward": (honest_padded_maxpool, library_padded_maxpool, "pooling",
                                      "_padded_max_reference", ("cnnlib.layers", "MaxPool2D")),
    "check_softmax_ce_backward": (honest_softmax, library_softmax, "softmax", "_reference",
                                  ("cnnlib.losses", "SoftmaxCrossEntropy")),
    "check_conv_delta": (honest_conv_delta, library_conv_delta, "mnist", "_conv_delta_reference",
                         ("cnnlib.layers", "MaxPool2D")),
    "check_col2im": (honest_col2im, library_col2im, "speed", "_col2im_reference", ("cnnlib.layers", "Conv2D")),
    "check_softmax_mse_backward": (honest_softmax_mse, library_softmax_mse, "softmax", "_mse_reference",
                                   ("cnnlib.losses", "MeanSquaredError")),
    "check_conv_transpose_weight_gradient": (honest_tconv_dw, library_tconv_dw, "transposed", "_reference",
                                             ("cnnlib.layers", "ConvTranspose2D")),
    "check_taps_backward": (honest_taps, library_taps, "autodiff", "_reference", ("cnnlib.autodiff", "Tensor")),
}
CHECKERS = sorted(TABLE)


def run(name, fn, hidden=False):
    return getattr(exercises, name)(fn, hidden=hidden)


def refused(result, *words):
    assert not result, result
    assert result.mistake == "used a shortcut", result.message
    assert result.message.startswith("refused:"), result.message
    for word in words:
        assert word in result.message, (word, result.message)


def test_every_exercise_is_in_the_table():
    from cnnlib.grade import EXERCISES

    assert set(EXERCISES) == set(TABLE)


@pytest.mark.parametrize("name", CHECKERS)
def test_an_honest_alternative_passes_shown_and_hidden_cases(name):
    honest = TABLE[name][0]
    assert run(name, honest), run(name, honest).message
    assert run(name, honest, hidden=True), run(name, honest, hidden=True).message
    assert "grading will refuse" not in run(name, honest).message  # numpy only: it passes when graded too


def test_the_self_check_warns_about_what_grading_will_refuse():
    def uses_scipy(logits, labels, weights):  # right, but scipy is not in the grading sandbox
        p = np.exp(logits - scipy.special.logsumexp(logits, axis=1, keepdims=True))
        p[np.arange(len(labels)), labels] -= 1
        w = weights[labels]
        return p * w[:, None] / w.sum()

    result = exercises.check_softmax_ce_backward(uses_scipy)
    assert result and "BUT grading will refuse it: your function uses scipy" in result.message
    assert result.details["outside allowlist"] == ["scipy"]
    from cnnlib.exercises import _core

    conv = Conv2D(1, 1, (2, 2))
    helper = lambda a: conv.forward(a)  # noqa: E731 - a helper of the learner's that holds a layer
    (found,) = _core.outside_allowlist(lambda x: helper(x), {})
    assert found.startswith("cnnlib.layers") and found.endswith(".Conv2D")
    from cnnlib.signal import rot180
    assert _core.outside_allowlist(lambda k: rot180(k) + np.flip(k), {"cnnlib.signal": ("rot180",)}) == []


@pytest.mark.parametrize("name", CHECKERS)
def test_the_library_is_refused(name):
    result = run(name, TABLE[name][1])
    refused(result)
    assert "derive it" in result.message or "without" in result.message or "build it" in result.message \
        or "follow the connections" in result.message


def test_the_message_names_the_layer():
    refused(run("check_convolution_layer_backward", library_convolution_layer),
            "`ConvTranspose2D.backward` computes this for you", "the exercise asks you to derive it")
    refused(run("check_maxpool_backward", library_maxpool), "MaxPool2D")
    refused(run("check_same_convolution", library_same), "convolve2d")


@pytest.mark.parametrize("name", CHECKERS)
def test_a_wrapper_of_the_private_reference_is_refused(name):
    module, ref = TABLE[name][2:4]
    ns = {}
    exec(f"from cnnlib.exercises.{module} import {ref} as answer\n"
         "def wrapper(*args):\n    return answer(*args)\n", ns)
    refused(run(name, ns["wrapper"]))


@pytest.mark.parametrize("name", CHECKERS)
def test_the_reference_itself_is_refused(name):
    module, ref = TABLE[name][2:4]
    refused(run(name, getattr(importlib.import_module(f"cnnlib.exercises.{module}"), ref)))


@pytest.mark.parametrize("name", CHECKERS)
def test_a_notebook_solution_is_refused(name):
    ns = {"honest": TABLE[name][0]}
    exec("def my_answer_solution(*args):\n    return honest(*args)\n"
         "def my_answer(*args):\n    return my_answer_solution(*args)\n", ns)
    refused(run(name, ns["my_answer"]), "my_answer_solution")
    refused(run(name, ns["my_answer_solution"]), "reference solution")


@pytest.mark.parametrize("name", CHECKERS)
def test_a_wrapper_of_a_wrapper_of_the_library_is_refused(name):
    ns = {"library": TABLE[name][1]}
    exec("def helper(*args):\n    return library(*args)\n"
         "def mine(*args):\n    out = helper(*args)\n    return out\n", ns)
    refused(run(name, ns["mine"]))


@pytest.mark.parametrize("name", CHECKERS)
def test_the_library_reached_by_a_hidden_route_fails_while_the_checker_runs(name):
    """The names in the code do not show the layer; it is blocked while the learner's function runs."""
    module_name, attr = TABLE[name][4]
    library = TABLE[name][1]
    target = getattr(importlib.import_module(module_name), attr)
    ns = {"importlib": importlib, "library_code": library.__code__, "target_name": attr[::-1]}
    # rebuild the library answer with no reference to the shortcut's name, fetching it by a reversed string
    exec("def sneaky(*args):\n"
         "    import types\n"
         "    mod = importlib.import_module(" + repr(module_name) + ")\n"
         "    found = getattr(mod, target_name[::-1])\n"
         "    g = dict(globals_of)\n"
         "    g[" + repr(attr) + "] = found\n"
         "    return types.FunctionType(library_code, g)(*args)\n", ns)
    ns["globals_of"] = {k: v for k, v in TABLE[name][1].__globals__.items() if k != attr}
    result = run(name, ns["sneaky"])
    assert not result
    assert target is getattr(importlib.import_module(module_name), attr)  # restored afterwards
    assert result.mistake == "used a shortcut", result.message


@pytest.mark.parametrize("name", CHECKERS)
def test_autograd_and_numerical_gradients_are_refused(name):
    ns = {"numerical_gradient": numerical_gradient}
    exec("def with_torch(*args):\n    import torch\n    return torch.zeros(1)\n"
         "def with_numbers(*args):\n    return numerical_gradient(lambda v: v, args[0], args[0])\n", ns)
    refused(run(name, ns["with_torch"]), "automatic-differentiation")
    if name != "check_same_convolution":  # not a gradient
        refused(run(name, ns["with_numbers"]), "numerical_gradient")


def test_the_blocked_functions_work_again_after_a_check():
    run("check_convolution_layer_backward", library_convolution_layer)
    x, W = np.arange(12.0).reshape(1, 3, 4), np.array([[[1.0, 2.0], [0.0, -1.0]]])
    np.testing.assert_allclose(library_convolution_layer(x, W, np.ones((4, 5)))[2], 20.0)
    x, W = x[0], W[0]
    np.testing.assert_allclose(convolve2d(x, W), scipy.signal.convolve2d(x, W, "valid"))
    np.testing.assert_allclose(correlate2d(x, W), scipy.signal.correlate2d(x, W, "valid"))


def test_every_named_mistake_has_a_negative_test():
    """Each ``Mistake("name", ...)`` of every checker appears in a test that feeds that mistake to its checker."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    source = "\n".join(p.read_text() for p in sorted((root / "cnnlib" / "exercises").glob("*.py")))
    names = set(re.findall(r'Mistake\(\s*"([^"]+)"', source))
    assert len(names) > 40
    tests = "\n".join(p.read_text() for p in sorted((root / "tests").glob("test_exercises_*.py"))
                      if p.name != Path(__file__).name)
    untested = sorted(n for n in names if f'"{n}"' not in tests)
    assert not untested, f"named mistakes without a negative test: {untested}"
