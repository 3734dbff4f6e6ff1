"""ReLU and Dense, fast: ReLU in reused buffers, Dense with the BLAS threads its products are worth."""

import numpy as np

from .conv import Cache
from .memory import memory_of
from .threads import blas_threads


def relu_forward(layer, x):
    mem = memory_of(layer)
    mask = np.greater(x, 0, out=mem.workspace("mask", x.shape, bool))
    out = mem.returned("out", x.shape, x.dtype)
    # The 0 is an array of one sample's shape, broadcast over the batch: against a scalar 0 NumPy takes a loop that is
    # not vectorised (NOTES.md). np.maximum keeps NaN, as PyTorch does.
    zeros = mem.workspaces.get("zeros")
    if zeros is None or zeros.shape != x.shape[1:] or zeros.dtype != x.dtype:
        zeros = mem.workspaces["zeros"] = np.zeros(x.shape[1:], x.dtype)
    layer.cache = Cache(mask=mask)
    return np.maximum(x, zeros, out=out)


def relu_backward(layer, cache, dout, input_grad=True):
    dx = np.multiply(dout, cache["mask"], out=memory_of(layer).returned("dx", dout.shape, dout.dtype))
    return np.add(dx, 0.0, out=dx)  # a negative dout times 0 is -0.0; adding +0.0 makes it 0, as PyTorch does


def dense_forward(layer, x):
    W = layer.params["W"]
    with blas_threads(2 * x.shape[0] * W.size):  # one thread unless the product is large (threads.py)
        y = x @ W.T
    y += layer.params["b"]
    layer.cache = Cache(x=x)
    return y


def dense_backward(layer, cache, dout, input_grad=True):
    W = layer.params["W"]
    with blas_threads(2 * dout.shape[0] * W.size):
        layer.grads = {"W": dout.T @ cache["x"], "b": dout.sum(axis=0)}
        return dout @ W
