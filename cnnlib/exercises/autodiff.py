"""Checker for the exercise of notebook 12: the backward of the slicing that builds a convolution.

Notebook 11 builds a strided convolution from shifted, strided slices of x, one slice per kernel tap (m, n):

    tap[m, n] = x[m : m + s·(H_out - 1) + 1 : s,  n : n + s·(W_out - 1) + 1 : s]          (H_out, W_out)

The learner writes the backward of that operation, ``fn(grads, x_shape, stride) -> dx``: grads (KH, KW, H_out,
W_out) holds ∂C/∂tap[m, n] for every tap, x_shape is (H, W), and dx (H, W) is ∂C/∂x. Every entry of x that a tap
read gets that tap's gradient ADDED (windows overlap, so one entry is read by several taps); the entries no tap
read get zero.
"""

import numpy as np

from ..autodiff import tap_slices
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_taps_backward", "tap_slices"]  # tap_slices lives in cnnlib.autodiff; kept importable here


def _scatter(grads, x_shape, stride, *, accumulate=True, slices=tap_slices, start=np.zeros):
    KH, KW, H_out, W_out = grads.shape
    dx = start(x_shape)
    for m in range(KH):
        for n in range(KW):
            rows, cols = slices(m, n, (H_out, W_out), stride)
            if accumulate:
                dx[rows, cols] += grads[m, n]
            else:
                dx[rows, cols] = grads[m, n]
    return dx


def _reference(grads, x_shape, stride):
    return _scatter(grads, x_shape, stride)


def _no_stride(m, n, out_shape, stride):
    return slice(m, m + out_shape[0]), slice(n, n + out_shape[1])


def _offset_times_stride(m, n, out_shape, stride):
    (H_out, W_out), s = out_shape, stride
    return slice(m * s, m * s + s * (H_out - 1) + 1, s), slice(n * s, n * s + s * (W_out - 1) + 1, s)


def _swapped(m, n, out_shape, stride):
    return tap_slices(n, m, out_shape, stride)


def _fits(slices):
    """A wrong slicing used on a case where it runs off x raises (numpy would silently clip or broadcast-fail)."""
    def variant(grads, x_shape, stride):
        KH, KW, H_out, W_out = grads.shape
        for m in range(KH):
            for n in range(KW):
                rows, cols = slices(m, n, (H_out, W_out), stride)
                if rows.stop > x_shape[0] or cols.stop > x_shape[1]:
                    raise ValueError("this slice runs off x")
        return _scatter(grads, x_shape, stride, slices=slices)
    return variant


MISTAKES = [
    Mistake("forgot to accumulate",
            "you assigned (dx[...] = g) where you must add (dx[...] += g). Neighbouring windows overlap, so an "
            "entry of x read by several taps must collect the gradient of every one of them (the chain rule sums "
            "over all the paths from x to C).",
            lambda g, shape, s: _scatter(g, shape, s, accumulate=False)),
    Mistake("wrong slice: ignored the stride",
            "you scattered each tap's gradient into a contiguous block. Tap (m, n) read every s-th entry "
            "x[m::s, n::s]: send its gradient back there, which leaves zeros between the entries.",
            _fits(_no_stride)),
    Mistake("wrong slice: offset m·s",
            "tap (m, n) starts at row m and column n of x, not at m·s and n·s: the stride spaces the outputs, the "
            "kernel taps are neighbours.",
            _fits(_offset_times_stride)),
    Mistake("wrong slice: swapped rows and columns",
            "you sent grads[m, n] to the slice of tap (n, m). m counts rows and n counts columns.",
            _fits(_swapped)),
    Mistake("missing zeros",
            "the entries of x that no tap read must get a gradient of exactly 0: start from np.zeros(x_shape), "
            "not np.ones or np.empty (whose content is whatever was in memory).",
            lambda g, shape, s: _scatter(g, shape, s, start=np.ones)),
]


def _cases(seed, configs):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((KH, KW, Ho, Wo)), (H, W), s) for (KH, KW, Ho, Wo), (H, W), s in configs]


# (KH, KW, H_out, W_out), x_shape, stride. x_shape leaves rows/columns no tap reads in some cases (missing zeros);
# KH != KW (swapped); stride 1 and 2, with and without overlap (K > s).
CASES = _cases(1111, [((3, 2, 3, 4), (5, 6), 1),
                      ((3, 2, 3, 3), (9, 8), 2),
                      ((2, 3, 2, 3), (5, 8), 2)])


def _draw(rng):
    """New cases at grading time: KH ≠ KW, strides 1 to 3, x larger than the taps read (unread entries)."""
    configs = []
    for s in (1, 2, 3):
        KH, KW = (int(v) for v in rng.choice([2, 3, 4], size=2, replace=False))
        Ho, Wo = (int(v) for v in rng.integers(2, 5, size=2))
        room = s * (max(KH, KW) - 1) + 1 if s == 2 else max(KH, KW)  # wrong slicings still fit in x here
        H = s * (Ho - 1) + room + int(rng.integers(0, 3))
        W = s * (Wo - 1) + room + int(rng.integers(0, 3))
        configs.append(((KH, KW, Ho, Wo), (H, W), s))
    return _cases(int(rng.integers(2**31)), configs)


def _shortcut_list():
    from ..autodiff import Tensor
    from ..layers import Conv2D

    engine = Shortcut("`cnnlib.autodiff.Tensor`", targets=(Tensor.backward, Tensor.__getitem__),
                      names=("Tensor", "autodiff"),
                      why="computes this backward for you; the exercise asks you to derive it")
    return [engine, _shortcuts.layer(Conv2D), _shortcuts.numerical()]


# Check ``taps_backward(grads, x_shape, stride) -> dx``: the backward of cutting x into one strided slice per kernel
# tap. grads: (KH, KW, H_out, W_out); x_shape: (H, W); stride: int; dx: (H, W). Names: "forgot to accumulate",
# "wrong slice: ignored the stride", "wrong slice: offset m·s", "wrong slice: swapped rows and columns", "missing
# zeros". Refuses cnnlib.autodiff's Tensor, Conv2D, numerical gradients, autograd libraries and the reference;
# tap_slices may be used.
EXERCISE = Exercise("taps_backward", "check_taps_backward", "backward of the tap slices", "12_autodiff", _reference,
                    CASES, _draw, MISTAKES, allow={"cnnlib.autodiff": ("tap_slices",)}, shortcuts=_shortcut_list)
check_taps_backward = self_check(EXERCISE)
