"""Exercise of notebook 01: a hidden layer's delta (equation BP2) through LeNet-5's scaled tanh, for a batch.

    f(z) = A·tanh(S·z),   A = 1.7159,  S = 2/3          (LeCun, Bottou, Bengio and Haffner, 1998)
    δ^l  = (δ^{l+1} W^{l+1}) ⊙ f'(z^l)                  one sample per ROW, as cnnlib's Dense stores a batch

The notebook works BP2 out for one sample (a column vector) and the sigmoid, whose derivative it writes with the
activation, σ' = a(1 − a). The learner derives f' (the chain rule inside the activation), writes it with the
activation a = f(z) only, and turns BP2 into its row form for a batch. ``hidden_delta_tanh(W_next, delta_next, a)``
takes W_next = W^{l+1} (n_next, n), delta_next = δ^{l+1} (N, n_next), a = a^l = f(z^l) (N, n), and returns δ^l
(N, n). In terms of a: f'(z) = A·S·(1 − tanh²(S z)) = S·(A − a²/A).
"""

import numpy as np

from ..layers import Dense, Sigmoid, Tanh
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_hidden_delta_tanh", "SCALE_A", "SCALE_S"]

SCALE_A, SCALE_S = 1.7159, 2.0 / 3.0  # the constants of LeNet-5's activation f(z) = A tanh(S z)


def _cases(seed, shapes):
    """Fixed cases (W_next, delta_next, a), one per (N, n_next, n): a = A tanh(S z) for random z. A square W (n_next =
    n) lets the untransposed product run, so that it is told apart by value; a non-square one makes it fail."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, k, n in shapes:
        z = rng.normal(0.0, 1.5, size=(N, n))
        cases.append((rng.standard_normal((k, n)), rng.standard_normal((N, k)), SCALE_A * np.tanh(SCALE_S * z)))
    return cases


def _shortcut_list():
    """Library code that computes a δ: a layer's backward (Dense, Sigmoid, Tanh), a model's, a numerical one."""
    return [_shortcuts.layer(Dense), _shortcuts.layer(Sigmoid, "backward"), _shortcuts.layer(Tanh, "backward"),
            _shortcuts.model(), _shortcuts.numerical()]


EXERCISE_TANH = "hidden-layer delta through the scaled tanh"


def _collected(W, d):
    """δ^{l+1} W^{l+1}: row n, column j is Σ_k δ^{l+1}[n, k] W^{l+1}[k, j] (BP2's transpose, in row form)."""
    return d @ W


def _tanh_reference(W_next, delta_next, a):
    """δ^l = (δ^{l+1} W^{l+1}) ⊙ S(A − a²/A)."""
    A, S = SCALE_A, SCALE_S
    return _collected(W_next, delta_next) * S * (A - a * a / A)


def _transposed(W, d, a):
    if W.shape[0] != W.shape[1]:
        raise ValueError("W.T does not fit here")  # a non-square W makes this mistake fail to run
    return (d @ W.T) * SCALE_S * (SCALE_A - a * a / SCALE_A)


def _tanh_mistakes():
    A, S = SCALE_A, SCALE_S
    return [
        Mistake("used the derivative of the plain tanh",
                "you multiplied by 1 - a², the derivative of tanh itself. This activation is tanh scaled twice, "
                "inside (S·z) and outside (A·tanh): the chain rule brings a factor from each, and a = f(z) is no "
                "longer tanh(z).",
                lambda W, d, a: _collected(W, d) * (1 - a * a)),
        Mistake("forgot the inner factor S",
                "your factor is missing the derivative of the inside, S·z. Differentiate tanh(S·z) with the chain "
                "rule: the inner function contributes its own slope.",
                lambda W, d, a: _collected(W, d) * (A - a * a / A)),
        Mistake("wrote tanh(Sz) as a instead of a/A",
                "you used tanh(S·z) = a, but the activation is a = A·tanh(S·z): rewrite tanh(S·z) in terms of a "
                "before you square it.",
                lambda W, d, a: _collected(W, d) * A * S * (1 - a * a)),
        Mistake("evaluated the derivative at a instead of z",
                "you treated the activation a as the pre-activation z and computed f'(a). The arguments give you "
                "a = f(z), not z: express f'(z) through a itself.",
                lambda W, d, a: _collected(W, d) * A * S * (1 - np.tanh(S * a) ** 2)),
        Mistake("forgot the f'(z) factor",
                "you returned δ^{l+1} W^{l+1}, which is ∂L/∂a^l. Multiply element-wise by f'(z^l) to get the delta "
                "∂L/∂z^l.",
                lambda W, d, a: _collected(W, d)),
        Mistake("used Wᵀ as in the column form",
                "with one sample per row, BP2's transpose moves: row n of δ^l collects δ^{l+1}[n, k] through row k "
                "of W^{l+1}. Check which product has the shape (N, n) and sums over k.",
                _transposed),
    ]


def _draw(rng):
    """New cases at grading time: a square W^{l+1} (so that the untransposed product runs and is told apart by
    value) and two non-square ones, batches of N ≥ 2."""
    n = int(rng.integers(3, 6))
    shapes = [(int(rng.integers(2, 5)), n, n),
              (int(rng.integers(2, 5)), int(rng.integers(2, 4)), int(rng.integers(4, 7))),
              (int(rng.integers(2, 5)), int(rng.integers(5, 8)), int(rng.integers(2, 5)))]
    return _cases(int(rng.integers(2**31)), shapes)


CASES = _cases(1002, ((3, 3, 3), (4, 3, 4), (2, 2, 5)))

# Check ``hidden_delta_tanh(W_next (n_next, n), delta_next (N, n_next), a (N, n)) -> delta (N, n)`` for a hidden
# layer with LeNet-5's activation f(z) = 1.7159·tanh(2z/3), a = f(z). Names: "used the derivative of the plain
# tanh", "forgot the inner factor S", "wrote tanh(Sz) as a instead of a/A", "evaluated the derivative at a instead
# of z", "forgot the f'(z) factor", "used Wᵀ as in the column form". Refuses library backward passes and numerical
# gradients; while graded, only numpy can be imported.
EXERCISE = Exercise("hidden_delta_tanh", "check_hidden_delta_tanh", EXERCISE_TANH, "01_mlp_delta_rule",
                    _tanh_reference, CASES, _draw, _tanh_mistakes(), shortcuts=_shortcut_list)
check_hidden_delta_tanh = self_check(EXERCISE)
