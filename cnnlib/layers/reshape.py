"""Flatten: (N, C, H, W) feature maps to (N, C·H·W) rows for the Dense layers."""

from ._base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...). Backward reshapes dout back."""

    def forward(self, x):
        x = self._as_input(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten expected x of shape (N, ...) with at least 2 dimensions, got {x.shape}")
        self.cache = x.shape
        return self._remember(x.reshape(x.shape[0], -1))

    def backward(self, dout):
        shape, dout = self._check_dout(dout)
        return dout.reshape(shape)
