"""Checkers for the two exercises of notebook 08.

Exercise 1, class weights. The learner writes ``fn(logits, labels, weights) -> dlogits``: logits (N, Q) floats,
labels (N,) ints, weights (Q,) positive floats, and dlogits (N, Q) = ∂L/∂logits of the class-weighted cross-entropy
averaged with the weights of the samples' classes (the definition PyTorch's ``CrossEntropyLoss(weight=w)`` uses):

    L = Σ_n w[y_n] · (−log softmax(z_n)[y_n]) / Σ_n w[y_n]
    ∂L/∂z_n = w[y_n] · (softmax(z_n) − onehot(y_n)) / Σ_m w[y_m]

The notebook derives p − y for one sample and the factor 1/N of a plain mean; the weights change both: each row is
scaled by its own sample's weight, and the normaliser is the total weight, not N. The last case has logits near
1000, where a naive softmax overflows.
"""

import numpy as np

from .. import losses
from ..losses import SoftmaxCrossEntropy, softmax
from . import _shortcuts
from ._core import Exercise, Mistake, Shortcut, self_check

__all__ = ["check_softmax_ce_backward", "check_softmax_mse_backward"]


def _onehot(labels, K):
    return np.eye(K)[labels]


def _stable_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _weighted(logits, labels, weights, *, probabilities=_stable_softmax, row_weights=True, normaliser=None):
    """w[y_n] (p_n − y_n) / Σ w[y_m], with one step changed when asked."""
    p = probabilities(logits)
    g = p - _onehot(labels, logits.shape[1])
    w = weights[labels]
    g = g * w[:, None] if row_weights else g * weights[None, :]
    return g / (w.sum() if normaliser is None else normaliser)


def _reference(logits, labels, weights):
    return _weighted(logits, labels, weights)


def _naive_softmax(z):
    """exp(z) / Σ exp(z) without subtracting the max: inf / inf = nan for large logits."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


CE_MISTAKES = [
    Mistake("naive softmax overflows",
            "for large logits exp(z) overflows to inf and inf / inf gives nan. softmax(z) does not change when the "
            "same number is subtracted from every logit of a row: choose the number so that exp never sees a "
            "positive argument.",
            lambda z, y, w: _weighted(z, y, w, probabilities=_naive_softmax)),
    Mistake("divided by N, not by the total weight",
            "the loss is a WEIGHTED mean: it divides by the sum of the weights of the samples' classes, and that "
            "normaliser stays in the gradient. Dividing by N is right only when every weight is 1.",
            lambda z, y, w: _weighted(z, y, w, normaliser=len(y))),
    Mistake("forgot the class weights",
            "you returned the unweighted gradient of the notebook. Each sample's term is multiplied by the weight "
            "of ITS class, and the chain rule carries that factor into its row.",
            lambda z, y, w: _weighted(z, y, np.ones_like(w))),
    Mistake("weighted the columns, not the samples",
            "you scaled column k of the gradient by w[k]. The weight belongs to a sample (the weight of its true "
            "class) and multiplies that sample's whole term, so it scales the whole row.",
            lambda z, y, w: _weighted(z, y, w, row_weights=False)),
    Mistake("sign error",
            "raising the true class's logit must LOWER the loss, so its entry of the gradient is negative.",
            lambda z, y, w: -_weighted(z, y, w)),
]


def _cases(seed=701, specs=((4, 3, 2.0), (5, 10, 3.0), (6, 4, 1.0)), huge_labels=(2, 0, 2, 3), with_weights=True):
    """Batches of N > 1 whose labels repeat some classes (so Σ w[y_n] differs from N·mean(w)), K from 3 to 10, and a
    last batch of huge logits that a naive softmax turns into nan. With weights: (logits, labels, weights)."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, K, scale in specs:
        high = min(K, N - 1) if with_weights else K  # with weights: fewer classes than samples, so some repeat
        cases.append((rng.normal(0.0, scale, size=(N, K)), rng.integers(0, high, size=N)))
    cases.append((1000.0 + rng.normal(0.0, 2.0, size=(len(huge_labels), 4)), np.array(huge_labels)))
    if not with_weights:
        return cases
    return [(z, y, rng.uniform(0.2, 3.0, size=z.shape[1])) for z, y in cases]


CASES = _cases()


def _shortcut_list():
    return [_shortcuts.layer(SoftmaxCrossEntropy),
            Shortcut("`cnnlib.losses.softmax`", targets=(losses.softmax, losses.log_softmax),
                     names=("log_softmax", "softmax"),
                     why="hides the step the exercise asks for (a softmax that cannot overflow)"),
            _shortcuts.model(), _shortcuts.numerical()]


def _draw(rng, with_weights=True):
    """New cases at grading time: batches of N > 1 (with weights: fewer classes than samples, so a class repeats),
    K from 3 to 10, and a batch of huge logits."""
    specs = []
    for _ in range(2):
        N = int(rng.integers(3, 8))
        specs.append((N, int(rng.integers(3, 11)), float(rng.uniform(1.0, 3.0))))
    huge = tuple(int(v) for v in rng.integers(0, 4, size=int(rng.integers(3, 7))))
    return _cases(int(rng.integers(2**31)), specs, huge, with_weights=with_weights)


# Check ``softmax_ce_backward(logits (N, Q), labels (N,), weights (Q,)) -> dlogits (N, Q)`` for the class-weighted
# cross-entropy, averaged with the weights of the samples' classes. Named mistakes: "naive softmax overflows",
# "divided by N, not by the total weight", "forgot the class weights", "weighted the columns, not the samples",
# "sign error". Refuses SoftmaxCrossEntropy, cnnlib's softmax and numerical gradients; while graded, only numpy.
EXERCISE = Exercise("softmax_ce_backward", "check_softmax_ce_backward", "class-weighted softmax-CE backward",
                    "08_softmax_cross_entropy", _reference, CASES, _draw, CE_MISTAKES, shortcuts=_shortcut_list)
check_softmax_ce_backward = self_check(EXERCISE)


# ---- exercise 2: softmax followed by a squared error, where nothing collapses --------------------------------
# L = (1 / 2N) Σ_n ||softmax(z_n) - y_n||²: the loss's gradient with respect to p is g = (p - y) / N, and the
# softmax Jacobian diag(p) - p pᵀ (notebook 08, section 2) carries it back.

def _mse_from_g(logits, labels, through):
    p = _stable_softmax(logits)
    g = (p - _onehot(labels, logits.shape[1])) / len(labels)
    return through(p, g)


def _mse_reference(logits, labels):
    return _mse_from_g(logits, labels, lambda p, g: p * (g - np.sum(p * g, axis=1, keepdims=True)))


MSE_MISTAKES = [
    Mistake("used the cross-entropy shortcut p - y",
            "you returned (p - y) / N, the gradient with respect to the PROBABILITIES. ŷ - y is what softmax + "
            "cross-entropy collapses to; with a squared error nothing cancels, so this gradient still has to go "
            "back through the softmax.",
            lambda z, y: _mse_from_g(z, y, lambda p, g: g)),
    Mistake("used only the diagonal of the Jacobian",
            "you multiplied by p(1 - p), the diagonal of the softmax Jacobian alone. Every p_i depends on every "
            "logit: the off-diagonal entries of the Jacobian carry the gradient of the OTHER probabilities into "
            "each logit too. Multiply g by the whole matrix of section 2 (it is symmetric).",
            lambda z, y: _mse_from_g(z, y, lambda p, g: p * (1 - p) * g)),
    Mistake("forgot 1/N",
            "the cost is a mean over the batch: every row of the gradient carries a factor 1/N.",
            lambda z, y: len(y) * _mse_reference(z, y)),
    Mistake("sign error",
            "the gradient points towards higher cost; you returned its negative.",
            lambda z, y: -_mse_reference(z, y)),
]

MSE_CASES = _cases(707, ((4, 3, 2.0), (5, 6, 1.0), (3, 10, 3.0)), (1, 0, 3), with_weights=False)


def _mse_shortcuts():
    return [_shortcuts.layer(SoftmaxCrossEntropy), _shortcuts.layer(losses.MeanSquaredError),
            _shortcuts.model(), _shortcuts.numerical()]


def _mse_draw(rng):
    return _draw(rng, with_weights=False)


# Check ``softmax_mse_backward(logits (N, Q), labels (N,)) -> dlogits (N, Q)`` for
# L = (1/2N) Σ_n ||softmax(z_n) - y_n||², y_n one-hot. cnnlib's ``softmax`` may be used; the loss layers, numerical
# gradients and autograd are refused. Names: "used the cross-entropy shortcut p - y", "used only the diagonal of the
# Jacobian", "forgot 1/N", "sign error".
MSE_EXERCISE = Exercise("softmax_mse_backward", "check_softmax_mse_backward", "softmax + squared error backward",
                        "08_softmax_cross_entropy", _mse_reference, MSE_CASES, _mse_draw, MSE_MISTAKES,
                        allow={"cnnlib.losses": ("softmax", "log_softmax")}, shortcuts=_mse_shortcuts)
check_softmax_mse_backward = self_check(MSE_EXERCISE)
