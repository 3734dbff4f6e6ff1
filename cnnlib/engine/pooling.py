"""MaxPool2D and AvgPool2D, fast: the KH·KW taps of the windows, each compared or added over the whole batch at once.

Tap (u, v) is the strided view a[n, c, i·sh + u, j·sw + v] over every window (i, j). Max pooling keeps a running
maximum over the taps and the winning tap's number (first maximum in row-major order wins a tie, as in PyTorch);
backward writes dout into each tap where it won. The output, dx and the masks live in Memory (memory.py).
Timings behind the choices: benchmarks/NOTES.md, "Pooling".
"""

import numpy as np

from .conv import Cache
from .memory import memory_of


def _taps(layer, a, H_out, W_out):
    """The KH·KW strided views of a, one per window position (u, v) in row-major order, each (N, C, H_out, W_out)."""
    (KH, KW), (sh, sw) = layer.kernel_size, layer.stride
    return [a[:, :, u:u + (H_out - 1) * sh + 1:sh, v:v + (W_out - 1) * sw + 1:sw] for u in range(KH) for v in range(KW)]


def _overlapping(layer):
    """True when neighbouring windows share inputs (stride < kernel), so backward must add, not assign."""
    return any(s < k for s, k in zip(layer.stride, layer.kernel_size))


def _returned_dx(layer, x_shape, dtype):
    """The array for dx (N, C, H, W), zeroed unless the windows tile x exactly (then every entry is written)."""
    dx = memory_of(layer).returned("dx", x_shape, dtype)
    (KH, KW), H, W = layer.kernel_size, x_shape[2], x_shape[3]
    if layer.stride != layer.kernel_size or H % KH or W % KW:
        dx.fill(0)
    return dx


def maxpool2d_forward(layer, x):
    mem, (H_out, W_out) = memory_of(layer), layer.output_size(x.shape)
    taps = _taps(layer, x, H_out, W_out)
    out = mem.returned("out", taps[0].shape, x.dtype)
    np.copyto(out, taps[0])
    argmax = mem.workspace("argmax", out.shape, np.int8 if len(taps) <= 127 else np.int64)
    argmax.fill(0)
    wins, loses = mem.workspace("wins", out.shape, bool), mem.workspace("loses", out.shape, bool)
    tap = mem.workspace("tap", out.shape, x.dtype)
    for t in range(1, len(taps)):
        np.copyto(tap, taps[t])  # contiguous once: the two comparisons below then run vectorised (NOTES.md)
        np.greater(tap, out, out=wins)  # strict: on a tie the earlier tap keeps it (first max, row-major)
        np.maximum(out, tap, out=out)
        # argmax = t where tap t wins, as arithmetic (faster than copyto(where=) or putmask: NOTES.md)
        np.multiply(argmax, np.logical_not(wins, out=loses), out=argmax)
        np.add(argmax, wins.view(np.int8) * argmax.dtype.type(t), out=argmax)
    if np.isnan(out.sum()):  # np.maximum spread a NaN, but ">" never lets it win: argmax places it (first NaN wins)
        flat = layer._windows(x, H_out, W_out).reshape(*x.shape[:2], H_out, W_out, len(taps))
        argmax = flat.argmax(axis=-1)
        out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    layer.cache = Cache(x_shape=x.shape, argmax=argmax, dtype=x.dtype)
    return out


def maxpool2d_backward(layer, cache, dout, input_grad=True):
    H_out, W_out = dout.shape[2:]
    dx = _returned_dx(layer, cache["x_shape"], np.result_type(dout, cache["dtype"]))
    argmax, overlapping = cache["argmax"], _overlapping(layer)
    won = memory_of(layer).workspace("won", argmax.shape, bool)
    for t, tap in enumerate(_taps(layer, dx, H_out, W_out)):
        np.equal(argmax, t, out=won)
        if overlapping:
            tap += dout * won
        else:  # every input sits in at most one window: write dout · 1[won] straight into place
            np.multiply(dout, won, out=tap)
    if not overlapping:
        np.add(dx, 0.0, out=dx)  # a negative dout times 0 is -0.0; adding +0.0 makes it 0, as in PyTorch
    return dx


def avgpool2d_forward(layer, x):
    (KH, KW), (H_out, W_out) = layer.kernel_size, layer.output_size(x.shape)
    taps = _taps(layer, x, H_out, W_out)
    total = memory_of(layer).returned("out", taps[0].shape, x.dtype)
    np.copyto(total, taps[0])
    for tap in taps[1:]:
        total += tap
    layer.cache = Cache(x_shape=x.shape, dtype=x.dtype)
    return np.divide(total, KH * KW, out=total)


def avgpool2d_backward(layer, cache, dout, input_grad=True):
    KH, KW = layer.kernel_size
    dx = _returned_dx(layer, cache["x_shape"], np.result_type(dout, cache["dtype"]))
    share, overlapping = dout / (KH * KW), _overlapping(layer)
    for tap in _taps(layer, dx, *dout.shape[2:]):
        if overlapping:
            tap += share
        else:
            tap[...] = share
    return dx
