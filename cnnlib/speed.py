"""The middle rungs of the speed ladder (notebook 10): the same convolution layer, computed in different ways.

1. naive loops:          ``Conv2D.forward_naive`` / ``backward_naive`` (one output pixel at a time, in Python)
2. sliding window+einsum: ``conv2d_einsum`` / ``conv2d_einsum_backward`` below (no Python loops, no GEMM)
3. im2col + GEMM:         ``Conv2D.forward`` / ``backward`` (one copy into a matrix, then BLAS)
4. PyTorch:               ``torch_conv2d`` below, when torch is installed

Shapes as in cnnlib.layers: x (N, C, H, W), W (F, C, KH, KW), b (F,), z and δ (N, F, H_out, W_out),
H_out = 1 + (H + 2·ph - KH) // sh (W_out likewise). Stride and padding: an int or a pair; no dilation here.
"""

import sys
import time
from contextlib import contextmanager

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .signal import _pair, insert_zeros, rot180

__all__ = ["conv2d_einsum", "conv2d_einsum_backward", "torch_conv2d", "torch_available", "best_time",
           "conv_stage_times", "single_threaded"]


def _padding(padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else tuple(padding)
    if min(ph, pw) < 0:
        raise ValueError(f"conv2d_einsum expected padding >= 0, got {padding!r}")
    return int(ph), int(pw)


def _check(x, W):
    x, W = np.asarray(x), np.asarray(W)
    if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
        raise ValueError(f"conv2d_einsum expected x (N, C, H, W) and W (F, C, KH, KW) with the same C, "
                         f"got x {x.shape} and W {W.shape}")
    return x, W


def conv2d_einsum(x, W, b, stride=1, padding=0, *, optimize=False):
    """z = x ⋆ W + b (cross-correlation, like Conv2D.forward) with a sliding-window view and one einsum.

    The view windows[n, c, i, j, m, k] = x_pad[n, c, i·sh + m, j·sw + k] costs no copy; the einsum then sums
    windows · W over (c, m, k) for every (n, f, i, j). optimize=False keeps NumPy's own summation loop (the
    "einsum" rung of the ladder); optimize=True lets NumPy turn it into a matrix product, i.e. im2col + GEMM.
    x (N, C, H, W), W (F, C, KH, KW), b (F,) -> z (N, F, H_out, W_out).
    """
    x, W = _check(x, W)
    sh, sw = _pair(stride, "stride", "conv2d_einsum")
    ph, pw = _padding(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, W.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    return np.einsum("ncijmk,fcmk->nfij", windows, W, optimize=optimize) + np.asarray(b)[:, None, None]


def conv2d_einsum_backward(x, W, dout, stride=1, padding=0, *, optimize=False):
    """The backward pass of conv2d_einsum, written as the equations of notebooks 04 and 05. -> (dx, dW, db).

        db[f]          = Σ_n,i,j δ[n, f, i, j]
        dW[f, c, m, k] = Σ_n,i,j δ[n, f, i, j] · windows[n, c, i, j, m, k]        (x ⋆ δ, per channel pair)
        dx_pad         = δ' ⋆ rot180(W), 'full', summed over f                     (δ' = δ with stride - 1
                                                                                     zeros inserted)
    and dx is dx_pad without its padding. x (N, C, H, W), W (F, C, KH, KW), dout (N, F, H_out, W_out).
    """
    x, W = _check(x, W)
    dout = np.asarray(dout)
    sh, sw = _pair(stride, "stride", "conv2d_einsum_backward")
    ph, pw = _padding(padding)
    N, C, H, Wd = x.shape
    KH, KW = W.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (KH, KW), axis=(2, 3))[:, :, ::sh, ::sw]
    if windows.shape[2:4] != dout.shape[2:]:
        raise ValueError(f"conv2d_einsum_backward expected dout of shape (N, F, {windows.shape[2]}, "
                         f"{windows.shape[3]}), got {dout.shape}")
    db = dout.sum(axis=(0, 2, 3))
    dW = np.einsum("nfij,ncijmk->fcmk", dout, windows, optimize=optimize)
    # spread δ back onto the stride-1 grid, then pad it for a 'full' correlation; rows/columns of x_pad that no
    # window reached (the floor in H_out) get extra zeros at the bottom/right, so dx_pad comes out (H_pad, W_pad)
    spread = insert_zeros(dout, (sh, sw))
    extra_h = xp.shape[2] - (spread.shape[2] + KH - 1)
    extra_w = xp.shape[3] - (spread.shape[3] + KW - 1)
    padded = np.pad(spread, ((0, 0), (0, 0), (KH - 1, KH - 1 + extra_h), (KW - 1, KW - 1 + extra_w)))
    dwindows = sliding_window_view(padded, (KH, KW), axis=(2, 3))
    dxp = np.einsum("nfijmk,fcmk->ncij", dwindows, rot180(W), optimize=optimize)
    return dxp[:, :, ph:ph + H, pw:pw + Wd], dW, db


def torch_available():
    """True if PyTorch can be imported (the fourth rung of the ladder)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_conv2d(x, W, b, dout, stride=1, padding=0):
    """PyTorch's forward and backward of the same layer: -> (z, dx, dW, db) as NumPy arrays.

    Raises ImportError with a hint when PyTorch is not installed.
    """
    try:
        import torch
    except ImportError as exc:
        raise ImportError("torch_conv2d needs PyTorch: pip install torch (CPU wheels are enough)") from exc
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    Wt = torch.from_numpy(np.ascontiguousarray(W)).requires_grad_()
    bt = torch.from_numpy(np.ascontiguousarray(b)).requires_grad_()
    z = torch.nn.functional.conv2d(xt, Wt, bt, stride=_pair(stride, "stride", "torch_conv2d"),
                                   padding=_padding(padding))
    z.backward(torch.from_numpy(np.ascontiguousarray(dout)))
    return z.detach().numpy(), xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


def best_time(fn, repeat=5, number=1):
    """The fastest of ``repeat`` timings of ``number`` calls of fn(), in seconds per call.

    The minimum, not the mean: other programs only ever make a run slower, so the fastest run is the best
    estimate of what the code itself costs.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


@contextmanager
def single_threaded():
    """Inside this ``with`` block NumPy's BLAS and PyTorch (if already imported) use one thread; restored after.

    Timings then compare algorithms rather than core counts, and they stay steady on a busy machine, where a
    multi-threaded matrix product can stall waiting for a core. BLAS is limited with threadpoolctl.
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    limits = threadpool_limits(1, user_api="blas")
    if torch is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        limits.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(torch_threads)


def conv_stage_times(layer, x, dout, repeat=5):
    """Where Conv2D's fast path spends its time: each stage of forward + backward, timed on its own.

    layer: a Conv2D with stride 1 (the flat im2col layout of cnnlib.layers); x (N, C, H, W); dout (N, F, H_out,
    W_out). The stages are run exactly as Conv2D.forward/backward run them, and their results are checked against
    layer.forward/backward (a ValueError if they ever differ), so the breakdown cannot drift from the real code;
    this runs the layer once, which leaves its cache and grads from (x, dout). Returns {stage description: seconds (best of ``repeat``)}, in the order the stages run.
    """
    if layer.stride != (1, 1):
        raise ValueError(f"conv_stage_times follows the stride-1 path, got a layer with stride {layer.stride}")
    x = np.asarray(x, dtype=layer.dtype)
    dout = np.asarray(dout, dtype=layer.dtype)
    N, F, H_out, W_out = layer.output_shape(x.shape)
    Wm, b = layer.params["W"].reshape(F, -1), layer.params["b"]
    cols, xp, width = layer._columns(x, None)
    z = Wm @ cols

    def to_nchw():
        out = np.empty((N, F, H_out, W_out), dtype=z.dtype)
        return np.add(z.reshape(F, N, H_out, width)[..., :W_out].transpose(1, 0, 2, 3), b[:, None, None], out=out)

    def reorder_delta():
        delta = np.zeros((F, N, H_out, width), dtype=dout.dtype)
        delta[..., :W_out] = dout.transpose(1, 0, 2, 3)
        return delta.reshape(F, -1)

    delta = reorder_delta()
    dcols = Wm.T @ delta
    stages = {
        "im2col: copy the windows into cols": lambda: layer._columns(x, None),
        "GEMM  z = W · cols": lambda: layer._correlate(layer.params["W"], cols, N, H_out, W_out, width),
        "add b, reorder z to NCHW": to_nchw,
        "reorder δ like the columns": reorder_delta,
        "GEMM  dW = (cols · δᵀ)ᵀ": lambda: layer._weight_grad(cols, delta),
        "sum δ for db": lambda: delta.sum(axis=1),
        "GEMM  dcols = Wᵀ · δ": lambda: Wm.T @ delta,
        "col2im: KH·KW shifted adds": lambda: layer._flat_col2im(dcols, xp.shape, H_out),
    }
    # the stages must reproduce the layer itself
    z_layer = layer.forward(x)
    dx_layer = layer.backward(dout)
    dx = layer._crop(layer._flat_col2im(dcols, xp.shape, H_out), x.shape)
    dW = layer._weight_grad(cols, delta).reshape(layer.params["W"].shape)
    for name, mine, theirs in [("z", to_nchw(), z_layer), ("dx", dx, dx_layer), ("dW", dW, layer.grads["W"])]:
        if not np.allclose(mine, theirs, rtol=1e-5, atol=1e-6):
            raise ValueError(f"conv_stage_times: the staged {name} differs from Conv2D's; the stages are out of date")
    return {name: best_time(fn, repeat) for name, fn in stages.items()}
