"""The Layer protocol every layer follows, and the checks of its inputs (x and dout) that every layer shares.

See the package docstring (``cnnlib/layers/__init__.py``) for the protocol and the letters used in shapes; the
checks of constructor arguments are in ``_checks.py``.
"""

import numpy as np


class Layer:
    """Base class: holds ``params``, ``grads`` and the forward ``cache``; checks inputs with clear errors."""

    dtype = None  # layers with parameters compute in their own dtype; the others keep the input's float dtype
    use_engine = True  # let cnnlib.engine compute this layer where it has a faster version (same values)

    def __init__(self):
        self.params, self.grads, self.cache, self._out_shape = {}, {}, None, None

    def __call__(self, x):
        return self.forward(x)

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"{self.name}()"

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def backward_params(self, dout):
        """Fill ``self.grads`` as ``backward`` does, when ∂L/∂x is not needed (the first layer of a net sees data).
        -> None. Layers for which ∂L/∂x costs real work (Conv2D) skip it; the others just run ``backward``."""
        self.backward(dout)

    # ---- input checks shared by every layer -------------------------------------------------------------
    def _as_input(self, x):
        """Return x as a float array: integer or bool input (uint8 images) is cast, never wrapped."""
        x = np.asarray(x)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise TypeError(f"{self.name} expected a numeric array, got dtype {x.dtype}")
        if np.iscomplexobj(x):
            raise TypeError(f"{self.name} expected a real array, got dtype {x.dtype}")
        if self.dtype is not None:
            return x.astype(self.dtype, copy=False)
        return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)

    def _expect_ndim(self, x, ndim, layout):
        if x.ndim != ndim:
            raise ValueError(f"{self.name} expected x of shape {layout} ({ndim} dimensions), got {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{self.name} got an empty batch: x has shape {x.shape}")

    def _remember(self, out):
        """Note the output's shape (backward checks dout against it) and return out."""
        self._out_shape = out.shape
        return out

    def _check_dout(self, dout):
        """-> (cache, dout): the forward cache, and dout as a float array of the shape forward returned."""
        if self.cache is None:
            raise RuntimeError(f"{self.name}.backward called before forward: run forward(x) first")
        dout = np.asarray(dout)
        if dout.shape != self._out_shape:
            raise ValueError(f"{self.name}.backward expected dout of shape {self._out_shape} (the shape forward "
                             f"returned), got {dout.shape}")
        if not np.issubdtype(dout.dtype, np.floating):
            dout = dout.astype(self.dtype or np.float64)
        elif self.dtype is not None:
            dout = dout.astype(self.dtype, copy=False)
        return self.cache, dout
