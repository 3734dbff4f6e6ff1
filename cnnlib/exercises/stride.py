"""Checker for the "strided conv backward" exercise of notebook 05.

The learner writes ``fn(delta, W, stride, padding) -> dx`` for ONE channel. The forward pass it belongs to is

    z = (pad2d(x, padding) ⋆ W)[::stride, ::stride]        x (H, W), W (KH, KW), z and delta (H_out, W_out)

and every case fits exactly, (H + 2·padding - KH) divisible by the stride, so no row of x is left out:

    dx = crop_padding( insert_zeros(delta, stride) * W  in "full" mode )            (notebook 05, section 2)

The cases mix strides 2 and 3 with paddings 0, 1 and 2, on non-square deltas and non-symmetric kernels, so each
named mistake gives an answer that differs from the right one and from every other mistake.
"""

import numpy as np

from ..signal import convolve2d, correlate2d, insert_zeros
from . import _shortcuts
from ._core import Mistake, check_function

__all__ = ["check_strided_conv_backward", "check_strided_weight_gradient"]


def _crop(a, p):
    """Drop p rows/columns on every side (p = 0 keeps everything; a[p:-p] would not)."""
    return a[p:a.shape[0] - p, p:a.shape[1] - p]


def _reference(delta, W, stride, padding):
    return _crop(convolve2d(insert_zeros(delta, stride), W, "full"), padding)


# ---- the wrong variants the checker recognises ---------------------------------------------------------
def _no_zeros(delta, W, stride, padding):
    """Full convolution of delta itself, as if the stride were 1."""
    return _crop(convolve2d(delta, W, "full"), padding)


def _stride_zeros(delta, W, stride, padding):
    """``stride`` zeros between neighbours instead of ``stride - 1``."""
    return _crop(convolve2d(insert_zeros(delta, stride + 1), W, "full"), padding)


def _no_crop(delta, W, stride, padding):
    """The gradient with respect to the PADDED input, returned as it is."""
    return convolve2d(insert_zeros(delta, stride), W, "full")


def _crop_by_slice(delta, W, stride, padding):
    """``dxp[p:-p, p:-p]``: right for p > 0, but for p = 0 the slice 0:-0 is empty."""
    dxp = convolve2d(insert_zeros(delta, stride), W, "full")
    return dxp[padding:-padding, padding:-padding]


def _not_rotated(delta, W, stride, padding):
    """Full cross-correlation: the kernel was slid over delta without the 180-degree turn."""
    return _crop(correlate2d(insert_zeros(delta, stride), W, "full"), padding)


MISTAKES = [
    Mistake("no zeros inserted",
            "you full-convolved delta as it is. With stride s, neighbouring outputs sit s pixels apart on the input, "
            "so first spread delta out with insert_zeros(delta, s) (s - 1 zeros between neighbours), then convolve.",
            _no_zeros),
    Mistake("wrong number of zeros",
            "your zero-spread delta is too large: you put s zeros between neighbours. Outputs i and i + 1 start s "
            "pixels apart, so there are s - 1 empty positions between them: insert_zeros(delta, s).",
            _stride_zeros),
    Mistake("forgot to crop the padding",
            "you returned the gradient with respect to the padded input. The padding zeros are constants, not part "
            "of x: drop p rows and columns on every side (dxp[p:H_pad - p, p:W_pad - p]).",
            _no_crop),
    Mistake("cropped with a[p:-p] (empty for p = 0)",
            "your dx is empty for padding 0: the slice a[p:-p] becomes a[0:0] when p = 0 (-0 is 0). Crop with an "
            "explicit end, a[p:a.shape[0] - p, p:a.shape[1] - p], which keeps everything when p = 0.",
            _crop_by_slice),
    Mistake("kernel not rotated",
            "you slid W over the spread delta without turning it by 180 degrees (a correlation). Backward through a "
            "correlation is a full CONVOLUTION: use convolve2d, or correlate with rot180(W).",
            _not_rotated),
]


def _cases(seed=505, specs=None):
    """(delta, W, stride, padding) with H + 2p - KH divisible by the stride in both directions."""
    rng = np.random.default_rng(seed)
    # (delta shape, kernel shape, stride, padding); the input size follows: H = (H_out - 1)·s + KH - 2p
    specs = specs or [((3, 4), (2, 3), 3, 0),  # 8 x 12 input; stride 3 first, so two wrong zero counts differ
                      ((4, 3), (3, 2), 2, 1),  # 7 x 4 input
                      ((3, 5), (4, 3), 2, 2),  # 4 x 7 input
                      ((2, 3), (3, 4), 3, 1)]  # 4 x 8 input
    return [(rng.standard_normal(ds), rng.standard_normal(ks), s, p) for ds, ks, s, p in specs]


CASES = _cases()
HIDDEN_CASES = _cases(5050, [((4, 2), (3, 2), 2, 0), ((3, 3), (2, 4), 3, 1)])


def check_strided_conv_backward(strided_conv_backward, hidden=False):
    """Check ``strided_conv_backward(delta, W, stride, padding) -> dx`` for one channel.

    delta: (H_out, W_out), W: (KH, KW), stride and padding: ints. dx has the shape of the unpadded input x.
    Named mistakes: "no zeros inserted", "wrong number of zeros", "forgot to crop the padding",
    "cropped with a[p:-p] (empty for p = 0)", "kernel not rotated". Refuses Conv2D and numerical gradients.
    """
    return check_function("strided conv backward", strided_conv_backward, _reference,
                          HIDDEN_CASES if hidden else CASES, mistakes=MISTAKES, shortcuts=_shortcuts.conv_layers(),
                          hidden=hidden)


# ---- exercise 2: dW with stride, padding and dilation together ------------------------------------------------
# z[i, j] = Σ_m Σ_n xp[i·s + m·d, j·s + n·d] W[m, n] + b, with xp = x zero-padded by p on every side, so
#     dW[m, n] = Σ_i Σ_j δ[i, j] · xp[i·s + m·d, j·s + n·d]
def _weight_gradient(x, delta, KH, KW, row_step, tap_step, padding):
    """Σ_ij δ[i, j] xp[i·row_step + m·tap_step, ...]: the right answer for (stride, dilation) = (row_step,
    tap_step); the mistakes use other steps. Reads beyond the padded input count as zeros (a learner's loop that
    skips them)."""
    xp = np.pad(x, padding)
    H_need = row_step * (delta.shape[0] - 1) + tap_step * (KH - 1) + 1
    W_need = row_step * (delta.shape[1] - 1) + tap_step * (KW - 1) + 1
    xp = np.pad(xp, ((0, max(0, H_need - xp.shape[0])), (0, max(0, W_need - xp.shape[1]))))
    dW = np.zeros((KH, KW))
    for m in range(KH):
        for n in range(KW):
            r, c = m * tap_step, n * tap_step
            taps = xp[r:r + row_step * (delta.shape[0] - 1) + 1:row_step,
                      c:c + row_step * (delta.shape[1] - 1) + 1:row_step]
            dW[m, n] = np.sum(taps * delta)
    return dW


def _dw_reference(x, delta, KH, KW, stride, padding, dilation):
    return _weight_gradient(x, delta, KH, KW, stride, dilation, padding)


def _dw_ignored_dilation(x, delta, KH, KW, stride, padding, dilation):
    return _weight_gradient(x, delta, KH, KW, stride, 1, padding)


def _dw_ignored_stride(x, delta, KH, KW, stride, padding, dilation):
    return _weight_gradient(x, delta, KH, KW, 1, dilation, padding)


def _dw_swapped(x, delta, KH, KW, stride, padding, dilation):
    return _weight_gradient(x, delta, KH, KW, dilation, stride, padding)


def _dw_unpadded(x, delta, KH, KW, stride, padding, dilation):
    # the padding is left out, so every window starts p rows and columns too far down and right
    return _weight_gradient(np.pad(x, ((0, 2 * padding), (0, 2 * padding))), delta, KH, KW, stride, dilation, 0)


def _dw_rotated(x, delta, KH, KW, stride, padding, dilation):
    return _weight_gradient(x, delta, KH, KW, stride, dilation, padding)[::-1, ::-1].copy()


DW_MISTAKES = [
    Mistake("ignored the dilation",
            "kernel tap (m, n) reads the input d pixels apart per step: xp[i·s + m·d, j·s + n·d]. "
            "You read neighbouring pixels (m instead of m·d).",
            _dw_ignored_dilation),
    Mistake("ignored the stride",
            "output (i, j) starts its window at row i·s and column j·s of the padded input; you used i and j. "
            "(Equivalently: insert s - 1 zeros between the entries of δ before correlating.)",
            _dw_ignored_stride),
    Mistake("swapped stride and dilation",
            "the stride moves the window (it multiplies the output index i), the dilation spreads the taps (it "
            "multiplies the kernel index m): xp[i·s + m·d, j·s + n·d]. You used i·d + m·s.",
            _dw_swapped),
    Mistake("forgot the padding",
            "you read the unpadded x. The forward pass ran over x zero-padded by p on every side, so index "
            "(i·s + m·d) counts rows of the PADDED input: pad x first (np.pad(x, p)).",
            _dw_unpadded),
    Mistake("rotated dW",
            "your dW is rotated by 180°. The forward pass is a correlation, so W[m, n] multiplies the input at "
            "offset (m·d, n·d) and its gradient has no rotation.",
            _dw_rotated),
]


def _dw_cases(seed=5055, specs=None):
    """(x, delta, KH, KW, stride, padding, dilation), non-square x and kernels, stride ≠ dilation."""
    rng = np.random.default_rng(seed)
    specs = specs or [((9, 11), (2, 3), 2, 1, 3),   # x shape, kernel shape, stride, padding, dilation
                      ((8, 7), (3, 2), 3, 2, 2),
                      ((10, 9), (2, 2), 2, 0, 3)]
    cases = []
    for (H, Wd), (KH, KW), s, p, d in specs:
        H_out = (H + 2 * p - d * (KH - 1) - 1) // s + 1
        W_out = (Wd + 2 * p - d * (KW - 1) - 1) // s + 1
        cases.append((rng.standard_normal((H, Wd)), rng.standard_normal((H_out, W_out)), KH, KW, s, p, d))
    return cases


DW_CASES = _dw_cases()
DW_HIDDEN_CASES = _dw_cases(50550, [((11, 8), (3, 2), 2, 2, 3), ((7, 10), (2, 3), 3, 1, 2)])


def check_strided_weight_gradient(fn, hidden=False):
    """Check ``fn(x, delta, KH, KW, stride, padding, dilation) -> dW (KH, KW)`` for one channel of
    z = (x zero-padded by p) ⋆ W with the given stride and dilation. x (H, W), delta (H_out, W_out).

    Names: "ignored the dilation", "ignored the stride", "swapped stride and dilation", "forgot the padding",
    "rotated dW". Refuses Conv2D and numerical gradients.
    """
    return check_function("dW with stride, padding and dilation", fn, _dw_reference,
                          DW_HIDDEN_CASES if hidden else DW_CASES, mistakes=DW_MISTAKES,
                          shortcuts=_shortcuts.conv_layers(), hidden=hidden)
