"""Sequential: layers applied in order; backward runs them in reverse (the chain rule, one layer at a time)."""

import os
import zipfile

import numpy as np

from .input_scale import warn_if_unscaled
from .layers import Layer
from .layers._checks import _float_dtype

__all__ = ["Sequential"]


class Sequential:
    """A stack of layers. forward(x) feeds each layer's output to the next; backward(dout) walks back.

    dtype: None keeps every layer's own dtype; np.float32 or np.float64 makes every layer compute in it (the
    parameters are cast, and so is the input of each layer). Training in float32 halves the memory traffic and
    lets BLAS do twice as many multiply-adds per instruction; float64 is for the exact checks of the notebooks:

        model = Sequential(Conv2D(1, 3, 5), ReLU(), MaxPool2D(2), Flatten(), Dense(432, 10), dtype=np.float32)

    Parameter names are "<index>.<key>", e.g. "0.W" for the weights of the first layer, as in PyTorch.
    """

    def __init__(self, *layers, dtype=None):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential expected Layer objects, got {type(layer).__name__} at position {i}")
        self.layers = list(layers)
        self.dtype = None if dtype is None else _float_dtype(dtype, "Sequential")
        if self.dtype is not None:
            for layer in self.layers:
                layer.dtype = self.dtype  # a layer casts its input (and dout) to its dtype
                for key, p in layer.params.items():
                    layer.params[key] = p.astype(self.dtype, copy=False)

    def __repr__(self):
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """x -> the last layer's output. The first call warns (InputScaleWarning) if x holds integers or values
        far outside [0, 1], which the layers' initial weights are not made for."""
        if not getattr(self, "_input_checked", False):
            self._input_checked = True
            warn_if_unscaled(x, "Sequential.forward (first layer)")
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, input_grad=True):
        """dout = ∂L/∂(last output) -> ∂L/∂x; fills every layer's grads on the way.

        input_grad=False: training only needs the parameters' grads, not ∂L/∂x of the input (the data), so the
        first layer skips it (``Layer.backward_params``) and this returns None. PyTorch does the same for an input
        that does not require grad; for a first Conv2D it saves a GEMM and the col2im.
        """
        last = 0 if input_grad else 1
        for layer in reversed(self.layers[last:]):
            dout = layer.backward(dout)
        if not input_grad and self.layers:
            self.layers[0].backward_params(dout)
            return None
        return dout

    def predict(self, x, batch_size=256):
        """Class scores for x in batches, without keeping anything for backward. -> (N, Q), Q the number of classes."""
        outs = [self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(outs)

    def parameters(self):
        """Yield (name, param, grad) for every parameter; grad is None before the first backward."""
        for i, layer in enumerate(self.layers):
            for key, param in layer.params.items():
                yield f"{i}.{key}", param, layer.grads.get(key)

    def first_nonfinite(self, grads=False):
        """Describe the first parameter (or, with grads=True, gradient) holding NaN or ±inf, or None if all are finite.

        -> e.g. "layer 0 (Conv2D) parameter W has 1 NaN and 0 inf of 75 values"
        """
        for i, layer in enumerate(self.layers):
            arrays = layer.grads if grads else layer.params
            for key in layer.params:
                a = arrays.get(key)
                if a is None or np.isfinite(a).all():
                    continue
                kind = "gradient of" if grads else "parameter"
                n_nan = int(np.isnan(a).sum())
                return (f"layer {i} ({type(layer).__name__}) {kind} {key} has {n_nan} NaN and "
                        f"{int(np.isinf(a).sum())} inf of {a.size} values")
        return None

    def state_dict(self):
        """{name: array} of every parameter (the arrays themselves, not copies)."""
        return {name: p for name, p, _ in self.parameters()}

    def save(self, path):
        """Write every parameter to an .npz file (plain arrays, no pickle)."""
        np.savez(path, **self.state_dict())

    def load(self, path):
        """Read parameters saved by ``save``. Refuses a file whose names or shapes differ, listing them."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"Sequential.load: no such file {path}")
        stored = _read_npz(path)
        own = self.state_dict()
        problems = []
        missing = sorted(set(own) - set(stored))
        extra = sorted(set(stored) - set(own))
        if missing:
            problems.append(f"missing from the file: {', '.join(missing)}")
        if extra:
            problems.append(f"in the file but not in the model: {', '.join(extra)}")
        for name in sorted(set(own) & set(stored)):
            if own[name].shape != stored[name].shape:
                problems.append(f"{name}: the model has shape {own[name].shape}, the file has {stored[name].shape}")
        for name in sorted(set(own) & set(stored)):
            bad = ~np.isfinite(stored[name])
            if bad.any():
                problems.append(f"{name} holds {int(bad.sum())} non-finite values (NaN or inf) of {bad.size}")
        if problems:
            raise ValueError(f"Sequential.load: {path} does not match this model; " + "; ".join(problems))
        for name, param in own.items():
            param[...] = stored[name]  # in place, so optimizers holding these arrays stay valid
        return self


def _read_npz(path):
    """{name: array} of the .npz file that Sequential.save wrote; ValueError naming the loader, the file and what
    it holds instead for anything else (another kind of file, an empty one, a single .npy array, a damaged
    archive, pickled objects). Nothing is unpickled."""
    expected = "an .npz archive of named arrays, as Sequential.save writes"
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise ValueError(f"Sequential.load: {path} is empty, expected {expected}")
    if head.startswith(b"\x93NUMPY"):
        raise ValueError(f"Sequential.load: {path} is a single .npy array, expected {expected}")
    if not head.startswith(b"PK"):
        raise ValueError(f"Sequential.load: {path} is not {expected}: it starts with the bytes {head!r}, "
                         "and an .npz archive starts with b'PK'")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"Sequential.load: {path} is not {expected} ({type(exc).__name__}: {exc})") from None
