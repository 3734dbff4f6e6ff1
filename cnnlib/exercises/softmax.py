"""Checker for the softmax + cross-entropy exercise of notebook 08.

The learner writes ``fn(logits, labels) -> dlogits``: logits (N, K) floats, labels (N,) ints, and dlogits
(N, K) = ∂C/∂logits of the batch-mean cost C = -(1/N) Σ_n log softmax(logits)[n, labels[n]].
The reference is cnnlib's SoftmaxCrossEntropy.
"""

import numpy as np

from .. import losses
from ..losses import SoftmaxCrossEntropy, softmax
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_softmax_ce_backward", "check_softmax_mse_backward"]


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


def _naive(logits, labels):
    """exp(z) / Σ exp(z) without subtracting the max: inf / inf = nan for large logits."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
    return (p - _onehot(labels, logits.shape[1])) / len(labels)


def _cases(seed=701, specs=((4, 3, 2.0), (5, 10, 3.0), (2, 7, 1.0)), huge_labels=(2, 0, 3)):
    """Batches of N > 1 (so the 1/N shows), K from 3 to 10, and a last batch of huge logits that a naive
    softmax turns into nan."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, K, scale in specs:
        cases.append((rng.normal(0.0, scale, size=(N, K)), rng.integers(0, K, size=N)))
    cases.append((1000.0 + rng.normal(0.0, 2.0, size=(len(huge_labels), 4)), np.array(huge_labels)))
    return cases


CASES = _cases()


def _shortcut_list():
    return [_shortcuts.layer(SoftmaxCrossEntropy),
            Shortcut("`cnnlib.losses.softmax`", targets=(losses.softmax, losses.log_softmax),
                     names=("log_softmax", "softmax"),
                     why="hides the step the exercise asks for (a softmax that cannot overflow)"),
            _shortcuts.model(), _shortcuts.numerical()]


CE_MISTAKES = [
    Mistake("naive softmax overflows",
            "for large logits exp(z) overflows to inf and inf / inf gives nan. Subtract each row's "
            "maximum before exp (softmax(z) = softmax(z - max z)): the result is the same, and exp "
            "never sees a number above 0.",
            _naive),
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
]


def _draw(rng):
    """New cases at grading time: batches of N > 1, K from 3 to 10, and a batch of huge logits."""
    specs = [(int(rng.integers(2, 8)), int(rng.integers(3, 11)), float(rng.uniform(1.0, 3.0))) for _ in range(2)]
    huge = tuple(int(v) for v in rng.integers(0, 4, size=int(rng.integers(2, 7))))
    return _cases(int(rng.integers(2**31)), specs, huge)


# Check ``softmax_ce_backward(logits (N, K), labels (N,)) -> dlogits (N, K)`` for the batch-mean loss. Named
# mistakes: "naive softmax overflows", "forgot 1/N", "used logits instead of probabilities", "sign error".
# Refuses SoftmaxCrossEntropy, cnnlib's softmax and numerical gradients.
EXERCISE = Exercise("softmax_ce_backward", "check_softmax_ce_backward", "softmax-CE backward",
                    "08_softmax_cross_entropy", _reference, CASES, _draw, CE_MISTAKES, shortcuts=_shortcut_list)
check_softmax_ce_backward = self_check(EXERCISE)


# ---- exercise 2: softmax followed by a squared error, where nothing collapses --------------------------------
# C = (1 / 2N) Σ_n ||softmax(z_n) - y_n||²: the cost's gradient with respect to p is g = (p - y) / N, and the
# softmax Jacobian diag(p) - p pᵀ (notebook 08, section 2) carries it back:  ∂C/∂z = p ⊙ (g - <p, g>).
def _stable_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _mse_from_g(logits, labels, through):
    p = _stable_softmax(logits)
    g = (p - _onehot(labels, logits.shape[1])) / len(labels)
    return through(p, g)


def _mse_reference(logits, labels):
    return _mse_from_g(logits, labels, lambda p, g: p * (g - np.sum(p * g, axis=1, keepdims=True)))


MSE_MISTAKES = [
    Mistake("used the cross-entropy shortcut p - y",
            "you returned (p - y) / N, the gradient with respect to the PROBABILITIES. ŷ - y is what softmax + "
            "cross-entropy collapses to; with a squared error nothing cancels, so carry g = (p - y)/N back through "
            "the softmax Jacobian diag(p) - p pᵀ.",
            lambda z, y: _mse_from_g(z, y, lambda p, g: g)),
    Mistake("used only the diagonal of the Jacobian",
            "you multiplied by p(1 - p), the diagonal of the softmax Jacobian. Every p_i depends on every logit: "
            "the off-diagonal entries -p_i p_j add -p_j Σ_i p_i g_i. Use (diag(p) - p pᵀ) g = p ⊙ (g - <p, g>).",
            lambda z, y: _mse_from_g(z, y, lambda p, g: p * (1 - p) * g)),
    Mistake("forgot 1/N",
            "the cost is a mean over the batch: every row of the gradient carries a factor 1/N.",
            lambda z, y: len(y) * _mse_reference(z, y)),
    Mistake("sign error",
            "the gradient points towards higher cost; you returned its negative.",
            lambda z, y: -_mse_reference(z, y)),
]

MSE_CASES = _cases(707, ((4, 3, 2.0), (5, 6, 1.0), (3, 10, 3.0)), (1, 0, 3))


def _mse_shortcuts():
    return [_shortcuts.layer(SoftmaxCrossEntropy), _shortcuts.layer(losses.MeanSquaredError),
            _shortcuts.model(), _shortcuts.numerical()]


# Check ``softmax_mse_backward(logits (N, K), labels (N,)) -> dlogits (N, K)`` for
# C = (1/2N) Σ_n ||softmax(z_n) - y_n||², y_n one-hot. cnnlib's ``softmax`` may be used; the loss layers, numerical
# gradients and autograd are refused. Names: "used the cross-entropy shortcut p - y", "used only the diagonal of the
# Jacobian", "forgot 1/N", "sign error".
MSE_EXERCISE = Exercise("softmax_mse_backward", "check_softmax_mse_backward", "softmax + squared error backward",
                        "08_softmax_cross_entropy", _mse_reference, MSE_CASES, _draw, MSE_MISTAKES,
                        allow={"cnnlib.losses": ("softmax", "log_softmax")}, shortcuts=_mse_shortcuts)
check_softmax_mse_backward = self_check(MSE_EXERCISE)
