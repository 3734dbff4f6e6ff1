"""Conv2D: the convolution layer, with its im2col / col2im machinery and its naive loop reference."""

import copy
from contextlib import nullcontext
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..threads import blas_threads, parallel_threads, run_parts
from ._base import Layer, _float_dtype, _four, _pair, _positive_int


# OpenBLAS multiplies small matrices (M·N·K up to about a million multiply-adds) with dedicated kernels. A product
# over the whole columns matrix takes its general path instead, which first packs all of cols into another buffer:
# for a layer with few weights (F·C·KH·KW = 150 or 2,400 in the MNIST nets) that was about twice as slow as the
# same products done in slices of columns. So such layers multiply slice by slice; larger layers, one product.
# Products just above a million multiply-adds fall off the small path (2.5x slower), hence 8e5; and a slice starts on
# a multiple of 64 columns (256 bytes in float32), which BLAS reads faster. Measured on one core of an AMD EPYC,
# LeNet-5's second conv layer (F·K = 2,400, 8,960 columns): its forward took 0.93 ms as one product, 0.82 ms in
# slices of 250 columns and 0.75 ms in slices of 320.
SLICE_MULTIPLY_ADDS = 8e5
SLICE_ALIGN = 64

# Multiply-adds of the forward product (F · C·KH·KW · N·H_out·width) from which a float32 layer works on the two
# halves of the batch side by side when two threads are allowed (see "the two halves of the batch" below). Waking a
# second thread and handing Python's lock between the two costs about 50-100 µs per layer call on the 2-core VM
# cnnlib is tuned on, so each half needs a few hundred µs of work. At batch 64 LeNet-5's conv layers have 8.6e6
# and 2.2e7 multiply-adds: LeNet-5 trained 1.18x as fast on 2 threads as on 1 (benchmarks/throughput.py). The
# one-conv-layer net's layer has 3.2e6: in halves it trained no faster on 2 threads, so it stays whole.
PART_MIN_MULTIPLY_ADDS = 8e6


def _column_slices(P, FK, min_width):
    """Slices of range(P) for products with F·K = FK weights: SLICE_MULTIPLY_ADDS / FK columns each, rounded down to
    a multiple of SLICE_ALIGN, or one slice (the whole range) if that would be fewer than min_width columns."""
    width = int(SLICE_MULTIPLY_ADDS // FK) // SLICE_ALIGN * SLICE_ALIGN
    if width < min_width or width >= P:
        return [slice(0, P)]
    return [slice(i, min(i + width, P)) for i in range(0, P, width)]


def _slice_threads(FK, slices):
    """The BLAS threads for the products over these column slices (F·K = FK weights). Cut into slices, each product
    has at most SLICE_MULTIPLY_ADDS, the size OpenBLAS multiplies with its small-matrix kernels; these slices took the
    same time with a pool of 1 thread or 2, so the pool is left alone: with a switch to 1 thread and back around
    each run of slices, the one-conv-layer net trained 1-3 % slower on 2 threads than on 1. One slice: blas_threads.
    """
    if len(slices) > 1:
        return nullcontext()
    return blas_threads(2 * FK * (slices[0].stop - slices[0].start))


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
    # Stride 1 (the common case) uses a "flat" layout: x_pad is stored as (N, C, H_pad + 1, W_pad), and each
    # image plane is read as one long row. Tap (m, k) then sees the contiguous run that starts at
    # m·dh·W_pad + k·dw, so every row of cols is a plain shifted copy and col2im is KH·KW shifted adds. The price
    # is W_pad - W_out extra output columns per row (they straddle two image rows); forward drops them, and
    # backward gives them δ = 0 so they add nothing. The spare zero row keeps the last shifted run in bounds.
    # Other strides use the windows view of x_pad (N, C, H_out, W_out, KH, KW), copied in the same row order.
    #
    # Workspaces: x_pad, cols, z, δ, dcols and dx_pad live in buffers the layer keeps between calls
    # (Layer._workspace) and are filled with out= / copyto, so a training step allocates no large temporaries.
    # What the caller receives (z, dx, grads) is never a workspace: z and dx come from Layer._returned (last step's
    # array once the caller has dropped it, else a new one), the grads are new small arrays.

    def _flat_buffer(self, a, top, left, Hp, Wp):
        """a: (N, C, H, W) placed at (top, left) in a zero (N, C, Hp + 1, Wp) buffer: x_pad and a spare zero row."""
        N, C, H, W = a.shape
        return self._padded("x_pad", (N, C, Hp + 1, Wp), a, top, left)

    def _flat_cols(self, buf, H_out):
        """buf (N, C, H_pad + 1, W_pad) -> cols (C·KH·KW, N·H_out·W_pad), one strided view copied once.

        cols[(c, m, k), (n, q)] = buf[n, c].flat[q + m·dh·W_pad + k·dw], i.e. x_pad[n, c, i + m·dh, j + k·dw]
        for q = i·W_pad + j with j < W_out (the columns j >= W_out are the extra ones).
        """
        N, C, _, Wp = buf.shape
        (KH, KW), (dh, dw) = self.kernel_size, self.dilation
        flat = buf.reshape(N, C, -1).transpose(1, 0, 2)  # (C, N, (H_pad + 1)·W_pad): a view, each plane one row
        sc, sn, s1 = flat.strides
        taps = as_strided(flat, (C, KH, KW, N, H_out * Wp), (sc, dh * Wp * s1, dw * s1, sn, s1), writeable=False)
        cols = self._workspace("cols", taps.shape, buf.dtype)
        np.copyto(cols, taps)
        return cols.reshape(C * KH * KW, N * H_out * Wp)

    def _flat_col2im(self, dcols, xp_shape, H_out):
        """The adjoint of _flat_cols: dcols (C·KH·KW, N·H_out·W_pad) -> dx_pad (N, C, H_pad, W_pad) (a view)."""
        N, C, Hp, Wp = xp_shape
        (KH, KW), (dh, dw) = self.kernel_size, self.dilation
        dcols = dcols.reshape(C, KH, KW, N, H_out * Wp)
        dbuf = self._workspace("dx_pad", (N, C, Hp + 1, Wp), dcols.dtype)
        flat = dbuf.reshape(N, C, -1).transpose(1, 0, 2)  # (C, N, (H_pad + 1)·W_pad), the axis order of dcols
        run = H_out * Wp
        flat[:, :, :run] = dcols[:, 0, 0]  # tap (0, 0) starts at 0: assign instead of zeroing first, then adding
        flat[:, :, run:] = 0
        for m in range(KH):
            for k in range(KW):
                if m or k:
                    start = m * dh * Wp + k * dw
                    flat[:, :, start:start + run] += dcols[:, m, k]
        return dbuf[:, :, :Hp]

    def _im2col(self, xp, H_out, W_out):
        """Any stride: xp (N, C, H_pad, W_pad) -> cols (C·KH·KW, N·H_out·W_out) from the windows view."""
        N, C = xp.shape[:2]
        KH, KW = self.kernel_size
        cols = self._workspace("cols", (C, KH, KW, N, H_out, W_out), xp.dtype)
        np.copyto(cols, self._windows(xp, H_out, W_out).transpose(1, 4, 5, 0, 2, 3))
        return cols.reshape(C * KH * KW, N * H_out * W_out)

    def _col2im(self, dcols, xp_shape, H_out, W_out):
        """The adjoint of _im2col: dcols (C·KH·KW, N·H_out·W_out) -> dx_pad (N, C, H_pad, W_pad), one strided add
        per kernel tap (each window entry goes back, added, onto the x_pad pixel it was copied from)."""
        N, C = xp_shape[:2]
        KH, KW = self.kernel_size
        dcols = dcols.reshape(C, KH, KW, N, H_out, W_out)
        dxp = self._workspace("dx_pad", xp_shape, dcols.dtype)
        dxp.fill(0)
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
            return self._flat_cols(buf, H_out), buf[:, :, :Hp], Wp
        if xp is None and any(self.pad):
            top, bottom, left, right = self.pad
            N, C, H, W = x.shape
            xp = self._padded("x_pad", (N, C, H + top + bottom, W + left + right), x, top, left)
        elif xp is None:
            xp = x
        return self._im2col(xp, H_out, W_out), xp, W_out

    def _unpadded_shape(self, xp_shape):
        top, bottom, left, right = self.pad
        N, C, Hp, Wp = xp_shape
        return N, C, Hp - top - bottom, Wp - left - right

    # ---- the two halves of the batch -----------------------------------------------------------------------
    # A float32 layer with a large forward product (PART_MIN_MULTIPLY_ADDS: both conv layers of LeNet-5 at batch 64)
    # sums its weight and bias gradients over each half of the batch, then adds the two half-sums. With two threads
    # allowed it also works on the halves as two parts side by side (cnnlib.threads.run_parts), each part with its
    # own workspaces; on one thread it works on the whole batch at once, as one part. Either way every output and
    # every entry of ∂C/∂x is computed from the same numbers in the same order, and ∂C/∂W and ∂C/∂b are the same two
    # half-sums added, so 1 thread and 2 give the same bits. float64 (gradient checks, the notebooks' by-hand
    # comparisons) keeps one sum over the whole batch.

    def _halves(self, x_shape):
        """The sample ranges the gradient sums run over: [slice(0, N)], or the two halves of the batch."""
        N, F, H_out, W_out = self.output_shape(x_shape)
        width = x_shape[3] + self.pad[2] + self.pad[3] if self.stride == (1, 1) else W_out  # see _columns
        K = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        if self.dtype != np.float32 or N < 2 or F * K * N * H_out * width < PART_MIN_MULTIPLY_ADDS:
            return [slice(0, N)]
        return [slice(0, N // 2), slice(N // 2, N)]

    def _part(self, p):
        """The worker for part p: this layer for p = 0, else a copy with this layer's geometry, its own workspaces
        and no parameters (W and b are passed to it, so it always uses the current ones)."""
        if p == 0:
            return self
        parts = self.__dict__.setdefault("_parts", {})
        if p not in parts:
            part = copy.copy(self)
            part.__dict__.update(params={}, grads={}, cache=None, _workspaces={}, _returned_arrays={}, _placed={},
                                 _parts={})
            parts[p] = part
        return parts[p]

    def forward(self, x):
        """x: (N, C, H, W) -> (N, F, H_out, W_out)."""
        x, _, (N, F, H_out, W_out) = self._prepare(x, pad=False)
        out = self._returned("out", (N, F, H_out, W_out), x.dtype)
        W, b = self.params["W"], self.params["b"]
        halves = self._halves(x.shape)
        if len(halves) == 2 and parallel_threads() >= 2:  # two parts side by side, each summing its own half
            tasks = [partial(self._part(p)._forward_part, W, b, x[s], out[s], [slice(None)])
                     for p, s in enumerate(halves)]
            parts = halves
        else:  # one part: the whole batch, with a gradient sum per half
            tasks, parts = [partial(self._forward_part, W, b, x, out, halves)], [slice(0, N)]
        self.cache = {"x_shape": x.shape, "parts": list(zip(parts, run_parts(tasks)))}
        return self._remember(out)

    def _forward_part(self, W, b, x, out, sums):
        """x (n, C, H, W) -> out (n, F, H_out, W_out), written in place; -> what backward needs of this part.
        sums: the sample ranges of x whose gradients backward sums separately (then adds)."""
        N, F, H_out, W_out = out.shape
        cols, xp, width = self._columns(x, None)  # (C·KH·KW, n·H_out·width)
        z = self._correlate(W, cols, N, H_out, W_out, width)
        np.add(z, b[:, None, None], out=out)  # + b, written straight into NCHW order
        per_sample = H_out * width  # columns of cols per sample
        sums = [slice(s.indices(N)[0] * per_sample, s.indices(N)[1] * per_sample) for s in sums]
        return {"x_shape": x.shape, "xp_shape": xp.shape, "cols": cols, "xp": xp, "width": width, "sums": sums}

    def backward(self, dout):
        """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W); fills grads["W"] (F, C, KH, KW) and grads["b"] (F,)."""
        return self._backward(dout, input_grad=True)

    def backward_params(self, dout):
        """Only the grads of ``backward``, without ∂C/∂x (for a first layer, whose input is data). -> None."""
        self._backward(dout, input_grad=False)

    def _backward(self, dout, input_grad):
        cache, dout = self._check_dout(dout)
        parts = cache.get("parts") or [(slice(None), cache)]  # forward_naive keeps one cache, without parts
        dx = self._returned("dx", cache["x_shape"], dout.dtype) if input_grad else None  # the caller's own array
        W = self.params["W"]
        # without dx a part is little more than one product with a long sum: side by side, waking the second thread
        # and handing Python's lock back and forth cost more than they saved (LeNet-5's first layer, which needs no
        # dx: 465 µs one part after the other, 510-585 µs side by side), so the parts take turns then
        parts = run_parts([partial(self._part(p)._backward_part, W, dout[s], c, None if dx is None else dx[s])
                           for p, (s, c) in enumerate(parts)], side_by_side=input_grad)
        halves = [half for part in parts for half in part]  # (∂C/∂W, ∂C/∂b) summed over each half, in batch order
        dW, db = halves[0]
        for half_dW, half_db in halves[1:]:
            dW, db = dW + half_dW, db + half_db
        self.grads = {"W": dW.reshape(W.shape), "b": db}
        return dx

    def _backward_part(self, W, dout, cache, dx):
        """One part: dout (n, F, H_out, W_out) -> [(∂C/∂W as (F, C·KH·KW), ∂C/∂b (F,)) summed over each range of
        cache["sums"]]; writes the part's ∂C/∂x (n, C, H, W) into dx unless dx is None."""
        N, F, H_out, W_out = dout.shape
        if "cols" not in cache:  # forward_naive ran: build the columns now
            cache["cols"], _, cache["width"] = self._columns(None, cache["xp"])
            cache["sums"] = [slice(None)]
        delta = self._delta_columns(dout, H_out, cache["width"])  # (F, n·H_out·width)
        cols = cache["cols"]
        sums = [(self._weight_grad(cols[:, s], delta[:, s]), delta[:, s].sum(axis=1)) for s in cache["sums"]]
        if dx is not None:  # the scatter ends in a view of a workspace: copied into the caller's array
            np.copyto(dx, self._scatter_back(W, delta, cache["xp_shape"], cache["x_shape"], H_out, W_out))
        return sums

    def _weight_grad(self, cols, delta):
        """cols (C·KH·KW, P), δ (F, P) -> ∂C/∂W as (F, C·KH·KW).

        ∂C/∂W[f, c, m, k] = Σ over output pixels of δ times the input under tap (c, m, k): one GEMM, computed as
        (cols δᵀ)ᵀ: (C·KH·KW, P) @ (P, F) suits BLAS better than δ colsᵀ when F is small (about 2x here), and summed
        over slices of columns for a layer with few weights (see SLICE_MULTIPLY_ADDS). That reordering of the sums
        is for float32 training; float64 (gradient checks, the by-hand comparisons of notebook 08) keeps the plain
        product δ colsᵀ, whose rounding those comparisons print.
        """
        if cols.dtype == np.float64:
            with blas_threads(2 * delta.size * cols.shape[0]):
                return delta @ cols.T
        K, P = cols.shape
        dWt, part = np.zeros((K, delta.shape[0]), dtype=cols.dtype), None  # (C·KH·KW, F)
        slices = _column_slices(P, dWt.size, min_width=2048)
        with _slice_threads(dWt.size, slices):
            for s in slices:
                part = np.matmul(cols[:, s], delta[:, s].T, out=part)
                dWt += part
        return dWt.T

    # ---- the two halves of the layer, as functions of W ---------------------------------------------
    # forward gathers (_correlate), backward scatters (_scatter_back). ConvTranspose2D runs the same two halves
    # the other way round with its own W, so they take W as an argument instead of reading self.params.

    def _correlate(self, W, cols, N, H_out, W_out, width):
        """z without the bias: W (F, C, KH, KW) times cols (C·KH·KW, N·H_out·width) -> (N, F, H_out, W_out), a view.

        z[n, f, i, j] = Σ_c,m,k W[f, c, m, k] · x_pad[n, c, i·sh + m·dh, j·sw + k·dw], one GEMM for the whole batch.
        """
        F, (K, P) = W.shape[0], cols.shape
        Wm = W.reshape(F, K)
        z = self._workspace("z", (F, P), cols.dtype)  # (F, N·H_out·width)
        slices = _column_slices(P, F * K, min_width=128)  # one slice unless the layer has few weights
        with _slice_threads(F * K, slices):
            for s in slices:
                np.matmul(Wm, cols[:, s], out=z[:, s])
        return z.reshape(F, N, H_out, width)[..., :W_out].transpose(1, 0, 2, 3)

    def _delta_columns(self, dout, H_out, width):
        """dout (N, F, h, w) -> δ (F, N·H_out·width), one column per output pixel in the order of cols.

        Places that dout does not cover get δ = 0: the extra columns of the flat layout and, when ConvTranspose2D
        calls this with its x as δ, the rows and columns that its output_padding adds.
        """
        N, F, h, w = dout.shape
        delta = self._padded("delta", (F, N, H_out, width), dout.transpose(1, 0, 2, 3), 0, 0)
        return delta.reshape(F, -1)

    def _scatter_back(self, W, delta, xp_shape, x_shape, H_out, W_out):
        """∂C/∂x (N, C, H, W) from δ (F, N·H_out·width) and W (F, C, KH, KW): each output pixel sends δ · W back
        onto the KH·KW input pixels of its window (col2im adds them up), then the padding is cropped."""
        Wm = W.reshape(W.shape[0], -1)  # (F, C·KH·KW)
        dcols = self._workspace("dcols", (Wm.shape[1], delta.shape[1]), delta.dtype)  # (C·KH·KW, N·H_out·width)
        with blas_threads(2 * dcols.size * Wm.shape[0]):
            np.matmul(Wm.T, delta, out=dcols)
        if self.stride == (1, 1):
            dxp = self._flat_col2im(dcols, xp_shape, H_out)
        else:
            dxp = self._col2im(dcols, xp_shape, H_out, W_out)
        return self._crop(dxp, x_shape)

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
        W = self.params["W"]
        # x_pad as forward_naive kept it, or put together from the parts of a fast forward
        xp = cache["xp"] if "parts" not in cache else np.concatenate([c["xp"] for _, c in cache["parts"]])
        dW, db = np.zeros_like(W), np.zeros_like(self.params["b"])
        dxp = np.zeros(xp.shape, dtype=self.dtype)
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
