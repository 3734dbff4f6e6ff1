"""Checker for the exercise of notebook 06: the gradients that gradient descent follows when it recovers filters
from targets with outliers, under the Huber loss.

The learner writes ``fn(x, W, b, y, tau) -> (dW, db)`` for a whole layer with a bias, stride 1, no padding:

    z[n, f] = Σ_c x[n, c] ⋆ W[f, c] + b[f]           ("valid")      x (N, C, H, W), W (F, C, KH, KW), b (F,)
    L       = 1/N Σ_{n, f, i, j} h_τ(z − y)                         y (N, F, H_out, W_out), τ > 0
    h_τ(r)  = r²/2 where |r| ≤ τ,   τ(|r| − τ/2) elsewhere         (Huber, 1964)

The notebook derives dW for the squared error, where the residual z − y is the delta (times 1/N). The new steps:
h_τ'(r) = clip(r, −τ, τ), so a residual larger than τ pulls with a force τ only; and the bias, which every output
of map f contains once:

    δ = clip(z − y, −τ, τ) / N,      dW[f, c] = Σ_n x[n, c] ⋆ δ[n, f],      db[f] = Σ_{n, i, j} δ[n, f, i, j]

The cases have N ≥ 2 samples, F ≠ C, non-square kernels, τ ≠ 1, and targets with outliers, so that some residuals
lie inside [−τ, τ] and some outside.
"""

import numpy as np

from ..signal import correlate2d
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_filter_recovery_gradient"]

LABELS = ("dW", "db")


def _forward(x, W, b):
    N, C = x.shape[:2]
    F = W.shape[0]
    return np.array([[sum(correlate2d(x[n, c], W[f, c], "valid") for c in range(C)) + b[f] for f in range(F)]
                     for n in range(N)])


def _gradients(x, delta):
    """dW[f, c] = Σ_n x[n, c] ⋆ delta[n, f] and db[f] = Σ_{n,i,j} delta[n, f] for a given delta (N, F, H_out, W_out)."""
    N, C = x.shape[:2]
    F = delta.shape[1]
    dW = np.array([[sum(correlate2d(x[n, c], delta[n, f], "valid") for n in range(N)) for c in range(C)]
                   for f in range(F)])
    return dW, delta.sum(axis=(0, 2, 3))


def _residual(x, W, b, y):
    return _forward(x, W, b) - y


def _reference(x, W, b, y, tau):
    return _gradients(x, np.clip(_residual(x, W, b, y), -tau, tau) / len(x))


# ---- the wrong variants the checker recognises ---------------------------------------------------------
def _squared_error(x, W, b, y, tau):
    return _gradients(x, _residual(x, W, b, y) / len(x))


def _clipped_at_one(x, W, b, y, tau):
    return _gradients(x, np.clip(_residual(x, W, b, y), -1.0, 1.0) / len(x))


def _sign_only(x, W, b, y, tau):
    return _gradients(x, tau * np.sign(_residual(x, W, b, y)) / len(x))


def _no_mean(x, W, b, y, tau):
    return _gradients(x, np.clip(_residual(x, W, b, y), -tau, tau))


def _wrong_sign(x, W, b, y, tau):
    return _gradients(x, np.clip(y - _forward(x, W, b), -tau, tau) / len(x))


def _bias_mean_over_positions(x, W, b, y, tau):
    delta = np.clip(_residual(x, W, b, y), -tau, tau) / len(x)
    dW, db = _gradients(x, delta)
    return dW, db / (delta.shape[2] * delta.shape[3])


MISTAKES = [
    Mistake("used the squared error's residual",
            "your gradient is the one of the squared error of the notebook: every residual pulls in proportion "
            "to its size. Differentiate h_τ piece by piece: what is the slope of τ(|r| − τ/2)?",
            _squared_error),
    Mistake("clipped at 1 instead of τ",
            "you limited the residuals to [−1, 1]. The kink of h_τ sits at |r| = τ, and beyond it the slope is ±τ.",
            _clipped_at_one),
    Mistake("used only the linear part",
            "you used τ·sign(z − y) for every residual. Inside [−τ, τ] the Huber loss is the squared error r²/2, "
            "whose slope is r itself.",
            _sign_only),
    Mistake("forgot the 1/N",
            "your gradients are N times too large: the loss is a batch MEAN, so the delta carries 1/N.",
            _no_mean),
    Mistake("residual with the wrong sign",
            "you used y − z. The loss depends on z − y, and its slope with respect to z has the sign of z − y; "
            "with the other sign, gradient descent walks away from the true filters.",
            _wrong_sign),
    Mistake("averaged the bias gradient over positions",
            "b[f] is added once to every output pixel of map f, so its gradient SUMS the delta over the positions "
            "(and the batch), it does not average it.",
            _bias_mean_over_positions),
]


def _cases(seed=606, specs=None):
    """(x, W, b, y, tau) with y made by other filters, small noise and a few large outliers."""
    rng = np.random.default_rng(seed)
    # (N, C, F, H, W, KH, KW, tau)
    specs = specs or [(3, 2, 3, 6, 7, 2, 3, 0.5),
                      (2, 3, 2, 5, 5, 3, 2, 2.0),
                      (4, 1, 2, 7, 6, 2, 2, 0.8)]
    cases = []
    for N, C, F, H, Wd, KH, KW, tau in specs:
        x = rng.standard_normal((N, C, H, Wd))
        W = rng.standard_normal((F, C, KH, KW))
        b = rng.standard_normal(F)
        y = _forward(x, W + 0.3 * rng.standard_normal(W.shape), b + 0.2 * rng.standard_normal(F))
        y += 0.1 * rng.standard_normal(y.shape)
        outliers = rng.random(y.shape) < 0.15
        y[outliers] += rng.choice([-1.0, 1.0], size=outliers.sum()) * (4 * tau + 3 * rng.random(outliers.sum()))
        z = _forward(x, W, b)
        y.flat[0], y.flat[-1] = z.flat[0] - 0.5 * tau, z.flat[-1] + 5.0 * tau   # one residual inside, one outside
        cases.append((x, W, b, y, tau))
    return cases


CASES = _cases()


def _draw(rng):
    """New cases at grading time: N ≥ 2, F ≠ C, non-square kernels, τ ≠ 1, residuals on both sides of τ."""
    specs = []
    for _ in range(2):
        C, F = (int(v) for v in rng.choice([1, 2, 3], size=2, replace=False))
        KH, KW = (int(v) for v in rng.choice([2, 3], size=2, replace=False))
        specs.append((int(rng.integers(2, 5)), C, F, int(rng.integers(KH + 2, 8)), int(rng.integers(KW + 2, 8)),
                      KH, KW, float(rng.choice([0.3, 0.5, 0.8, 1.5, 2.0]))))
    return _cases(int(rng.integers(2**31)), specs)


def _shortcut_list():
    from ..losses import MeanSquaredError

    return _shortcuts.conv_layers() + [_shortcuts.layer(MeanSquaredError)]


# Check ``filter_recovery_gradient(x, W, b, y, tau) -> (dW, db)`` of the batch-mean Huber loss of a conv layer.
# x: (N, C, H, W), W: (F, C, KH, KW), b: (F,), y: (N, F, H_out, W_out), tau > 0; stride 1, no padding.
# Named mistakes: "used the squared error's residual", "clipped at 1 instead of τ", "used only the linear part",
# "forgot the 1/N", "residual with the wrong sign", "averaged the bias gradient over positions". Refuses Conv2D,
# MeanSquaredError and numerical gradients; while graded, only numpy, correlate2d, pad2d and rot180 can be imported.
EXERCISE = Exercise("filter_recovery_gradient", "check_filter_recovery_gradient", "Huber filter-recovery gradient",
                    "06_recovering_filters", _reference, CASES, _draw, MISTAKES, labels=LABELS,
                    allow={"cnnlib.signal": ("correlate2d", "pad2d", "rot180")}, shortcuts=_shortcut_list)
check_filter_recovery_gradient = self_check(EXERCISE)
