"""Checkers for the exercises of notebook 04.

1. ``check_conv_backward``: the backward pass of a correlation layer for ONE channel.

The learner writes ``fn(x, W, delta) -> (dx, dW, db)`` for the forward pass z = x ⋆ W + b ('valid', stride 1):
x (H, W), W (KH, KW), delta = ∂C/∂z (H - KH + 1, W - KW + 1). The right answer (notebook 04):

    dx = δ ⋆ rot180(W), 'full'    (δ zero-padded by KH - 1, KW - 1 on every side)
    dW = x ⋆ δ, 'valid'
    db = Σ δ

Every case uses a non-square x and a non-symmetric W, and the first one also a non-square W, so that each
mistake below gives an answer of its own (tests/test_exercises_rotation.py proves that none coincide).
"""

import numpy as np

from ..signal import correlate2d, pad2d, rot180
from . import _shortcuts
from ._core import CheckResult, Mistake, check_function

__all__ = ["check_conv_backward", "check_convolution_layer_backward"]

LABELS = ("dx", "dW", "db")


def _reference(x, W, delta):
    """(dx, dW, db) of z = x ⋆ W + b, one channel: the equations of notebook 04."""
    dx = correlate2d(delta, rot180(W), "full")
    dW = correlate2d(x, delta, "valid")
    return dx, dW, float(np.sum(delta))


# ---- what each mistaken learner would return (the other two gradients right) ------------------------------
def _forgot_rotation(x, W, delta):
    dx, dW, db = _reference(x, W, delta)
    return correlate2d(delta, W, "full"), dW, db


def _valid_not_full(x, W, delta):
    dx, dW, db = _reference(x, W, delta)
    return correlate2d(delta, rot180(W), "valid"), dW, db


def _swapped_dw(x, W, delta):
    # δ ⋆ x with x the larger array: scipy.signal.correlate2d(delta, x, "valid") (and a loop over the offsets
    # where x fits) gives the right numbers in reverse order, rot180(x ⋆ δ). cnnlib raises instead (see below).
    dx, dW, db = _reference(x, W, delta)
    return dx, rot180(dW).copy(), db


def _transposed(x, W, delta):
    dx, dW, db = _reference(x, W, delta)
    return correlate2d(delta, W.T, "full"), dW, db


def _padding(offset):
    """Pad δ by (KH - 1 + offset, KW - 1 + offset) instead of (KH - 1, KW - 1), then a 'valid' correlation."""

    def fn(x, W, delta):
        KH, KW = W.shape
        ph, pw = KH - 1 + offset, KW - 1 + offset
        dx = correlate2d(pad2d(delta, (ph, ph, pw, pw)), rot180(W), "valid")
        _, dW, db = _reference(x, W, delta)
        return dx, dW, db

    return fn


MISTAKES = [
    Mistake("forgot the rotation",
            "dx is the full correlation of δ with W itself. Rotate the kernel: dx = δ ⋆ rot180(W) ('full'). "
            "In the sum over outputs, W[r - i, c - j] runs backwards as i, j run forwards: that is the rotation.",
            _forgot_rotation),
    Mistake("used 'valid' instead of 'full'",
            "dx came out smaller than x: a 'valid' correlation only counts the windows lying wholly inside δ. "
            "Every pixel of x gets a gradient, so δ must be zero-padded by KH - 1, KW - 1: use mode 'full'.",
            _valid_not_full),
    Mistake("swapped the arguments for dW",
            "dW is x ⋆ δ rotated by 180°: you computed δ ⋆ x. Correlation does not commute (notebook 03); "
            "dW[m, n] = Σ_i Σ_j x[i + m, j + n] · δ[i, j], so x comes first: correlate2d(x, delta, 'valid').",
            _swapped_dw),
    Mistake("transposed the kernel instead of rotating it",
            "dx used W.T. A transpose swaps W[m, n] and W[n, m]; the rotation reverses both axes: "
            "rot180(W)[m, n] = W[KH-1-m, KW-1-n] (W[::-1, ::-1]).",
            _transposed),
    Mistake("padding off by one",
            "dx has the wrong size: δ must be zero-padded by exactly KH - 1 rows and KW - 1 columns on each side "
            "(you used one fewer) so that the 'valid' correlation with rot180(W) gives an (H, W) result.",
            _padding(-1)),
    Mistake("padding off by one",
            "dx has the wrong size: δ must be zero-padded by exactly KH - 1 rows and KW - 1 columns on each side "
            "(you used one more) so that the 'valid' correlation with rot180(W) gives an (H, W) result.",
            _padding(+1)),
]


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
# never printed: other shapes, other numbers
HIDDEN_CASES = _cases(4040, [((8, 6), (3, 4)), ((4, 9), (2, 2)), ((9, 8), (4, 3))])

_KERNEL_TOO_LARGE = "needs a kernel no larger than x"  # cnnlib.signal's message for δ ⋆ x in 'valid' mode


def check_conv_backward(fn, hidden=False):
    """Check ``fn(x, W, delta) -> (dx, dW, db)``, the one-channel backward pass of z = x ⋆ W + b.

    Names these mistakes, each in the output it affects: "forgot the rotation", "used 'valid' instead of 'full'",
    "swapped the arguments for dW", "transposed the kernel instead of rotating it", "padding off by one".
    Refuses Conv2D, numerical gradients and the reference. ``hidden``: run the cases the notebook never shows.
    Returns a CheckResult.
    """
    result = check_function("conv backward for one channel", fn, _reference, HIDDEN_CASES if hidden else CASES,
                            MISTAKES, shortcuts=_shortcuts.conv_layers(), labels=LABELS, hidden=hidden)
    if not result and _KERNEL_TOO_LARGE in result.message:
        # cnnlib refuses δ ⋆ x in 'valid' mode because δ is smaller than x: almost surely the swapped dW
        return CheckResult(result.exercise, False,
                           f"{result.message}. This usually means the arguments for dW are swapped: "
                           "dW = x ⋆ δ, so call correlate2d(x, delta, 'valid'), with x first.",
                           mistake="swapped the arguments for dW", case=result.case)
    return result


# ---- exercise 2: the other row of the table, written without the 2-D operations ---------------------------
# The forward pass is a true convolution, z = x * W + b, i.e. z[i, j] = Σ_m Σ_n x[i + m, j + n] W[KH-1-m, KW-1-n]
# + b. The learner derives the gradients from this sum with loops or NumPy, without correlate2d or convolve2d.
def _conv_forward_reference(x, W, delta):
    V = rot180(W)  # the correlation kernel of this layer
    dx, dV, db = _reference(x, V, delta)
    return dx, rot180(dV).copy(), db


def _correlation_dx(x, W, delta):
    dx, dW, db = _conv_forward_reference(x, W, delta)
    return _reference(x, W, delta)[0], dW, db


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


def check_convolution_layer_backward(fn, hidden=False):
    """Check ``fn(x, W, delta) -> (dx, dW, db)`` for the CONVOLUTION forward pass z = x * W + b ('valid',
    one channel), written without correlate2d/convolve2d (cnnlib's or scipy's).

    Names: "used the correlation layer's dx", "forgot to rotate dW", "overwrites instead of accumulating",
    "averaged the bias gradient". Refuses Conv2D, numerical gradients, the 2-D operations and the reference.
    """
    shortcuts = _shortcuts.conv_layers() + [_shortcuts.two_d_operations("correlate2d", "convolve2d")]
    return check_function("backward of a convolution layer", fn, _conv_forward_reference,
                          HIDDEN_CASES if hidden else CASES, CONVOLUTION_MISTAKES, shortcuts=shortcuts,
                          labels=LABELS, hidden=hidden)
