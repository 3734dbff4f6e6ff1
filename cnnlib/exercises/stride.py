"""Checker for the exercise of notebook 05: the kernel gradient with stride, padding and dilation together.

The learner writes ``fn(x, delta, KH, KW, stride, padding, dilation) -> dW`` for ONE channel of

    z[i, j] = Σ_m Σ_n xp[i·s + m·d, j·s + n·d] W[m, n] + b        xp = x zero-padded by p on every side

with x (H, W) and delta = ∂L/∂z (H_out, W_out); dW has shape (KH, KW). The notebook checks only ∂L/∂x for this
combination. The cases use strides that differ from the dilations, so each named mistake gives its own answer.
"""

import numpy as np

from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_strided_weight_gradient"]


# dW[m, n] = Σ_i Σ_j δ[i, j] · xp[i·s + m·d, j·s + n·d]
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


def _draw(rng):
    """New cases at grading time: non-square x and kernels, stride ≠ dilation, padding 0 to 2."""
    specs = []
    for p in (0, 1, 2):
        s, d = (int(v) for v in rng.choice([1, 2, 3], size=2, replace=False))
        KH, KW = (int(v) for v in rng.choice([2, 3], size=2, replace=rng.random() < 0.3))
        H, Wd = (int(v) for v in rng.integers(d * 3 + 4, d * 3 + 9, size=2))
        specs.append(((H, Wd), (KH, KW), s, p, d))
    return _dw_cases(int(rng.integers(2**31)), specs)


# Check ``strided_weight_gradient(x, delta, KH, KW, stride, padding, dilation) -> dW (KH, KW)`` for one channel of
# z = (x zero-padded by p) ⋆ W with the given stride and dilation. x (H, W), delta (H_out, W_out). Names:
# "ignored the dilation", "ignored the stride", "swapped stride and dilation", "forgot the padding", "rotated dW".
# Refuses Conv2D and numerical gradients.
EXERCISE = Exercise("strided_weight_gradient", "check_strided_weight_gradient", "dW with stride, padding and dilation",
                    "05_channels_stride_padding", _dw_reference, DW_CASES, _draw, DW_MISTAKES,
                    allow={"cnnlib.signal": ("correlate2d", "insert_zeros", "pad2d", "rot180")},
                    shortcuts=_shortcuts.conv_layers)
check_strided_weight_gradient = self_check(EXERCISE)
