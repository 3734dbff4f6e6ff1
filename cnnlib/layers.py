"""Layers with a forward and a backward pass, in the NCHW layout that PyTorch uses.

The protocol (every layer follows it):

- ``forward(x)`` returns the output and caches exactly what ``backward`` needs.
- ``backward(dout)`` takes ∂C/∂out (the shape ``forward`` returned), returns ∂C/∂x and fills ``self.grads``
  with ∂C/∂p for every ``p`` in ``self.params`` (same keys).
- Optimizers update ``self.params`` in place.

Letters used in every shape: N batch, C input channels, H, W input height and width, F output channels
(filters), KH, KW kernel size, H_out, W_out output size.

Layers that have a fast vectorised path also have ``forward_naive`` / ``backward_naive``: loops that read like the
equations in the notebooks. They fill the same cache and the same grads, and tests assert that the two agree.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .signal import _four, _pair

__all__ = [
    "Layer",
    "Conv2D",
    "Dense",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "MaxPool2D",
    "AvgPool2D",
    "Flatten",
]


class Layer:
    """Base class: holds ``params``, ``grads`` and the forward ``cache``; checks inputs with clear errors."""

    dtype = None  # layers with parameters compute in their own dtype; the others keep the input's float dtype

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.cache = None
        self._out_shape = None

    def __call__(self, x):
        return self.forward(x)

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"{self.name}()"

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    # ---- input checks shared by every layer -------------------------------------------------------------
    def _as_input(self, x):
        """Return x as a float array: integer or bool input (uint8 images) is cast, never wrapped."""
        x = np.asarray(x)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise TypeError(f"{self.name} expected a numeric array, got dtype {x.dtype}")
        if np.iscomplexobj(x):
            raise TypeError(f"{self.name} expected a real array, got dtype {x.dtype}")
        if self.dtype is not None:
            return x.astype(self.dtype, copy=False)
        if not np.issubdtype(x.dtype, np.floating):
            return x.astype(np.float64)
        return x

    def _expect_ndim(self, x, ndim, layout):
        if x.ndim != ndim:
            raise ValueError(f"{self.name} expected x of shape {layout} ({ndim} dimensions), got {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{self.name} got an empty batch: x has shape {x.shape}")

    def _remember(self, out):
        self._out_shape = out.shape
        return out

    def _cached(self):
        if self.cache is None:
            raise RuntimeError(f"{self.name}.backward called before forward: run forward(x) first")
        return self.cache

    def _check_dout(self, dout):
        cache = self._cached()
        dout = np.asarray(dout)
        if dout.shape != self._out_shape:
            raise ValueError(
                f"{self.name}.backward expected dout of shape {self._out_shape} (the shape forward returned), "
                f"got {dout.shape}"
            )
        if not np.issubdtype(dout.dtype, np.floating):
            dout = dout.astype(self.dtype or np.float64)
        elif self.dtype is not None:
            dout = dout.astype(self.dtype, copy=False)
        return cache, dout


def _positive_int(v, name, owner):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{owner} expected {name} to be an int, got {v!r}")
    if v < 1:
        raise ValueError(f"{owner} expected {name} >= 1, got {v}")
    return int(v)


def _float_dtype(dtype, owner):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner} expected dtype float32 or float64, got {dtype}")
    return dtype


# ================================================================================================ Conv2D
class Conv2D(Layer):
    """2-D convolution layer. Like every deep-learning framework, it computes a cross-correlation.

    x: (N, C, H, W)  ->  z: (N, F, H_out, W_out)
    params["W"]: (F, C, KH, KW), params["b"]: (F,)

        z[n, f, i, j] = b[f] + Σ_c Σ_m Σ_k  x_pad[n, c, i·sh + m·dh, j·sw + k·dw] · W[f, c, m, k]
        H_out = 1 + (H + pad_top + pad_bottom - dh·(KH - 1) - 1) // sh      (W_out likewise)

    kernel_size, stride and dilation: an int or a pair. padding: an int, a pair, or "valid" (0), "same"
    (output as large as the input; stride 1 only; an odd total is split with the extra row/column at the
    bottom/right, as PyTorch does) or "full" (dh·(KH - 1) on every side).

    Backward (notebooks 04 and 05):
        ∂C/∂b[f]          = Σ_n,i,j δ[n, f, i, j]
        ∂C/∂W[f, c, m, k] = Σ_n,i,j δ[n, f, i, j] · x_pad[n, c, i·sh + m·dh, j·sw + k·dw]
        ∂C/∂x_pad         = every δ[n, f, i, j] sends W[f] back onto the window it came from; cropping the
                            padding gives ∂C/∂x. For stride 1 this is the full correlation of δ with rot180(W).
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

    # ---- shared bookkeeping ---------------------------------------------------------------------------
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

    def _prepare(self, x, pad=True):
        x = self._as_input(x)
        C = self.in_channels
        self._expect_ndim(x, 4, f"(N, {C}, H, W)")
        if x.shape[1] != C:
            raise ValueError(f"Conv2D expected x of shape (N, {C}, H, W), got {x.shape}")
        out_shape = self.output_shape(x.shape)
        if not pad:
            return x, None, out_shape
        top, bottom, left, right = self.pad
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(self.pad) else x
        return x, xp, out_shape

    def _windows(self, xp, H_out, W_out):
        """A strided view of xp: (N, C, H_out, W_out, KH, KW), entry [n, c, i, j, m, k] = x_pad[n, c, i·sh+m·dh, j·sw+k·dw]."""
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        v = sliding_window_view(xp, (dh * (KH - 1) + 1, dw * (KW - 1) + 1), axis=(2, 3))
        return v[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :H_out, :W_out]

    def _tap_slices(self, m, k, H_out, W_out):
        """The entries of x_pad that kernel tap (m, k) touches, over all output positions."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return (slice(None), slice(None),
                slice(m * dh, m * dh + (H_out - 1) * sh + 1, sh),
                slice(k * dw, k * dw + (W_out - 1) * sw + 1, sw))

    def _crop(self, dxp, x_shape):
        top, _, left, _ = self.pad
        return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]

    # ---- fast path: im2col + one matrix product -----------------------------------------------------
    # The columns matrix has one row per kernel tap (c, m, k), in the order of W.reshape(F, -1), and one column
    # per output pixel, so the layer is one GEMM: z = W (F, C·KH·KW) @ cols.
    #
    # Stride 1 (the common case) uses a "flat" layout: x_pad is stored channel-major, (C, N, H_pad + 1, W_pad),
    # and each image is read as one long row. Tap (m, k) then sees the contiguous run that starts at
    # m·dh·W_pad + k·dw, so every row of cols is a plain shifted copy and col2im is KH·KW shifted adds. The price
    # is W_pad - W_out extra output columns per row (they straddle two image rows); forward drops them, and
    # backward gives them δ = 0 so they add nothing. The spare zero row keeps the last shifted run in bounds.
    # Other strides use the windows view of x_pad (N, C, H_out, W_out, KH, KW), copied in the same row order.

    def _flat_buffer(self, a, top, left, Hp, Wp):
        """a: (N, C, H, W) placed at (top, left) in a zero (C, N, Hp + 1, Wp) buffer: x_pad, channel-major."""
        N, C, H, W = a.shape
        buf = np.zeros((C, N, Hp + 1, Wp), dtype=a.dtype)
        buf[:, :, top:top + H, left:left + W] = a.transpose(1, 0, 2, 3)
        return buf

    def _flat_cols(self, buf, H_out):
        """buf (C, N, H_pad + 1, W_pad) -> cols (C·KH·KW, N·H_out·W_pad), one strided view copied once.

        cols[(c, m, k), (n, q)] = buf[c, n].flat[q + m·dh·W_pad + k·dw], i.e. x_pad[n, c, i + m·dh, j + k·dw]
        for q = i·W_pad + j with j < W_out (the columns j >= W_out are the extra ones).
        """
        C, N, _, Wp = buf.shape
        (KH, KW), (dh, dw) = self.kernel_size, self.dilation
        flat = buf.reshape(C, N, -1)
        sc, sn, s1 = flat.strides
        taps = as_strided(flat, (C, KH, KW, N, H_out * Wp), (sc, dh * Wp * s1, dw * s1, sn, s1), writeable=False)
        cols = np.empty(taps.shape, dtype=buf.dtype)
        np.copyto(cols, taps)
        return cols.reshape(C * KH * KW, N * H_out * Wp)

    def _flat_col2im(self, dcols, xp_shape, H_out):
        """The adjoint of _flat_cols: dcols (C·KH·KW, N·H_out·W_pad) -> dx_pad (N, C, H_pad, W_pad) (a view)."""
        N, C, Hp, Wp = xp_shape
        (KH, KW), (dh, dw) = self.kernel_size, self.dilation
        dcols = dcols.reshape(C, KH, KW, N, H_out * Wp)
        dbuf = np.zeros((C, N, Hp + 1, Wp), dtype=dcols.dtype)
        flat = dbuf.reshape(C, N, -1)
        for m in range(KH):
            for k in range(KW):
                start = m * dh * Wp + k * dw
                run = flat[:, :, start:start + H_out * Wp]
                run += dcols[:, m, k]
        return dbuf[:, :, :Hp].transpose(1, 0, 2, 3)

    def _im2col(self, xp, H_out, W_out):
        """Any stride: xp (N, C, H_pad, W_pad) -> cols (C·KH·KW, N·H_out·W_out) from the windows view."""
        N, C = xp.shape[:2]
        KH, KW = self.kernel_size
        cols = np.empty((C, KH, KW, N, H_out, W_out), dtype=xp.dtype)
        np.copyto(cols, self._windows(xp, H_out, W_out).transpose(1, 4, 5, 0, 2, 3))
        return cols.reshape(C * KH * KW, N * H_out * W_out)

    def _col2im(self, dcols, xp_shape, H_out, W_out):
        """The adjoint of _im2col: dcols (C·KH·KW, N·H_out·W_out) -> dx_pad (N, C, H_pad, W_pad), one strided add
        per kernel tap (each window entry goes back, added, onto the x_pad pixel it was copied from)."""
        N, C = xp_shape[:2]
        KH, KW = self.kernel_size
        dcols = dcols.reshape(C, KH, KW, N, H_out, W_out)
        dxp = np.zeros(xp_shape, dtype=dcols.dtype)
        channel_major = dxp.transpose(1, 0, 2, 3)  # (C, N, ...) view, the axis order of dcols
        for m in range(KH):
            for k in range(KW):
                tap = channel_major[self._tap_slices(m, k, H_out, W_out)]
                tap += dcols[:, m, k]
        return dxp

    def _columns(self, x, xp):
        """-> (cols, xp, width): the columns matrix, x_pad (N, C, H_pad, W_pad) and the number of output columns
        per row that cols computes (W_pad in the flat layout, W_out otherwise). Pass x, or xp if already padded."""
        N, F, H_out, W_out = self.output_shape(x.shape if x is not None else self._unpadded_shape(xp.shape))
        if self.stride == (1, 1):
            top, bottom, left, right = self.pad
            if xp is None:
                N, C, H, W = x.shape
                Hp, Wp = H + top + bottom, W + left + right
                buf = self._flat_buffer(x, top, left, Hp, Wp)
            else:
                Hp, Wp = xp.shape[2:]
                buf = self._flat_buffer(xp, 0, 0, Hp, Wp)
            return self._flat_cols(buf, H_out), buf[:, :, :Hp].transpose(1, 0, 2, 3), Wp
        if xp is None:
            top, bottom, left, right = self.pad
            xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(self.pad) else x
        return self._im2col(xp, H_out, W_out), xp, W_out

    def _unpadded_shape(self, xp_shape):
        top, bottom, left, right = self.pad
        N, C, Hp, Wp = xp_shape
        return N, C, Hp - top - bottom, Wp - left - right

    def forward(self, x):
        """x: (N, C, H, W) -> (N, F, H_out, W_out)."""
        x, _, (N, F, H_out, W_out) = self._prepare(x, pad=False)
        cols, xp, width = self._columns(x, None)  # (C·KH·KW, N·H_out·width)
        W, b = self.params["W"], self.params["b"]
        z = W.reshape(F, -1) @ cols  # (F, N·H_out·width): one GEMM for the whole batch
        z = z.reshape(F, N, H_out, width)[..., :W_out].transpose(1, 0, 2, 3)
        out = np.empty((N, F, H_out, W_out), dtype=z.dtype)
        np.add(z, b[:, None, None], out=out)  # + b, written straight into NCHW order
        self.cache = {"x_shape": x.shape, "xp_shape": xp.shape, "cols": cols, "xp": xp, "width": width}
        return self._remember(out)

    def backward(self, dout):
        """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W); fills grads["W"] (F, C, KH, KW) and grads["b"] (F,)."""
        cache, dout = self._check_dout(dout)
        N, F, H_out, W_out = dout.shape
        W = self.params["W"]
        if "cols" not in cache:  # forward_naive ran: build the columns now
            cache["cols"], _, cache["width"] = self._columns(None, cache["xp"])
        cols, width = cache["cols"], cache["width"]
        delta = np.zeros((F, N, H_out, width), dtype=dout.dtype)  # δ in the columns' order; extra columns get 0
        delta[..., :W_out] = dout.transpose(1, 0, 2, 3)
        delta = delta.reshape(F, -1)
        # ∂C/∂W[f, c, m, k] = Σ over output pixels of δ times the input under tap (c, m, k): one GEMM
        self.grads = {"W": (delta @ cols.T).reshape(W.shape), "b": delta.sum(axis=1)}
        # each output pixel sends δ · W back to the KH·KW input pixels of its window
        dcols = W.reshape(F, -1).T @ delta  # (C·KH·KW, N·H_out·width)
        if self.stride == (1, 1):
            dxp = self._flat_col2im(dcols, cache["xp_shape"], H_out)
        else:
            dxp = self._col2im(dcols, cache["xp_shape"], H_out, W_out)
        return self._crop(dxp, cache["x_shape"])

    # ---- naive reference: the equations as loops ----------------------------------------------------
    def forward_naive(self, x):
        """Same result as ``forward``, one output pixel at a time."""
        x, xp, (N, F, H_out, W_out) = self._prepare(x)
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        W, b = self.params["W"], self.params["b"]
        z = np.zeros((N, F, H_out, W_out), dtype=self.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = xp[n, :, i * sh:i * sh + dh * (KH - 1) + 1:dh, j * sw:j * sw + dw * (KW - 1) + 1:dw]
                        z[n, f, i, j] = np.sum(window * W[f]) + b[f]
        self.cache = {"x_shape": x.shape, "xp_shape": xp.shape, "xp": xp}
        return self._remember(z)

    def backward_naive(self, dout):
        """Same result as ``backward``: each δ[n, f, i, j] adds its share to dW, db and dx."""
        cache, dout = self._check_dout(dout)
        N, F, H_out, W_out = dout.shape
        (KH, KW), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        W, xp = self.params["W"], cache["xp"]
        dW, db = np.zeros_like(W), np.zeros_like(self.params["b"])
        dxp = np.zeros(cache["xp_shape"], dtype=self.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        rows = slice(i * sh, i * sh + dh * (KH - 1) + 1, dh)
                        cols = slice(j * sw, j * sw + dw * (KW - 1) + 1, dw)
                        d = dout[n, f, i, j]
                        db[f] += d                          # ∂z/∂b = 1
                        dW[f] += d * xp[n, :, rows, cols]   # ∂z/∂W = the input window
                        dxp[n, :, rows, cols] += d * W[f]   # ∂z/∂x = the weight that touched it
        self.grads = {"W": dW, "b": db}
        return self._crop(dxp, cache["x_shape"])


# ================================================================================================ Dense
class Dense(Layer):
    """Fully connected layer: y = x Wᵀ + b.

    x: (N, in_features) -> y: (N, out_features)
    params["W"]: (out_features, in_features), params["b"]: (out_features,)
    Backward: ∂C/∂x = δ W,  ∂C/∂W = δᵀ x,  ∂C/∂b = Σ_n δ[n]   (δ = dout, shape (N, out_features))
    """

    def __init__(self, in_features, out_features, *, rng=None, dtype=np.float64):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Dense")
        self.out_features = _positive_int(out_features, "out_features", "Dense")
        self.dtype = _float_dtype(dtype, "Dense")
        rng = np.random.default_rng() if rng is None else rng
        bound = np.sqrt(6.0 / self.in_features)
        W = rng.uniform(-bound, bound, size=(self.out_features, self.in_features))
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(self.out_features, dtype=self.dtype)}

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"

    def _prepare(self, x):
        x = self._as_input(x)
        self._expect_ndim(x, 2, f"(N, {self.in_features})")
        if x.shape[1] != self.in_features:
            raise ValueError(f"Dense expected x of shape (N, {self.in_features}), got {x.shape}")
        self.cache = {"x": x}
        return x

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features)."""
        x = self._prepare(x)
        return self._remember(x @ self.params["W"].T + self.params["b"])

    def backward(self, dout):
        """dout: (N, out_features) -> dx: (N, in_features); fills grads["W"], grads["b"]."""
        cache, dout = self._check_dout(dout)
        self.grads = {"W": dout.T @ cache["x"], "b": dout.sum(axis=0)}
        return dout @ self.params["W"]

    def forward_naive(self, x):
        """y[n, o] = b[o] + Σ_i x[n, i] W[o, i], one entry at a time."""
        x = self._prepare(x)
        W, b = self.params["W"], self.params["b"]
        y = np.zeros((x.shape[0], self.out_features), dtype=self.dtype)
        for n in range(x.shape[0]):
            for o in range(self.out_features):
                y[n, o] = b[o] + sum(x[n, i] * W[o, i] for i in range(self.in_features))
        return self._remember(y)

    def backward_naive(self, dout):
        """Each δ[n, o] adds x[n] to dW[o], 1 to db[o], and W[o] to dx[n]."""
        cache, dout = self._check_dout(dout)
        x, W = cache["x"], self.params["W"]
        dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros_like(self.params["b"])
        for n in range(x.shape[0]):
            for o in range(self.out_features):
                db[o] += dout[n, o]
                dW[o] += dout[n, o] * x[n]
                dx[n] += dout[n, o] * W[o]
        self.grads = {"W": dW, "b": db}
        return dx


# ================================================================================================ activations
class ReLU(Layer):
    """ReLU(x) = max(x, 0). Any shape in, same shape out.

    Backward: ∂C/∂x = dout · 1[x > 0]. At exactly x = 0 the derivative does not exist; like PyTorch we use 0.
    """

    def forward(self, x):
        x = self._as_input(x)
        self.cache = x > 0
        return self._remember(np.maximum(x, 0))  # NaN stays NaN (np.maximum propagates it), as in PyTorch

    def backward(self, dout):
        mask, dout = self._check_dout(dout)
        return dout * mask


class Sigmoid(Layer):
    """σ(x) = 1 / (1 + e^{-x}). Any shape. Backward: ∂C/∂x = dout · σ(x)(1 - σ(x))."""

    def forward(self, x):
        x = self._as_input(x)
        y = np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)  # stable for large |x|
        self.cache = y
        return self._remember(y)

    def backward(self, dout):
        y, dout = self._check_dout(dout)
        return dout * y * (1 - y)


class Tanh(Layer):
    """tanh(x). Any shape. Backward: ∂C/∂x = dout · (1 - tanh²(x))."""

    def forward(self, x):
        x = self._as_input(x)
        y = np.tanh(x)
        self.cache = y
        return self._remember(y)

    def backward(self, dout):
        y, dout = self._check_dout(dout)
        return dout * (1 - y * y)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...). Backward reshapes dout back."""

    def forward(self, x):
        x = self._as_input(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten expected x of shape (N, ...) with at least 2 dimensions, got {x.shape}")
        self.cache = x.shape
        return self._remember(x.reshape(x.shape[0], -1))

    def backward(self, dout):
        shape, dout = self._check_dout(dout)
        return dout.reshape(shape)


# ================================================================================================ pooling
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
        if np.isnan(x.sum()):  # NaN never wins a ">" comparison: let argmax place it (first NaN wins), as before
            KH, KW = self.kernel_size
            flat = self._windows(x, H_out, W_out).reshape(*x.shape[:2], H_out, W_out, KH * KW)
            argmax = flat.argmax(axis=-1)
            out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
        else:
            # a running maximum over the KH·KW taps, each compared over the whole batch at once
            out = taps[0].copy()
            argmax = np.zeros(out.shape, dtype=np.int8 if len(taps) <= 127 else np.int64)
            for t in range(1, len(taps)):
                wins = taps[t] > out  # strict: on a tie the earlier tap keeps it, the FIRST max in row-major order
                np.maximum(out, taps[t], out=out)
                argmax *= ~wins  # argmax = t where the tap wins (arithmetic: much faster than masked writes)
                argmax += wins * argmax.dtype.type(t)
        self.cache = {"x_shape": x.shape, "argmax": argmax, "dtype": x.dtype}
        return self._remember(out)

    def backward(self, dout):
        """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W)."""
        cache, dout = self._check_dout(dout)
        H_out, W_out = dout.shape[2:]
        dx = np.zeros(cache["x_shape"], dtype=np.result_type(dout, cache["dtype"]))
        argmax, overlapping = cache["argmax"], self._overlapping()
        for t, tap in enumerate(self._taps(dx, H_out, W_out)):
            won = argmax == t
            if overlapping:
                tap += dout * won
            else:  # every input sits in at most one window: write dout · 1[won] straight into place
                np.multiply(dout, won, out=tap)
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
        total = taps[0].copy()
        for tap in taps[1:]:
            total += tap
        self.cache = {"x_shape": x.shape, "dtype": x.dtype}
        return self._remember(np.divide(total, KH * KW, out=total))

    def backward(self, dout):
        cache, dout = self._check_dout(dout)
        KH, KW = self.kernel_size
        H_out, W_out = dout.shape[2:]
        dx = np.zeros(cache["x_shape"], dtype=np.result_type(dout, cache["dtype"]))
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
