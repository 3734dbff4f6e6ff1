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

from ._base import Layer
from .activations import ReLU, Sigmoid, Tanh
from .conv import Conv2D
from .conv_transpose import ConvTranspose2D
from .dense import Dense
from .pooling import AvgPool2D, MaxPool2D
from .reshape import Flatten

__all__ = [
    "Layer",
    "Conv2D",
    "ConvTranspose2D",
    "Dense",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "MaxPool2D",
    "AvgPool2D",
    "Flatten",
]
