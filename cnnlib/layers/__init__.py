"""Layers with a forward and a backward pass, in the NCHW layout that PyTorch uses: the textbook.

The protocol (every layer follows it):

- ``forward(x)`` returns the output and caches exactly what ``backward`` needs.
- ``backward(dout)`` takes ∂L/∂out (the shape ``forward`` returned), returns ∂L/∂x and fills ``self.grads``
  with ∂L/∂p for every ``p`` in ``self.params`` (same keys).
- Optimizers update ``self.params`` in place.

Letters used in every shape: N batch (sample n), C input channels (c), H, W input height and width, F output
channels or filters (f), KH×KW kernel size with kernel indices (u, v), H_out, W_out output size with output
positions (i, j); every index starts at 0.

Layers with loops that read like the equations of the notebooks have ``forward_naive`` / ``backward_naive`` beside
``forward`` / ``backward``; they fill the same cache and grads, and tests assert that the two agree.

Speed lives elsewhere: where cnnlib.engine has a faster version of a layer (Conv2D, ConvTranspose2D, the pooling
layers, ReLU, Dense), ``forward`` hands the checked input to it in one line (``if engine.runs(self)``) and
``backward`` follows whichever way forward went. The engine returns the same values; ``layer.use_engine = False``
runs the textbook lines. See cnnlib/engine/__init__.py.
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
