"""Stochastic gradient descent, with optional momentum (PyTorch's convention)."""

import numbers

import numpy as np

__all__ = ["SGD"]


def _real_number(owner, name, value):
    """``value`` as a float, or a TypeError naming ``owner``, the setting, and what arrived instead of a number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        hint = " (convert it first, e.g. float(...))" if isinstance(value, str) else ""
        raise TypeError(f"{owner} expected {name} to be a real number (int or float), "
                        f"got {type(value).__name__} {value!r}{hint}")
    return float(value)


class SGD:
    """p ← p - lr · v,  where v ← momentum · v + ∂L/∂p  (v = ∂L/∂p when momentum is 0).

    ``step()`` updates, in place, every (name, param, grad) that ``model.parameters()`` yields. ``lr`` and
    ``momentum`` are checked whenever they are set (a schedule may change ``opt.lr`` between epochs).
    """

    def __init__(self, model, lr, momentum=0.0):
        if not hasattr(model, "parameters"):
            raise TypeError(f"SGD expected a model with a parameters() method, got {type(model).__name__}")
        self.model = model
        self.lr, self.momentum = lr, momentum
        self.velocity = {}

    @property
    def lr(self):
        """The learning rate, a float > 0."""
        return self._lr

    @lr.setter
    def lr(self, value):
        lr = _real_number("SGD", "the learning rate lr", value)
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"SGD expected a learning rate lr > 0, got {value!r}")
        self._lr = lr

    @property
    def momentum(self):
        """The momentum, a float in [0, 1)."""
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        momentum = _real_number("SGD", "momentum", value)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD expected 0 <= momentum < 1, got {value!r}")
        self._momentum = momentum

    def step(self):
        for name, param, grad in self.model.parameters():
            if grad is None:
                raise RuntimeError(f"SGD.step: parameter {name} has no gradient yet; call backward before step")
            if self.momentum:
                v = self.velocity.get(name)
                if v is None:
                    v = self.velocity[name] = grad.copy()
                else:  # v ← momentum · v + ∂L/∂p, in place
                    v *= self.momentum
                    v += grad
                grad = v
            param -= self.lr * grad
