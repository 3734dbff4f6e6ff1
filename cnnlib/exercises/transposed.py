"""Checker for the exercise of notebook 11: a transposed convolution from zero insertion and a full correlation.

The learner writes ``fn(x, W, stride, padding) -> y`` for one channel: x (H, W_in), W (KH, KW), ints stride s >= 1
and padding p >= 0. The right answer, the forward pass of ``ConvTranspose2D(1, 1, (KH, KW), s, p)``, is

    y = crop_p( correlate2d(insert_zeros(x, s), rot180(W), "full") )       crop_p: drop p rows/columns per side

of shape ((H - 1)·s - 2p + KH, (W_in - 1)·s - 2p + KW). The cases use non-symmetric, non-square kernels and a
stride >= 2, so that each mistake below gives an answer of its own.
"""

import numpy as np

from ..signal import correlate2d, insert_zeros, rot180
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_conv_transpose_from_zeros"]


def _crop(a, p):
    return a[p:a.shape[0] - p, p:a.shape[1] - p] if p else a


def _reference(x, W, stride, padding):
    from ..layers import ConvTranspose2D

    layer = ConvTranspose2D(1, 1, W.shape, stride=stride, padding=padding, rng=np.random.default_rng(0))
    layer.params["W"] = W[None, None].astype(np.float64)
    return layer.forward(x[None, None].astype(np.float64))[0, 0]


def _variant(x, W, s, p, *, zeros=None, kernel=None, mode="full", crop=None):
    """The recipe with one step changed: ``zeros`` (the stride used for zero insertion), ``kernel``, ``mode``,
    ``crop`` (a function applied instead of the symmetric crop)."""
    spread = insert_zeros(x, s if zeros is None else zeros)
    k = rot180(W) if kernel is None else kernel
    if mode == "valid" and (k.shape[0] > spread.shape[0] or k.shape[1] > spread.shape[1]):
        raise ValueError("kernel larger than the input")  # this mistake cannot even run here
    full = correlate2d(spread, k, mode)
    return crop(full) if crop is not None else _crop(full, p)


MISTAKES = [
    Mistake("forgot the rotation",
            "you correlated with W itself. Each input pixel stamps W onto the output, which, read as a correlation, "
            "is the kernel turned by 180°: correlate with rot180(W), as in the input gradient of notebook 04.",
            lambda x, W, s, p: _variant(x, W, s, p, kernel=np.asarray(W))),
    Mistake("forgot zero insertion",
            "you correlated x itself. With stride s the kernel copies land s pixels apart: put s - 1 zeros between "
            "neighbouring entries of x first (insert_zeros(x, s)).",
            lambda x, W, s, p: _variant(x, W, s, p, zeros=1)),
    Mistake("wrong number of zeros",
            "you put s zeros between entries. Stride s means neighbouring entries end up s pixels apart, so there "
            "are s - 1 zeros between them: insert_zeros(x, s).",
            lambda x, W, s, p: _variant(x, W, s, p, zeros=s + 1)),
    Mistake("wrong number of zeros",
            "you put s - 2 zeros between entries. Stride s means neighbouring entries end up s pixels apart, so "
            "there are s - 1 zeros between them: insert_zeros(x, s).",
            lambda x, W, s, p: _variant(x, W, s, p, zeros=s - 1) if s > 2 else None),
    Mistake("valid instead of full",
            "you used mode 'valid'. Every entry of the spread x stamps a whole kernel, partly outside its span: "
            "that is the 'full' correlation (zero-pad by KH - 1, KW - 1 on every side).",
            lambda x, W, s, p: _variant(x, W, s, p, mode="valid")),
    Mistake("did not crop the padding",
            "your result still has the padding rows and columns. A padding p in the convolution this layer "
            "transposes means p rows and columns are cut off on EVERY side of the full result.",
            lambda x, W, s, p: _variant(x, W, s, p, crop=lambda a: a) if p else None),
    Mistake("cropped one side only",
            "you cut 2p rows and columns at the bottom/right (or top/left) only. Padding was added on every side, "
            "so crop p from each side: a[p:-p, p:-p].",
            lambda x, W, s, p: _variant(x, W, s, p, crop=lambda a: a[2 * p:, 2 * p:]) if p else None),
    Mistake("cropped one side only",
            "you cut 2p rows and columns at the bottom/right (or top/left) only. Padding was added on every side, "
            "so crop p from each side: a[p:-p, p:-p].",
            lambda x, W, s, p: _variant(x, W, s, p, crop=lambda a: a[:a.shape[0] - 2 * p, :a.shape[1] - 2 * p])
            if p else None),
]


def _cases(seed, configs):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(xs), rng.standard_normal(ks), s, p) for xs, ks, s, p in configs]


CASES = _cases(1010, [((3, 3), (3, 3), 2, 0),     # K = 3, s = 2: the checkerboard case of the notebook
                      ((3, 4), (2, 3), 2, 0),     # non-square kernel and input
                      ((4, 3), (4, 4), 2, 1),     # padding: the crop matters
                      ((3, 3), (3, 2), 3, 1)])    # stride 3: wrong zero counts differ both ways


def _draw(rng):
    """New cases at grading time: stride 2 and 3 with non-square kernels, one case with padding, one stride 1."""
    configs = []
    for s, p in ((2, 0), (3, 1), (int(rng.integers(1, 3)), int(rng.integers(0, 2)))):
        KH, KW = (int(v) for v in rng.choice([2, 3, 4, 5], size=2, replace=False))
        p = min(p, (min(KH, KW) - 1) // 2 + 1)
        configs.append(((int(rng.integers(2, 5)), int(rng.integers(2, 5))), (KH, KW), s, p))
    return _cases(int(rng.integers(2**31)), configs)


def _shortcut_list():
    from ..layers import Conv2D, ConvTranspose2D

    transposed = Shortcut("`ConvTranspose2D`", targets=(ConvTranspose2D.forward, ConvTranspose2D.forward_naive),
                          names=("ConvTranspose2D", "conv_transpose2d", "conv_transpose"),
                          why="is the layer the exercise asks for; build it from zero insertion and a full correlation")
    return [transposed, _shortcuts.layer(Conv2D), _shortcuts.numerical()]


def _skip_none(fn):
    """A mistake that does not apply to a case (returns None) raises, so the checker skips it for that case."""
    def variant(*args):
        out = fn(*args)
        if out is None:
            raise ValueError("this mistake does not apply here")
        return out
    return variant


# Check ``conv_transpose_from_zeros(x, W, stride, padding) -> y``: one channel's transposed convolution,
# (H, W_in) -> (H_out, W_out). Names: "forgot the rotation", "forgot zero insertion", "wrong number of zeros",
# "valid instead of full", "did not crop the padding", "cropped one side only". Refuses ConvTranspose2D, Conv2D
# (its backward is this very operation), numerical gradients, autograd libraries and the reference.
EXERCISE = Exercise("conv_transpose_from_zeros", "check_conv_transpose_from_zeros",
                    "transposed convolution from zero insertion", "11_transposed_convolution", _reference, CASES,
                    _draw, [Mistake(m.name, m.explain, _skip_none(m.fn)) for m in MISTAKES],
                    allow={"cnnlib.signal": ("correlate2d", "insert_zeros", "pad2d", "rot180")},
                    shortcuts=_shortcut_list)
check_conv_transpose_from_zeros = self_check(EXERCISE)
