"""The machinery every exercise checker shares.

A checker runs the learner's function on several cases and compares with the reference solution. When the
answer is wrong it looks for a known mistake first ("forgot the rotation") and names it; otherwise it reports
where the first mismatch is. The result prints as a short verdict and is truthy only when the answer is right.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CheckResult", "Mistake", "check_function"]


@dataclass
class Mistake:
    """A known wrong variant: ``name`` identifies it, ``explain`` tells the learner what went wrong, and
    ``fn`` computes what that mistake produces for the same arguments as the reference."""

    name: str
    explain: str
    fn: object


@dataclass
class CheckResult:
    """Outcome of a checker. ``passed``; ``mistake`` (the name of a recognised wrong variant, or None);
    ``message`` (the explanation shown to the learner); ``case`` (the index of the failing case)."""

    exercise: str
    passed: bool
    message: str
    mistake: str = None
    case: int = None
    details: dict = field(default_factory=dict)

    def __bool__(self):
        return self.passed

    def __str__(self):
        mark = "✅" if self.passed else "❌"
        return f"{mark} {self.exercise}: {self.message}"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _same(a, b, rtol, atol):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol)


def _outputs(fn, args):
    out = fn(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
    return out if isinstance(out, tuple) else (out,)


def _first_mismatch(got, want, rtol, atol):
    """Describe the first output/entry where got differs from want."""
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        label = f"output {k}" if len(want) > 1 else "the result"
        if g.shape != w.shape:
            return f"{label} has shape {g.shape}, expected {w.shape}"
        bad = ~np.isclose(g, w, rtol=rtol, atol=atol)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return f"{label} differs first at index {idx}: got {g[idx]:.6g}, expected {w[idx]:.6g}"
    return None


def check_function(exercise, learner_fn, reference, cases, mistakes=(), rtol=1e-6, atol=1e-8):
    """Run ``learner_fn(*args)`` for every ``args`` in ``cases`` and compare with ``reference(*args)``.

    Both may return one array or a tuple of arrays. On the first failing case, each ``Mistake`` in
    ``mistakes`` is tried in order; if the learner's output equals that variant's, the mistake is named.
    Returns a CheckResult. Exceptions raised by the learner's code are reported, not propagated.
    """
    if not callable(learner_fn):
        raise TypeError(f"{exercise}: expected your function, got {type(learner_fn).__name__}")
    for i, args in enumerate(cases):
        want = _outputs(reference, args)
        try:
            got = _outputs(learner_fn, args)
        except Exception as exc:  # the learner's bug is the message, not a traceback
            return CheckResult(exercise, False, f"case {i + 1} raised {type(exc).__name__}: {exc}", case=i)
        if any(g is None for g in got):
            return CheckResult(exercise, False, f"case {i + 1}: your function returned None; fill in the TODO", case=i)
        if len(got) != len(want):
            return CheckResult(exercise, False, f"case {i + 1}: expected {len(want)} output(s), got {len(got)}", case=i)
        if all(_same(g, w, rtol, atol) for g, w in zip(got, want)):
            continue
        for m in mistakes:
            wrong = _outputs(m.fn, args)
            if len(wrong) == len(got) and all(_same(g, w, rtol, atol) for g, w in zip(got, wrong)):
                return CheckResult(exercise, False, f"case {i + 1}: {m.explain}", mistake=m.name, case=i)
        where = _first_mismatch(got, want, rtol, atol)
        return CheckResult(exercise, False, f"case {i + 1}: {where}", case=i,
                           details={"shapes": [np.shape(a) for a in args if isinstance(a, np.ndarray)]})
    return CheckResult(exercise, True, f"all {len(cases)} cases agree with the reference")
