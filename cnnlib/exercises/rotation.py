"""Checker for the exercise of notebook 04: the backward pass of a CONVOLUTION layer, written by hand.

The learner writes ``fn(x, W, delta) -> (dx, dW, db)`` for the forward pass z = x * W + b (a true convolution,
'valid', stride 1, one channel): x (H, W), W (KH, KW), delta = ∂C/∂z (H - KH + 1, W - KW + 1), without
correlate2d or convolve2d. The notebook derives the correlation layer z = x ⋆ V + b; this layer is that one with
V = rot180(W), so the right answer (the convolution row of the notebook's reconciliation table) is

    dx = δ ⋆ W, 'full'        dW = rot180(x ⋆ δ)        db = Σ δ

Every case uses a non-square x and a non-symmetric W, and the first one also a non-square W, so that each
mistake below gives an answer of its own.
"""

import numpy as np

from ..signal import correlate2d, rot180
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_convolution_layer_backward"]

LABELS = ("dx", "dW", "db")


def _correlation_backward(x, W, delta):
    """(dx, dW, db) of the correlation layer z = x ⋆ W + b, one channel: the equations of notebook 04."""
    dx = correlate2d(delta, rot180(W), "full")
    dW = correlate2d(x, delta, "valid")
    return dx, dW, float(np.sum(delta))


def _cases(seed=404, shapes=None):
    """Non-square x and non-symmetric W; in case 1 also a non-square W and δ at least as large as W."""
    rng = np.random.default_rng(seed)
    shapes = shapes or [((6, 7), (3, 2)),  # δ (4, 6): every mistake has its own values or its own shape
                        ((5, 7), (3, 3)),  # square kernel: the transposed kernel keeps the shape, not the values
                        ((7, 5), (2, 3))]
    cases = []
    for x_shape, w_shape in shapes:
        x = rng.standard_normal(x_shape)
        W = rng.standard_normal(w_shape)
        delta = rng.standard_normal((x_shape[0] - w_shape[0] + 1, x_shape[1] - w_shape[1] + 1))
        cases.append((x, W, delta))
    return cases


CASES = _cases()


def _draw(rng):
    """New cases at grading time: a non-square kernel with δ at least as large as W, a square one, another."""
    KH, KW = (int(v) for v in rng.choice([2, 3, 4], size=2, replace=False))
    K = int(rng.integers(2, 4))
    shapes = [((int(rng.integers(2 * KH, 10)), int(rng.integers(2 * KW, 10))), (KH, KW)),
              ((int(rng.integers(K + 2, 9)), int(rng.integers(K + 3, 9))), (K, K)),
              ((int(rng.integers(KW + 2, 9)), int(rng.integers(KH + 1, 9))), (KW, KH))]
    return _cases(int(rng.integers(2**31)), shapes)

# The forward pass is a true convolution, z = x * W + b, i.e. z[i, j] = Σ_m Σ_n x[i + m, j + n] W[KH-1-m, KW-1-n]
# + b. The learner derives the gradients from this sum with loops or NumPy, without correlate2d or convolve2d.
def _conv_forward_reference(x, W, delta):
    V = rot180(W)  # the correlation kernel of this layer
    dx, dV, db = _correlation_backward(x, V, delta)
    return dx, rot180(dV).copy(), db


def _correlation_dx(x, W, delta):
    dx, dW, db = _conv_forward_reference(x, W, delta)
    return _correlation_backward(x, W, delta)[0], dW, db


def _unrotated_dw(x, W, delta):
    dx, dW, db = _conv_forward_reference(x, W, delta)
    return dx, correlate2d(x, delta, "valid"), db


def _overwritten_dx(x, W, delta):
    dx, dW, db = _conv_forward_reference(x, W, delta)
    KH, KW = W.shape
    dx = np.zeros_like(x)
    for i, j in np.ndindex(*delta.shape):
        dx[i:i + KH, j:j + KW] = delta[i, j] * rot180(W)
    return dx, dW, db


def _mean_db(x, W, delta):
    dx, dW, db = _conv_forward_reference(x, W, delta)
    return dx, dW, float(np.mean(delta))


CONVOLUTION_MISTAKES = [
    Mistake("used the correlation layer's dx",
            "you sent δ[i, j]·W back over the window (the correlation layer's rule, δ ⋆ rot180(W) 'full'). In a "
            "convolution forward pass x[i + m, j + n] meets W[KH-1-m, KW-1-n], so the window gets δ[i, j]·rot180(W): "
            "two half-turns cancel and dx is the full correlation of δ with W itself.",
            _correlation_dx),
    Mistake("forgot to rotate dW",
            "you returned x ⋆ δ, the gradient of the correlation kernel V = rot180(W). The layer's weight is W, whose "
            "entry W[KH-1-m, KW-1-n] is V[m, n]: dW = rot180(x ⋆ δ).",
            _unrotated_dw),
    Mistake("overwrites instead of accumulating",
            "neighbouring windows overlap, and an input pixel inside several of them receives a share from each: "
            "add into dx (+=), do not assign (=).",
            _overwritten_dx),
    Mistake("averaged the bias gradient",
            "the one bias is added to every output, so its gradient is the SUM of δ, not its mean.",
            _mean_db),
]


def _shortcut_list():
    return _shortcuts.conv_layers() + [_shortcuts.two_d_operations("correlate2d", "convolve2d")]


# Check ``convolution_layer_backward(x, W, delta) -> (dx, dW, db)`` for the CONVOLUTION forward pass
# z = x * W + b ('valid', one channel), written without correlate2d/convolve2d (cnnlib's or scipy's). Names:
# "used the correlation layer's dx", "forgot to rotate dW", "overwrites instead of accumulating", "averaged the
# bias gradient". Refuses Conv2D, numerical gradients, the 2-D operations and the reference.
EXERCISE = Exercise("convolution_layer_backward", "check_convolution_layer_backward",
                    "backward of a convolution layer", "04_rotation_proof", _conv_forward_reference, CASES, _draw,
                    CONVOLUTION_MISTAKES, labels=LABELS, allow={"cnnlib.signal": ("rot180", "pad2d")},
                    shortcuts=_shortcut_list)
check_convolution_layer_backward = self_check(EXERCISE)
