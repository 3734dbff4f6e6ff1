"""ConvTranspose2D: Conv2D run backwards. Its forward is Conv2D's input gradient, its input gradient is Conv2D's
forward, with the same weights; the code reuses Conv2D's im2col / col2im to show exactly that."""

import numpy as np

from .. import engine
from ._base import Layer
from ._checks import _float_dtype, _pair, _positive_int
from .conv import Conv2D

_NAME = "ConvTranspose2D"


def _non_negative_pair(v, name):
    """An int or a pair of ints >= 0 -> a pair, or raise naming ConvTranspose2D."""
    if isinstance(v, str):
        raise ValueError(f"{_NAME} expected {name} as an int or a pair of ints >= 0, got {v!r}")
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"{_NAME} expected {name} as an int or a pair of ints >= 0, got {v!r}")
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pair):
        raise TypeError(f"{_NAME} expected {name} to be an int or a pair of ints, got {v!r}")
    if min(pair) < 0:
        raise ValueError(f"{_NAME} expected {name} >= 0, got {v!r}")
    return int(pair[0]), int(pair[1])


class ConvTranspose2D(Layer):
    """Transposed 2-D convolution, as ``torch.nn.ConvTranspose2d``: every input pixel stamps a weighted copy of the
    kernel onto the output, so a stride s spreads the input out (upsampling) instead of skipping over it.

    x: (N, C, H, W)  ->  y: (N, F, H_out, W_out)        C = in_channels, F = out_channels
    params["W"]: (C, F, KH, KW) (input channels first, as in PyTorch), params["b"]: (F,)

        y_pad[n, f, i·sh + u·dh, j·sw + v·dw] += x[n, c, i, j] · W[c, f, u, v]      for every n, c, i, j, u, v
        y = y_pad without ``padding`` rows/columns on each side, + b[f]
        H_out = (H - 1)·sh - 2·ph + dh·(KH - 1) + output_padding_h + 1              (W_out likewise)

    kernel_size, stride, dilation: an int or a pair (>= 1). padding, output_padding: an int or a pair (>= 0).
    A Conv2D with stride s maps s different input heights to the same H; output_padding (extra rows/columns at
    the bottom/right) picks one of them, so it must be smaller than the stride or the dilation, as in PyTorch.

    The identity (notebooks 04 and 05): take T = Conv2D(F, C, kernel_size, stride, padding, dilation) with the
    same W. T maps (N, F, H_out, W_out) to (N, C, H, W) (plus, with output_padding, rows and columns past H, W),
    and
        ConvTranspose2D.forward(x) = T's ∂L/∂(input) for δ = x, + b        (scatter: col2im)
        ConvTranspose2D ∂L/∂x      = T.forward(δ) without its bias          (gather: im2col)
    In notebook 05's words, for one channel and dilation 1: y_pad = correlate2d(insert_zeros(x, s), rot180(W),
    "full"), then output_padding zero rows/columns at the bottom/right.

    Backward, with δ = dout zero-padded by ``padding`` to the size of y_pad:
        ∂L/∂x[n, c, i, j]  = Σ_{f,u,v} δ_pad[n, f, i·sh + u·dh, j·sw + v·dw] · W[c, f, u, v]
        ∂L/∂W[c, f, u, v]  = Σ_{n,i,j} x[n, c, i, j] · δ_pad[n, f, i·sh + u·dh, j·sw + v·dw]
        ∂L/∂b[f]           = Σ_{n,i,j} δ[n, f, i, j]

    ``use_engine`` (True by default): forward and backward run in cnnlib.engine, which computes the same values
    faster; set it to False to run the lines below.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, dilation=1, *,
                 rng=None, dtype=np.float64):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", _NAME)
        self.out_channels = _positive_int(out_channels, "out_channels", _NAME)
        self.kernel_size = _pair(kernel_size, "kernel_size", _NAME)
        self.stride = _pair(stride, "stride", _NAME)
        self.dilation = _pair(dilation, "dilation", _NAME)
        self.padding = _non_negative_pair(padding, "padding")
        self.output_padding = _non_negative_pair(output_padding, "output_padding")
        if any(o >= s and o >= d for o, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"{_NAME} expected output_padding smaller than the stride or the dilation (each axis), "
                             f"got output_padding={self.output_padding} with stride={self.stride}, "
                             f"dilation={self.dilation}")
        self.dtype = _float_dtype(dtype, _NAME)

        # T, the Conv2D this layer transposes. Only its geometry and im2col/col2im are used, with this layer's W,
        # so T holds no parameters of its own.
        self._conv = Conv2D(self.out_channels, self.in_channels, self.kernel_size, self.stride, self.padding,
                            self.dilation, rng=np.random.default_rng(0), dtype=self.dtype)
        self._conv.params = {}

        rng = np.random.default_rng() if rng is None else rng
        KH, KW = self.kernel_size
        # PyTorch's default scale for ConvTranspose2d: U(-1/√fan, 1/√fan), fan = W.shape[1]·KH·KW = F·KH·KW
        bound = 1.0 / np.sqrt(self.out_channels * KH * KW)
        W = rng.uniform(-bound, bound, size=(self.in_channels, self.out_channels, KH, KW))
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(self.out_channels, dtype=self.dtype)}

    def __repr__(self):
        return (f"{_NAME}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding}, "
                f"dilation={self.dilation})")

    # ---- shapes ---------------------------------------------------------------------------------------
    def output_shape(self, input_shape):
        """(N, C, H, W) -> (N, F, H_out, W_out), or a ValueError if the padding crops the output away."""
        N, C, H, W = input_shape
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        (ph, pw), (oh, ow) = self.padding, self.output_padding
        full_h = (H - 1) * sh + dh * (KH - 1) + oh + 1  # the height of y_pad, before padding is cropped
        full_w = (W - 1) * sw + dw * (KW - 1) + ow + 1
        H_out, W_out = full_h - 2 * ph, full_w - 2 * pw
        if H_out < 1 or W_out < 1:
            raise ValueError(f"{_NAME} expected an output of at least 1x1, got {H_out}x{W_out}: x has H, W = {H}, {W}, "
                             f"which gives {full_h}x{full_w} before padding={self.padding} is cropped from each side")
        return N, self.out_channels, H_out, W_out

    def _prepare(self, x):
        x = self._as_input(x)
        C = self.in_channels
        self._expect_ndim(x, 4, f"(N, {C}, H, W)")
        if x.shape[1] != C:
            raise ValueError(f"{_NAME} expected x of shape (N, {C}, H, W), got {x.shape}")
        if x.shape[2] == 0 or x.shape[3] == 0:
            raise ValueError(f"{_NAME} expected x with H, W >= 1, got shape {x.shape}")
        return x, self.output_shape(x.shape)

    def _geometry(self, y_shape):
        """Shapes seen from T, whose input has y's shape. -> (yp_shape, H_c, W_c): y_pad's shape (N, F, H_pad, W_pad)
        and T's output size H_c >= H, W_c >= W (larger by the output_padding rows and columns)."""
        N, F, H_out, W_out = y_shape
        top, bottom, left, right = self._conv.pad
        _, _, H_c, W_c = self._conv.output_shape(y_shape)
        return (N, F, H_out + top + bottom, W_out + left + right), H_c, W_c

    # ---- forward and backward: T's backward for the forward, T's forward for the backward ------------------
    def forward(self, x):
        """x: (N, C, H, W) -> y: (N, F, H_out, W_out)."""
        x, y_shape = self._prepare(x)
        if engine.runs(self):  # the same y, computed faster by cnnlib.engine
            return self._remember(engine.forward(self, x))
        T, W, b = self._conv, self.params["W"], self.params["b"]
        yp_shape, H_c, W_c = self._geometry(y_shape)
        delta = self._as_delta(x, H_c, W_c)  # x in the place of T's δ: (C, N·H_c·W_c)
        dcols = W.reshape(W.shape[0], -1).T @ delta  # T's Wᵀ·δ: (F·KH·KW, N·H_c·W_c)
        y = T._crop(T._col2im(dcols, yp_shape, H_c, W_c), y_shape)  # T's ∂L/∂(input): col2im, crop
        self.cache = {"x": x, "delta": delta}
        return self._remember(y + b[:, None, None])

    def backward(self, dout):
        """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W); fills grads["W"] (C, F, KH, KW) and grads["b"] (F,)."""
        cache, dout = self._check_dout(dout)
        if isinstance(cache, engine.Cache):  # forward ran in the engine: so does backward
            return engine.backward(self, cache, dout)
        x, T, W = cache["x"], self._conv, self.params["W"]
        N, C, H, W_in = x.shape
        yp_shape, H_c, W_c = self._geometry(dout.shape)
        cols = T._im2col(T._pad(dout), H_c, W_c)  # dout in the place of T's input: (F·KH·KW, N·H_c·W_c)
        # ∂L/∂x = T.forward(dout) without bias; T's rows/columns past H, W (output_padding) are not part of x
        dx = (W.reshape(C, -1) @ cols).reshape(C, N, H_c, W_c).transpose(1, 0, 2, 3)[:, :, :H, :W_in]
        delta = cache["delta"] if "delta" in cache else self._as_delta(x, H_c, W_c)  # forward_naive kept no δ
        # ∂L/∂W = T's ∂L/∂W with x as its δ and dout as its input: one product
        self.grads = {"W": (delta @ cols.T).reshape(W.shape), "b": dout.sum(axis=(0, 2, 3))}
        return dx

    @staticmethod
    def _as_delta(x, H_c, W_c):
        """x (N, C, H, W) laid out as T's δ: (C, N·H_c·W_c), zeros in the rows/columns past H, W."""
        N, C, H, W = x.shape
        delta = np.zeros((C, N, H_c, W_c), dtype=x.dtype)
        delta[:, :, :H, :W] = x.transpose(1, 0, 2, 3)
        return delta.reshape(C, -1)

    # ---- naive reference: the equations as loops ------------------------------------------------------
    def _window(self, i, j):
        """Rows and columns of y_pad that x[:, :, i, j] stamps the kernel onto."""
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        return (slice(i * sh, i * sh + dh * (KH - 1) + 1, dh),
                slice(j * sw, j * sw + dw * (KW - 1) + 1, dw))

    def forward_naive(self, x):
        """Same result as ``forward``, one input pixel at a time: y_pad[window of (i, j)] += x[n, c, i, j] · W[c]."""
        x, (N, F, H_out, W_out) = self._prepare(x)
        (ph, pw), W, b = self.padding, self.params["W"], self.params["b"]
        yp = np.zeros((N, F, H_out + 2 * ph, W_out + 2 * pw), dtype=self.dtype)
        for n in range(N):
            for c in range(self.in_channels):
                for i in range(x.shape[2]):
                    for j in range(x.shape[3]):
                        rows, cols = self._window(i, j)
                        yp[n, :, rows, cols] += x[n, c, i, j] * W[c]  # W[c]: (F, KH, KW)
        y = yp[:, :, ph:ph + H_out, pw:pw + W_out] + b[:, None, None]
        self.cache = {"x": x}
        return self._remember(y)

    def backward_naive(self, dout):
        """Same result as ``backward``: each x[n, c, i, j] reads δ back from the window it was stamped onto."""
        cache, dout = self._check_dout(dout)
        x, W = cache["x"], self.params["W"]
        N, F, H_out, W_out = dout.shape
        ph, pw = self.padding
        dp = np.zeros((N, F, H_out + 2 * ph, W_out + 2 * pw), dtype=self.dtype)  # δ_pad, the size of y_pad
        dp[:, :, ph:ph + H_out, pw:pw + W_out] = dout
        dx, dW = np.zeros_like(x), np.zeros_like(W)
        for n in range(N):
            for c in range(self.in_channels):
                for i in range(x.shape[2]):
                    for j in range(x.shape[3]):
                        rows, cols = self._window(i, j)
                        window = dp[n, :, rows, cols]          # (F, KH, KW)
                        dx[n, c, i, j] = np.sum(window * W[c])  # ∂y/∂x = the weights it was multiplied by
                        dW[c] += x[n, c, i, j] * window         # ∂y/∂W = the input pixel
        self.grads = {"W": dW, "b": dout.sum(axis=(0, 2, 3))}  # ∂y/∂b = 1 at every output pixel
        return dx
