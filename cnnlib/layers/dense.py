"""Dense: the fully connected layer, with its naive loop reference."""

import numpy as np

from .. import engine
from ._base import Layer
from ._checks import _float_dtype, _positive_int


class Dense(Layer):
    """Fully connected layer: y = x Wᵀ + b.

    x: (N, in_features) -> y: (N, out_features)
    params["W"]: (out_features, in_features), params["b"]: (out_features,)
    Backward: ∂L/∂x = δ W,  ∂L/∂W = δᵀ x,  ∂L/∂b = Σ_n δ[n]   (δ = dout, shape (N, out_features))
    """

    def __init__(self, in_features, out_features, *, rng=None, dtype=np.float64):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Dense")
        self.out_features = _positive_int(out_features, "out_features", "Dense")
        self.dtype = _float_dtype(dtype, "Dense")
        rng = np.random.default_rng() if rng is None else rng
        bound = np.sqrt(6.0 / self.in_features)
        W = rng.uniform(-bound, bound, size=(self.out_features, self.in_features))
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(self.out_features, dtype=self.dtype)}

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"

    def _prepare(self, x):
        x = self._as_input(x)
        self._expect_ndim(x, 2, f"(N, {self.in_features})")
        if x.shape[1] != self.in_features:
            raise ValueError(f"Dense expected x of shape (N, {self.in_features}), got {x.shape}")
        return x

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features)."""
        x = self._prepare(x)
        if engine.runs(self):  # the same y, computed by cnnlib.engine
            return self._remember(engine.forward(self, x))
        self.cache = {"x": x}
        return self._remember(x @ self.params["W"].T + self.params["b"])

    def backward(self, dout):
        """dout = δ: (N, out_features) -> dx: (N, in_features); fills grads["W"], grads["b"]."""
        cache, dout = self._check_dout(dout)
        if isinstance(cache, engine.Cache):  # forward ran in the engine: so does backward
            return engine.backward(self, cache, dout)
        self.grads = {"W": dout.T @ cache["x"], "b": dout.sum(axis=0)}
        return dout @ self.params["W"]

    def forward_naive(self, x):
        """y[n, o] = b[o] + Σ_i x[n, i] W[o, i], one entry at a time."""
        x = self._prepare(x)
        self.cache = {"x": x}
        W, b = self.params["W"], self.params["b"]
        y = np.zeros((x.shape[0], self.out_features), dtype=self.dtype)
        for n in range(x.shape[0]):
            for o in range(self.out_features):
                y[n, o] = b[o] + sum(x[n, i] * W[o, i] for i in range(self.in_features))
        return self._remember(y)

    def backward_naive(self, dout):
        """Each δ[n, o] adds x[n] to dW[o], 1 to db[o], and W[o] to dx[n]."""
        cache, dout = self._check_dout(dout)
        x, W = cache["x"], self.params["W"]
        dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros_like(self.params["b"])
        for n in range(x.shape[0]):
            for o in range(self.out_features):
                db[o] += dout[n, o]
                dW[o] += dout[n, o] * x[n]
                dx[n] += dout[n, o] * W[o]
        self.grads = {"W": dW, "b": db}
        return dx
