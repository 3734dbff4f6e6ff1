"""Exercise of notebook 01: the delta of a hidden layer (equation BP2) through a tanh activation.

    δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ tanh'(z^l),    tanh'(z) = 1 - tanh(z)²

The notebook works BP2 out for the sigmoid; the learner derives tanh' and writes
``hidden_delta_tanh(W_next, delta_next, z)`` with W_next = W^{l+1} of shape (n_next, n), delta_next = δ^{l+1}
of shape (n_next,), z = z^l of shape (n,), and returns δ^l of shape (n,).
"""

import numpy as np

from ..layers import Dense, Sigmoid, Tanh
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_hidden_delta_tanh"]


def _sigmoid(z):
    return Sigmoid().forward(z)


def _cases(seed, shapes):
    """Fixed cases (W_next, delta_next, z), one per (n_next, n) in ``shapes``. On a non-square W, W @ δ fails to
    run; on a square, non-symmetric one it runs and is told apart by value."""
    rng = np.random.default_rng(seed)
    # shapes: (n_next, n)
    return [(rng.standard_normal((k, n)), rng.standard_normal(k), rng.standard_normal(n)) for k, n in shapes]


def _shortcut_list():
    """Library code that computes a δ: a layer's backward (Dense, Sigmoid, Tanh), a model's, a numerical one."""
    return [_shortcuts.layer(Dense), _shortcuts.layer(Sigmoid, "backward"), _shortcuts.layer(Tanh, "backward"),
            _shortcuts.model(), _shortcuts.numerical()]


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


def _draw(rng):
    """New cases at grading time: one square (non-symmetric) W^{l+1} and two non-square ones."""
    n = int(rng.integers(3, 7))
    shapes = [(n, n), (int(rng.integers(2, 6)), int(rng.integers(6, 9))), (int(rng.integers(6, 9)),
                                                                            int(rng.integers(2, 6)))]
    return [(rng.standard_normal((k, m)), rng.standard_normal(k), rng.standard_normal(m)) for k, m in shapes]


CASES = _cases(1002, ((3, 3), (3, 4), (2, 5)))

# Check ``hidden_delta_tanh(W_next, delta_next, z) -> delta`` for a hidden layer with tanh activation. Names:
# "used the sigmoid's derivative", "used a(1 - a) with a = tanh(z)", "used 1 - z² instead of 1 - tanh(z)²",
# "forgot the tanh'(z) factor", "used W instead of Wᵀ". Refuses library backward passes and numerical gradients.
EXERCISE = Exercise("hidden_delta_tanh", "check_hidden_delta_tanh", EXERCISE_TANH, "01_mlp_delta_rule",
                    _tanh_reference, CASES, _draw, _tanh_mistakes(), shortcuts=_shortcut_list)
check_hidden_delta_tanh = self_check(EXERCISE)
