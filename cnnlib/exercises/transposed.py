"""Checker for the exercise of notebook 11: the weight gradient of a transposed convolution.

One channel, ``y = ConvTranspose2D(1, 1, (KH, KW), stride=s, padding=p)(x)``: every input pixel x[i, j] stamps
x[i, j]·W onto a large canvas at offset (s·i, s·j), and p rows and columns are cut off every side of it:

    y_full[s·i + u, s·j + v] += x[i, j] · W[u, v],        y = y_full[p : −p, p : −p]

x (H_in, W_in), W (KH, KW), y and δ = ∂L/∂y ((H_in − 1)s − 2p + KH, (W_in − 1)s − 2p + KW). The notebook derives the
layer's forward pass (the input gradient of a convolution) and says that its backward pass with respect to the input
is that convolution's forward pass. The learner derives the gradient with respect to the WEIGHTS,
``fn(x, delta, KH, KW, stride, padding) -> dW`` (KH, KW): undo the crop (the canvas's gradient is δ padded by p with
zeros) and collect every product W[u, v] took part in:

    dW[u, v] = Σ_{i,j} x[i, j] · δ_pad[s·i + u, s·j + v]      = (δ_pad ⋆ insert_zeros(x, s))[u, v], 'valid'

The cases use non-square kernels, strides 2 and 3 and paddings 0 to 2.
"""

import numpy as np

from ..signal import correlate2d, insert_zeros
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_conv_transpose_weight_gradient"]


def _reference(x, delta, KH, KW, stride, padding):
    from ..layers import ConvTranspose2D

    layer = ConvTranspose2D(1, 1, (KH, KW), stride=stride, padding=padding, rng=np.random.default_rng(0))
    layer.forward(x[None, None].astype(np.float64))
    layer.backward(delta[None, None].astype(np.float64))
    return layer.grads["W"][0, 0].copy()


def _collected(x, delta, KH, KW, *, step, pad):
    """Σ_{i,j} x[i, j] · δ_padded[step·i + u, step·j + v], with δ padded by ``pad`` = (top, bottom, left, right).
    Raises where the sum reads outside the padded δ (that variant cannot run on this case)."""
    t, bo, le, r = pad
    dp = np.pad(delta, ((t, bo), (le, r)))
    H, W_in = x.shape
    if step * (H - 1) + KH > dp.shape[0] or step * (W_in - 1) + KW > dp.shape[1]:
        raise ValueError("this variant reads outside δ here")
    dW = np.zeros((KH, KW))
    for (a, b), v in np.ndenumerate(x):
        dW += v * dp[step * a:step * a + KH, step * b:step * b + KW]
    return dW


def _ignored_stride(x, delta, KH, KW, s, p):
    return _collected(x, delta, KH, KW, step=1, pad=(p,) * 4)


def _rotated(x, delta, KH, KW, s, p):
    return _collected(x, delta, KH, KW, step=s, pad=(p,) * 4)[::-1, ::-1].copy()


def _no_padding(x, delta, KH, KW, s, p):
    if p == 0:
        raise ValueError("no padding: this mistake does not apply")
    return correlate2d(delta, insert_zeros(x, s), "valid")   # the crop not undone: δ taken as the whole canvas


def _one_side(x, delta, KH, KW, s, p):
    if p == 0:
        raise ValueError("no padding: this mistake does not apply")
    return correlate2d(np.pad(delta, ((2 * p, 0), (2 * p, 0))), insert_zeros(x, s), "valid")


MISTAKES = [
    Mistake("ignored the stride",
            "you let neighbouring input pixels stamp their kernels one pixel apart. With stride s the stamp of "
            "x[i, j] starts s·i rows and s·j columns into the canvas: W[u, v] met δ at those positions.",
            _ignored_stride),
    Mistake("rotated dW",
            "your dW is turned by 180°. Write down which output W[u, v] lands on when x[i, j] stamps it, and "
            "collect δ there: the index u runs WITH the kernel, as the stamp is placed.",
            _rotated),
    Mistake("did not undo the crop",
            "you treated δ as the gradient of the whole canvas. The layer cut p rows and columns off every side of "
            "the canvas; those entries reached no output, so their gradient is 0: put them back around δ first.",
            _no_padding),
    Mistake("undid the crop on one side only",
            "the crop took p rows and columns from EVERY side of the canvas, so the zeros go back on every side "
            "of δ, p on each, not 2p on one.",
            _one_side),
]


def _cases(seed, configs):
    rng = np.random.default_rng(seed)
    cases = []
    for (H, W_in), (KH, KW), s, p in configs:
        x = rng.standard_normal((H, W_in))
        delta = rng.standard_normal(((H - 1) * s - 2 * p + KH, (W_in - 1) * s - 2 * p + KW))
        cases.append((x, delta, KH, KW, s, p))
    return cases


# (x shape, kernel, stride, padding): non-square kernels, strides 2 and 3, paddings 0, 1, 2
CASES = _cases(1010, [((3, 4), (3, 2), 2, 0), ((4, 3), (4, 3), 2, 1), ((3, 3), (3, 4), 3, 1), ((4, 4), (5, 3), 2, 2)])


def _shortcut_list():
    from ..layers import Conv2D, ConvTranspose2D

    transposed = Shortcut("`ConvTranspose2D`", targets=(ConvTranspose2D.forward, ConvTranspose2D.backward)
                          + tuple(getattr(ConvTranspose2D, n) for n in ("forward_naive", "backward_naive")
                                  if hasattr(ConvTranspose2D, n)),
                          names=("ConvTranspose2D", "conv_transpose2d", "conv_transpose"),
                          why="computes this gradient for you; the exercise asks you to derive it")
    return [transposed, _shortcuts.layer(Conv2D), _shortcuts.numerical()]


def _draw(rng):
    """New cases at grading time: strides 2 and 3 with padding, non-square kernels at least 2p + 1 wide (so that
    every mistake runs), and a random stride 1 to 3."""
    configs = []
    for s, p in ((2, 1), (3, int(rng.integers(0, 3))), (int(rng.integers(1, 4)), int(rng.integers(0, 2)))):
        KH, KW = (int(v) for v in rng.choice(np.arange(2 * p + 1, 2 * p + 5), size=2, replace=False))
        configs.append(((int(rng.integers(2, 5)), int(rng.integers(2, 5))), (KH, KW), s, p))
    return _cases(int(rng.integers(2**31)), configs)


# Check ``conv_transpose_weight_gradient(x (H_in, W_in), delta, KH, KW, stride, padding) -> dW (KH, KW)`` for one
# channel of ConvTranspose2D(1, 1, (KH, KW), stride, padding). Names: "ignored the stride", "rotated dW", "did not undo
# the crop", "undid the crop on one side only". Refuses ConvTranspose2D, Conv2D (its weight gradient is this sum with
# the roles of x and δ exchanged), numerical gradients, autograd libraries and the reference; while graded, only
# numpy, correlate2d, insert_zeros, pad2d and rot180 can be imported.
EXERCISE = Exercise("conv_transpose_weight_gradient", "check_conv_transpose_weight_gradient",
                    "weight gradient of a transposed convolution", "11_transposed_convolution", _reference, CASES,
                    _draw, MISTAKES, allow={"cnnlib.signal": ("correlate2d", "insert_zeros", "pad2d", "rot180")},
                    shortcuts=_shortcut_list)
check_conv_transpose_weight_gradient = self_check(EXERCISE)
