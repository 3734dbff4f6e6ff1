"""Grade a student's submission: their exercise functions run in a sandbox, the verdict is decided here.

    python -m cnnlib.grade student.ipynb            # every exercise whose function the notebook defines
    python -m cnnlib.grade answers.py               # the same for a plain Python file
    python -m cnnlib.grade student.ipynb --check check_convolution_layer_backward=conv_back   # another function name
    python -m cnnlib.grade --list                   # the exercises, their checkers and the function names
    python -m cnnlib.grade student.ipynb --timeout 30 --seed 7      # seconds per exercise; the hidden cases' seed

Nothing of the submission runs in this process. Its code is read, not run: for each exercise function only the
function's definition and the top-level definitions, assignments and imports it refers to are kept (no training,
no widgets, no saved outputs). That code runs in a sandbox (bubblewrap where it works: no network, no view of
your files; see cnnlib/sandbox.py) on the cases the notebook shows and on hidden cases drawn now from a seed
(printed; --seed repeats a run). Only float arrays come back; the comparison with the reference and the naming
of mistakes happen here. The submission's own prints, exit code or patched checkers decide nothing. The sandbox
lets the code import numpy and only the helpers the exercise allows (rot180, pad2d ...), never cnnlib's layers,
scipy or torch. Where bwrap cannot run (macOS, Windows), a plain subprocess in a temporary folder is used
instead, with the same limits but NO file-system isolation; the output then says so.

Exit code: 0 when every graded exercise passes, 1 when one fails (wrong, refused import, syntax error, time or
memory limit), 2 when the submission cannot be read or defines none of the exercise functions.
"""

import argparse
import secrets
import sys
import zlib
from dataclasses import dataclass

__all__ = ["EXERCISES", "Verdict", "exercises", "grade_exercise", "grade_file", "main"]

DEFAULT_TIMEOUT = 60
FALLBACK_WARNING = ("WARNING: bubblewrap (bwrap) cannot run here, so the submission runs as a plain process in a "
                    "temporary folder, with the time and memory limits and the import allowlist, but it CAN read "
                    "and write every file you can (the gradebook, other submissions, the grades file). Grade "
                    "untrusted submissions on Linux with bwrap installed.")


def exercises():
    """{checker name: Exercise} of every exercise in cnnlib.exercises, in notebook order."""
    from . import exercises as package

    found = {}
    for name in dir(package):
        spec = getattr(getattr(package, name), "exercise", None)
        if name.startswith("check_") and spec is not None:
            found[name] = spec
    return dict(sorted(found.items(), key=lambda kv: (kv[1].notebook, kv[1].function)))


# checker in cnnlib.exercises -> (the function name the notebook's stub uses, the notebook)
EXERCISES = {checker: (spec.function, spec.notebook) for checker, spec in exercises().items()}


@dataclass
class Verdict:
    """The grade of one exercise: ``passed``; ``message`` for the student; ``mistakes`` named; ``shown`` and
    ``hidden``: (cases passed, cases run); ``seed`` of the hidden cases; ``sandbox``: bubblewrap or subprocess."""

    checker: str
    function: str
    title: str
    passed: bool
    message: str
    mistakes: tuple = ()
    shown: tuple = (0, 0)
    hidden: tuple = (0, 0)
    seed: int = None
    sandbox: str = None

    def __str__(self):
        return f"{'✓' if self.passed else '✗'} {self.title}: {self.message}"


def hidden_rng(seed, function):
    """The generator of an exercise's hidden cases: one per (grading seed, exercise), the same for every student."""
    import numpy as np

    return np.random.default_rng([int(seed), zlib.crc32(function.encode())])


def grade_exercise(extracted, checker, function=None, seed=0, timeout=DEFAULT_TIMEOUT, memory=None):
    """Grade ``function`` (default: the exercise's own name) of an already extracted submission. Returns a Verdict."""
    from . import sandbox

    spec = exercises()[checker]
    function = function or spec.function

    def verdict(passed, message, **kw):
        return Verdict(checker, function, spec.title, passed, message, seed=seed, **kw)

    try:
        code = extracted.code_for(function)
    except sandbox.SandboxError as exc:
        return verdict(False, str(exc))
    if function != spec.function:
        code += f"\n{spec.function} = {function}\n"
    shown = list(spec.shown)
    hidden = list(spec.draw(hidden_rng(seed, spec.function)))
    cases = shown + hidden
    wants = spec.expected(cases)
    kwargs = {"memory": memory} if memory else {}
    run = sandbox.run_function(code, spec.function, cases, [len(w) for w in wants], allow=spec.allow,
                               modes=spec.modes, timeout=timeout, **kwargs)
    if run.load_error:
        return verdict(False, f"your code could not be loaded in the sandbox: {run.load_error}", sandbox=run.kind)
    passed, first = [0, 0], None
    for i, (args, got, want) in enumerate(zip(cases, run.outputs, wants)):
        is_hidden = i >= len(shown)
        kind, k = ("hidden case", i - len(shown)) if is_hidden else ("case", i)
        if isinstance(got, str):
            failure = f"{kind} {k + 1}: {got}"
            mistakes = ()
        else:
            result = spec.judge(args, got, kind, k, want=want)
            failure = None if result is None else result.message
            mistakes = () if result is None else tuple(result.mistakes)
        if failure is None:
            passed[is_hidden] += 1
        elif first is None:
            first = (failure, mistakes)
    counts = {"shown": (passed[0], len(shown)), "hidden": (passed[1], len(hidden)), "sandbox": run.kind}
    ran = f"{passed[0]} of {len(shown)} shown and {passed[1]} of {len(hidden)} hidden cases (seed {seed}) agree"
    if first is None:
        return verdict(True, f"all {len(shown)} shown and {len(hidden)} hidden cases (seed {seed}) agree with the "
                             "reference", **counts)
    return verdict(False, f"{first[0]} ({ran})", mistakes=first[1], **counts)


def grade_file(path, checks=None, seed=None, timeout=DEFAULT_TIMEOUT, out=print, memory=None):
    """Grade the submission at ``path``. ``checks``: {checker: function name}; default: every exercise whose
    function the file defines (or whose cell has a syntax error). Returns {checker: Verdict}. Raises
    sandbox.SandboxError when the file cannot be read."""
    from . import sandbox

    extracted = sandbox.extract(path)
    table = exercises()
    if checks is None:
        checks = {c: s.function for c, s in table.items()
                  if extracted.defines(s.function) or extracted.syntax_error_for(s.function)}
    for checker in checks:
        if checker not in table:
            raise ValueError(f"unknown checker {checker!r}; see python -m cnnlib.grade --list")
    seed = secrets.randbelow(2**32) if seed is None else seed
    results = {}
    for checker, function in checks.items():
        results[checker] = grade_exercise(extracted, checker, function, seed, timeout, memory)
        out(f"{function:>26}  {results[checker]}")
    return results


def _pairs(items):
    checks = {}
    for item in items:
        checker, sep, fn = item.partition("=")
        if not sep or not checker or not fn:
            raise ValueError(f"--check expects CHECKER=FUNCTION, got {item!r}")
        checks[checker] = fn
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.grade", description=__doc__.split("\n\n")[0],
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", help="the student's .ipynb notebook or .py file")
    parser.add_argument("--check", action="append", default=[], metavar="CHECKER=FUNCTION",
                        help="grade only these exercises, on the named functions (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the exercises and exit")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"stop one exercise's sandbox after this many seconds (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the hidden cases (default: a new one, printed, so the run can be repeated)")
    args = parser.parse_args(argv)
    if args.list:
        for checker, (fn, notebook) in EXERCISES.items():
            print(f"{notebook:32} {fn:26} {checker}")
        return 0
    if not args.submission:
        parser.error("give a submission (.ipynb or .py), or --list")
    from . import sandbox

    seed = secrets.randbelow(2**32) if args.seed is None else args.seed
    kind = sandbox.sandbox_kind()
    print(f"grading {args.submission} in a {kind} sandbox; hidden cases drawn with seed {seed}")
    if kind != "bubblewrap":
        print(FALLBACK_WARNING)
    try:
        results = grade_file(args.submission, _pairs(args.check) if args.check else None, seed, args.timeout)
    except (sandbox.SandboxError, sandbox.SandboxBroken, ValueError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    if not results:
        names = ", ".join(spec.function for spec in exercises().values())
        print(f"{args.submission} defines none of the exercise functions ({names})", file=sys.stderr)
        return 2
    passed = sum(v.passed for v in results.values())
    print(f"{passed} of {len(results)} exercise(s) passed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
