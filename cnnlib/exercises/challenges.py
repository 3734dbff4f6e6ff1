"""The self-check of the optional challenges at the end of each notebook (ungraded, for strong students).

A challenge gives the forward pass of an operation and asks for its backward pass, ``backward(g, *inputs)``, where
g = ∂L/∂(forward's output) and the result holds ∂L/∂(input) for each input the challenge names. The self-check
needs no answer to compare with: it takes a random g and compares the learner's gradients with central
differences of L = Σ g ⊙ forward(*inputs), one input at a time. Nothing here is graded, and it never raises: a
challenge left undone says so and Run All goes on.
"""

from dataclasses import dataclass

import numpy as np

from ..gradcheck import numerical_gradient, rel_error

__all__ = ["ChallengeResult", "gradient_self_check"]


@dataclass
class ChallengeResult:
    """The verdict of a challenge's self-check: truthy when every gradient agrees with central differences."""

    challenge: str
    passed: bool
    message: str

    def __bool__(self):
        return self.passed

    def __str__(self):
        mark = "✓" if self.passed else ("·" if self.message.startswith("not attempted") else "✗")
        return f"{mark} optional challenge, {self.challenge}: {self.message}"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _as_float(a):
    return np.array(a, dtype=np.float64)


def gradient_self_check(challenge, forward, backward, inputs, wrt, names=None, seed=0, tol=1e-6):
    """Compare ``backward(g, *inputs)`` with central differences of Σ g ⊙ forward(*inputs).

    inputs: the arguments of ``forward`` (arrays, or numbers that stay fixed); wrt: the positions in ``inputs`` of
    the arguments whose gradients ``backward`` returns, in that order (one gradient: a single array; several: a
    tuple); names: how to call them in messages ("dx", "dW"). Returns a ChallengeResult.
    """
    names = names or [f"gradient {k}" for k in range(len(wrt))]
    inputs = [(_as_float(a) if k in wrt else a) for k, a in enumerate(inputs)]
    g = np.random.default_rng(seed).standard_normal(np.shape(forward(*inputs)))
    try:
        got = backward(g.copy(), *[np.copy(a) if isinstance(a, np.ndarray) else a for a in inputs])
    except NotImplementedError:
        return ChallengeResult(challenge, False, "not attempted yet (it is optional: write the body of the "
                                                 "backward function to try it)")
    except Exception as exc:  # the learner's bug is the message, not a traceback
        return ChallengeResult(challenge, False, f"your backward raised {type(exc).__name__}: {exc}")
    got = got if isinstance(got, tuple) else (got,)
    if len(got) != len(wrt):
        return ChallengeResult(challenge, False, f"expected {len(wrt)} gradient(s) ({', '.join(names)}), "
                                                 f"got {len(got)}")
    errors = []
    for name, k, mine in zip(names, wrt, got):
        def f(v, k=k):
            args = list(inputs)
            args[k] = v
            return forward(*args)
        numeric = numerical_gradient(f, inputs[k].copy(), g, h=1e-6)
        mine = np.asarray(mine, dtype=np.float64) if mine is not None else None
        if mine is None or mine.shape != numeric.shape:
            shape = None if mine is None else mine.shape
            return ChallengeResult(challenge, False, f"{name} has shape {shape}, expected {numeric.shape}")
        errors.append((name, rel_error(mine, numeric)))
    if all(err < tol for _, err in errors):   # the bound, not the digits, so that the printed verdict is stable
        return ChallengeResult(challenge, True, f"{', '.join(names)} agree with central differences "
                                                f"(rel_error < {tol:.0e})")
    text = ", ".join(f"{name}: rel_error {err:.1e}" for name, err in errors)
    return ChallengeResult(challenge, False, f"differs from central differences ({text}; below {tol:.0e} is a "
                                             "match)")
