"""Element-wise activations: ReLU, Sigmoid, Tanh. Any shape in, same shape out."""

import numpy as np

from .. import engine
from ._base import Layer


class ReLU(Layer):
    """ReLU(x) = max(x, 0). Any shape in, same shape out.

    Backward: ∂L/∂x = dout · 1[x > 0]. At exactly x = 0 the derivative does not exist; like PyTorch we use 0.
    NaN stays NaN, as in PyTorch.
    """

    def forward(self, x):
        x = self._as_input(x)
        if engine.runs(self):  # the same output, computed faster by cnnlib.engine
            return self._remember(engine.forward(self, x))
        self.cache = x > 0
        return self._remember(np.maximum(x, 0).astype(x.dtype, copy=False))

    def backward(self, dout):
        mask, dout = self._check_dout(dout)
        if isinstance(mask, engine.Cache):  # forward ran in the engine: so does backward
            return engine.backward(self, mask, dout)
        return np.where(mask, dout, 0.0).astype(dout.dtype, copy=False)  # +0.0 where blocked, as in PyTorch


class Sigmoid(Layer):
    """σ(x) = 1 / (1 + e^{-x}). Any shape. Backward: ∂L/∂x = dout · σ(x)(1 - σ(x))."""

    def forward(self, x):
        x = self._as_input(x)
        y = np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)  # stable for large |x|
        self.cache = y
        return self._remember(y)

    def backward(self, dout):
        y, dout = self._check_dout(dout)
        return dout * y * (1 - y)


class Tanh(Layer):
    """tanh(x). Any shape. Backward: ∂L/∂x = dout · (1 - tanh²(x))."""

    def forward(self, x):
        x = self._as_input(x)
        y = np.tanh(x)
        self.cache = y
        return self._remember(y)

    def backward(self, dout):
        y, dout = self._check_dout(dout)
        return dout * (1 - y * y)
