"""Conv2D: the convolution layer as im2col and one matrix product, with its naive loop reference and notebook 05's
recipe for the backward pass (``backward_recipe``)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import engine
from ..signal import insert_zeros, rot180
from ._base import Layer
from ._checks import _float_dtype, _four, _pair, _positive_int


class Conv2D(Layer):
    """2-D convolution layer. Like every deep-learning framework, it computes a cross-correlation.

    x: (N, C, H, W)  ->  z: (N, F, H_out, W_out)
    params["W"]: (F, C, KH, KW), params["b"]: (F,)

        z[n, f, i, j] = b[f] + Σ_{c=0}^{C−1} Σ_{u=0}^{KH−1} Σ_{v=0}^{KW−1} x_pad[n, c, i·sh + u·dh, j·sw + v·dw] · W[f, c, u, v]
        H_out = 1 + (H + pad_top + pad_bottom − dh·(KH − 1) − 1) // sh      (W_out likewise)

    kernel_size, stride and dilation: an int or a pair. padding: an int, a pair, or "valid" (0), "same"
    (output as large as the input; stride 1 only; an odd total is split with the extra row/column at the
    bottom/right, as PyTorch does) or "full" (dh·(KH − 1) on every side).

    As matrices (notebook 10): cols = im2col(x_pad) has one row per kernel tap (c, u, v) and one column per output
    pixel (n, i, j), so with W as an (F, C·KH·KW) matrix, z = W · cols + b. Backward, with δ = ∂L/∂z as an
    (F, N·H_out·W_out) matrix whose columns are in the order of cols (notebooks 04, 05 and 10):

        ∂L/∂b = Σ_columns δ          ∂L/∂W = δ · colsᵀ          ∂L/∂x = crop(col2im(Wᵀ · δ))

    col2im adds every entry of Wᵀ·δ back onto the x_pad pixel that its entry of cols was copied from, and crop
    removes the padding. Channel by channel this is notebook 05's recipe (``backward_recipe`` below, the reference
    the tests hold this layer to), for stride s and dilation d:

        ∂L/∂x[n, c] = crop( Σ_{f=0}^{F−1} insert_zeros(δ[n, f], s) * insert_zeros(W[f, c], d) )      ("full")

    a full convolution, i.e. the full correlation with rot180 of the dilated kernel, with the roles of the input and
    output channels swapped. ``forward_naive`` / ``backward_naive`` are the sums as loops.

    ``use_engine`` (True by default): forward and backward run in cnnlib.engine, which computes the same values
    faster (cnnlib/engine/__init__.py); set it to False to run the lines below.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, *,
                 rng=None, dtype=np.float64):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2D")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2D")
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2D")
        self.stride = _pair(stride, "stride", "Conv2D")
        self.dilation = _pair(dilation, "dilation", "Conv2D")
        self.dtype = _float_dtype(dtype, "Conv2D")
        self.padding = padding
        self.pad = self._resolve_padding(padding)  # (top, bottom, left, right)

        rng = np.random.default_rng() if rng is None else rng
        KH, KW = self.kernel_size
        fan_in = self.in_channels * KH * KW
        bound = np.sqrt(6.0 / fan_in)  # He-uniform: keeps the variance of ReLU activations steady
        W = rng.uniform(-bound, bound, size=(self.out_channels, self.in_channels, KH, KW))
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(self.out_channels, dtype=self.dtype)}

    def _resolve_padding(self, padding):
        (KH, KW), (dh, dw) = self.kernel_size, self.dilation
        if isinstance(padding, str):
            if padding == "valid":
                return (0, 0, 0, 0)
            if padding == "full":
                return (dh * (KH - 1),) * 2 + (dw * (KW - 1),) * 2
            if padding == "same":
                if self.stride != (1, 1):
                    raise ValueError(f"Conv2D padding='same' needs stride 1, got stride={self.stride}")
                th, tw = dh * (KH - 1), dw * (KW - 1)
                return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
            raise ValueError(f"Conv2D expected padding to be an int, a pair, 'valid', 'same' or 'full', got {padding!r}")
        if not np.isscalar(padding) and len(tuple(padding)) != 2:
            raise ValueError(f"Conv2D expected padding as an int or a pair, got {padding!r}")
        return _four(padding, "Conv2D")

    def __repr__(self):
        return (f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation})")

    # ---- shapes and the pieces of the equations -----------------------------------------------------------
    def output_shape(self, input_shape):
        """(N, C, H, W) -> (N, F, H_out, W_out), or a ValueError if the kernel does not fit."""
        N, C, H, W = input_shape
        top, bottom, left, right = self.pad
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        Hp, Wp = H + top + bottom, W + left + right
        eh, ew = dh * (KH - 1) + 1, dw * (KW - 1) + 1  # the kernel's footprint once dilated
        if eh > Hp or ew > Wp:
            raise ValueError(
                f"Conv2D kernel {KH}x{KW} (dilated footprint {eh}x{ew}) is larger than the padded input "
                f"{Hp}x{Wp} (x has H, W = {H}, {W}, padding {self.pad})"
            )
        return N, self.out_channels, (Hp - eh) // sh + 1, (Wp - ew) // sw + 1

    def _check_input(self, x):
        """-> (x as a float array of this layer's dtype, the output shape), or a clear error."""
        x = self._as_input(x)
        C = self.in_channels
        self._expect_ndim(x, 4, f"(N, {C}, H, W)")
        if x.shape[1] != C:
            raise ValueError(f"Conv2D expected x of shape (N, {C}, H, W), got {x.shape}")
        return x, self.output_shape(x.shape)

    def _pad(self, x):
        """x (N, C, H, W) -> x_pad (N, C, H + top + bottom, W + left + right), zeros around x."""
        top, bottom, left, right = self.pad
        return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))

    def _crop(self, dxp, x_shape):
        """∂L/∂x_pad -> ∂L/∂x: the padding is not part of x, so its gradient is dropped."""
        top, _, left, _ = self.pad
        return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]

    def _windows(self, xp, H_out, W_out):
        """A strided view of xp: (N, C, H_out, W_out, KH, KW), entry [n, c, i, j, u, v] = x_pad[n, c, i·sh+u·dh, j·sw+v·dw]."""
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        v = sliding_window_view(xp, (dh * (KH - 1) + 1, dw * (KW - 1) + 1), axis=(2, 3))
        return v[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :H_out, :W_out]

    def _tap(self, u, v, H_out, W_out):
        """Index of the x_pad entries that kernel tap (u, v) touches, over all output positions (i, j)."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return (slice(None), slice(None), slice(u * dh, u * dh + (H_out - 1) * sh + 1, sh),
                slice(v * dw, v * dw + (W_out - 1) * sw + 1, sw))

    def _im2col(self, xp, H_out, W_out):
        """x_pad (N, C, H_pad, W_pad) -> cols (C·KH·KW, N·H_out·W_out): cols[(c, u, v), (n, i, j)] = window entry."""
        return self._windows(xp, H_out, W_out).transpose(1, 4, 5, 0, 2, 3).reshape(-1, xp.shape[0] * H_out * W_out)

    def _col2im(self, dcols, xp_shape, H_out, W_out):
        """The backward of _im2col: dcols (C·KH·KW, N·H_out·W_out) -> ∂L/∂x_pad (N, C, H_pad, W_pad). A pixel copied
        into several columns gets the sum of their gradients: one strided add per kernel tap (u, v)."""
        N, C = xp_shape[:2]
        KH, KW = self.kernel_size
        dcols = dcols.reshape(C, KH, KW, N, H_out, W_out).transpose(3, 0, 4, 5, 1, 2)  # (N, C, H_out, W_out, KH, KW)
        dxp = np.zeros(xp_shape, dtype=dcols.dtype)
        for u in range(KH):
            for v in range(KW):
                dxp[self._tap(u, v, H_out, W_out)] += dcols[..., u, v]
        return dxp

    # ---- forward and backward: the equations of the docstring ----------------------------------------------
    def forward(self, x):
        """x: (N, C, H, W) -> z: (N, F, H_out, W_out)."""
        x, (N, F, H_out, W_out) = self._check_input(x)
        if engine.runs(self):  # the same z, computed faster by cnnlib.engine
            return self._remember(engine.forward(self, x))
        xp = self._pad(x)
        cols = self._im2col(xp, H_out, W_out)  # (C·KH·KW, N·H_out·W_out)
        z = self.params["W"].reshape(F, -1) @ cols + self.params["b"][:, None]  # one product: (F, N·H_out·W_out)
        self.cache = {"x_shape": x.shape, "xp": xp, "cols": cols}
        return self._remember(z.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3))

    def backward(self, dout):
        """dout = δ: (N, F, H_out, W_out) -> ∂L/∂x: (N, C, H, W); fills grads["W"] (F, C, KH, KW), grads["b"] (F,)."""
        return self._backward(dout, input_grad=True)

    def backward_params(self, dout):
        """Only the grads of ``backward``, without ∂L/∂x (for a first layer, whose input is data). -> None."""
        self._backward(dout, input_grad=False)

    def _backward(self, dout, input_grad):
        cache, dout = self._check_dout(dout)
        if isinstance(cache, engine.Cache):  # forward ran in the engine: so does backward
            return engine.backward(self, cache, dout, input_grad)
        N, F, H_out, W_out = dout.shape
        W, xp = self.params["W"], cache["xp"]
        cols = cache["cols"] if "cols" in cache else self._im2col(xp, H_out, W_out)  # forward_naive kept no cols
        delta = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N·H_out·W_out), columns in the order of cols
        self.grads = {"W": (delta @ cols.T).reshape(W.shape), "b": delta.sum(axis=1)}
        if not input_grad:
            return None
        dcols = W.reshape(F, -1).T @ delta  # (C·KH·KW, N·H_out·W_out)
        return self._crop(self._col2im(dcols, xp.shape, H_out, W_out), cache["x_shape"])

    # ---- naive reference: the equations as loops ----------------------------------------------------
    def forward_naive(self, x):
        """Same result as ``forward``, one output pixel at a time."""
        x, (N, F, H_out, W_out) = self._check_input(x)
        xp, W, b = self._pad(x), self.params["W"], self.params["b"]
        z = np.zeros((N, F, H_out, W_out), dtype=self.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        z[n, f, i, j] = np.sum(xp[(n, slice(None)) + self._window(i, j)] * W[f]) + b[f]
        self.cache = {"x_shape": x.shape, "xp": xp}
        return self._remember(z)

    def backward_naive(self, dout):
        """Same result as ``backward``: each δ[n, f, i, j] adds its share to dW, db and dx."""
        cache, dout = self._check_dout(dout)
        N, F, H_out, W_out = dout.shape
        W, xp = self.params["W"], cache["xp"]  # x_pad as forward kept it
        dW, db, dxp = np.zeros_like(W), np.zeros_like(self.params["b"]), np.zeros(xp.shape, dtype=self.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = (n, slice(None)) + self._window(i, j)
                        d = dout[n, f, i, j]
                        db[f] += d                  # ∂z/∂b = 1
                        dW[f] += d * xp[window]     # ∂z/∂W = the input window
                        dxp[window] += d * W[f]     # ∂z/∂x = the weight that touched it
        self.grads = {"W": dW, "b": db}
        return self._crop(dxp, cache["x_shape"])

    def _columns(self, x, xp=None):
        """The engine's columns matrix for x: -> (cols, x_pad, width). Kept for notebook 10, which prints its size."""
        return engine.conv.engine_of(self).columns(x, xp)

    def _window(self, i, j):
        """The rows and columns of x_pad that output (i, j) reads: KH×KW entries, dilation apart."""
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        return slice(i * sh, i * sh + dh * (KH - 1) + 1, dh), slice(j * sw, j * sw + dw * (KW - 1) + 1, dw)


def backward_recipe(x, W, dout, stride=1, pad=(0, 0, 0, 0), dilation=1, *, optimize=False):
    """The backward pass of a multi-channel Conv2D by notebook 05's recipe: -> (dx, dW, db).

    x (N, C, H, W), W (F, C, KH, KW), dout = δ (N, F, H_out, W_out); stride s and dilation d as ints or pairs,
    pad (top, bottom, left, right).

        ∂L/∂b[f]       = Σ_{n,i,j} δ[n, f, i, j]
        ∂L/∂W[f, c]    = (x_pad[n, c] ⋆ insert_zeros(δ[n, f], s))[::d, ::d], summed over n
        ∂L/∂x_pad[n, c] = Σ_f  full_pad(insert_zeros(δ[n, f], s)) ⋆ rot180(insert_zeros(W[f, c], d))

    Zero insertion spreads δ back onto the stride-1 grid; full padding (the dilated kernel's size − 1 on every side,
    plus zero rows/columns at the bottom/right that no window reached) makes the correlation "full"; rot180 turns
    the kernel; and the sum runs over the output channels f, so W[f, c] now maps channel f back to channel c. The
    crop of the padding gives ∂L/∂x. optimize: passed to np.einsum (False: NumPy's own summation loop).
    """
    x, W, dout = np.asarray(x), np.asarray(W), np.asarray(dout)
    (sh, sw), (dh, dw) = _pair(stride, "stride", "backward_recipe"), _pair(dilation, "dilation", "backward_recipe")
    top, bottom, left, right = _four(pad, "backward_recipe")
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    W_d = insert_zeros(W, (dh, dw))  # the dilated kernel: (F, C, dh·(KH − 1) + 1, dw·(KW − 1) + 1)
    eh, ew = W_d.shape[2:]
    windows = sliding_window_view(xp, (eh, ew), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H_out, W_out, KH, KW)
    if windows.shape[2:4] != dout.shape[2:]:
        raise ValueError(f"backward_recipe expected dout of shape (N, F, {windows.shape[2]}, {windows.shape[3]}), "
                         f"got {dout.shape}")
    db = dout.sum(axis=(0, 2, 3))
    dW = np.einsum("nfij,ncijuv->fcuv", dout, windows, optimize=optimize)
    spread = insert_zeros(dout, (sh, sw))
    extra_h, extra_w = xp.shape[2] - (spread.shape[2] + eh - 1), xp.shape[3] - (spread.shape[3] + ew - 1)
    full = np.pad(spread, ((0, 0), (0, 0), (eh - 1, eh - 1 + extra_h), (ew - 1, ew - 1 + extra_w)))
    dwindows = sliding_window_view(full, (eh, ew), axis=(2, 3))  # (N, F, H_pad, W_pad, eh, ew)
    dxp = np.einsum("nfijuv,fcuv->ncij", dwindows, rot180(W_d), optimize=optimize)  # Σ over f: channels swapped
    return dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]], dW, db
