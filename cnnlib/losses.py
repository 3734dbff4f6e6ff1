"""Losses: a scalar cost L from the network's output, and ∂L/∂output for backward.

Both losses average over the batch, so their gradients carry a factor 1/N (notebook 08).
"""

import numpy as np

__all__ = ["SoftmaxCrossEntropy", "MeanSquaredError", "softmax", "log_softmax"]


def log_softmax(logits):
    """log p_k = z_k - logsumexp(z), computed after subtracting the row max so nothing overflows.

    logits: (N, Q) -> (N, Q), or one vector (Q,) -> (Q,), for Q classes; the softmax runs along the last axis.
    """
    logits = np.asarray(logits)
    if logits.ndim not in (1, 2) or logits.shape[-1] == 0:
        raise ValueError(f"log_softmax expected logits of shape (N, Q) or (Q,), got {logits.shape}")
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits):
    """p_k = e^{z_k} / Σ_j e^{z_j}, the stable way (log-sum-exp trick). logits: (N, Q) or (Q,), same shape out."""
    return np.exp(log_softmax(logits))


class SoftmaxCrossEntropy:
    """Softmax followed by cross-entropy, fused so that the gradient collapses to (ŷ - y) / N.

    forward(logits (N, Q), labels (N,) int in 0..Q-1) -> L = -(1/N) Σ_n log softmax(logits)[n, labels[n]]
    backward() -> ∂L/∂logits = (softmax(logits) - onehot(labels)) / N, shape (N, Q)
    """

    def __init__(self):
        self.cache = None

    def __call__(self, logits, labels):
        return self.forward(logits, labels)

    def forward(self, logits, labels):
        logits = np.asarray(logits)
        if not np.issubdtype(logits.dtype, np.floating):
            logits = logits.astype(np.float64)
        if logits.ndim != 2:
            raise ValueError(f"SoftmaxCrossEntropy expected logits of shape (N, Q), got {logits.shape}")
        N, K = logits.shape
        if N == 0:
            raise ValueError(f"SoftmaxCrossEntropy got an empty batch: logits have shape {logits.shape}")
        _check_finite("SoftmaxCrossEntropy", "logits", logits)
        labels = _check_labels(labels, N, K)
        log_p = log_softmax(logits)
        self.cache = {"p": np.exp(log_p), "labels": labels}
        return float(-log_p[np.arange(N), labels].mean())

    @property
    def probs(self):
        """The softmax probabilities of the last forward, (N, Q)."""
        return self._cached()["p"]

    def _cached(self):
        if self.cache is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward: run forward(logits, labels) first")
        return self.cache

    def backward(self):
        """-> ∂L/∂logits = (p - onehot) / N, shape (N, Q)."""
        cache = self._cached()
        p, labels = cache["p"], cache["labels"]
        dlogits = p.copy()
        dlogits[np.arange(len(labels)), labels] -= 1
        return dlogits / len(labels)


def _check_finite(owner, what, values, diverged=True):
    """ValueError if ``values`` holds NaN or ±inf: a loss of them would be NaN or inf, and its gradient NaN.
    Names the first bad entry (its index and value) and how many there are."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f"row {first[0]}, column {first[1]}" if len(first) == 2 else f"index {first}"
    value = values[first]
    kind = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    cause = "; the network diverged: try a lower learning rate" if diverged else ""
    raise ValueError(f"{owner} expected finite {what}, got {kind} {what} (first at {where}); "
                     f"{int(bad.sum())} of {bad.size} values are not finite{cause}")


def _check_labels(labels, N, K):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != N:
        raise ValueError(f"SoftmaxCrossEntropy expected labels of shape ({N},) to match the logits, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"SoftmaxCrossEntropy expected integer class labels, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= K:
        raise ValueError(f"SoftmaxCrossEntropy expected labels in 0..{K - 1} for {K} classes, "
                         f"got values from {labels.min()} to {labels.max()}")
    return labels.astype(np.int64, copy=False)


class MeanSquaredError:
    """Quadratic cost, as in the MLP notebook: L = (1/2N) Σ_n ||a[n] - y[n]||².

    forward(a (N, ...), y same shape) -> float;  backward() -> ∂L/∂a = (a - y) / N.
    (PyTorch's MSELoss averages over every element and has no 1/2; this one is the textbook form.)
    """

    def __init__(self):
        self.cache = None

    def __call__(self, a, y):
        return self.forward(a, y)

    def forward(self, a, y):
        a, y = np.asarray(a, dtype=np.result_type(a, np.float64)), np.asarray(y, dtype=np.result_type(y, np.float64))
        if a.shape != y.shape:
            raise ValueError(f"MeanSquaredError expected targets of the same shape as the predictions {a.shape}, got {y.shape}")
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"MeanSquaredError expected a non-empty batch (N, ...), got shape {a.shape}")
        _check_finite("MeanSquaredError", "predictions", a)
        _check_finite("MeanSquaredError", "targets", y, diverged=False)
        diff = a - y
        self.cache = diff
        return float(0.5 * np.sum(diff * diff) / a.shape[0])

    def backward(self):
        if self.cache is None:
            raise RuntimeError("MeanSquaredError.backward called before forward: run forward(a, y) first")
        return self.cache / self.cache.shape[0]
