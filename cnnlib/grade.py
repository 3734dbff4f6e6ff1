"""Run the exercise checkers on a student's submission.

    python -m cnnlib.grade student.ipynb            # every exercise whose function the notebook defines
    python -m cnnlib.grade answers.py               # the same for a plain Python file
    python -m cnnlib.grade student.ipynb --check check_convolution_layer_backward=conv_back   # another function name
    python -m cnnlib.grade --list                   # the exercises, their checkers and the function names
    python -m cnnlib.grade student.ipynb --timeout 30               # the time limit in seconds (default 60)

A notebook is not executed as a whole (no training, no widgets): only its imports and its top-level function
and class definitions run, taken from its code cells in order, so grading takes seconds and cannot be fooled
by saved outputs. A ``.py`` file runs as a script. Each exercise whose function the submission defines is
checked, on the cases the notebook shows and on hidden ones; the verdicts are printed, and the exit code is 0
when all pass, 1 when any fails (or the submission runs past the time limit), 2 when the submission defines
none of the exercise functions or cannot be read.

The submission runs in a separate Python process, so an endless loop in it cannot hang the grader: after the
time limit the process is stopped and the grader reports "timed out after N s".
"""

import argparse
import ast
import os
import runpy
import subprocess
import sys
from pathlib import Path

__all__ = ["EXERCISES", "load_submission", "grade", "main"]

# checker in cnnlib.exercises -> (the function name the notebook's stub uses, the notebook)
EXERCISES = {
    "check_hidden_delta_tanh": ("hidden_delta_tanh", "01_mlp_delta_rule"),
    "check_scatter_input_gradient": ("scatter_input_gradient", "02_weight_sharing"),
    "check_same_convolution": ("my_same_convolve2d", "03_convolution_vs_correlation"),
    "check_convolution_layer_backward": ("convolution_layer_backward", "04_rotation_proof"),
    "check_strided_weight_gradient": ("strided_weight_gradient", "05_channels_stride_padding"),
    "check_filter_recovery_gradient": ("filter_recovery_gradient", "06_recovering_filters"),
    "check_maxpool_backward": ("maxpool_backward", "07_pooling_and_relu"),
    "check_padded_maxpool_backward": ("padded_maxpool_backward", "07_pooling_and_relu"),
    "check_softmax_ce_backward": ("softmax_ce_backward", "08_softmax_cross_entropy"),
    "check_softmax_mse_backward": ("softmax_mse_backward", "08_softmax_cross_entropy"),
    "check_conv_delta": ("conv_delta", "09_mnist_training"),
    "check_col2im": ("col2im", "10_speed_ladder"),
    "check_conv_transpose_weight_gradient": ("conv_transpose_weight_gradient", "11_transposed_convolution"),
    "check_taps_backward": ("taps_backward", "12_autodiff"),
}


def _definitions(source):
    """Keep only the imports and the function/class definitions of one code cell (after IPython's magics are
    turned into Python, which drops them as plain expressions)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None  # an unfinished cell: its functions cannot be graded, the others still can
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    tree.body = [node for node in tree.body if isinstance(node, keep)]
    return tree


def load_submission(path):
    """The namespace a submission defines: a .py file is run as a script; a notebook contributes only the
    imports and function/class definitions of its code cells."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no submission at {path}")
    if path.suffix == ".py":
        return runpy.run_path(str(path), run_name="__submission__")
    if path.suffix != ".ipynb":
        raise ValueError(f"expected a .py file or an .ipynb notebook, got {path.name}")
    import nbformat

    nb = nbformat.read(path, as_version=4)
    ns = {"__name__": "__submission__"}
    for k, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        tree = _definitions(cell.source)
        if tree is not None and tree.body:
            exec(compile(tree, f"<{path.name} code cell {k}>", "exec"), ns)
    return ns


def grade(namespace, checks=None, out=print):
    """Run the checkers on the functions in ``namespace``. ``checks``: {checker name: function name}; default:
    every exercise in EXERCISES whose function is defined. Returns {checker name: CheckResult}."""
    from . import exercises

    wanted = checks if checks is not None else {c: fn for c, (fn, _) in EXERCISES.items() if fn in namespace}
    results = {}
    for checker_name, fn_name in wanted.items():
        checker = getattr(exercises, checker_name, None)
        if checker is None:
            raise ValueError(f"unknown checker {checker_name!r}; see python -m cnnlib.grade --list")
        if fn_name not in namespace:
            raise ValueError(f"the submission defines no function {fn_name!r} for {checker_name}")
        result = checker(namespace[fn_name])
        if result:  # the cases the notebook shows pass: now the ones it never shows
            result = checker(namespace[fn_name], hidden=True)
        results[checker_name] = result
        out(f"{fn_name:>24}  {result}")
    return results


def _pairs(items):
    checks = {}
    for item in items:
        checker, sep, fn = item.partition("=")
        if not sep or not checker or not fn:
            raise ValueError(f"--check expects CHECKER=FUNCTION, got {item!r}")
        checks[checker] = fn
    return checks


DEFAULT_TIMEOUT = 60


def _in_subprocess(args):
    """Grade in a child Python process (``--worker``), stopped after ``args.timeout`` seconds."""
    cmd = [sys.executable, "-u", "-m", "cnnlib.grade", "--worker", args.submission]
    for item in args.check:
        cmd += ["--check", item]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])  # this cnnlib, also when it is not installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        if partial:
            print(partial, end="")
        print(f"{args.submission}: timed out after {args.timeout:g} s (an endless loop?); "
              "the exercises not listed above were not graded")
        return 1
    if run.stdout:
        print(run.stdout, end="")
    if run.stderr:
        print(run.stderr, end="", file=sys.stderr)
    if run.returncode == 0 and "exercise(s) passed" not in run.stdout:
        print(f"{args.submission}: the submission ended the grading process before it finished")
        return 1
    return run.returncode


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.grade", description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", help="the student's .ipynb notebook or .py file")
    parser.add_argument("--check", action="append", default=[], metavar="CHECKER=FUNCTION",
                        help="run only these checkers, on the named functions (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the exercises and exit")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"stop the submission after this many seconds (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.list:
        for checker, (fn, notebook) in EXERCISES.items():
            print(f"{notebook:32} {fn:24} {checker}")
        return 0
    if not args.submission:
        parser.error("give a submission (.ipynb or .py), or --list")
    if not args.worker:
        return _in_subprocess(args)
    try:
        checks = _pairs(args.check) if args.check else None
        try:
            namespace = load_submission(args.submission)
        except (OSError, ValueError):
            raise
        except Exception as exc:  # the student's file itself fails: say so instead of a traceback
            raise ValueError(f"{args.submission} raised while loading: {type(exc).__name__}: {exc}") from None
        results = grade(namespace, checks)
    except (OSError, ValueError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    if not results:
        print(f"{args.submission} defines none of the exercise functions "
              f"({', '.join(fn for fn, _ in EXERCISES.values())})", file=sys.stderr)
        return 2
    passed = sum(bool(r) for r in results.values())
    print(f"{passed} of {len(results)} exercise(s) passed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
