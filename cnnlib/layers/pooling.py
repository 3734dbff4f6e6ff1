"""Pooling: MaxPool2D and AvgPool2D, each with its naive loop reference."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._base import Layer, _pair


class _Pool2D(Layer):
    """Shared shape logic of MaxPool2D and AvgPool2D. x: (N, C, H, W) -> (N, C, H_out, W_out),
    H_out = 1 + (H - KH) // sh. Rows or columns that do not fill a whole window are dropped (floor mode)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size", self.name)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", self.name)

    def __repr__(self):
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride})"

    def _prepare(self, x):
        x = self._as_input(x)
        self._expect_ndim(x, 4, "(N, C, H, W)")
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        H, W = x.shape[2:]
        if KH > H or KW > W:
            raise ValueError(f"{self.name} window {KH}x{KW} is larger than the input {H}x{W} (x has shape {x.shape})")
        return x, (H - KH) // sh + 1, (W - KW) // sw + 1

    def _windows(self, x, H_out, W_out):
        """(N, C, H_out, W_out, KH, KW) view of the pooling windows."""
        sh, sw = self.stride
        return sliding_window_view(x, self.kernel_size, axis=(2, 3))[:, :, ::sh, ::sw][:, :, :H_out, :W_out]

    def _tap_slices(self, m, k, H_out, W_out):
        sh, sw = self.stride
        return (slice(None), slice(None), slice(m, m + (H_out - 1) * sh + 1, sh), slice(k, k + (W_out - 1) * sw + 1, sw))

    def _taps(self, a, H_out, W_out):
        """The KH·KW strided views of a, one per window position (m, k) in row-major order, each (N, C, H_out, W_out):
        tap (m, k) holds a[n, c, i·sh + m, j·sw + k] for every window (i, j)."""
        KH, KW = self.kernel_size
        return [a[self._tap_slices(m, k, H_out, W_out)] for m in range(KH) for k in range(KW)]

    def _overlapping(self):
        """True when neighbouring windows share inputs (stride < kernel), so backward must add, not assign."""
        return any(s < k for s, k in zip(self.stride, self.kernel_size))

    def _returned_dx(self, x_shape, dtype):
        """The array for dx (N, C, H, W), zeroed unless the windows tile x exactly (then every entry is written)."""
        dx = self._returned("dx", x_shape, dtype)
        (KH, KW), H, W = self.kernel_size, x_shape[2], x_shape[3]
        if self.stride != self.kernel_size or H % KH or W % KW:
            dx.fill(0)
        return dx

    def _window_slices(self, i, j):
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        return slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW)


class MaxPool2D(_Pool2D):
    """Max pooling. x: (N, C, H, W) -> (N, C, H_out, W_out).

    Backward routes each dout entry to the input that won its window (an argmax mask). On a tie, the first
    maximum in the window's row-major order gets the whole gradient, as in PyTorch. Overlapping windows
    (stride < kernel) add up.
    """

    def forward(self, x):
        x, H_out, W_out = self._prepare(x)
        taps = self._taps(x, H_out, W_out)
        # a running maximum over the KH·KW taps, each compared over the whole batch at once; argmax, the
        # comparison mask and the tap are workspaces (kept between calls), out is the caller's own array
        out = self._returned("out", taps[0].shape, x.dtype)
        np.copyto(out, taps[0])
        argmax = self._workspace("argmax", out.shape, np.int8 if len(taps) <= 127 else np.int64)
        argmax.fill(0)
        wins, loses = self._workspace("wins", out.shape, bool), self._workspace("loses", out.shape, bool)
        tap = self._workspace("tap", out.shape, x.dtype)
        for t in range(1, len(taps)):
            # a tap steps sw elements along each row of x: copied once into a contiguous (N, C, H_out, W_out)
            # buffer, the two comparisons below run vectorised (about 3x faster than reading the strided view twice)
            np.copyto(tap, taps[t])
            np.greater(tap, out, out=wins)  # strict: on a tie the earlier tap keeps it (first max, row-major)
            np.maximum(out, tap, out=out)
            # argmax = t where tap t wins, as arithmetic (several times faster than copyto(where=) or putmask here)
            np.multiply(argmax, np.logical_not(wins, out=loses), out=argmax)
            np.add(argmax, wins.view(np.int8) * argmax.dtype.type(t), out=argmax)
        if np.isnan(out.sum()):  # np.maximum spread a NaN, but ">" never lets it win: argmax places it (first NaN wins)
            KH, KW = self.kernel_size
            flat = self._windows(x, H_out, W_out).reshape(*x.shape[:2], H_out, W_out, KH * KW)
            argmax = flat.argmax(axis=-1)
            out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
        self.cache = {"x_shape": x.shape, "argmax": argmax, "dtype": x.dtype}
        return self._remember(out)

    def backward(self, dout):
        """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W)."""
        cache, dout = self._check_dout(dout)
        H_out, W_out = dout.shape[2:]
        dx = self._returned_dx(cache["x_shape"], np.result_type(dout, cache["dtype"]))
        argmax, overlapping = cache["argmax"], self._overlapping()
        won = self._workspace("won", argmax.shape, bool)
        for t, tap in enumerate(self._taps(dx, H_out, W_out)):
            np.equal(argmax, t, out=won)
            if overlapping:
                tap += dout * won
            else:  # every input sits in at most one window: write dout · 1[won] straight into place
                np.multiply(dout, won, out=tap)
        if not overlapping:
            np.add(dx, 0.0, out=dx)  # a negative dout times 0 is -0.0; adding +0.0 makes it 0, as in PyTorch
        return dx

    def forward_naive(self, x):
        """Loop over windows; remember the (row, col) of the first maximum of each."""
        x, H_out, W_out = self._prepare(x)
        N, C = x.shape[:2]
        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        winners = np.zeros((N, C, H_out, W_out, 2), dtype=np.int64)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        rows, cols = self._window_slices(i, j)
                        window = x[n, c, rows, cols]
                        best = (0, 0)
                        for r in range(window.shape[0]):
                            for s in range(window.shape[1]):
                                if window[r, s] > window[best]:  # strict: a later tie never wins
                                    best = (r, s)
                        out[n, c, i, j] = window[best]
                        winners[n, c, i, j] = (rows.start + best[0], cols.start + best[1])
        # the fast backward reads the winner as a flat index inside its window
        (sh, sw), KW = self.stride, self.kernel_size[1]
        argmax = (winners[..., 0] - np.arange(H_out)[:, None] * sh) * KW + (winners[..., 1] - np.arange(W_out) * sw)
        self.cache = {"x_shape": x.shape, "winners": winners, "argmax": argmax, "dtype": x.dtype}
        return self._remember(out)

    def backward_naive(self, dout):
        """dx[winner of window (i, j)] += dout[i, j]."""
        cache, dout = self._check_dout(dout)
        if "winners" not in cache:
            raise RuntimeError("MaxPool2D.backward_naive needs forward_naive to have run first")
        dx = np.zeros(cache["x_shape"], dtype=np.result_type(dout, cache["dtype"]))
        N, C, H_out, W_out = dout.shape
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        r, s = cache["winners"][n, c, i, j]
                        dx[n, c, r, s] += dout[n, c, i, j]
        return dx


class AvgPool2D(_Pool2D):
    """Average pooling. x: (N, C, H, W) -> (N, C, H_out, W_out).

    Backward spreads each dout entry evenly: every input in the window gets dout / (KH·KW).
    Overlapping windows (stride < kernel) add up.
    """

    def forward(self, x):
        x, H_out, W_out = self._prepare(x)
        KH, KW = self.kernel_size
        taps = self._taps(x, H_out, W_out)
        total = self._returned("out", taps[0].shape, x.dtype)
        np.copyto(total, taps[0])
        for tap in taps[1:]:
            total += tap
        self.cache = {"x_shape": x.shape, "dtype": x.dtype}
        return self._remember(np.divide(total, KH * KW, out=total))

    def backward(self, dout):
        cache, dout = self._check_dout(dout)
        KH, KW = self.kernel_size
        H_out, W_out = dout.shape[2:]
        dx = self._returned_dx(cache["x_shape"], np.result_type(dout, cache["dtype"]))
        share = dout / (KH * KW)
        overlapping = self._overlapping()
        for tap in self._taps(dx, H_out, W_out):
            if overlapping:
                tap += share
            else:
                tap[...] = share
        return dx

    def forward_naive(self, x):
        x, H_out, W_out = self._prepare(x)
        N, C = x.shape[:2]
        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        rows, cols = self._window_slices(i, j)
                        out[n, c, i, j] = x[n, c, rows, cols].mean()
        self.cache = {"x_shape": x.shape, "dtype": x.dtype}
        return self._remember(out)

    def backward_naive(self, dout):
        cache, dout = self._check_dout(dout)
        KH, KW = self.kernel_size
        dx = np.zeros(cache["x_shape"], dtype=np.result_type(dout, cache["dtype"]))
        N, C, H_out, W_out = dout.shape
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        rows, cols = self._window_slices(i, j)
                        dx[n, c, rows, cols] += dout[n, c, i, j] / (KH * KW)
        return dx
