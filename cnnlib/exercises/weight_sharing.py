"""Exercise of notebook 02: the input gradient Mᵀδ of a convolution, as a loop over the kept connections.

The dense matrix M of a correlation z = x ⋆ W (one channel, 'valid') keeps only the connections
x[i + m, j + n] -> z[i, j], with weight W[m, n]. Its transpose sends δ back along exactly those connections:

    dx[i + m, j + n] += W[m, n] · δ[i, j]

The learner writes ``scatter_input_gradient(delta, W, input_shape)`` without building M and without
correlate2d/convolve2d, and returns dx of shape ``input_shape``.
"""

import numpy as np

from .. import weight_sharing
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_scatter_input_gradient"]


def _shortcut_list():
    return _shortcuts.conv_layers() + [
        Shortcut("`cnnlib.weight_sharing.tie_gradient`", targets=(weight_sharing.tie_gradient,),
                 names=("tie_gradient",))]


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


def _cases(rng, specs):
    """(delta, W, input_shape) for every ((H, W), (KH, KW)) in ``specs``."""
    return [(rng.standard_normal((H - KH + 1, Wd - KW + 1)), rng.standard_normal((KH, KW)), (H, Wd))
            for (H, Wd), (KH, KW) in specs]


def _draw(rng):
    """New cases at grading time: a square kernel (the transpose keeps its shape) and two non-square ones."""
    K = int(rng.integers(2, 4))
    specs = [((int(rng.integers(K + 2, 8)), int(rng.integers(K + 2, 8))), (K, K))]
    for _ in range(2):
        KH, KW = map(int, rng.choice([2, 3, 4], size=2, replace=False))
        specs.append(((int(rng.integers(KH + 1, 9)), int(rng.integers(KW + 1, 9))), (KH, KW)))
    return _cases(rng, specs)


def _all_shortcuts():
    return _shortcut_list() + [
        _shortcuts.two_d_operations("correlate2d", "convolve2d"),
        Shortcut("`cnnlib.weight_sharing.conv_matrix`", targets=(weight_sharing.conv_matrix,),
                 names=("conv_matrix", "fan_out", "receptive_field"),
                 why="builds the matrix for you; the exercise asks you to follow the connections yourself")]


CASES = _cases(np.random.default_rng(2020), [((5, 6), (3, 3)), ((4, 7), (2, 3)), ((6, 5), (3, 2))])

# Check ``scatter_input_gradient(delta, W, input_shape) -> dx`` = Mᵀδ, written as a loop over the kept
# connections, without building M and without correlate2d/convolve2d. Names: "scattered the rotated kernel",
# "transposed the kernel", "overwrites instead of accumulating".
EXERCISE = Exercise("scatter_input_gradient", "check_scatter_input_gradient", EXERCISE_SCATTER, "02_weight_sharing",
                    _scatter_reference, CASES, _draw, SCATTER_MISTAKES, allow={"cnnlib.signal": ("rot180", "pad2d")},
                    shortcuts=_all_shortcuts)
check_scatter_input_gradient = self_check(EXERCISE)
