"""Exercise of notebook 01: the delta of a hidden layer (equation BP2).

    δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l),    σ'(z) = σ(z)(1 - σ(z)) for the sigmoid

The learner writes ``hidden_delta(W_next, delta_next, z)`` with
W_next = W^{l+1} of shape (n_next, n), delta_next = δ^{l+1} of shape (n_next,), z = z^l of shape (n,),
and returns δ^l of shape (n,).
"""

import numpy as np

from ..layers import Dense, Sigmoid, Tanh
from . import _shortcuts
from ._core import CheckResult, Mistake, check_function

__all__ = ["check_hidden_delta", "check_hidden_delta_tanh"]

EXERCISE = "hidden-layer delta (BP2)"


def _sigmoid(z):
    return Sigmoid().forward(z)


def _reference(W_next, delta_next, z):
    """δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l). W_next (n_next, n), delta_next (n_next,), z (n,) -> (n,)."""
    s = _sigmoid(z)
    return (W_next.T @ delta_next) * s * (1 - s)


def _cases(seed=1001, shapes=((2, 4), (4, 3), (3, 3), (1, 5))):
    """Fixed cases. Most have a non-square W, where W @ δ fails to run (the checker then tells the mistake apart
    by shape); one has a square, non-symmetric W, where W @ δ runs and is told apart by value."""
    rng = np.random.default_rng(seed)
    # shapes: (n_next, n)
    return [(rng.standard_normal((k, n)), rng.standard_normal(k), rng.standard_normal(n)) for k, n in shapes]


def _hidden_cases():
    return _cases(10010, ((3, 5), (4, 4), (6, 2)))


def _shortcut_list():
    """Library code that computes a δ: a layer's backward (Dense, Sigmoid, Tanh), a model's, a numerical one."""
    return [_shortcuts.layer(Dense), _shortcuts.layer(Sigmoid, "backward"), _shortcuts.layer(Tanh, "backward"),
            _shortcuts.model(), _shortcuts.numerical()]


def _w_instead_of_wt(W, d, z):
    if W.shape[0] != W.shape[1]:
        return np.full(z.shape, np.nan)  # W @ δ does not even run here: check_hidden_delta probes with Wᵀ instead
    s = _sigmoid(z)
    return (W @ d) * s * (1 - s)


def _mistakes():
    sig = _sigmoid
    return [
        Mistake("forgot the σ'(z) factor",
                "you returned (W^{l+1})ᵀ δ^{l+1}, which is ∂C/∂a^l. The delta is ∂C/∂z^l: multiply "
                "element-wise by σ'(z^l) = σ(z^l)(1 - σ(z^l)) (the chain rule through the activation).",
                lambda W, d, z: W.T @ d),
        Mistake("used W instead of Wᵀ",
                "you multiplied δ^{l+1} by W^{l+1} instead of its transpose. Row k of W^{l+1} holds the weights INTO "
                "neuron k of the next layer; neuron j of this layer needs column j, so use W^{l+1}ᵀ δ^{l+1}.",
                _w_instead_of_wt),
        Mistake("used the activation a instead of σ'(z)",
                "you multiplied by a^l = σ(z^l). The factor is the derivative σ'(z^l) = σ(z^l)(1 - σ(z^l)).",
                lambda W, d, z: (W.T @ d) * sig(z)),
        Mistake("used z(1 - z) instead of σ(z)(1 - σ(z))",
                "you wrote z(1 - z). The shortcut σ' = a(1 - a) needs the activation a = σ(z), not z itself.",
                lambda W, d, z: (W.T @ d) * z * (1 - z)),
    ]


def _transposed_shape_probe(learner_fn, W, d, z, want):
    """True when the learner's code fails on W but gives the right answer when handed Wᵀ: it uses W @ δ."""
    try:
        out = learner_fn(np.copy(W.T), np.copy(d), np.copy(z))
    except Exception:
        return False
    out = np.asarray(out) if out is not None else None
    return out is not None and out.shape == want.shape and np.allclose(out, want, rtol=1e-6, atol=1e-8)


def check_hidden_delta(learner_fn, hidden=False):
    """Check ``learner_fn(W_next, delta_next, z) -> delta`` against BP2 on several cases (sigmoid activation).

    Names these mistakes: "forgot the σ'(z) factor", "used W instead of Wᵀ" (by value on a square W, by shape
    on a non-square one), "used the activation a instead of σ'(z)", "used z(1 - z) instead of σ(z)(1 - σ(z))".
    Returns a CheckResult (truthy when right).
    """
    cases = _hidden_cases() if hidden else _cases()
    result = check_function(EXERCISE, learner_fn, _reference, cases, mistakes=_mistakes(),
                            shortcuts=_shortcut_list(), hidden=hidden)
    if not result and result.mistake is None and result.case is not None:
        W, d, z = cases[result.case]
        if W.shape[0] != W.shape[1] and _transposed_shape_probe(learner_fn, W, d, z,
                                                                 _reference(W, d, z)):
            name = "used W instead of Wᵀ"
            explain = next(m.explain for m in _mistakes() if m.name == name)
            kind = "hidden case" if hidden else "case"
            return CheckResult(EXERCISE, False, f"{kind} {result.case + 1} (W of shape {W.shape}): {explain}",
                               mistake=name, case=result.case)
    return result


# ---- exercise 2: the same rule through a tanh layer ----------------------------------------------------------
EXERCISE_TANH = "hidden-layer delta through tanh"


def _tanh_reference(W_next, delta_next, z):
    """δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ tanh'(z^l), tanh'(z) = 1 - tanh(z)²."""
    return (W_next.T @ delta_next) * (1.0 - np.tanh(z) ** 2)


def _tanh_mistakes():
    sig = _sigmoid
    return [
        Mistake("used the sigmoid's derivative",
                "you multiplied by σ(z)(1 - σ(z)), the derivative of the sigmoid from the section above. This layer "
                "applies tanh: its derivative is tanh'(z) = 1 - tanh(z)².",
                lambda W, d, z: (W.T @ d) * sig(z) * (1 - sig(z))),
        Mistake("used a(1 - a) with a = tanh(z)",
                "you reused the sigmoid's shortcut a(1 - a). For tanh the derivative written in terms of the "
                "activation a = tanh(z) is 1 - a², not a(1 - a).",
                lambda W, d, z: (W.T @ d) * np.tanh(z) * (1 - np.tanh(z))),
        Mistake("used 1 - z² instead of 1 - tanh(z)²",
                "you wrote 1 - z². The derivative 1 - a² needs the activation a = tanh(z), not z itself.",
                lambda W, d, z: (W.T @ d) * (1 - z ** 2)),
        Mistake("forgot the tanh'(z) factor",
                "you returned (W^{l+1})ᵀ δ^{l+1}, which is ∂C/∂a^l. Multiply element-wise by tanh'(z^l) to get the "
                "delta ∂C/∂z^l.",
                lambda W, d, z: W.T @ d),
        Mistake("used W instead of Wᵀ",
                "you multiplied δ^{l+1} by W^{l+1} instead of its transpose: neuron j of this layer collects the "
                "deltas through column j of W^{l+1}, so use W^{l+1}ᵀ δ^{l+1}.",
                lambda W, d, z: (W @ d) * (1 - np.tanh(z) ** 2) if W.shape[0] == W.shape[1] else np.full(z.shape,
                                                                                                         np.nan)),
    ]


def check_hidden_delta_tanh(learner_fn, hidden=False):
    """Check ``learner_fn(W_next, delta_next, z) -> delta`` for a hidden layer with tanh activation.

    Names: "used the sigmoid's derivative", "used a(1 - a) with a = tanh(z)", "used 1 - z² instead of
    1 - tanh(z)²", "forgot the tanh'(z) factor", "used W instead of Wᵀ". Refuses library backward passes and
    numerical gradients. Returns a CheckResult.
    """
    cases = _cases(1002, ((3, 3), (3, 4), (2, 5))) if not hidden else _cases(10020, ((5, 3), (4, 4)))
    return check_function(EXERCISE_TANH, learner_fn, _tanh_reference, cases, mistakes=_tanh_mistakes(),
                          shortcuts=_shortcut_list(), hidden=hidden)
