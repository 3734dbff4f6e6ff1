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
from ._core import Mistake, Shortcut, check_function

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
