"""Checkers for the exercises of notebook 09: the question a Data Science Stack Exchange reader asked about the
one-conv-layer net, for a whole batch and several channels.

The learner writes ``fn(x, delta) -> (dW, db)`` for a convolution layer z = x ⋆ W + b (stride 1, no padding):
x (N, C, H, W), delta = ∂C/∂z (N, F, H_out, W_out). The kernel size follows from the shapes:
KH = H - H_out + 1, KW = W - W_out + 1. The right answer:

    dW[f, c] = Σ_n  x[n, c] ⋆ δ[n, f]   ('valid' correlation, one (KH, KW) array per filter and channel)
    db[f]    = Σ_n Σ_i Σ_j δ[n, f, i, j]

Sum over the batch, do not average: the 1/N of the mean loss is already inside δ (notebook 08).
Cases use non-square images and kernels and several digits, so every mistake below gives its own answer
(tests/test_exercises_mnist.py proves that none coincide).
"""

import numpy as np

from ..layers import Dense, Flatten, MaxPool2D, ReLU
from ..signal import convolve2d, correlate2d
from . import _shortcuts
from ._core import Mistake, check_function

__all__ = ["check_kernel_bias_grads", "check_conv_delta"]


def _reference(x, delta):
    """(dW (F, C, KH, KW), db (F,)) of z = x ⋆ W + b from x (N, C, H, W) and δ (N, F, H_out, W_out)."""
    N, C = x.shape[:2]
    F = delta.shape[1]
    dW = np.array([[sum(correlate2d(x[n, c], delta[n, f], "valid") for n in range(N)) for c in range(C)]
                   for f in range(F)])
    return dW, delta.sum(axis=(0, 2, 3))


def _convolved(x, delta):
    N, C = x.shape[:2]
    F = delta.shape[1]
    dW = np.array([[sum(convolve2d(x[n, c], delta[n, f], "valid") for n in range(N)) for c in range(C)]
                   for f in range(F)])
    return dW, delta.sum(axis=(0, 2, 3))


def _first_digit_only(x, delta):
    return _reference(x[:1], delta[:1])


def _averaged_over_batch(x, delta):
    dW, db = _reference(x, delta)
    return dW / len(x), db / len(x)


def _bias_averaged_over_map(x, delta):
    dW, db = _reference(x, delta)
    return dW, db / (delta.shape[2] * delta.shape[3])


MISTAKES = [
    Mistake("convolved instead of correlating",
            "dW is rotated by 180°: you convolved x with δ. The weight W[f, c, m, k] multiplied x[i + m, j + k] "
            "in the forward pass, so its gradient is Σ δ[i, j] · x[i + m, j + k]: a correlation, "
            "correlate2d(x[n, c], delta[n, f], 'valid').",
            _convolved),
    Mistake("used only the first digit",
            "your gradients come from the first digit of the batch only. Every digit used the same W and b, "
            "so each one adds its share: sum over n.",
            _first_digit_only),
    Mistake("averaged over the batch",
            "your gradients are N times too small: you averaged over the batch. The loss is already a mean, "
            "so δ carries the 1/N (notebook 08); the gradients are plain sums over n.",
            _averaged_over_batch),
    Mistake("averaged the bias over the map",
            "db is too small by H_out·W_out: one bias b[f] is added at every position of map f, so every "
            "δ[n, f, i, j] counts in full: db[f] = Σ_n Σ_i Σ_j δ[n, f, i, j], a sum, not a mean.",
            _bias_averaged_over_map),
]


def _cases(seed=808, shapes=None):
    rng = np.random.default_rng(seed)
    shapes = shapes or [((3, 1, 9, 8), (2, 3, 2)),   # (N, C, H, W), (F, KH, KW): non-square kernel
                        ((2, 2, 7, 9), (3, 3, 3)),
                        ((4, 1, 10, 10), (3, 5, 5))]  # the one-conv-layer net's shapes, smaller
    cases = []
    for (N, C, H, W), (F, KH, KW) in shapes:
        x = rng.standard_normal((N, C, H, W))
        delta = rng.standard_normal((N, F, H - KH + 1, W - KW + 1))
        cases.append((x, delta))
    return cases


CASES = _cases()
HIDDEN_CASES = _cases(8080, [((2, 2, 8, 6), (2, 2, 3)), ((3, 1, 7, 7), (3, 4, 2))])


def check_kernel_bias_grads(fn, hidden=False):
    """Check ``fn(x, delta) -> (dW, db)``: the kernel and bias gradients of a conv layer over a batch.

    Names these mistakes, each in the output it affects: "convolved instead of correlating", "used only the
    first digit", "averaged over the batch", "averaged the bias over the map". Refuses Conv2D and numerical
    gradients. Returns a CheckResult.
    """
    return check_function("kernel and bias gradients over a batch", fn, _reference,
                          HIDDEN_CASES if hidden else CASES, MISTAKES, shortcuts=_shortcuts.conv_layers(),
                          labels=("dW", "db"), hidden=hidden)


# ---- exercise 2: from the dense layer back to the conv layer's δ -------------------------------------------
# The one-conv-layer net after its conv layer: a = ReLU(z) -> p = maxpool 2x2 (a) -> f = flatten(p) -> y = f Wᵀ + b.
# Given z (N, F, H, W) with H and W even, the dense weight W_fc (K, F·H/2·W/2) and delta_fc = ∂C/∂y (N, K),
# the learner returns δ = ∂C/∂z (N, F, H, W): the 3×24×24 δ of the reader's question.
def _conv_delta_reference(z, W_fc, delta_fc):
    relu, pool, flat, dense = ReLU(), MaxPool2D(2, 2), Flatten(), Dense(W_fc.shape[1], W_fc.shape[0])
    dense.params["W"] = W_fc
    dense.forward(flat.forward(pool.forward(relu.forward(z))))
    return relu.backward(pool.backward(flat.backward(dense.backward(delta_fc))))


def _pool_winners(a):
    """1 at the first maximum of every 2x2 window of a (N, F, H, W), in row-major order; 0 elsewhere."""
    N, F, H, W = a.shape
    windows = a.reshape(N, F, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, F, H // 2, W // 2, 4)
    onehot = np.eye(4)[np.argmax(windows, axis=-1)]
    return onehot.reshape(N, F, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, F, H, W)


def _upsample(d_pool):
    return np.repeat(np.repeat(d_pool, 2, axis=2), 2, axis=3)


def _conv_delta_variant(z, W_fc, delta_fc, mask=True, route="first", order="C"):
    N, F, H, W = z.shape
    d_flat = delta_fc @ W_fc
    if order == "C":
        d_pool = d_flat.reshape(N, F, H // 2, W // 2)
    else:  # channels last: (N, H/2, W/2, F), as if the maps had been flattened pixel by pixel
        d_pool = d_flat.reshape(N, H // 2, W // 2, F).transpose(0, 3, 1, 2)
    a = np.maximum(z, 0)
    routing = _pool_winners(a) if route == "first" else np.full(z.shape, 0.25)
    d = _upsample(d_pool) * routing
    return d * (z > 0) if mask else d


MAP_MISTAKES = [
    Mistake("forgot the ReLU mask",
            "the entries where z ≤ 0 should get δ = 0: ReLU passed nothing forward there, so nothing flows back. "
            "Multiply by (z > 0) after routing through the pool.",
            lambda z, W, d: _conv_delta_variant(z, W, d, mask=False)),
    Mistake("spread the gradient like average pooling",
            "you gave each of the 4 entries of a window a quarter of its gradient. Max pooling passes the whole "
            "gradient to the one entry that won the window (the first maximum) and 0 to the other three.",
            lambda z, W, d: _conv_delta_variant(z, W, d, route="average")),
    Mistake("unflattened in the wrong order",
            "Flatten laid the maps out map by map (C order: all of map 0, then map 1, ...). Undo it with "
            "reshape(N, F, H/2, W/2); you unflattened pixel by pixel, which mixes the maps.",
            lambda z, W, d: _conv_delta_variant(z, W, d, order="channels last")),
    Mistake("used the pooled δ without routing",
            "you repeated each pooled δ over its 2x2 window (np.repeat) and masked with ReLU, but sent it to all "
            "four entries. Only the window's maximum gets it.",
            lambda z, W, d: _upsample((d @ W).reshape(z.shape[0], z.shape[1], z.shape[2] // 2, z.shape[3] // 2))
            * (z > 0)),
]


def _map_cases(seed=880, shapes=None):
    """(z, W_fc, delta_fc): N digits, F maps of H x W (even), K classes. No ties inside a window."""
    rng = np.random.default_rng(seed)
    shapes = shapes or [(2, 3, 24, 24, 10),  # the one-conv-layer net: 3x24x24 -> 3x12x12 -> 432 -> 10
                        (3, 2, 6, 8, 4),
                        (1, 3, 4, 6, 5)]
    cases = []
    for N, F, H, W, K in shapes:
        z = rng.standard_normal((N, F, H, W))
        cases.append((z, rng.standard_normal((K, F * H * W // 4)), rng.standard_normal((N, K))))
    return cases


MAP_CASES = _map_cases()
MAP_HIDDEN_CASES = _map_cases(8800, [(2, 3, 8, 4, 3), (2, 4, 6, 6, 7)])


def check_conv_delta(fn, hidden=False):
    """Check ``fn(z, W_fc, delta_fc) -> delta`` (N, F, H, W): δ carried from the dense layer back through
    Flatten, 2x2 max pooling and ReLU to the conv layer's output z.

    Names: "forgot the ReLU mask", "spread the gradient like average pooling", "unflattened in the wrong order",
    "used the pooled δ without routing". Refuses cnnlib's layers' backward passes and numerical gradients.
    """
    shortcuts = [_shortcuts.layer(cls) for cls in (ReLU, MaxPool2D, Flatten, Dense)]
    shortcuts += [_shortcuts.model(), _shortcuts.numerical()]
    return check_function("δ back to the conv layer", fn, _conv_delta_reference,
                          MAP_HIDDEN_CASES if hidden else MAP_CASES, MAP_MISTAKES, shortcuts=shortcuts,
                          hidden=hidden)
