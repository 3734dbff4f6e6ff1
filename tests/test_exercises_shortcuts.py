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
def honest_hidden_delta_tanh(W, d, z):
    return np.einsum("kj,k->j", W, d) / np.cosh(z) ** 2  # 1 - tanh² = 1 / cosh²


def honest_scatter(delta, W, shape):
    dx = np.zeros(shape)
    for (i, j), dij in np.ndenumerate(delta):
        dx[i:i + W.shape[0], j:j + W.shape[1]] += dij * W
    return dx


def honest_full(x, k):
    KH, KW = k.shape
    padded = np.pad(x, ((KH - 1,) * 2, (KW - 1,) * 2))
    return np.einsum("ijmn,mn->ij", np.lib.stride_tricks.sliding_window_view(padded, k.shape), np.flip(k))


def honest_convolution_layer(x, W, delta):
    KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for i, j in np.ndindex(*delta.shape):
        for m, n in np.ndindex(KH, KW):
            dx[i + m, j + n] += delta[i, j] * W[KH - 1 - m, KW - 1 - n]
            dW[KH - 1 - m, KW - 1 - n] += delta[i, j] * x[i + m, j + n]
    return dx, dW, delta.sum()


def honest_strided_dw(x, delta, KH, KW, s, p, d):
    xp = np.pad(x, p)
    dW = np.zeros((KH, KW))
    for i, j, m, n in np.ndindex(*delta.shape, KH, KW):
        dW[m, n] += delta[i, j] * xp[i * s + m * d, j * s + n * d]
    return dW


def honest_filter_recovery(x, W, y):
    KH, KW = W.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))  # (N, C, H_out, W_out, KH, KW)
    z = np.einsum("ncijmk,fcmk->nfij", win, W)
    return np.einsum("ncijmk,nfij->fcmk", win, z - y) / len(x)


def honest_maxpool(x, dout, k, s):
    dx = np.zeros(x.shape)
    for i, j in np.ndindex(*dout.shape):
        win = x[i * s:i * s + k, j * s:j * s + k]
        r, c = np.argwhere(win == win.max())[0]
        dx[i * s + r, j * s + c] += dout[i, j]
    return dx


def honest_softmax(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    p[np.arange(len(labels)), labels] -= 1
    return p / len(labels)


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


def honest_col2im(dcols, C, H, W, KH, KW):
    Ho, Wo = H - KH + 1, W - KW + 1
    dx = np.zeros((C, H, W))
    for row, col in np.ndindex(*dcols.shape):
        c, m, k = np.unravel_index(row, (C, KH, KW))
        i, j = np.unravel_index(col, (Ho, Wo))
        dx[c, i + m, j + k] += dcols[row, col]
    return dx


# ---- the library doing the work -----------------------------------------------------------------------
def conv_layer(x, W, stride=1, padding=0, dilation=1):
    layer = Conv2D(1, 1, W.shape, stride=stride, padding=padding, dilation=dilation)
    layer.params["W"][0, 0] = W
    layer.forward(x[None, None])
    return layer


def library_convolution_layer(x, W, delta):
    layer = conv_layer(x, np.flip(W))
    return layer.backward(delta[None, None])[0, 0], np.flip(layer.grads["W"][0, 0]), layer.grads["b"][0]


def library_strided_dw(x, delta, KH, KW, s, p, d):
    layer = conv_layer(x, np.zeros((KH, KW)), s, p, d)
    layer.backward(delta[None, None])
    return layer.grads["W"][0, 0]


def library_filter_recovery(x, W, y):
    layer = Conv2D(W.shape[1], W.shape[0], W.shape[2:])
    layer.params["W"][...] = W
    layer.params["b"][...] = 0.0
    z = layer.forward(x)
    layer.backward((z - y) / len(x))
    return layer.grads["W"]


def library_hidden_delta_tanh(W, d, z):
    layer = Tanh()
    layer.forward(z)
    return layer.backward(W.T @ d)


def library_scatter(delta, W, shape):
    return (conv_matrix(W, shape).T @ delta.ravel()).reshape(shape)


def library_full(x, k):
    return scipy.signal.convolve2d(x, k)


def library_maxpool(x, dout, k, s):
    layer = MaxPool2D(k, s)
    layer.forward(x[None, None])
    return layer.backward(dout[None, None])[0, 0]


def library_softmax(logits, labels):
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    return loss.backward()


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


def library_col2im(dcols, C, H, W, KH, KW):
    layer = Conv2D(C, 1, (KH, KW))
    return layer._col2im(dcols, (1, C, H, W), H - KH + 1, W - KW + 1)[0]


def library_conv_delta(z, W_fc, delta_fc):
    relu, pool, flat, dense = ReLU(), MaxPool2D(2, 2), Flatten(), Dense(W_fc.shape[1], W_fc.shape[0])
    dense.params["W"] = W_fc
    dense.forward(flat.forward(pool.forward(relu.forward(z))))
    return relu.backward(pool.backward(flat.backward(dense.backward(delta_fc))))


def honest_conv_transpose(x, W, s, p):
    """Stamp a weighted copy of W per input pixel, s pixels apart, then crop p on every side."""
    KH, KW = W.shape
    y = np.zeros(((x.shape[0] - 1) * s + KH, (x.shape[1] - 1) * s + KW))
    for (i, j), v in np.ndenumerate(x):
        y[i * s:i * s + KH, j * s:j * s + KW] += v * W
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def library_conv_transpose(x, W, s, p):
    from cnnlib.layers import ConvTranspose2D

    layer = ConvTranspose2D(1, 1, W.shape, stride=s, padding=p)
    layer.params["W"] = W[None, None]
    return layer.forward(x[None, None])[0, 0]


def honest_taps(grads, x_shape, s):
    """np.add.at over every (tap, output pixel) pair: repeated entries add."""
    KH, KW, Ho, Wo = grads.shape
    m, n, i, j = np.meshgrid(np.arange(KH), np.arange(KW), np.arange(Ho), np.arange(Wo), indexing="ij")
    dx = np.zeros(x_shape)
    np.add.at(dx, (m + s * i, n + s * j), grads)
    return dx


def library_taps(grads, x_shape, s):
    from cnnlib.autodiff import Tensor

    KH, KW, Ho, Wo = grads.shape
    x = Tensor(np.zeros(x_shape))
    for m in range(KH):
        for n in range(KW):
            x[m:m + s * (Ho - 1) + 1:s, n:n + s * (Wo - 1) + 1:s].backward(grads[m, n])
    return x.grad


# (checker, honest answer, library shortcut, module of the checker, its private reference, the library module and
#  attribute that the hidden route reaches)
TABLE = {
    "check_hidden_delta_tanh": (honest_hidden_delta_tanh, library_hidden_delta_tanh, "mlp", "_tanh_reference",
                                ("cnnlib.layers", "Tanh")),
    "check_scatter_input_gradient": (honest_scatter, library_scatter, "weight_sharing", "_scatter_reference",
                                     ("cnnlib.weight_sharing", "conv_matrix")),
    "check_full_convolution": (honest_full, library_full, "convolution", "_full_reference",
                               ("cnnlib.signal", "convolve2d")),
    "check_convolution_layer_backward": (honest_convolution_layer, library_convolution_layer, "rotation",
                                         "_conv_forward_reference", ("cnnlib.layers", "Conv2D")),
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
    "check_conv_transpose_from_zeros": (honest_conv_transpose, library_conv_transpose, "transposed", "_reference",
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
    def uses_scipy(logits, labels):  # right, but scipy is not in the grading sandbox
        p = np.exp(logits - scipy.special.logsumexp(logits, axis=1, keepdims=True))
        p[np.arange(len(labels)), labels] -= 1
        return p / len(labels)

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
            "`Conv2D.backward` computes this for you", "the exercise asks you to derive it")
    refused(run("check_maxpool_backward", library_maxpool), "MaxPool2D")
    refused(run("check_full_convolution", library_full), "convolve2d")


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
    if name != "check_full_convolution":  # not a gradient
        refused(run(name, ns["with_numbers"]), "numerical_gradient")


def test_the_blocked_functions_work_again_after_a_check():
    run("check_convolution_layer_backward", library_convolution_layer)
    x, W = np.arange(12.0).reshape(3, 4), np.array([[1.0, 2.0], [0.0, -1.0]])
    np.testing.assert_allclose(library_convolution_layer(x, W, np.ones((2, 3)))[2], 6.0)
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
