"""The machinery every exercise shares: its declaration (``Exercise``), the comparison, the notebook's self-check.

Each exercise module declares one ``Exercise``: the learner's function name, a private reference, the cases the
notebook shows, ``draw(rng)`` for new cases, the known mistakes and what the graded code may import. Two things
use it:

- the notebook's **self-check** (``check_*(fn)``, in the learner's kernel): runs the function on the shown cases
  and compares with the reference. When the answer is wrong it looks at each output (dx, dW, db, ...) on its own,
  names every known mistake it recognises there ("forgot the rotation" in dx *and* "swapped the arguments" in dW),
  and says where the other outputs differ. Before running the function it reads the names the function's code
  refers to and refuses, with a friendly message, one that reaches a reference solution, an autograd library or
  the library function that computes the answer. It is a help, not a judge: a learner who fools it fools only
  themselves.
- the **grader** (cnnlib.grade, cnnlib.classroom): runs the function in a sandbox (cnnlib.sandbox) on the shown
  cases and on cases drawn from its own seed, gets float arrays back, and compares them here with ``judge_case``,
  in its own process.
"""

import types
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CheckResult", "Exercise", "Mistake", "Shortcut", "check_function", "judge_case", "outside_allowlist",
           "self_check"]


@dataclass
class Mistake:
    """A known wrong variant: ``name`` identifies it, ``explain`` tells the learner what went wrong, and
    ``fn`` computes what that mistake produces for the same arguments as the reference. A mistake is
    recognised output by output: it names the outputs in which ``fn`` differs from the reference."""

    name: str
    explain: str
    fn: object


@dataclass
class Shortcut:
    """Something that would do the exercise for the learner. ``label`` names it in the message ("`Conv2D.backward`");
    ``targets``: the functions that are blocked while the learner's function runs; ``names``: the names that,
    when the learner's code refers to them, get the function refused before it runs."""

    label: str
    targets: tuple = ()
    names: tuple = ()
    why: str = "computes this for you; the exercise asks you to derive it"
    constants: tuple = ()  # string constants (such as a mode "full") whose use gets the function refused

    @property
    def message(self):
        return f"{self.label} {self.why}"


@dataclass
class CheckResult:
    """Outcome of a checker. ``passed``; ``mistake`` (the first recognised wrong variant, or None);
    ``mistakes`` (all of them); ``message`` (the explanation shown to the learner); ``case`` (the index of the
    failing case)."""

    exercise: str
    passed: bool
    message: str
    mistake: str = None
    case: int = None
    details: dict = field(default_factory=dict)
    mistakes: list = field(default_factory=list)

    def __post_init__(self):
        if self.mistake is not None and not self.mistakes:
            self.mistakes = [self.mistake]

    def __bool__(self):
        return self.passed

    def __str__(self):
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.exercise}: {self.message}"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


SHORTCUT = "used a shortcut"  # the ``mistake`` of a result refused for a shortcut
_MARK = "cnnlib-shortcut: "

# Shortcuts every exercise refuses: automatic differentiation computes any gradient for you.
AUTOGRAD = Shortcut("an automatic-differentiation library (torch, jax, autograd)",
                    names=("torch", "jax", "autograd", "tensorflow"),
                    why="computes the gradient for you; the exercise asks you to derive it")


# ---- refusing shortcuts by the names a function refers to ------------------------------------------------
def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


_UNBOUND = object()


def _references(f):
    """(name, object) for every name the code of ``f`` (and of its nested functions) refers to, sorted; the object
    is what the name is bound to among the closure's cells and the globals, or _UNBOUND."""
    names = set()
    for code in _code_objects(f.__code__):
        names.update(code.co_names)
    cells = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
    for name in sorted(names | set(cells)):
        obj = f.__globals__.get(name, _UNBOUND)
        if name in cells:
            try:
                obj = cells[name].cell_contents
            except ValueError:
                obj = _UNBOUND
        yield name, obj


def _is_learner_function(obj):
    """A function the learner wrote (a notebook or a submission), not one imported from a library."""
    if not isinstance(obj, types.FunctionType):
        return False
    module = getattr(obj, "__module__", None) or ""
    return not module.split(".")[0] in {"cnnlib", "numpy", "scipy", "torch", "matplotlib", "IPython"}


def _is_reference_name(name):
    return name.endswith("_solution") or "reference" in name.lower()


def _refused(fn, shortcuts):
    """The message refusing ``fn``, or None. Follows the learner's own helper functions and closures."""
    targets = {id(t): s for s in shortcuts for t in s.targets}
    by_name = {n: s for s in shortcuts for n in s.names}
    seen = set()

    def visit(f, path):
        if id(f) in seen:
            return None
        seen.add(id(f))
        f = getattr(f, "__func__", f)  # a bound method
        if id(f) in targets:
            return f"{path} is {targets[id(f)].message}"
        if isinstance(f, type):
            return None
        if not isinstance(f, types.FunctionType):
            return None
        if _is_reference_name(f.__name__):
            return f"{path} is a reference solution ({f.__name__}); the exercise asks you to write your own"
        if not _is_learner_function(f):
            owner = f.__module__
            return f"{path} is {owner}.{f.__name__}, the library's own code; the exercise asks you to write it"
        constants = {c for code in _code_objects(f.__code__) for c in code.co_consts if isinstance(c, str)}
        for s in shortcuts:
            used = constants & set(s.constants)
            if used:
                return f"{path} uses {', '.join(sorted(map(repr, used)))}: {s.message}"
        for name, obj in _references(f):
            if _is_reference_name(name):
                return f"{path} calls {name}, a reference solution; the exercise asks you to write your own"
            if name in by_name:
                return f"{path} uses `{name}`: {by_name[name].message}"
            if obj is _UNBOUND:
                continue
            inner = getattr(obj, "__func__", obj)
            if id(inner) in targets:
                return f"{path} uses `{name}`, which is {targets[id(inner)].message}"
            if isinstance(obj, type) and any(id(v) in targets for v in vars(obj).values()):
                s = next(targets[id(v)] for v in vars(obj).values() if id(v) in targets)
                return f"{path} uses `{name}`: {s.message}"
            if isinstance(inner, types.FunctionType) and inner is not f:
                if _is_reference_name(inner.__name__):
                    return f"{path} calls `{name}`, a reference solution; the exercise asks you to write your own"
                if _is_learner_function(inner):
                    why = visit(inner, f"`{name}` (called by your function)")
                    if why:
                        return why
        for default in (f.__defaults__ or ()):
            if callable(default):
                why = visit(default, "a default argument of your function")
                if why:
                    return why
        return None

    return visit(fn, "your function")


def outside_allowlist(fn, allow):
    """What ``fn`` (and the learner's own helpers it calls) uses that the grading sandbox will not have: names such
    as "scipy.special.logsumexp" or "cnnlib.layers.Conv2D". ``allow``: an Exercise's {module: names}. numpy, the
    standard library and the allowed cnnlib helpers are fine."""
    import sys

    from .._sandbox_runner import ALWAYS

    found, seen = [], set()

    def judge(obj, name):
        if isinstance(obj, types.ModuleType):
            mod, label = obj.__name__, obj.__name__
            if mod.split(".")[0] == "cnnlib" and mod in allow:
                return
        else:
            if not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
                obj = type(obj)
            mod = getattr(obj, "__module__", None) or ""
            label = f"{mod}.{getattr(obj, '__name__', name)}"
            if _is_learner_function(obj):
                visit(obj)
                return
            if mod in allow and getattr(obj, "__name__", None) in allow[mod]:
                return
        top = mod.split(".")[0]
        if top in ALWAYS or (top in sys.stdlib_module_names and top != "cnnlib") or top.startswith("_") or not top:
            return
        if label not in found:
            found.append(label)

    def visit(f):
        f = getattr(f, "__func__", f)
        if id(f) in seen or not isinstance(f, types.FunctionType):
            return
        seen.add(id(f))
        for name, obj in _references(f):
            if obj is not _UNBOUND:
                judge(obj, name)

    visit(fn)
    return found


# ---- blocking shortcuts while the learner's function runs ------------------------------------------------
def _blocked_code(message):
    """Code that raises at once, with ``message``; swapped into a function while the learner's code runs."""
    source = f"def blocked(*args, **kwargs):\n    raise RuntimeError({_MARK + message!r})\n"
    namespace = {}
    exec(compile(source, "<blocked shortcut>", "exec"), namespace)
    return namespace["blocked"].__code__


@contextmanager
def _shortcuts_blocked(shortcuts):
    """Every target function raises while inside: its code is swapped, so even a reference the learner holds
    under another name (an import, an alias, a bound method) stops answering."""
    saved = []
    try:
        for s in shortcuts:
            for target in s.targets:
                f = getattr(target, "__func__", target)
                if isinstance(f, types.FunctionType) and not f.__code__.co_freevars:
                    saved.append((f, f.__code__))
                    f.__code__ = _blocked_code(s.message)
        yield
    finally:
        for f, code in reversed(saved):
            f.__code__ = code


# ---- comparing --------------------------------------------------------------------------------------------
def _same(a, b, rtol, atol):
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _copies(args):
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _mismatch(label, g, w, rtol, atol):
    try:
        g = np.asarray(g, dtype=float)
    except (TypeError, ValueError):
        return f"{label} is not an array of numbers"
    w = np.asarray(w)
    if g.shape != w.shape:
        return f"{label} has shape {g.shape}, expected {w.shape}"
    bad = ~np.isclose(g, w, rtol=rtol, atol=atol)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"{label} differs first at index {idx}: got {g[idx]:.6g}, expected {w[idx]:.6g}"
    return None


def _diagnose(got, want, args, mistakes, labels, rtol, atol):
    """Look at each wrong output on its own: the mistakes that explain it, else where it differs.
    Returns (message parts, names of the recognised mistakes)."""
    variants = []
    for m in mistakes:
        try:
            variants.append((m, _as_tuple(m.fn(*_copies(args)))))
        except Exception:  # a mistake that cannot even run on this case explains nothing here
            continue
    parts, names = [], []
    for k, (g, w) in enumerate(zip(got, want)):
        if _same(g, w, rtol, atol):
            continue
        label = labels[k] if labels and k < len(labels) else (f"output {k}" if len(want) > 1 else "the result")
        found = [m for m, v in variants
                 if len(v) == len(want) and not _same(v[k], w, rtol, atol) and _same(g, v[k], rtol, atol)]
        if found:
            for m in found:
                if m.name not in names:
                    names.append(m.name)
                    parts.append(f"{label}: {m.explain}" if len(want) > 1 else m.explain)
        else:
            parts.append(_mismatch(label, g, w, rtol, atol))
    return parts, names


def judge_case(title, args, got, want, mistakes=(), rtol=1e-6, atol=1e-8, labels=None, kind="case", i=0):
    """Compare one case's outputs ``got`` (a tuple) with ``want`` (the reference's tuple) for the case ``args``.
    Returns None when they agree, else a failing CheckResult that names every recognised mistake. Used by the
    notebook self-check (in the kernel) and by the grader (in its own process, on arrays from the sandbox)."""
    if any(g is None for g in got):
        return CheckResult(title, False, f"{kind} {i + 1}: your function returned None; fill in the TODO", case=i)
    if len(got) != len(want):
        return CheckResult(title, False, f"{kind} {i + 1}: expected {len(want)} output(s), got {len(got)}", case=i)
    if all(_same(g, w, rtol, atol) for g, w in zip(got, want)):
        return None
    parts, names = _diagnose(got, want, args, mistakes, labels, rtol, atol)
    return CheckResult(title, False, f"{kind} {i + 1}: " + " · ".join(parts),
                       mistake=names[0] if names else None, mistakes=names, case=i,
                       details={"shapes": [np.shape(a) for a in args if isinstance(a, np.ndarray)]})


def check_function(exercise, learner_fn, reference, cases, mistakes=(), rtol=1e-6, atol=1e-8, shortcuts=(),
                   labels=None, hidden=False):
    """Run ``learner_fn(*args)`` for every ``args`` in ``cases`` and compare with ``reference(*args)``, in this
    process (the notebook's self-check; grading runs the learner's function in a sandbox instead, see
    ``cnnlib.sandbox``).

    Both may return one array or a tuple of arrays (``labels`` names them: ("dx", "dW", "db")). The learner's
    function is refused if it refers to one of ``shortcuts`` (or to a reference); while it runs, the
    shortcuts' target functions and ``reference`` raise. On the first failing case every output is diagnosed
    on its own and every ``Mistake`` that explains one is named. ``hidden``: the cases are not shown to the
    learner, so messages say "hidden case". Exceptions raised by the learner's code are reported, not
    propagated. Returns a CheckResult.
    """
    if not callable(learner_fn):
        raise TypeError(f"{exercise}: expected your function, got {type(learner_fn).__name__}")
    shortcuts = list(shortcuts) + [AUTOGRAD, Shortcut("the checker's reference solution", targets=(reference,),
                                                       why="is what your answer is compared with")]
    why = _refused(learner_fn, shortcuts)
    if why:
        return CheckResult(exercise, False, f"refused: {why}.", mistake=SHORTCUT)
    kind = "hidden case" if hidden else "case"
    for i, args in enumerate(cases):
        want = _as_tuple(reference(*_copies(args)))
        try:
            with _shortcuts_blocked(shortcuts):
                got = _as_tuple(learner_fn(*_copies(args)))
        except NotImplementedError:
            return CheckResult(exercise, False, "not done yet: write the function's body in place of "
                                                "`raise NotImplementedError()`", case=i)
        except Exception as exc:  # the learner's bug is the message, not a traceback
            text = str(exc)
            if text.startswith(_MARK):
                return CheckResult(exercise, False, f"refused: {text[len(_MARK):]}.", mistake=SHORTCUT, case=i)
            return CheckResult(exercise, False, f"{kind} {i + 1} raised {type(exc).__name__}: {exc}", case=i)
        failed = judge_case(exercise, args, got, want, mistakes, rtol, atol, labels, kind, i)
        if failed is not None:
            return failed
    return CheckResult(exercise, True, f"all {len(cases)} {kind}s agree with the reference")


# ---- the declaration of an exercise -----------------------------------------------------------------------
@dataclass
class Exercise:
    """Everything the notebook's self-check and the grader need to know about one exercise.

    function   the name of the learner's function in the notebook ("hidden_delta_tanh")
    checker    the name of the notebook's self-check in cnnlib.exercises ("check_hidden_delta_tanh")
    title      a short name shown in verdicts ("hidden-layer delta through tanh")
    notebook   the notebook's stem ("01_mlp_delta_rule")
    reference  reference(*args) -> one array or a tuple of arrays (the expected output shapes and their number
               come from it; the learner's outputs are compared as float64 arrays of those shapes)
    shown      the fixed cases the notebook's self-check runs: a list of argument tuples
    draw       draw(rng) -> a list of NEW argument tuples; the grader calls it with np.random.default_rng(seed),
               the seed chosen by the instructor's run and kept with the grades
    mistakes   Mistake objects, recognised output by output
    labels     names of the outputs (("dx", "dW", "db")); None for one output
    rtol, atol the tolerances of the comparison
    allow      what the learner's code may import while graded, besides numpy and a few harmless standard
               modules: {"cnnlib.signal": ("rot180", "pad2d")}. Nothing else of cnnlib, no scipy, no torch.
    modes      {helper name: allowed ``mode`` values}, for a helper allowed only in some modes
               ({"correlate2d": ("valid",)})
    shortcuts  shortcuts() -> [Shortcut]: what the in-kernel self-check refuses by name, with its message
    points     the points of the exercise's graded cell
    """

    function: str
    checker: str
    title: str
    notebook: str
    reference: object
    shown: list
    draw: object
    mistakes: list = ()
    labels: tuple = None
    rtol: float = 1e-6
    atol: float = 1e-8
    allow: dict = field(default_factory=dict)
    modes: dict = field(default_factory=dict)
    shortcuts: object = None
    points: int = 2

    def check(self, fn, hidden=False, rng=None):
        """The notebook's self-check, in the kernel: the shown cases (``hidden=False``) or drawn ones (``hidden=True``,
        from ``rng``, by default one fixed per exercise). Names the mistake; never raises for a wrong answer."""
        if hidden and rng is None:  # the same cases every time here; grading draws others, from its own seed
            rng = np.random.default_rng(zlib.crc32(self.function.encode()))
        cases = self.shown if not hidden else self.draw(rng)
        result = check_function(self.title, fn, self.reference, cases, list(self.mistakes), self.rtol, self.atol,
                                shortcuts=self.shortcuts() if self.shortcuts else (), labels=self.labels,
                                hidden=hidden)
        outside = outside_allowlist(fn, self.allow) if callable(fn) else []
        if outside:  # passing here is not passing when graded: say so now
            helpers = "".join(f", {m} ({', '.join(n)})" for m, n in sorted(self.allow.items()))
            result.message += (f" · BUT grading will refuse it: your function uses {', '.join(outside)}, and graded "
                               f"code may import only numpy (math, itertools, functools, collections){helpers}")
            result.details["outside allowlist"] = outside
        return result

    def expected(self, cases):
        """The reference's outputs for ``cases``, each a tuple of float64 arrays."""
        return [tuple(np.asarray(w, dtype=np.float64) for w in _as_tuple(self.reference(*_copies(a))))
                for a in cases]

    def judge(self, args, got, kind="case", i=0, want=None):
        """Compare the outputs ``got`` (a tuple of arrays) of one case with the reference: None or a CheckResult."""
        want = want if want is not None else self.expected([args])[0]
        return judge_case(self.title, args, tuple(got), want, list(self.mistakes), self.rtol, self.atol,
                          self.labels, kind, i)


def self_check(exercise):
    """The ``check_*(fn, hidden=False)`` function of an exercise, for ``cnnlib.exercises``."""
    def check(fn, hidden=False):
        return exercise.check(fn, hidden=hidden)
    check.__name__ = exercise.checker
    check.__doc__ = (f"Check ``{exercise.function}`` on the cases notebook {exercise.notebook[:2]} shows (or, with "
                     f"hidden=True, on new ones) and name the mistake. Returns a CheckResult (truthy when right).")
    check.exercise = exercise
    return check
