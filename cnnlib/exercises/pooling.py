"""Checkers for the pooling exercises of notebook 07: max-pool backward, without and with padding.

The learner writes ``fn(x, dout, k, stride)`` for ONE channel: x (H, W), dout (H_out, W_out), a square k x k
window moved by ``stride``; it returns dx (H, W). The reference is cnnlib's MaxPool2D.
The cases contain exact ties and overlapping windows (stride < k), so every listed mistake shows up.
"""

import numpy as np

from ..layers import MaxPool2D
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_maxpool_backward", "check_padded_maxpool_backward"]


def _layer_backward(layer_cls, x, dout, k, stride):
    """Run a cnnlib pooling layer on one (H, W) channel and return dx (H, W)."""
    layer = layer_cls(k, stride)
    layer.forward(np.asarray(x, dtype=np.float64)[None, None])
    return layer.backward(np.asarray(dout, dtype=np.float64)[None, None])[0, 0]


def _windows(x_shape, k, stride):
    """Yield (i, j, rows, cols) for every pooling window, in row-major order of the output."""
    H_out, W_out = (x_shape[0] - k) // stride + 1, (x_shape[1] - k) // stride + 1
    for i in range(H_out):
        for j in range(W_out):
            yield i, j, slice(i * stride, i * stride + k), slice(j * stride, j * stride + k)


def _max_reference(x, dout, k, stride):
    return _layer_backward(MaxPool2D, x, dout, k, stride)


# ---- the wrong variants each checker recognises -------------------------------------------------------
def _max_all_ties(x, dout, k, stride):
    """The isclose mask of a NumPy walk-through (Rathi, 2018): every entry equal to the window's max gets the
    full gradient."""
    dx = np.zeros(x.shape)
    for i, j, rows, cols in _windows(x.shape, k, stride):
        window = x[rows, cols]
        dx[rows, cols] += dout[i, j] * (window == window.max())
    return dx


def _max_split_ties(x, dout, k, stride):
    """Tied maxima share the window's gradient equally."""
    dx = np.zeros(x.shape)
    for i, j, rows, cols in _windows(x.shape, k, stride):
        window = x[rows, cols]
        mask = window == window.max()
        dx[rows, cols] += dout[i, j] * mask / mask.sum()
    return dx


def _max_last_wins(x, dout, k, stride):
    """Among tied maxima the LAST one in row-major order gets the gradient."""
    dx = np.zeros(x.shape)
    for i, j, rows, cols in _windows(x.shape, k, stride):
        flat = x[rows, cols].ravel()
        last = len(flat) - 1 - int(np.argmax(flat[::-1]))
        r, s = divmod(last, k)
        dx[rows.start + r, cols.start + s] += dout[i, j]
    return dx


def _max_overwrite(x, dout, k, stride):
    """The winner is right, but ``dx[r, s] = dout`` replaces what an earlier overlapping window sent."""
    dx = np.zeros(x.shape)
    for i, j, rows, cols in _windows(x.shape, k, stride):
        r, s = np.unravel_index(np.argmax(x[rows, cols]), (k, k))
        dx[rows.start + r, cols.start + s] = dout[i, j]
    return dx


# ---- cases ---------------------------------------------------------------------------------------------
def _cases(seed=601):
    """Shapes that are not square, windows that do not tile the input, exact ties, and stride < k."""
    rng = np.random.default_rng(seed)

    def dout_for(x, k, stride):
        H_out, W_out = (x.shape[0] - k) // stride + 1, (x.shape[1] - k) // stride + 1
        return rng.uniform(0.5, 2.0, size=(H_out, W_out)) * rng.choice([-1.0, 1.0], size=(H_out, W_out))

    # 1. non-overlapping 2x2 windows with exact ties (small integers repeat)
    x1 = rng.integers(0, 3, size=(4, 6)).astype(np.float64)
    x1[0:2, 0:2] = [[2.0, 2.0], [1.0, 0.0]]  # make sure at least one window is tied
    # 2. overlapping 3x3 windows, stride 2, no ties; 5x7 input
    x2 = rng.standard_normal((5, 7))
    # 3. overlapping 2x2 windows, stride 1, with one dominant entry that wins four windows
    x3 = rng.standard_normal((4, 5))
    x3[1, 2] = 5.0
    # 4. overlapping windows AND ties, and a last row that no window reaches (floor mode drops it)
    x4 = rng.integers(0, 2, size=(6, 5)).astype(np.float64)
    cases = [(x1, 2, 2), (x2, 3, 2), (x3, 2, 1), (x4, 3, 2)]
    return [(x, dout_for(x, k, s), k, s) for x, k, s in cases]


CASES = _cases()


def _shortcut_list(cls):
    return [_shortcuts.layer(cls), _shortcuts.model(), _shortcuts.numerical()]


MAX_MISTAKES = [
    Mistake("routes to all ties",
            "in a window with two equal maxima you sent the full gradient to both. Only one entry may get "
            "it (the first maximum in row-major order, like np.argmax and PyTorch); otherwise the window "
            "passes back twice the gradient that reached it.",
            _max_all_ties),
    Mistake("splits the gradient among ties",
            "in a window with equal maxima you divided the gradient among them. The max function passes "
            "its gradient to ONE input (the first maximum in row-major order, like np.argmax and "
            "PyTorch); sharing it is a different function's gradient.",
            _max_split_ties),
    Mistake("last maximum wins",
            "in a window with equal maxima you sent the gradient to the LAST one. Take the first in "
            "row-major order, as np.argmax does (a loop with `>=` instead of `>` picks the last).",
            _max_last_wins),
    Mistake("overwrites instead of accumulating",
            "the windows overlap here (stride < k), and one input wins more than one window. Its gradient "
            "is the SUM of what each window sends: use dx[r, s] += dout[i, j], not =.",
            _max_overwrite),
]


def _draw(rng):
    """New cases at grading time: exact ties, non-overlapping and overlapping windows, a row no window reaches."""
    x1 = rng.integers(0, 3, size=(4, int(rng.choice([4, 6])))).astype(np.float64)
    x1[0:2, 0:2] = [[2.0, 2.0], [1.0, 0.0]]                                   # a tie in the first window
    x2 = rng.standard_normal((int(rng.integers(5, 8)), int(rng.integers(5, 8))))
    x3 = rng.standard_normal((int(rng.integers(4, 7)), int(rng.integers(4, 7))))
    x3[1, 1 + int(rng.integers(0, 2))] = 5.0                                  # one entry wins several windows
    x4 = rng.integers(0, 2, size=(6, int(rng.integers(5, 8)))).astype(np.float64)
    cases = [(x1, 2, 2), (x2, 3, 2), (x3, 2, 1), (x4, 3, 2)]
    out = []
    for x, k, s in cases:
        H_out, W_out = (x.shape[0] - k) // s + 1, (x.shape[1] - k) // s + 1
        out.append((x, rng.uniform(0.5, 2.0, size=(H_out, W_out)) * rng.choice([-1.0, 1.0], size=(H_out, W_out)),
                    k, s))
    return out


# Check ``maxpool_backward(x, dout, k, stride) -> dx`` for one channel x (H, W). Named mistakes: "routes to all
# ties", "splits the gradient among ties", "last maximum wins", "overwrites instead of accumulating". Refuses
# MaxPool2D and numerical gradients.
EXERCISE = Exercise("maxpool_backward", "check_maxpool_backward", "max-pool backward", "07_pooling_and_relu",
                    _max_reference, CASES, _draw, MAX_MISTAKES, allow={"cnnlib.signal": ("pad2d",)},
                    shortcuts=lambda: _shortcut_list(MaxPool2D))
check_maxpool_backward = self_check(EXERCISE)


# ---- exercise 2: max pooling with padding ------------------------------------------------------------------
# A padded max pool (as in PyTorch) pads with -inf, so that a padded cell never wins a window: the output size
# is (H + 2p - k) // s + 1, and the backward pass routes into the padded array, then crops p on every side.
def _padded_max(x, dout, k, stride, padding, fill=-np.inf, crop=True):
    xp = np.pad(np.asarray(x, dtype=float), padding, constant_values=fill)
    dxp = _layer_backward(MaxPool2D, xp, dout, k, stride)
    if not crop:
        return dxp
    return dxp[padding:dxp.shape[0] - padding, padding:dxp.shape[1] - padding]


def _padded_max_reference(x, dout, k, stride, padding):
    return _padded_max(x, dout, k, stride, padding)


def _padded_cases(seed, specs):
    """(x, dout, k, stride, padding). Mostly negative inputs, so that a zero pad would win windows."""
    rng = np.random.default_rng(seed)
    cases = []
    for (H, W), k, s, p in specs:
        x = rng.standard_normal((H, W)) - 1.0
        H_out, W_out = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        cases.append((x, rng.uniform(0.5, 2.0, size=(H_out, W_out)) * rng.choice([-1.0, 1.0], size=(H_out, W_out)),
                      k, s, p))
    return cases


PADDED_CASES = _padded_cases(611, [((5, 6), 3, 2, 1), ((4, 7), 2, 2, 1), ((6, 5), 3, 1, 1), ((5, 4), 2, 1, 0)])

PADDED_MISTAKES = [
    Mistake("padded with zeros instead of -inf",
            "a zero border wins every window whose real entries are all negative, and its gradient is then lost "
            "with the border. Pad with -inf (as PyTorch does): a padded cell must never be the maximum.",
            lambda x, d, k, s, p: _padded_max(x, d, k, s, p, fill=0.0)),
    Mistake("forgot to crop the padding",
            "you returned the gradient of the PADDED input. The border is not part of x: drop p rows and columns "
            "on every side.",
            lambda x, d, k, s, p: _padded_max(x, d, k, s, p, crop=False)),
    Mistake("cropped with a[p:-p] (empty for p = 0)",
            "for padding 0 your dx is empty: a[0:-0] is a[0:0]. Crop with an explicit end, "
            "a[p:a.shape[0] - p, p:a.shape[1] - p].",
            lambda x, d, k, s, p: _padded_max(x, d, k, s, p, crop=False)[p:-p, p:-p]),
]


def _padded_draw(rng):
    """New cases at grading time: padding 1 and 2, and one case with padding 0 (where a[p:-p] is empty)."""
    specs = []
    for p in (1, 2, 0):
        k = int(rng.integers(max(2, 2 * p), 5))   # p ≤ k / 2, as PyTorch asks: no window is all padding
        s = int(rng.integers(1, 3))
        specs.append(((int(rng.integers(k + 1, 8)), int(rng.integers(k + 1, 8))), k, s, p))
    return _padded_cases(int(rng.integers(2**31)), specs)


# Check ``padded_maxpool_backward(x, dout, k, stride, padding) -> dx (H, W)`` for max pooling whose input is
# padded by ``padding`` on every side with -inf (PyTorch's rule). x (H, W), dout (H_out, W_out),
# H_out = (H + 2p - k) // s + 1. Names: "padded with zeros instead of -inf", "forgot to crop the padding",
# "cropped with a[p:-p] (empty for p = 0)". Refuses MaxPool2D and numerical gradients.
PADDED_EXERCISE = Exercise("padded_maxpool_backward", "check_padded_maxpool_backward", "max-pool backward with padding",
                           "07_pooling_and_relu", _padded_max_reference, PADDED_CASES, _padded_draw, PADDED_MISTAKES,
                           allow={"cnnlib.signal": ("pad2d",)}, shortcuts=lambda: _shortcut_list(MaxPool2D))
check_padded_maxpool_backward = self_check(PADDED_EXERCISE)
