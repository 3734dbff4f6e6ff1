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
from ._core import Mistake, check_function

__all__ = ["check_strided_conv_backward"]


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
    Mistake("kernel not rotated",
            "you slid W over the spread delta without turning it by 180 degrees (a correlation). Backward through a "
            "correlation is a full CONVOLUTION: use convolve2d, or correlate with rot180(W).",
            _not_rotated),
]


def _cases():
    """(delta, W, stride, padding) with H + 2p - KH divisible by the stride in both directions."""
    rng = np.random.default_rng(505)
    # (delta shape, kernel shape, stride, padding); the input size follows: H = (H_out - 1)·s + KH - 2p
    specs = [((3, 4), (2, 3), 3, 0),   # 8 x 12 input; stride 3 first, so two wrong zero counts cannot agree
             ((4, 3), (3, 2), 2, 1),   # 7 x 4 input
             ((3, 5), (4, 3), 2, 2),   # 4 x 7 input
             ((2, 3), (3, 4), 3, 1)]   # 4 x 8 input
    return [(rng.standard_normal(ds), rng.standard_normal(ks), s, p) for ds, ks, s, p in specs]


CASES = _cases()


def check_strided_conv_backward(strided_conv_backward):
    """Check ``strided_conv_backward(delta, W, stride, padding) -> dx`` for one channel.

    delta: (H_out, W_out), W: (KH, KW), stride and padding: ints. dx has the shape of the unpadded input x.
    Named mistakes: "no zeros inserted", "wrong number of zeros", "forgot to crop the padding",
    "kernel not rotated".
    """
    return check_function("strided conv backward", strided_conv_backward, _reference, CASES, mistakes=MISTAKES)
