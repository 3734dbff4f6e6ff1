"""Checker for the exercise of notebook 08: the seed's question, for a whole batch and several channels.

The learner writes ``fn(x, delta) -> (dW, db)`` for a convolution layer z = x ⋆ W + b (stride 1, no padding):
x (N, C, H, W), delta = ∂C/∂z (N, F, H_out, W_out). The kernel size follows from the shapes:
KH = H - H_out + 1, KW = W - W_out + 1. The right answer:

    dW[f, c] = Σ_n  x[n, c] ⋆ δ[n, f]   ('valid' correlation, one (KH, KW) array per filter and channel)
    db[f]    = Σ_n Σ_i Σ_j δ[n, f, i, j]

Sum over the batch, do not average: the 1/N of the mean loss is already inside δ (notebook 07).
Cases use non-square images and kernels and several digits, so every mistake below gives its own answer
(tests/test_exercises_mnist.py proves that none coincide).
"""

import numpy as np

from ..signal import convolve2d, correlate2d
from ._core import Mistake, check_function

__all__ = ["check_kernel_bias_grads", "kernel_bias_grads_reference"]


def kernel_bias_grads_reference(x, delta):
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
    return kernel_bias_grads_reference(x[:1], delta[:1])


def _averaged_over_batch(x, delta):
    dW, db = kernel_bias_grads_reference(x, delta)
    return dW / len(x), db / len(x)


def _bias_averaged_over_map(x, delta):
    dW, db = kernel_bias_grads_reference(x, delta)
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
            "so δ carries the 1/N (notebook 07); the gradients are plain sums over n.",
            _averaged_over_batch),
    Mistake("averaged the bias over the map",
            "db is too small by H_out·W_out: one bias b[f] is added at every position of map f, so every "
            "δ[n, f, i, j] counts in full: db[f] = Σ_n Σ_i Σ_j δ[n, f, i, j], a sum, not a mean.",
            _bias_averaged_over_map),
]


def _cases():
    rng = np.random.default_rng(808)
    shapes = [((3, 1, 9, 8), (2, 3, 2)),   # (N, C, H, W), (F, KH, KW): non-square kernel
              ((2, 2, 7, 9), (3, 3, 3)),
              ((4, 1, 10, 10), (3, 5, 5))]  # the seed-004 shapes, smaller
    cases = []
    for (N, C, H, W), (F, KH, KW) in shapes:
        x = rng.standard_normal((N, C, H, W))
        delta = rng.standard_normal((N, F, H - KH + 1, W - KW + 1))
        cases.append((x, delta))
    return cases


CASES = _cases()


def check_kernel_bias_grads(fn):
    """Check ``fn(x, delta) -> (dW, db)``: the kernel and bias gradients of a conv layer over a batch.

    Names these mistakes: "convolved instead of correlating", "used only the first digit", "averaged over the
    batch", "averaged the bias over the map". Returns a CheckResult.
    """
    return check_function("kernel and bias gradients over a batch", fn, kernel_bias_grads_reference, CASES,
                          MISTAKES)
