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

from .layers.conv import backward_recipe
from .signal import _pair

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
    """The backward pass of conv2d_einsum: notebook 05's recipe (``cnnlib.layers.conv.backward_recipe``), written
    with sliding-window views and einsum. -> (dx, dW, db).

        db[f]          = Σ_n,i,j δ[n, f, i, j]
        dW[f, c, u, v] = Σ_n,i,j δ[n, f, i, j] · windows[n, c, i, j, u, v]        (x ⋆ δ, per channel pair)
        dx_pad         = δ' ⋆ rot180(W), 'full', summed over f                     (δ' = δ with stride − 1
                                                                                     zeros inserted)
    and dx is dx_pad without its padding. x (N, C, H, W), W (F, C, KH, KW), dout (N, F, H_out, W_out).
    """
    x, W = _check(x, W)
    ph, pw = _padding(padding)
    try:
        return backward_recipe(x, W, dout, stride, (ph, ph, pw, pw), optimize=optimize)
    except ValueError as exc:
        raise ValueError(str(exc).replace("backward_recipe", "conv2d_einsum_backward")) from None


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

    layer: a Conv2D with stride 1 (the flat im2col layout of cnnlib/engine/conv.py, which Conv2D runs); x (N, C, H, W); dout (N, F, H_out,
    W_out). The stages are run exactly as the engine runs Conv2D.forward/backward, and their results are checked against
    layer.forward/backward (a ValueError if they ever differ), so the breakdown cannot drift from the real code;
    this runs the layer once, which leaves its cache and grads from (x, dout). Returns {stage description: seconds (best of ``repeat``)}, in the order the stages run.
    """
    if layer.stride != (1, 1):
        raise ValueError(f"conv_stage_times follows the stride-1 path, got a layer with stride {layer.stride}")
    from .engine.conv import engine_of

    eng = engine_of(layer)  # the engine that Conv2D.forward/backward run (cnnlib/engine/conv.py)
    x = np.asarray(x, dtype=layer.dtype)
    dout = np.asarray(dout, dtype=layer.dtype)
    N, F, H_out, W_out = layer.output_shape(x.shape)
    Wm, b = layer.params["W"].reshape(F, -1), layer.params["b"]
    cols, xp, width = eng.columns(x)
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
        "im2col: copy the windows into cols": lambda: eng.columns(x),
        "GEMM  z = W · cols": lambda: eng.correlate(layer.params["W"], cols, N, H_out, W_out, width),
        "add b, reorder z to NCHW": to_nchw,
        "reorder δ like the columns": reorder_delta,
        "GEMM  dW = (cols · δᵀ)ᵀ": lambda: eng.weight_grad(cols, delta),
        "sum δ for db": lambda: delta.sum(axis=1),
        "GEMM  dcols = Wᵀ · δ": lambda: Wm.T @ delta,
        "col2im: KH·KW shifted adds": lambda: eng._flat_col2im(dcols, xp.shape, H_out),
    }
    # the stages must reproduce the layer itself
    z_layer = layer.forward(x)
    dx_layer = layer.backward(dout)
    dx = layer._crop(eng._flat_col2im(dcols, xp.shape, H_out), x.shape)
    dW = eng.weight_grad(cols, delta).reshape(layer.params["W"].shape)
    for name, mine, theirs in [("z", to_nchw(), z_layer), ("dx", dx, dx_layer), ("dW", dW, layer.grads["W"])]:
        if not np.allclose(mine, theirs, rtol=1e-5, atol=1e-6):
            raise ValueError(f"conv_stage_times: the staged {name} differs from Conv2D's; the stages are out of date")
    return {name: best_time(fn, repeat) for name, fn in stages.items()}
