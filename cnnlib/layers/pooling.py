"""Pooling: MaxPool2D and AvgPool2D, each with its naive loop reference."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import engine
from ._base import Layer
from ._checks import _pair


class _Pool2D(Layer):
    """Shared shape logic of MaxPool2D and AvgPool2D. x: (N, C, H, W) -> (N, C, H_out, W_out),
    H_out = 1 + (H − KH) // sh. Rows or columns that do not fill a whole window are dropped (floor mode)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size", self.name)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", self.name)

    def __repr__(self):
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride})"

    def output_size(self, x_shape):
        """(N, C, H, W) -> (H_out, W_out)."""
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        return (x_shape[2] - KH) // sh + 1, (x_shape[3] - KW) // sw + 1

    def _prepare(self, x):
        x = self._as_input(x)
        self._expect_ndim(x, 4, "(N, C, H, W)")
        (KH, KW), (H, W) = self.kernel_size, x.shape[2:]
        if KH > H or KW > W:
            raise ValueError(f"{self.name} window {KH}x{KW} is larger than the input {H}x{W} (x has shape {x.shape})")
        return (x,) + self.output_size(x.shape)

    def _windows(self, x, H_out, W_out):
        """(N, C, H_out, W_out, KH, KW) view of the pooling windows: [n, c, i, j, u, v] = x[n, c, i·sh + u, j·sw + v]."""
        sh, sw = self.stride
        return sliding_window_view(x, self.kernel_size, axis=(2, 3))[:, :, ::sh, ::sw][:, :, :H_out, :W_out]

    def _window_slices(self, i, j):
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        return slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW)


class MaxPool2D(_Pool2D):
    """Max pooling. x: (N, C, H, W) -> (N, C, H_out, W_out), out[n, c, i, j] = max of window (i, j).

    Backward (δ = ∂L/∂out, the layer has no z): each δ[n, c, i, j] goes to the input that won its window, the
    others get 0. On a tie the first maximum in the window's row-major order gets it all, as in PyTorch (and so does
    a NaN). Overlapping windows (stride < kernel) add up.
    """

    def forward(self, x):
        x, H_out, W_out = self._prepare(x)
        if engine.runs(self):  # the same output, computed faster by cnnlib.engine
            return self._remember(engine.forward(self, x))
        N, C = x.shape[:2]
        windows = self._windows(x, H_out, W_out).reshape(N, C, H_out, W_out, -1)  # (N, C, H_out, W_out, KH·KW)
        argmax = windows.argmax(axis=-1)  # the winner's place in its window, row-major: u·KW + v
        self.cache = {"x_shape": x.shape, "argmax": argmax, "dtype": x.dtype}
        return self._remember(np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0])

    def backward(self, dout):
        """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W)."""
        cache, dout = self._check_dout(dout)
        if isinstance(cache, engine.Cache):  # forward ran in the engine: so does backward
            return engine.backward(self, cache, dout)
        (sh, sw), KW = self.stride, self.kernel_size[1]
        N, C, H_out, W_out = dout.shape
        u, v = np.divmod(cache["argmax"], KW)  # the winner's row and column inside its window
        n, c, i, j = np.indices(dout.shape, sparse=True)
        dx = np.zeros(cache["x_shape"], dtype=np.result_type(dout, cache["dtype"]))
        np.add.at(dx, (n, c, i * sh + u, j * sw + v), dout)  # scatter: δ to the winner; overlapping windows add
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
        # backward reads the winner as a flat index inside its window
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
    """Average pooling. x: (N, C, H, W) -> (N, C, H_out, W_out), out[n, c, i, j] = mean of window (i, j).

    Backward (δ = ∂L/∂out): every input in window (i, j) gets δ[n, c, i, j] / (KH·KW). Overlapping windows
    (stride < kernel) add up.
    """

    def forward(self, x):
        x, H_out, W_out = self._prepare(x)
        if engine.runs(self):  # the same output, computed faster by cnnlib.engine
            return self._remember(engine.forward(self, x))
        self.cache = {"x_shape": x.shape, "dtype": x.dtype}
        return self._remember(self._windows(x, H_out, W_out).mean(axis=(-2, -1)))

    def backward(self, dout):
        cache, dout = self._check_dout(dout)
        if isinstance(cache, engine.Cache):  # forward ran in the engine: so does backward
            return engine.backward(self, cache, dout)
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        H_out, W_out = dout.shape[2:]
        dx = np.zeros(cache["x_shape"], dtype=np.result_type(dout, cache["dtype"]))
        for u in range(KH):  # window entry (u, v) of every window at once
            for v in range(KW):
                dx[:, :, u:u + (H_out - 1) * sh + 1:sh, v:v + (W_out - 1) * sw + 1:sw] += dout / (KH * KW)
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
