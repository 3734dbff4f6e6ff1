"""A small convolutional autoencoder for notebook 11: Conv2D with stride 2 down, ConvTranspose2D with stride 2 up.

    x (N, 1, 28, 28) -> Conv2D 4x4 s2 p1 -> (N, C1, 14, 14) -> ReLU -> Conv2D 4x4 s2 p1 -> (N, C2, 7, 7) -> ReLU
      -> ConvTranspose2D 4x4 s2 p1 -> (N, C1, 14, 14) -> ReLU -> ConvTranspose2D 4x4 s2 p1 -> (N, 1, 28, 28)
      -> Sigmoid

The kernel size 4 is a multiple of the stride 2, so every output pixel of the up path is reached by the same
number of kernel taps (cnnlib.transposed.overlap_counts): no checkerboard built into the architecture.
Trained to reproduce its input with the quadratic cost C = (1/2N) Σ_n ||a[n] - x[n]||² (MeanSquaredError).
"""

import numpy as np

from .layers import Conv2D, ConvTranspose2D, ReLU, Sigmoid
from .losses import MeanSquaredError
from .model import Sequential
from .optim import SGD
from .speed import single_threaded
from .train import iterate_minibatches

__all__ = ["conv_autoencoder", "train_autoencoder", "reconstruction_error"]


def conv_autoencoder(channels=(8, 16), *, rng, dtype=np.float32):
    """The autoencoder of the module docstring, with C1, C2 = ``channels``. rng: np.random.Generator."""
    c1, c2 = channels
    return Sequential(
        Conv2D(1, c1, 4, stride=2, padding=1, rng=rng, dtype=dtype), ReLU(),
        Conv2D(c1, c2, 4, stride=2, padding=1, rng=rng, dtype=dtype), ReLU(),
        ConvTranspose2D(c2, c1, 4, stride=2, padding=1, rng=rng, dtype=dtype), ReLU(),
        ConvTranspose2D(c1, 1, 4, stride=2, padding=1, rng=rng, dtype=dtype), Sigmoid(),
    )


def train_autoencoder(model, x, *, epochs=1, batch_size=32, lr=0.005, momentum=0.9, rng):
    """Mini-batch SGD on C = (1/2N) Σ ||model(x) - x||². x: (N, 1, H, W) in [0, 1]. Returns the mean per-pixel
    squared error of each epoch's batches (a list of floats). Runs BLAS single-threaded: on a small batch and a
    busy machine that is many times faster than waiting for cores."""
    loss, optimizer = MeanSquaredError(), SGD(model, lr=lr, momentum=momentum)
    dtype = model[0].params["W"].dtype
    history = []
    with single_threaded():
        for _ in range(epochs):
            total = 0.0
            for idx in iterate_minibatches(len(x), batch_size, rng):
                xb = x[idx]
                a = model.forward(xb)
                total += 2 * loss(a, xb) * len(idx)  # 2·C·N = Σ ||a - x||²
                model.backward(loss.backward().astype(dtype, copy=False))
                optimizer.step()
            history.append(total / x.size)
    return history


def reconstruction_error(model, x, batch_size=500):
    """Mean squared error per pixel, mean((model(x) - x)²), over x (N, 1, H, W)."""
    with single_threaded():
        total = sum(float(np.sum((model.forward(x[k:k + batch_size]) - x[k:k + batch_size]) ** 2))
                    for k in range(0, len(x), batch_size))
    return total / x.size
