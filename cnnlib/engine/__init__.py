"""cnnlib's engine: the same layers as cnnlib/layers, computed faster. A reader of the layers can ignore it.

cnnlib/layers/ is the textbook: each layer's ``forward`` and ``backward`` are the notebooks' equations. This package
holds everything that makes training fast and is not part of those equations:

- ``memory.py``   buffers kept between calls (workspaces), arrays handed back only once the caller let go of
                  them, and buffers staggered within a memory page;
- ``conv.py``     Conv2D and ConvTranspose2D: the flat im2col layout, matrix products in column slices, the two
                  halves of the batch (side by side on two threads);
- ``pooling.py``  MaxPool2D and AvgPool2D over the KH·KW taps of the windows;
- ``simple.py``   ReLU in reused buffers, Dense with the right number of BLAS threads;
- ``threads.py``  how many BLAS threads each product gets, and running batch parts side by side.

**The seam.** A layer that the engine knows starts its ``forward`` with

    if engine.runs(self):
        return self._remember(engine.forward(self, x))

(``runs``: the engine has a fast version of this layer and ``layer.use_engine`` is True), and its ``backward``
with

    if isinstance(cache, engine.Cache):
        return engine.backward(self, cache, dout)

The engine's forward leaves an ``engine.Cache`` and its backward picks it up; a textbook forward leaves its own
cache, and the textbook backward runs. Both get the same checked inputs and return the same values (tested to 1e-12 in
float64: tests/test_engine.py). Set ``layer.use_engine = False`` (or ``Layer.use_engine = False`` for all) to run the
textbook lines instead. The caller never receives one of the engine's buffers: outputs, dx and grads are its own.

The reasoning and the measurements behind every threshold: benchmarks/NOTES.md.
"""

from . import conv, pooling, simple
from .conv import Cache

__all__ = ["Cache", "runs", "forward", "backward"]

# layer class name -> (forward(layer, x), backward(layer, cache, dout, input_grad))
_IMPLEMENTATIONS = {
    "Conv2D": (conv.conv2d_forward, conv.conv2d_backward),
    "ConvTranspose2D": (conv.conv_transpose2d_forward, conv.conv_transpose2d_backward),
    "MaxPool2D": (pooling.maxpool2d_forward, pooling.maxpool2d_backward),
    "AvgPool2D": (pooling.avgpool2d_forward, pooling.avgpool2d_backward),
    "ReLU": (simple.relu_forward, simple.relu_backward),
    "Dense": (simple.dense_forward, simple.dense_backward),
}


_BY_TYPE = {}  # layer type -> its (forward, backward), or None


def _implementation_for(cls):
    """A library layer's engine, also for a subclass that overrides neither forward nor backward (one that does
    expects the textbook's cache)."""
    for base in cls.__mro__:
        impl = _IMPLEMENTATIONS.get(base.__name__)
        if impl is not None and base.__module__.startswith("cnnlib.layers"):
            same = cls.forward is base.forward and cls.backward is base.backward
            return impl if same else None
    return None


def runs(layer):
    """True if the engine computes this layer: it has a fast version of it, and ``layer.use_engine`` is True."""
    if not layer.use_engine:
        return False
    cls = type(layer)
    if cls not in _BY_TYPE:
        _BY_TYPE[cls] = _implementation_for(cls)
    return _BY_TYPE[cls] is not None


def forward(layer, x):
    """For a layer that ``runs(layer)``: layer.forward(x) for an x the layer has checked and cast: -> the output; sets layer.cache to an engine Cache."""
    return _BY_TYPE[type(layer)][0](layer, x)


def backward(layer, cache, dout, input_grad=True):
    """layer.backward(dout) after engine.forward, for a checked dout: -> ∂L/∂x (None when not input_grad, for the
    layers that can skip it); fills layer.grads."""
    return _BY_TYPE[type(layer)][1](layer, cache, dout, input_grad)
