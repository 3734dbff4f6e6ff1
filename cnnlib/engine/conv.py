"""Conv2D and ConvTranspose2D, fast: the same im2col + GEMM as cnnlib/layers/conv.py, with four changes.

1. **Flat layout (stride 1).** x_pad is stored as (N, C, H_pad + 1, W_pad) and each image plane read as one long
   row. Tap (u, v) then sees the contiguous run starting at u·dh·W_pad + v·dw, so every row of cols is one shifted
   copy and col2im is KH·KW shifted adds. The price: W_pad − W_out extra output columns per row (they straddle two
   image rows); forward drops them, backward gives them δ = 0. The spare zero row keeps the last run in bounds.
   Other strides copy the layer's windows view, as the textbook does.
2. **Buffers kept between calls** (memory.py): x_pad, cols, z, δ, dcols and dx_pad are workspaces filled with
   out= / copyto; the output and dx are ``Memory.returned`` arrays; the grads are new small arrays. What the caller
   receives is never a workspace.
3. **Column slices.** A layer with few weights multiplies slice by slice of SLICE_MULTIPLY_ADDS, small enough for
   OpenBLAS's small-matrix kernels, starting on multiples of SLICE_ALIGN columns.
4. **Two halves of the batch** (float32, forward product >= PART_MIN_MULTIPLY_ADDS). The weight and bias gradients
   are summed over each half, then added; with two threads allowed the halves run side by side as two parts
   (threads.run_parts), each with its own Memory. Either way every value is computed from the same numbers in the
   same order, so 1 thread and 2 give the same bits. float64 keeps one sum over the whole batch.

Every threshold and the timings behind it: benchmarks/NOTES.md, "Conv2D".
"""

from contextlib import nullcontext
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .memory import Memory, memory_of
from .threads import blas_threads, parallel_threads, run_parts

SLICE_MULTIPLY_ADDS = 8e5  # largest product per slice: OpenBLAS's small-matrix path (NOTES.md)
SLICE_ALIGN = 64  # slices start on multiples of 64 columns (NOTES.md)
PART_MIN_MULTIPLY_ADDS = 8e6  # forward multiply-adds from which a float32 layer works in two halves (NOTES.md)


class Cache(dict):
    """What an engine forward keeps for the engine backward (a dict, told apart from a textbook cache by its type)."""

    def __missing__(self, key):
        if key == "xp" and "parts" in self:  # Conv2D's x_pad, put together from the parts (for backward_naive)
            return np.concatenate([c["xp"] for _, c in self["parts"]])
        raise KeyError(key)


def column_slices(P, FK, min_width):
    """Slices of range(P) for products with F·K = FK weights: SLICE_MULTIPLY_ADDS / FK columns each, rounded down to
    a multiple of SLICE_ALIGN, or one slice (the whole range) if that would be fewer than min_width columns."""
    width = int(SLICE_MULTIPLY_ADDS // FK) // SLICE_ALIGN * SLICE_ALIGN
    if width < min_width or width >= P:
        return [slice(0, P)]
    return [slice(i, min(i + width, P)) for i in range(0, P, width)]


def slice_threads(FK, slices):
    """BLAS threads for products over these column slices: sliced products leave the pool alone (they take the same
    time on 1 thread or 2, and switching costs time); one slice gets blas_threads."""
    if len(slices) > 1:
        return nullcontext()
    return blas_threads(2 * FK * (slices[0].stop - slices[0].start))


class ConvEngine:
    """The fast path of one Conv2D ``geo`` (its geometry: kernel_size, stride, padding, dilation, channels), with the
    buffers of one part in ``mem``. W and b are passed in, so the same engine serves ConvTranspose2D's Conv2D."""

    def __init__(self, geo, mem):
        self.geo, self.mem, self.parts = geo, mem, {}

    # ---- columns ------------------------------------------------------------------------------------------
    def columns(self, x, xp=None):
        """-> (cols, xp, width): the columns matrix (C·KH·KW, n·H_out·width), x_pad (N, C, H_pad, W_pad) and the
        output columns per row that cols computes (W_pad in the flat layout, W_out otherwise). Pass x, or xp."""
        geo = self.geo
        N, F, H_out, W_out = geo.output_shape(x.shape if x is not None else self._unpadded_shape(xp.shape))
        top, bottom, left, right = geo.pad
        if geo.stride == (1, 1):
            if xp is None:
                Hp, Wp = x.shape[2] + top + bottom, x.shape[3] + left + right
                buf = self.mem.padded("x_pad", (N, x.shape[1], Hp + 1, Wp), x, top, left)
            else:
                Hp, Wp = xp.shape[2:]
                buf = self.mem.padded("x_pad", (N, xp.shape[1], Hp + 1, Wp), xp, 0, 0)
            return self._flat_cols(buf, H_out), buf[:, :, :Hp], Wp
        if xp is None and any(geo.pad):
            N, C, H, W = x.shape
            xp = self.mem.padded("x_pad", (N, C, H + top + bottom, W + left + right), x, top, left)
        elif xp is None:
            xp = x
        cols = self.mem.workspace("cols", (xp.shape[1],) + geo.kernel_size + (N, H_out, W_out), xp.dtype)
        np.copyto(cols, geo._windows(xp, H_out, W_out).transpose(1, 4, 5, 0, 2, 3))
        return cols.reshape(cols.shape[0] * geo.kernel_size[0] * geo.kernel_size[1], -1), xp, W_out

    def _unpadded_shape(self, xp_shape):
        top, bottom, left, right = self.geo.pad
        N, C, Hp, Wp = xp_shape
        return N, C, Hp - top - bottom, Wp - left - right

    def _flat_cols(self, buf, H_out):
        """buf (N, C, H_pad + 1, W_pad) -> cols (C·KH·KW, N·H_out·W_pad), one strided view copied once:
        cols[(c, u, v), (n, q)] = buf[n, c].flat[q + u·dh·W_pad + v·dw], i.e. x_pad[n, c, i + u·dh, j + v·dw]
        for q = i·W_pad + j with j < W_out (the columns j >= W_out are the extra ones)."""
        N, C, _, Wp = buf.shape
        (KH, KW), (dh, dw) = self.geo.kernel_size, self.geo.dilation
        flat = buf.reshape(N, C, -1).transpose(1, 0, 2)  # (C, N, (H_pad + 1)·W_pad): a view, each plane one row
        sc, sn, s1 = flat.strides
        taps = as_strided(flat, (C, KH, KW, N, H_out * Wp), (sc, dh * Wp * s1, dw * s1, sn, s1), writeable=False)
        cols = self.mem.workspace("cols", taps.shape, buf.dtype)
        np.copyto(cols, taps)
        return cols.reshape(C * KH * KW, N * H_out * Wp)

    def _flat_col2im(self, dcols, xp_shape, H_out):
        """The adjoint of _flat_cols: dcols (C·KH·KW, N·H_out·W_pad) -> dx_pad (N, C, H_pad, W_pad) (a view)."""
        N, C, Hp, Wp = xp_shape
        (KH, KW), (dh, dw) = self.geo.kernel_size, self.geo.dilation
        dcols = dcols.reshape(C, KH, KW, N, H_out * Wp)
        dbuf = self.mem.workspace("dx_pad", (N, C, Hp + 1, Wp), dcols.dtype)
        flat = dbuf.reshape(N, C, -1).transpose(1, 0, 2)  # (C, N, (H_pad + 1)·W_pad), the axis order of dcols
        run = H_out * Wp
        flat[:, :, :run] = dcols[:, 0, 0]  # tap (0, 0) starts at 0: assign instead of zeroing first, then adding
        flat[:, :, run:] = 0
        for u in range(KH):
            for v in range(KW):
                if u or v:
                    start = u * dh * Wp + v * dw
                    flat[:, :, start:start + run] += dcols[:, u, v]
        return dbuf[:, :, :Hp]

    def _col2im(self, dcols, xp_shape, H_out, W_out):
        """Any stride: the adjoint of the windows copy, one strided add per kernel tap, into a workspace."""
        N, C = xp_shape[:2]
        KH, KW = self.geo.kernel_size
        dcols = dcols.reshape(C, KH, KW, N, H_out, W_out)
        dxp = self.mem.workspace("dx_pad", xp_shape, dcols.dtype)
        dxp.fill(0)
        channel_major = dxp.transpose(1, 0, 2, 3)  # (C, N, ...) view, the axis order of dcols
        for u in range(KH):
            for v in range(KW):
                tap = channel_major[self.geo._tap(u, v, H_out, W_out)]
                tap += dcols[:, u, v]
        return dxp

    # ---- the products -------------------------------------------------------------------------------------
    def correlate(self, W, cols, N, H_out, W_out, width):
        """z without the bias: W (F, C, KH, KW) times cols (C·KH·KW, N·H_out·width) -> (N, F, H_out, W_out), a view
        of a workspace."""
        F, (K, P) = W.shape[0], cols.shape
        Wm = W.reshape(F, K)
        z = self.mem.workspace("z", (F, P), cols.dtype)
        slices = column_slices(P, F * K, min_width=128)  # one slice unless the layer has few weights
        with slice_threads(F * K, slices):
            for s in slices:
                np.matmul(Wm, cols[:, s], out=z[:, s])
        return z.reshape(F, N, H_out, width)[..., :W_out].transpose(1, 0, 2, 3)

    def delta_columns(self, dout, H_out, width):
        """dout (N, F, h, w) -> δ (F, N·H_out·width), one column per output pixel in the order of cols; places dout
        does not cover (the flat layout's extra columns, ConvTranspose2D's output_padding) get δ = 0."""
        delta = self.mem.padded("delta", (dout.shape[1], dout.shape[0], H_out, width), dout.transpose(1, 0, 2, 3),
                                0, 0)
        return delta.reshape(dout.shape[1], -1)

    def weight_grad(self, cols, delta):
        """cols (C·KH·KW, P), δ (F, P) -> ∂L/∂W as (F, C·KH·KW). float64 (gradient checks, the by-hand comparisons
        of notebook 09): the plain product δ colsᵀ, whose rounding those comparisons print. float32: (cols δᵀ)ᵀ,
        which suits BLAS better when F is small, summed over column slices for a layer with few weights."""
        if cols.dtype == np.float64:
            with blas_threads(2 * delta.size * cols.shape[0]):
                return delta @ cols.T
        K, P = cols.shape
        dWt, part = np.zeros((K, delta.shape[0]), dtype=cols.dtype), None  # (C·KH·KW, F)
        slices = column_slices(P, dWt.size, min_width=2048)
        with slice_threads(dWt.size, slices):
            for s in slices:
                part = np.matmul(cols[:, s], delta[:, s].T, out=part)
                dWt += part
        return dWt.T

    def scatter_back(self, W, delta, xp_shape, x_shape, H_out, W_out):
        """∂L/∂x (N, C, H, W) from δ (F, N·H_out·width): dcols = Wᵀ δ, col2im, crop the padding (a workspace view)."""
        Wm = W.reshape(W.shape[0], -1)  # (F, C·KH·KW)
        dcols = self.mem.workspace("dcols", (Wm.shape[1], delta.shape[1]), delta.dtype)
        with blas_threads(2 * dcols.size * Wm.shape[0]):
            np.matmul(Wm.T, delta, out=dcols)
        if self.geo.stride == (1, 1):
            dxp = self._flat_col2im(dcols, xp_shape, H_out)
        else:
            dxp = self._col2im(dcols, xp_shape, H_out, W_out)
        return self.geo._crop(dxp, x_shape)

    # ---- the two halves of the batch ----------------------------------------------------------------------
    def halves(self, x_shape):
        """The sample ranges the gradient sums run over: [slice(0, N)], or the two halves of the batch."""
        geo = self.geo
        N, F, H_out, W_out = geo.output_shape(x_shape)
        width = x_shape[3] + geo.pad[2] + geo.pad[3] if geo.stride == (1, 1) else W_out
        K = x_shape[1] * geo.kernel_size[0] * geo.kernel_size[1]
        if geo.dtype != np.float32 or N < 2 or F * K * N * H_out * width < PART_MIN_MULTIPLY_ADDS:
            return [slice(0, N)]
        return [slice(0, N // 2), slice(N // 2, N)]

    def part(self, p):
        """The engine of part p: this one for p = 0, else one with the same geometry and its own buffers."""
        if p == 0:
            return self
        if p not in self.parts:
            self.parts[p] = ConvEngine(self.geo, Memory())
        return self.parts[p]

    def forward_part(self, W, b, x, out, sums):
        """x (n, C, H, W) -> out (n, F, H_out, W_out), written in place; -> what backward needs of this part.
        sums: the sample ranges of x whose gradients backward sums separately (then adds)."""
        N, F, H_out, W_out = out.shape
        cols, xp, width = self.columns(x)  # (C·KH·KW, n·H_out·width)
        np.add(self.correlate(W, cols, N, H_out, W_out, width), b[:, None, None], out=out)  # + b, in NCHW order
        per_sample = H_out * width  # columns of cols per sample
        sums = [slice(s.indices(N)[0] * per_sample, s.indices(N)[1] * per_sample) for s in sums]
        return {"x_shape": x.shape, "xp_shape": xp.shape, "cols": cols, "xp": xp, "width": width, "sums": sums}

    def backward_part(self, W, dout, cache, dx):
        """One part: dout (n, F, H_out, W_out) -> [(∂L/∂W as (F, C·KH·KW), ∂L/∂b (F,)) summed over each range of
        cache["sums"]]; writes the part's ∂L/∂x (n, C, H, W) into dx unless dx is None."""
        N, F, H_out, W_out = dout.shape
        delta = self.delta_columns(dout, H_out, cache["width"])  # (F, n·H_out·width)
        cols = cache["cols"]
        sums = [(self.weight_grad(cols[:, s], delta[:, s]), delta[:, s].sum(axis=1)) for s in cache["sums"]]
        if dx is not None:  # the scatter ends in a view of a workspace: copied into the caller's array
            np.copyto(dx, self.scatter_back(W, delta, cache["xp_shape"], cache["x_shape"], H_out, W_out))
        return sums


def engine_of(layer):
    """The ConvEngine of a Conv2D (created on first use, with the layer's Memory)."""
    eng = layer.__dict__.get("_conv_engine")
    if eng is None:
        eng = layer.__dict__["_conv_engine"] = ConvEngine(layer, memory_of(layer))
    return eng


def conv2d_forward(layer, x):
    """Conv2D.forward's z for the checked x (N, C, H, W): -> (N, F, H_out, W_out); sets layer.cache."""
    eng = engine_of(layer)
    N, F, H_out, W_out = layer.output_shape(x.shape)
    out = eng.mem.returned("out", (N, F, H_out, W_out), x.dtype)
    W, b = layer.params["W"], layer.params["b"]
    halves = eng.halves(x.shape)
    if len(halves) == 2 and parallel_threads() >= 2:  # two parts side by side, each summing its own half
        tasks = [partial(eng.part(p).forward_part, W, b, x[s], out[s], [slice(None)]) for p, s in enumerate(halves)]
        parts = halves
    else:  # one part: the whole batch, with a gradient sum per half
        tasks, parts = [partial(eng.forward_part, W, b, x, out, halves)], [slice(0, N)]
    layer.cache = Cache(x_shape=x.shape, parts=list(zip(parts, run_parts(tasks))))
    return out


def conv2d_backward(layer, cache, dout, input_grad=True):
    """Conv2D.backward after conv2d_forward: -> ∂L/∂x (None if not input_grad); fills layer.grads."""
    eng = engine_of(layer)
    dx = eng.mem.returned("dx", cache["x_shape"], dout.dtype) if input_grad else None  # the caller's own array
    W = layer.params["W"]
    # without dx a part is little more than one product: waking the second thread costs more than it saves, so the
    # parts take turns then (NOTES.md)
    parts = run_parts([partial(eng.part(p).backward_part, W, dout[s], c, None if dx is None else dx[s])
                       for p, (s, c) in enumerate(cache["parts"])], side_by_side=input_grad)
    halves = [half for part in parts for half in part]  # (∂L/∂W, ∂L/∂b) summed over each half, in batch order
    dW, db = halves[0]
    for half_dW, half_db in halves[1:]:
        dW, db = dW + half_dW, db + half_db
    layer.grads = {"W": dW.reshape(W.shape), "b": db}
    return dx


# ---- ConvTranspose2D: Conv2D's two halves the other way round, with its own W -------------------------------
def _transpose_engine(layer):
    eng = layer.__dict__.get("_conv_engine")
    if eng is None:
        eng = layer.__dict__["_conv_engine"] = ConvEngine(layer._conv, Memory())
    return eng


def conv_transpose2d_forward(layer, x):
    """ConvTranspose2D.forward for the checked x: T's ∂L/∂(input) with x as its δ, + b; sets layer.cache."""
    eng, mem = _transpose_engine(layer), memory_of(layer)
    y_shape = layer.output_shape(x.shape)
    yp_shape, H_c, W_c = layer._geometry(y_shape)
    width = yp_shape[3] if layer.stride == (1, 1) else W_c  # T's columns per output row (see ConvEngine.columns)
    delta = eng.delta_columns(x, H_c, width)  # x in the place of T's δ: (C, N·H_c·width)
    y = eng.scatter_back(layer.params["W"], delta, yp_shape, y_shape, H_c, W_c)
    out = mem.returned("out", y_shape, y.dtype)
    np.add(y, layer.params["b"][:, None, None], out=out)
    layer.cache = Cache(x_shape=x.shape, delta=delta)
    return out


def conv_transpose2d_backward(layer, cache, dout, input_grad=True):
    """ConvTranspose2D.backward after conv_transpose2d_forward: -> ∂L/∂x; fills layer.grads."""
    eng, mem, W = _transpose_engine(layer), memory_of(layer), layer.params["W"]
    N, C, H, W_in = cache["x_shape"]
    _, H_c, W_c = layer._geometry(dout.shape)
    cols, _, width = eng.columns(dout)  # dout in the place of T's input: (F·KH·KW, N·H_c·width)
    dx = mem.returned("dx", cache["x_shape"], cols.dtype)  # a copy: the product is in T's workspace
    np.copyto(dx, eng.correlate(W, cols, N, H_c, W_c, width)[:, :, :H, :W_in])
    layer.grads = {"W": (cache["delta"] @ cols.T).reshape(W.shape), "b": dout.sum(axis=(0, 2, 3))}
    return dx
