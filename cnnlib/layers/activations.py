"""Element-wise activations: ReLU, Sigmoid, Tanh. Any shape in, same shape out."""

import numpy as np

from ._base import Layer


class ReLU(Layer):
    """ReLU(x) = max(x, 0). Any shape in, same shape out.

    Backward: ∂C/∂x = dout · 1[x > 0]. At exactly x = 0 the derivative does not exist; like PyTorch we use 0.
    """

    def forward(self, x):
        x = self._as_input(x)
        self.cache = np.greater(x, 0, out=self._workspace("mask", x.shape, bool))  # kept between calls
        out = self._returned("out", x.shape, x.dtype)
        # NaN stays NaN (np.maximum propagates it), as in PyTorch. The 0 is an array of one sample's shape, broadcast
        # over the batch: against a scalar 0, NumPy 2.4 takes a loop that is not vectorised (2.7x slower).
        zeros = self.__dict__.get("_zeros")
        if zeros is None or zeros.shape != x.shape[1:] or zeros.dtype != x.dtype:
            zeros = self._zeros = np.zeros(x.shape[1:], x.dtype)
        return self._remember(np.maximum(x, zeros, out=out))

    def backward(self, dout):
        mask, dout = self._check_dout(dout)
        dx = np.multiply(dout, mask, out=self._returned("dx", dout.shape, dout.dtype))
        return np.add(dx, 0.0, out=dx)  # a negative dout times 0 is -0.0; adding +0.0 prints it as 0, as PyTorch does


class Sigmoid(Layer):
    """σ(x) = 1 / (1 + e^{-x}). Any shape. Backward: ∂C/∂x = dout · σ(x)(1 - σ(x))."""

    def forward(self, x):
        x = self._as_input(x)
        y = np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)  # stable for large |x|
        self.cache = y
        return self._remember(y)

    def backward(self, dout):
        y, dout = self._check_dout(dout)
        return dout * y * (1 - y)


class Tanh(Layer):
    """tanh(x). Any shape. Backward: ∂C/∂x = dout · (1 - tanh²(x))."""

    def forward(self, x):
        x = self._as_input(x)
        y = np.tanh(x)
        self.cache = y
        return self._remember(y)

    def backward(self, dout):
        y, dout = self._check_dout(dout)
        return dout * (1 - y * y)
