"""Exercise of notebook 02: the gradient of a tied (shared) kernel.

For z = x ⋆ W ("valid" correlation, one channel) and δ = ∂C/∂z, every kernel entry W[m, n] has one copy per
output pixel; its gradient is the sum of the copies' gradients:

    ∂C/∂W[m, n] = Σ_i Σ_j δ[i, j] · x[i + m, j + n]   =   (x ⋆ δ)[m, n]      ("valid")

The learner writes ``tied_weight_gradient(x, delta)`` with x of shape (H, W) and delta of shape (H_out, W_out),
and returns dW of shape (KH, KW) = (H - H_out + 1, W - W_out + 1).
"""

import numpy as np

from ..signal import convolve2d, correlate2d, rot180
from .. import weight_sharing
from ..weight_sharing import weight_copies
from . import _shortcuts
from ._core import CheckResult, Mistake, Shortcut, check_function

__all__ = ["check_tied_weight_gradient", "check_scatter_input_gradient"]

EXERCISE = "tied-weight gradient"


def _reference(x, delta):
    """∂C/∂W = x ⋆ δ ("valid"). x (H, W), delta (H_out, W_out) -> (KH, KW)."""
    return correlate2d(x, delta, "valid")


def _cases(seed=2002, shapes=(((5, 6), (3, 4)), ((4, 7), (3, 5)), ((6, 5), (2, 2)), ((3, 4), (2, 2)))):
    """Fixed cases with non-square shapes; no case is symmetric, so a rotated answer differs from the right one."""
    rng = np.random.default_rng(seed)
    # shapes: (x shape, δ shape)
    return [(rng.standard_normal(xs), rng.standard_normal(ds)) for xs, ds in shapes]


def _untied_copies(x, delta):
    kernel_shape = (x.shape[0] - delta.shape[0] + 1, x.shape[1] - delta.shape[1] + 1)
    return weight_copies(np.outer(delta.ravel(), x.ravel()), kernel_shape, x.shape)


_SWAP_EXPLAIN = ("you computed δ ⋆ x instead of x ⋆ δ (the arguments swapped). Correlation is not symmetric: "
                 "swapping its arguments rotates the result by 180°. Slide δ over x: correlate2d(x, delta, 'valid').")


def _mistakes():
    return [
        Mistake("swapped arguments", _SWAP_EXPLAIN,
                lambda x, d: rot180(correlate2d(x, d, "valid"))),  # what scipy's correlate2d(d, x, 'valid') returns
        Mistake("used convolution instead of correlation",
                "you convolved, which flips δ before sliding it over x. In the forward pass x[i + m, j + n] met "
                "W[m, n] unflipped, so the weight gradient is a correlation: correlate2d(x, delta, 'valid').",
                lambda x, d: convolve2d(x, d, "valid")),
        Mistake("forgot to sum the copies",
                "you returned one gradient per output pixel, shape (H_out, W_out, KH, KW): the gradients of the "
                "untied copies. The shared weight gets their sum over all output positions.",
                _untied_copies),
        Mistake("took the mean instead of the sum",
                "your answer is the right one divided by the number of output positions H_out·W_out. A shared "
                "weight collects the full gradient of every copy: sum, do not average.",
                lambda x, d: correlate2d(x, d, "valid") / d.size),
        Mistake("used 'full' instead of 'valid'",
                "your answer has the shape of a 'full' correlation. The kernel gradient has the kernel's shape "
                "(H - H_out + 1, W - W_out + 1): use mode 'valid'.",
                lambda x, d: correlate2d(x, d, "full")),
    ]


def _swapped_probe(learner_fn, x, d, want):
    """True when the learner's code fails on (x, δ) but gives the right answer when handed (δ, x)."""
    try:
        out = learner_fn(np.copy(d), np.copy(x))
    except Exception:
        return False
    if out is None:
        return False
    out = np.asarray(out)
    return out.shape == want.shape and np.allclose(out, want, rtol=1e-6, atol=1e-8)


def _shortcut_list():
    return _shortcuts.conv_layers() + [
        Shortcut("`cnnlib.weight_sharing.tie_gradient`", targets=(weight_sharing.tie_gradient,),
                 names=("tie_gradient",))]


def check_tied_weight_gradient(learner_fn, hidden=False):
    """Check ``learner_fn(x, delta) -> dW`` on several non-square cases.

    Names these mistakes: "swapped arguments" (by value, as scipy computes δ ⋆ x, or when correlate2d(delta, x)
    refuses to run), "used convolution instead of correlation", "forgot to sum the copies", "took the mean
    instead of the sum", "used 'full' instead of 'valid'". Returns a CheckResult (truthy when right).
    """
    cases = _cases(20020, (((7, 5), (4, 2)), ((6, 6), (3, 4)))) if hidden else _cases()
    result = check_function(EXERCISE, learner_fn, _reference, cases, mistakes=_mistakes(),
                            shortcuts=_shortcut_list(), hidden=hidden)
    if not result and result.mistake is None and result.case is not None:
        x, d = cases[result.case]
        if _swapped_probe(learner_fn, x, d, _reference(x, d)):
            return CheckResult(EXERCISE, False, f"case {result.case + 1}: {_SWAP_EXPLAIN}",
                               mistake="swapped arguments", case=result.case)
    return result


# ---- exercise 2: Mᵀ δ as a scatter loop over the kept connections -------------------------------------------
# The dense matrix M of a correlation keeps only the connections x[i + m, j + n] -> z[i, j], with weight W[m, n].
# Its transpose sends δ back along exactly those connections:  dx[i + m, j + n] += W[m, n] · δ[i, j].
EXERCISE_SCATTER = "Mᵀδ as a scatter loop"


def _scatter_reference(delta, W, input_shape):
    M = weight_sharing.conv_matrix(W, tuple(input_shape))
    return (M.T @ delta.ravel()).reshape(input_shape)


def _scatter(delta, W, input_shape, kernel, accumulate=True):
    dx = np.zeros(input_shape)
    KH, KW = kernel.shape
    for i, j in np.ndindex(*delta.shape):
        if accumulate:
            dx[i:i + KH, j:j + KW] += kernel * delta[i, j]
        else:
            dx[i:i + KH, j:j + KW] = kernel * delta[i, j]
    return dx


SCATTER_MISTAKES = [
    Mistake("scattered the rotated kernel",
            "you sent δ[i, j]·rot180(W) back. The scatter needs no rotation: the connection x[i + m, j + n] -> "
            "z[i, j] carries W[m, n], so x[i + m, j + n] gets W[m, n]·δ[i, j]. The rotation only appears when the "
            "same sum is written as a correlation over δ.",
            lambda d, W, s: _scatter(d, W, s, W[::-1, ::-1])),
    Mistake("transposed the kernel",
            "you used W.T: connection (m, n) carries W[m, n], not W[n, m].",
            lambda d, W, s: _scatter(d, W, s, W.T) if W.shape[0] == W.shape[1] else np.full(s, np.nan)),
    Mistake("overwrites instead of accumulating",
            "an input pixel feeds several outputs (the windows overlap), and Mᵀδ adds what comes back along every "
            "one of its connections: use +=, not =.",
            lambda d, W, s: _scatter(d, W, s, W, accumulate=False)),
]


def check_scatter_input_gradient(learner_fn, hidden=False):
    """Check ``learner_fn(delta, W, input_shape) -> dx`` = Mᵀδ, written as a loop over the kept connections,
    without building M and without correlate2d/convolve2d.

    Names: "scattered the rotated kernel", "transposed the kernel", "overwrites instead of accumulating".
    """
    rng = np.random.default_rng(20200 if hidden else 2020)
    specs = [((6, 5), (3, 3)), ((7, 4), (2, 3))] if hidden else [((5, 6), (3, 3)), ((4, 7), (2, 3)), ((6, 5), (3, 2))]
    cases = []
    for (H, Wd), (KH, KW) in specs:
        cases.append((rng.standard_normal((H - KH + 1, Wd - KW + 1)), rng.standard_normal((KH, KW)), (H, Wd)))
    shortcuts = _shortcut_list() + [
        _shortcuts.two_d_operations("correlate2d", "convolve2d"),
        Shortcut("`cnnlib.weight_sharing.conv_matrix`", targets=(weight_sharing.conv_matrix,),
                 names=("conv_matrix", "fan_out", "receptive_field"),
                 why="builds the matrix for you; the exercise asks you to follow the connections yourself")]
    return check_function(EXERCISE_SCATTER, learner_fn, _scatter_reference, cases, SCATTER_MISTAKES,
                          shortcuts=shortcuts, hidden=hidden)
