"""Checker for the exercise of notebook 04: the backward pass of a layer that GROWS its input, written by hand.

The layer has C input channels, one output map and one bias, and its forward pass is a 'full' convolution:

    z[i, j] = Σ_c Σ_{u,v} W[c, u, v] · x[c, i − u, j − v] + b         (terms with x's index outside x left out)

x (C, H, W), W (C, KH, KW), z and δ = ∂L/∂z (H + KH − 1, W + KW − 1). Each input pixel x[c, i', j'] stamps a copy
of W[c], scaled by itself, onto z at offset (i', j'). The notebook derives the 'valid' correlation layer, one channel, no
channel sum; sending every δ back along the products of the sum above gives

    dx[c] = δ ⋆ W[c]  ('valid')        dW[c] = δ ⋆ x[c]  ('valid')        db = Σ δ

no rotation anywhere, and δ is the first argument both times. The learner writes ``fn(x, W, delta) -> (dx, dW, db)``
without correlate2d or convolve2d. The cases use two or three channels, non-square x and non-symmetric, non-square
kernels, so that each mistake below gives an answer of its own.
"""

import numpy as np

from ..signal import correlate2d, rot180
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_convolution_layer_backward"]

LABELS = ("dx", "dW", "db")


def _cases(seed, shapes):
    """(x, W, delta) for each (C, x shape, kernel shape)."""
    rng = np.random.default_rng(seed)
    cases = []
    for C, (H, Wd), (KH, KW) in shapes:
        x = rng.standard_normal((C, H, Wd))
        W = rng.standard_normal((C, KH, KW))
        cases.append((x, W, rng.standard_normal((H + KH - 1, Wd + KW - 1))))
    return cases


CASES = _cases(404, [(2, (4, 5), (3, 2)), (2, (5, 3), (2, 3)), (3, (3, 4), (3, 3))])


def _backward(x, W, delta, *, rotate_dx=False, rotate_dw=False, db_scale=1.0, mean_db=False):
    """(dx, dW, db) of the full-convolution layer, with one step changed when asked."""
    dx = np.array([correlate2d(delta, rot180(Wc) if rotate_dx else Wc, "valid") for Wc in W])
    dW = np.array([correlate2d(delta, xc, "valid") for xc in x])
    if rotate_dw:
        dW = dW[:, ::-1, ::-1].copy()
    db = float(np.mean(delta)) if mean_db else db_scale * float(np.sum(delta))
    return dx, dW, db


def _full_layer_reference(x, W, delta):
    return _backward(x, W, delta)


def _overwritten_dw(x, W, delta):
    """The stamping loop with dW[c] = ... : only the last input pixel's share survives."""
    dx, _, db = _backward(x, W, delta)
    C, H, Wd = x.shape
    KH, KW = W.shape[1:]
    dW = np.zeros_like(W)
    for c, a, b in np.ndindex(C, H, Wd):
        dW[c] = x[c, a, b] * delta[a:a + KH, b:b + KW]
    return dx, dW, db


MISTAKES = [
    Mistake("rotated the kernel in dx",
            "you sent δ back through rot180(W), the rule of the 'valid' correlation layer. Here W[c, u, v] meets "
            "x[c, i − u, j − v] in output (i, j): fix an input pixel, list the outputs it reaches and the kernel "
            "entry it meets in each, and see whether that index runs with the kernel index or against it.",
            lambda x, W, d: _backward(x, W, d, rotate_dx=True)),
    Mistake("rotated dW",
            "your dW is turned by 180°. W[c, u, v] multiplies x[c, i − u, j − v] in the output (i, j): collect "
            "those products and check which way u runs.",
            lambda x, W, d: _backward(x, W, d, rotate_dw=True)),
    Mistake("overwrites instead of accumulating",
            "every input pixel uses the same kernel, so dW[c] collects one share from EVERY pixel of x[c]: add "
            "into dW (+=), do not assign (=).",
            _overwritten_dw),
    Mistake("averaged the bias gradient",
            "the one bias is added to every output, so its gradient is the SUM of δ, not its mean.",
            lambda x, W, d: _backward(x, W, d, mean_db=True)),
    Mistake("counted the bias once per channel",
            "the layer has ONE output map and one bias, added once to each output, however many input channels "
            "feed it: db does not grow with C.",
            lambda x, W, d: _backward(x, W, d, db_scale=len(x))),
]


def _draw(rng):
    """New cases at grading time: 2 or 3 channels, non-square kernels (KH ≠ KW) without symmetry, non-square x."""
    shapes = []
    for C in (2, int(rng.integers(2, 4))):
        KH, KW = (int(v) for v in rng.choice([2, 3, 4], size=2, replace=False))
        shapes.append((C, (int(rng.integers(2, 6)), int(rng.integers(2, 6))), (KH, KW)))
    return _cases(int(rng.integers(2**31)), shapes)


def _shortcut_list():
    from ..layers import ConvTranspose2D

    return (_shortcuts.conv_layers() + [_shortcuts.layer(ConvTranspose2D)]
            + [_shortcuts.two_d_operations("correlate2d", "convolve2d")])


# Check ``convolution_layer_backward(x (C, H, W), W (C, KH, KW), delta (H + KH - 1, W + KW - 1)) -> (dx, dW, db)``
# for the layer z = Σ_c x[c] * W[c] ('full') + b, written without correlate2d/convolve2d (cnnlib's or scipy's).
# Names: "rotated the kernel in dx", "rotated dW", "overwrites instead of accumulating", "averaged the bias
# gradient", "counted the bias once per channel". Refuses Conv2D, ConvTranspose2D, numerical gradients, the 2-D
# operations and the reference; while graded, only numpy, rot180 and pad2d can be imported.
EXERCISE = Exercise("convolution_layer_backward", "check_convolution_layer_backward",
                    "backward of a full-convolution layer", "04_rotation_proof", _full_layer_reference, CASES, _draw,
                    MISTAKES, labels=LABELS, allow={"cnnlib.signal": ("rot180", "pad2d")}, shortcuts=_shortcut_list)
check_convolution_layer_backward = self_check(EXERCISE)
