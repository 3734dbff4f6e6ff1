"""Checker for the softmax + cross-entropy exercise of notebook 07.

The learner writes ``fn(logits, labels) -> dlogits``: logits (N, K) floats, labels (N,) ints, and dlogits
(N, K) = ∂C/∂logits of the batch-mean cost C = -(1/N) Σ_n log softmax(logits)[n, labels[n]].
The reference is cnnlib's SoftmaxCrossEntropy.
"""

import numpy as np

from ..losses import SoftmaxCrossEntropy, softmax
from ._core import Mistake, check_function

__all__ = ["check_softmax_ce_backward"]


def _reference(logits, labels):
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    return loss.backward()


def _onehot(labels, K):
    return np.eye(K)[labels]


def _no_mean(logits, labels):
    return softmax(logits) - _onehot(labels, logits.shape[1])


def _logits_not_probs(logits, labels):
    return (logits - _onehot(labels, logits.shape[1])) / len(labels)


def _sign(logits, labels):
    return (_onehot(labels, logits.shape[1]) - softmax(logits)) / len(labels)


def _cases():
    """Batches of N > 1 (so the 1/N shows), K from 3 to 10, and a last batch of huge logits that a naive
    softmax turns into nan."""
    rng = np.random.default_rng(701)
    cases = []
    for N, K, scale in [(4, 3, 2.0), (5, 10, 3.0), (2, 7, 1.0)]:
        cases.append((rng.normal(0.0, scale, size=(N, K)), rng.integers(0, K, size=N)))
    cases.append((1000.0 + rng.normal(0.0, 2.0, size=(3, 4)), np.array([2, 0, 3])))
    return cases


CASES = _cases()


def check_softmax_ce_backward(softmax_ce_backward):
    """Check ``softmax_ce_backward(logits (N, K), labels (N,)) -> dlogits (N, K)`` for the batch-mean loss.

    Named mistakes: "forgot 1/N", "used logits instead of probabilities", "sign error".
    """
    return check_function(
        "softmax-CE backward",
        softmax_ce_backward,
        _reference,
        CASES,
        mistakes=[
            Mistake("forgot 1/N",
                    "the cost is the MEAN over the batch, so every row of the gradient carries a factor 1/N: "
                    "(softmax(z) - y) / N.",
                    _no_mean),
            Mistake("used logits instead of probabilities",
                    "the gradient is p - y where p = softmax(z) are probabilities; you subtracted the one-hot "
                    "labels from the raw logits z.",
                    _logits_not_probs),
            Mistake("sign error",
                    "the gradient is p - y, not y - p: raising the true class's logit must LOWER the cost, so "
                    "its entry is negative.",
                    _sign),
        ],
    )
