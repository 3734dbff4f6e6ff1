"""Stochastic gradient descent, with optional momentum (PyTorch's convention)."""

import numpy as np

__all__ = ["SGD"]


class SGD:
    """p ← p - lr · v,  where v ← momentum · v + ∂C/∂p  (v = ∂C/∂p when momentum is 0).

    ``step()`` updates, in place, every (name, param, grad) that ``model.parameters()`` yields.
    """

    def __init__(self, model, lr, momentum=0.0):
        if not hasattr(model, "parameters"):
            raise TypeError(f"SGD expected a model with a parameters() method, got {type(model).__name__}")
        if not np.isscalar(lr) or not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"SGD expected a learning rate lr > 0, got {lr!r}")
        if not np.isscalar(momentum) or not 0 <= momentum < 1:
            raise ValueError(f"SGD expected 0 <= momentum < 1, got {momentum!r}")
        self.model, self.lr, self.momentum = model, float(lr), float(momentum)
        self.velocity = {}

    def step(self):
        for name, param, grad in self.model.parameters():
            if grad is None:
                raise RuntimeError(f"SGD.step: parameter {name} has no gradient yet; call backward before step")
            if self.momentum:
                v = self.velocity.get(name)
                if v is None:
                    v = self.velocity[name] = grad.copy()
                else:  # v ← momentum · v + ∂C/∂p, in place
                    v *= self.momentum
                    v += grad
                grad = v
            param -= self.lr * grad
