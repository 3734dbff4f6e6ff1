"""A minimal reverse-mode automatic differentiation engine over NumPy arrays.

Each operation builds a new ``Tensor`` that remembers its parents, and defines right beside its forward how
to send the output's gradient back to them (the local chain rule). ``backward()`` visits the graph in reverse
topological order, so a node's gradient is complete before it is passed on. Gradients accumulate with ``+=``:
a tensor used twice receives both contributions, as the multivariable chain rule says.

    x = Tensor(np.ones((2, 3)))
    y = (x * x).sum()          # y = Σ x²
    y.backward()               # x.grad == 2·x

This is enough to build a convolution from slices and products and watch the rot180 of notebook 04 come out
of the chain rule by itself (tests/test_autodiff.py does exactly that), or max-pooling from reshape and max.
"""

import numpy as np

__all__ = ["Tensor", "tap_slices"]


def _unbroadcast(grad, shape):
    """Sum grad (the shape of a broadcast result) back down to ``shape``: the adjoint of NumPy broadcasting.

    An input that was repeated along an axis received the gradient of every copy, so those axes are summed.
    """
    while grad.ndim > len(shape):  # axes that broadcasting added in front
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):  # axes of length 1 that were stretched
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Tensor:
    """A float64 array ``data``, its gradient ``grad`` (same shape, starts at 0) and the graph that made it."""

    def __init__(self, data, _parents=(), _op=""):
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self._parents = _parents
        self._op = _op
        self._backward = lambda: None  # leaves have nothing to pass on

    __array_ufunc__ = None  # numpy array + Tensor: let NumPy hand over to Tensor.__radd__ instead of looping

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)

    def __repr__(self):
        return f"Tensor(shape={self.shape}, op={self._op or 'leaf'!r})"

    # ---- element-wise, with broadcasting ----------------------------------------------------------------
    def __add__(self, other):
        """Any shapes that broadcast. ∂(a + b)/∂a = 1, summed over the axes where a was broadcast."""
        other = _lift(other)
        out = Tensor(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += _unbroadcast(out.grad, self.shape)
            other.grad += _unbroadcast(out.grad, other.shape)
        out._backward = _backward
        return out

    def __mul__(self, other):
        """Any shapes that broadcast. ∂(a·b)/∂a = b."""
        other = _lift(other)
        out = Tensor(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += _unbroadcast(out.grad * other.data, self.shape)
            other.grad += _unbroadcast(out.grad * self.data, other.shape)
        out._backward = _backward
        return out

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-_lift(other))

    def __rsub__(self, other):
        return _lift(other) + (-self)

    # ---- reductions and products ------------------------------------------------------------------------
    def sum(self, axis=None):
        """Sum over ``axis`` (None: all, an int or a tuple). Every summed entry gets the output's gradient."""
        out = Tensor(self.data.sum(axis=axis), (self,), "sum")

        def _backward():
            g = out.grad if axis is None else np.expand_dims(out.grad, axis)
            self.grad += np.broadcast_to(g, self.shape)
        out._backward = _backward
        return out

    def max(self, axis):
        """Max over one int ``axis``. The gradient goes to the maximum; on a tie to the first, as MaxPool2D does."""
        idx = np.expand_dims(np.argmax(self.data, axis=axis), axis)  # argmax picks the first maximum
        out = Tensor(np.take_along_axis(self.data, idx, axis).squeeze(axis), (self,), "max")

        def _backward():
            g = np.zeros_like(self.data)
            np.put_along_axis(g, idx, np.expand_dims(out.grad, axis), axis)
            self.grad += g
        out._backward = _backward
        return out

    def __matmul__(self, other):
        """(..., n, k) @ (..., k, m) -> (..., n, m). ∂L/∂a = δ bᵀ, ∂L/∂b = aᵀ δ (batch axes summed if broadcast)."""
        other = _lift(other)
        if self.ndim < 2 or other.ndim < 2:
            raise ValueError(f"Tensor @ expected two arrays of at least 2 dimensions, got {self.shape} @ {other.shape}")
        out = Tensor(self.data @ other.data, (self, other), "@")

        def _backward():
            self.grad += _unbroadcast(out.grad @ np.swapaxes(other.data, -1, -2), self.shape)
            other.grad += _unbroadcast(np.swapaxes(self.data, -1, -2) @ out.grad, other.shape)
        out._backward = _backward
        return out

    # ---- moving entries around --------------------------------------------------------------------------
    def reshape(self, *shape):
        """Same entries, new shape; the gradient is reshaped back."""
        out = Tensor(self.data.reshape(*shape), (self,), "reshape")

        def _backward():
            self.grad += out.grad.reshape(self.shape)
        out._backward = _backward
        return out

    def __getitem__(self, index):
        """NumPy indexing: ints, slices with steps, index arrays. Backward scatters the gradient to the entries
        that were read; ``np.add.at`` adds, so an entry read twice (a repeated index) gets both shares."""
        out = Tensor(self.data[index], (self,), "[]")

        def _backward():
            g = np.zeros_like(self.data)
            np.add.at(g, index, out.grad)
            self.grad += g
        out._backward = _backward
        return out

    def pad(self, widths):
        """Zero padding, ``widths`` as ``np.pad`` takes them: an int, (before, after), or one pair per axis.
        Backward crops the padding off the gradient (the zeros depend on nothing)."""
        pairs = np.broadcast_to(np.asarray(widths, dtype=int), (self.ndim, 2))
        if (pairs < 0).any():
            raise ValueError(f"Tensor.pad expected widths >= 0, got {widths!r}")
        out = Tensor(np.pad(self.data, pairs), (self,), "pad")
        inside = tuple(slice(before, before + n) for (before, _), n in zip(pairs, self.shape))

        def _backward():
            self.grad += out.grad[inside]
        out._backward = _backward
        return out

    # ---- the chain rule over the whole graph ------------------------------------------------------------
    def backward(self, grad=None):
        """Add ∂L/∂t to ``t.grad`` for every tensor t this one depends on, where ∂L/∂self = ``grad``.

        grad: of self's shape; may be omitted when self is a scalar (then it is 1). Leaves (inputs, parameters)
        accumulate over calls, as in PyTorch: zero their ``grad`` between steps.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"Tensor.backward needs grad for a non-scalar tensor of shape {self.shape}")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != self.shape:
            raise ValueError(f"Tensor.backward expected grad of shape {self.shape}, got {grad.shape}")

        order, seen, stack = [], set(), [(self, False)]  # depth-first, parents before children in `order`
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        for node in order:  # intermediate results hold this call's gradient; leaves accumulate over calls
            if node._parents:
                node.grad = np.zeros_like(node.data)
        self.grad += grad
        for node in reversed(order):  # every consumer of a node runs before the node passes its gradient on
            node._backward()


def _lift(v):
    """A constant (a number or an array) as a Tensor, so that 2 * t and t + array work."""
    return v if isinstance(v, Tensor) else Tensor(v)


def tap_slices(u, v, out_shape, stride):
    """The (rows, columns) slices of x that kernel tap (u, v) reads, for an output (H_out, W_out) and a stride:
    x[u : u + s·(H_out − 1) + 1 : s, v : v + s·(W_out − 1) + 1 : s], an (H_out, W_out) window (notebook 12)."""
    (H_out, W_out), s = out_shape, stride
    return slice(u, u + s * (H_out - 1) + 1, s), slice(v, v + s * (W_out - 1) + 1, s)
