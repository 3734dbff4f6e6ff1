"""Checker for the exercise of notebook 12: the backward of the slicing that builds a strided, DILATED convolution.

Notebook 12 builds a strided convolution from shifted, strided slices of x, one slice per kernel tap (u, v). With a
dilation d, the taps of one window are d pixels apart, so tap (u, v) reads

    tap[u, v] = x[d·u : d·u + s·(H_out − 1) + 1 : s,  d·v : d·v + s·(W_out − 1) + 1 : s]          (H_out, W_out)

The learner writes the backward of that operation, ``fn(grads, x_shape, stride, dilation) -> dx``: grads (KH, KW,
H_out, W_out) holds ∂L/∂tap[u, v] for every tap, x_shape is (H, W), and dx (H, W) is ∂L/∂x. Every entry of x that a
tap read gets that tap's gradient ADDED (windows overlap, so one entry is read by several taps); the entries no tap
read get zero. The notebook's ``tap_slices`` knows no dilation: the slices are the learner's to work out.
"""

import numpy as np

from ..autodiff import tap_slices
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_taps_backward", "tap_slices"]  # tap_slices lives in cnnlib.autodiff; kept importable here


def _slices(u, v, out_shape, s, offset):
    (H_out, W_out) = out_shape
    return (slice(offset * u, offset * u + s * (H_out - 1) + 1, s),
            slice(offset * v, offset * v + s * (W_out - 1) + 1, s))


def _scatter(grads, x_shape, stride, dilation, *, accumulate=True, slices=None, start=np.zeros):
    """dx[slice of tap (u, v)] += grads[u, v] for every tap. ``slices(u, v, out_shape, s, d)`` gives a tap's slices;
    a variant whose slices run off x raises (it cannot even run on this case)."""
    KH, KW, H_out, W_out = grads.shape
    slices = slices or (lambda u, v, shape, s, d: _slices(u, v, shape, s, d))
    dx = start(x_shape)
    for u in range(KH):
        for v in range(KW):
            rows, cols = slices(u, v, (H_out, W_out), stride, dilation)
            if rows.stop > x_shape[0] or cols.stop > x_shape[1]:
                raise ValueError("this slice runs off x")
            if accumulate:
                dx[rows, cols] += grads[u, v]
            else:
                dx[rows, cols] = grads[u, v]
    return dx


def _reference(grads, x_shape, stride, dilation):
    return _scatter(grads, x_shape, stride, dilation)


MISTAKES = [
    Mistake("forgot to accumulate",
            "you assigned (dx[...] = g) where you must add (dx[...] += g). Neighbouring windows overlap, so an "
            "entry of x read by several taps must collect the gradient of every one of them (the chain rule sums "
            "over all the paths from x to L).",
            lambda g, shape, s, d: _scatter(g, shape, s, d, accumulate=False)),
    Mistake("ignored the dilation",
            "you started tap (u, v) at row u and column v, as in the notebook's undilated slices. With dilation d "
            "the taps of one window are d pixels apart: where does tap (u, v) of the first window sit?",
            lambda g, shape, s, d: _scatter(g, shape, s, d, slices=lambda u, v, o, s_, d_: _slices(u, v, o, s_, 1))),
    Mistake("swapped stride and dilation",
            "the dilation spaces the TAPS of one window (it multiplies u and v), the stride spaces the WINDOWS (it "
            "is the step of each slice); you used them the other way round.",
            lambda g, shape, s, d: _scatter(g, shape, s, d, slices=lambda u, v, o, s_, d_: _slices(u, v, o, d_, s_))),
    Mistake("wrong slice: offset u·s",
            "tap (u, v) starts at row d·u and column d·v of x: the stride spaces the outputs, not the taps.",
            lambda g, shape, s, d: _scatter(g, shape, s, d, slices=lambda u, v, o, s_, d_: _slices(u, v, o, s_, s_))),
    Mistake("wrong slice: swapped rows and columns",
            "you sent grads[u, v] to the slice of tap (v, u). u counts rows and v counts columns.",
            lambda g, shape, s, d: _scatter(g, shape, s, d, slices=lambda u, v, o, s_, d_: _slices(v, u, o, s_, d_))),
    Mistake("missing zeros",
            "the entries of x that no tap read must get a gradient of exactly 0: start from np.zeros(x_shape), "
            "not np.ones or np.empty (whose content is whatever was in memory).",
            lambda g, shape, s, d: _scatter(g, shape, s, d, start=np.ones)),
]


def _cases(seed, configs):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((KH, KW, Ho, Wo)), (H, W), s, d) for (KH, KW, Ho, Wo), (H, W), s, d in configs]


# (KH, KW, H_out, W_out), x_shape, stride, dilation. Some rows/columns no tap reads (missing zeros); KH != KW
# (swapped); s != d; overlapping windows.
CASES = _cases(1111, [((4, 2, 3, 3), (17, 14), 3, 2),   # every mistake's slices fit: each is named here
                      ((3, 2, 3, 4), (8, 7), 1, 2),
                      ((2, 3, 3, 3), (10, 13), 2, 4),
                      ((3, 2, 2, 3), (9, 10), 3, 2)])


def _shortcut_list():
    from ..autodiff import Tensor
    from ..layers import Conv2D

    engine = Shortcut("`cnnlib.autodiff.Tensor`", targets=(Tensor.backward, Tensor.__getitem__),
                      names=("Tensor", "autodiff"),
                      why="computes this backward for you; the exercise asks you to derive it")
    return [engine, _shortcuts.layer(Conv2D), _shortcuts.numerical()]


def _draw(rng):
    """New cases at grading time: KH ≠ KW, stride ≠ dilation (one case with stride 1, whose windows overlap), and x
    large enough for every mistake's slices plus up to two rows and columns that no tap reads."""
    configs = []
    for s, d in ((1, int(rng.integers(2, 4))), (int(rng.integers(2, 4)), 1), (3, 2)):
        KH, KW = (int(v) for v in rng.choice([2, 3, 4], size=2, replace=False))
        Ho, Wo = (int(v) for v in rng.integers(2, 5, size=2))
        spans = [(o, st) for o in (d, 1, s) for st in (s, d)]
        H = max(o * (max(KH, KW) - 1) + st * (Ho - 1) + 1 for o, st in spans) + int(rng.integers(0, 3))
        W = max(o * (max(KH, KW) - 1) + st * (Wo - 1) + 1 for o, st in spans) + int(rng.integers(0, 3))
        configs.append(((KH, KW, Ho, Wo), (H, W), s, d))
    return _cases(int(rng.integers(2**31)), configs)


# Check ``taps_backward(grads, x_shape, stride, dilation) -> dx``: the backward of cutting x into one strided slice
# per dilated kernel tap. grads: (KH, KW, H_out, W_out); x_shape: (H, W); stride, dilation: ints; dx: (H, W). Names:
# "forgot to accumulate", "ignored the dilation", "swapped stride and dilation", "wrong slice: offset u·s", "wrong
# slice: swapped rows and columns", "missing zeros". Refuses cnnlib.autodiff's Tensor, Conv2D, numerical gradients,
# autograd libraries and the reference; tap_slices (which knows no dilation) may be imported.
EXERCISE = Exercise("taps_backward", "check_taps_backward", "backward of the dilated tap slices", "12_autodiff",
                    _reference, CASES, _draw, MISTAKES, allow={"cnnlib.autodiff": ("tap_slices",)},
                    shortcuts=_shortcut_list)
check_taps_backward = self_check(EXERCISE)
