"""Checker for the exercise of notebook 06: the gradient that gradient descent follows when it recovers filters.

The learner writes ``fn(x, W, y) -> dW`` for a whole layer with no bias, stride 1, no padding:

    z[n, f] = Σ_c x[n, c] ⋆ W[f, c]                 ("valid")     x (N, C, H, W), W (F, C, KH, KW)
    C       = 1/(2N) Σ_n ‖z[n] − y[n]‖²              the batch-mean squared error, y (N, F, H_out, W_out)
    dW[f, c] = 1/N Σ_n x[n, c] ⋆ (z − y)[n, f]       ("valid")     (notebook 05, section 1; notebook 06, section 2)

The cases have N ≥ 2 samples that differ, F ≠ C and non-square kernels, so each named mistake gives an answer that
differs from the right one and from every other mistake.
"""

import numpy as np

from ..signal import correlate2d
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_filter_recovery_gradient"]


def _forward(x, W):
    N, C = x.shape[:2]
    F = W.shape[0]
    return np.array([[sum(correlate2d(x[n, c], W[f, c], "valid") for c in range(C)) for f in range(F)]
                     for n in range(N)])


def _weight_gradient(x, residual, flip=False):
    """Σ_n x[n, c] ⋆ residual[n, f] for every (f, c): the sum over the batch, not yet divided by N."""
    N, C = x.shape[:2]
    F = residual.shape[1]
    dW = np.array([[sum(correlate2d(x[n, c], residual[n, f], "valid") for n in range(N)) for c in range(C)]
                   for f in range(F)])
    return dW[:, :, ::-1, ::-1].copy() if flip else dW


def _reference(x, W, y):
    return _weight_gradient(x, _forward(x, W) - y) / len(x)


# ---- the wrong variants the checker recognises ---------------------------------------------------------
def _no_mean(x, W, y):
    return _weight_gradient(x, _forward(x, W) - y)


def _mean_over_everything(x, W, y):
    return _weight_gradient(x, _forward(x, W) - y) / (_forward(x, W) - y).size


def _wrong_sign(x, W, y):
    return _weight_gradient(x, y - _forward(x, W)) / len(x)


def _first_sample(x, W, y):
    return _weight_gradient(x[:1], _forward(x[:1], W) - y[:1])


def _rotated(x, W, y):
    return _weight_gradient(x, _forward(x, W) - y, flip=True) / len(x)


MISTAKES = [
    Mistake("forgot the 1/N",
            "your dW is N times too large: you summed the per-sample gradients. The loss is a batch MEAN, "
            "C = 1/(2N) Σ ‖z − y‖², so δ = (z − y)/N and dW is the mean of the per-sample gradients.",
            _no_mean),
    Mistake("divided by every output, not by N",
            "you divided by the number of all entries of z (N·F·H_out·W_out), as np.mean over the squared error "
            "would. cnnlib's MeanSquaredError averages over the batch only: divide by N.",
            _mean_over_everything),
    Mistake("residual with the wrong sign",
            "you used y − z. The derivative of ½‖z − y‖² with respect to z is z − y; with the other sign, "
            "gradient descent walks away from the true filters.",
            _wrong_sign),
    Mistake("used only the first sample",
            "your dW comes from x[0] alone. Every sample of the batch uses the same kernel, so dW sums (then "
            "averages) x[n, c] ⋆ δ[n, f] over n.",
            _first_sample),
    Mistake("rotated dW",
            "your dW is turned by 180°: you convolved instead of correlating. The forward pass is a correlation, so "
            "dW[f, c] = x[c] ⋆ δ[f] with no rotation (notebook 04).",
            _rotated),
]


def _cases(seed=606, specs=None):
    """(x, W, y) with y made by other filters plus noise, so that z − y is not zero."""
    rng = np.random.default_rng(seed)
    # (N, C, F, H, W, KH, KW)
    specs = specs or [(3, 2, 3, 6, 7, 2, 3),
                      (2, 3, 2, 5, 5, 3, 2),
                      (4, 1, 2, 7, 6, 2, 2)]
    cases = []
    for N, C, F, H, Wd, KH, KW in specs:
        x = rng.standard_normal((N, C, H, Wd))
        W = rng.standard_normal((F, C, KH, KW))
        y = _forward(x, W + rng.standard_normal(W.shape)) + 0.1 * rng.standard_normal((N, F, H - KH + 1,
                                                                                           Wd - KW + 1))
        cases.append((x, W, y))
    return cases


CASES = _cases()


def _draw(rng):
    """New cases at grading time: N ≥ 2, F ≠ C, non-square kernels."""
    specs = []
    for _ in range(2):
        C, F = (int(v) for v in rng.choice([1, 2, 3], size=2, replace=False))
        KH, KW = (int(v) for v in rng.choice([2, 3], size=2, replace=False))
        specs.append((int(rng.integers(2, 5)), C, F, int(rng.integers(KH + 2, 8)), int(rng.integers(KW + 2, 8)),
                      KH, KW))
    return _cases(int(rng.integers(2**31)), specs)


def _shortcut_list():
    from ..losses import MeanSquaredError

    return _shortcuts.conv_layers() + [_shortcuts.layer(MeanSquaredError)]


# Check ``filter_recovery_gradient(x, W, y) -> dW`` of the batch-mean squared error of a conv layer.
# x: (N, C, H, W), W: (F, C, KH, KW), y: (N, F, H_out, W_out); no bias, stride 1, no padding. dW: (F, C, KH, KW).
# Named mistakes: "forgot the 1/N", "divided by every output, not by N", "residual with the wrong sign", "used only
# the first sample", "rotated dW". Refuses Conv2D, MeanSquaredError and numerical gradients.
EXERCISE = Exercise("filter_recovery_gradient", "check_filter_recovery_gradient", "filter-recovery gradient",
                    "06_recovering_filters", _reference, CASES, _draw, MISTAKES,
                    allow={"cnnlib.signal": ("correlate2d", "pad2d", "rot180")}, shortcuts=_shortcut_list)
check_filter_recovery_gradient = self_check(EXERCISE)
