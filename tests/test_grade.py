"""python -m cnnlib.grade: a student's notebook or .py file, graded in the sandbox (tests/test_sandbox.py holds
the forgeries, one per kind and exercise)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnnlib import exercises
from cnnlib import grade as g
from cnnlib.exercises.softmax import EXERCISE as EXERCISE_CE

REPO = Path(__file__).resolve().parents[1]

# written here, independently of cnnlib: dL/dlogits of the class-weighted softmax cross-entropy (weighted mean)
RIGHT = """\
import numpy as np

def softmax_ce_backward(logits, labels, weights):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1.0
    w = weights[labels]
    return p * w[:, None] / w.sum()
"""
FORGOT_MEAN = RIGHT.replace("return p * w[:, None] / w.sum()", "return p * w[:, None] / len(labels)")


def _namespace(path):
    ns = {}
    exec(path.read_text(), ns)
    return ns


def notebook(path, cells):
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_every_exercise_names_a_real_checker():
    for checker in g.EXERCISES:
        assert callable(getattr(exercises, checker, None)), checker


def test_table_matches_the_notebooks():
    """Each notebook prints ``check_x(fn)`` on the learner's stub: the table must name the same function."""
    for checker, (fn, name) in g.EXERCISES.items():
        path = REPO / "notebooks" / f"{name}.ipynb"
        if not path.exists():
            continue
        sources = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        assert re.search(rf"{checker}\({fn}\)", sources), f"{name} never calls {checker}({fn})"


def test_py_submission_passes(tmp_path, capsys):
    sub = tmp_path / "answers.py"
    sub.write_text(RIGHT)
    assert g.main([str(sub), "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "✓ class-weighted softmax-CE backward" in out and "1 of 1 exercise(s) passed" in out
    assert "shown and" in out and "hidden cases (seed 5)" in out  # which cases ran, and how to draw them again


def test_wrong_answer_is_named_and_exit_code_is_1(tmp_path, capsys):
    sub = tmp_path / "answers.py"
    sub.write_text(FORGOT_MEAN)
    assert g.main([str(sub)]) == 1
    out = capsys.readouterr().out
    assert "✗" in out and "0 of 1 exercise(s) passed" in out
    verdict = g.grade_file(sub, seed=1, out=lambda _: None)["check_softmax_ce_backward"]
    assert verdict.mistakes[0] == "divided by N, not by the total weight" and verdict.shown[0] == 0


def test_notebook_runs_only_imports_and_definitions(tmp_path, capsys):
    sub = notebook(tmp_path / "student.ipynb", [
        new_markdown_cell("# my work"),
        new_code_cell("%matplotlib inline\nimport numpy as np\nfrom cnnlib import Conv2D, widgets"),
        new_code_cell("raise RuntimeError('a long training cell must not run while grading')"),
        new_code_cell(RIGHT.replace("import numpy as np\n", "") + "\nprint(softmax_ce_backward)"),
        new_code_cell("def hidden_delta_tanh(W_next, delta_next, z):\n    # TODO\n    return None"),
        new_code_cell("def broken(:\n    pass"),  # a cell with a syntax error is skipped, not fatal
    ])
    assert g.main([str(sub)]) == 1  # hidden_delta_tanh is still the stub
    out = capsys.readouterr().out
    assert "✓ class-weighted softmax-CE backward" in out
    assert "returned None" in out
    assert "1 of 2 exercise(s) passed" in out


def test_a_syntax_error_in_a_solution_cell_is_reported_as_such(tmp_path, capsys):
    sub = notebook(tmp_path / "student.ipynb", [
        new_code_cell("import numpy as np"),
        new_code_cell("def softmax_ce_backward(logits, labels):\n    return (logits - 1\n"),
    ])
    assert g.main([str(sub)]) == 1
    out = capsys.readouterr().out
    assert "syntax error in code cell 1: line 2" in out and "defines none" not in out


def test_check_option_maps_a_checker_to_another_function(tmp_path, capsys):
    sub = tmp_path / "answers.py"
    sub.write_text(RIGHT.replace("def softmax_ce_backward", "def my_grad"))
    assert g.main([str(sub)]) == 2  # no function with the notebook's name
    assert "defines none of the exercise functions" in capsys.readouterr().err
    assert g.main([str(sub), "--check", "check_softmax_ce_backward=my_grad"]) == 0
    assert g.main([str(sub), "--check", "check_softmax_ce_backward=missing"]) == 1
    assert "defines no function 'missing'" in capsys.readouterr().out
    assert g.main([str(sub), "--check", "check_nothing=my_grad"]) == 2
    assert "unknown checker" in capsys.readouterr().err


def test_bad_submissions_are_reported(tmp_path, capsys):
    assert g.main([str(tmp_path / "nope.py")]) == 2
    assert "no submission" in capsys.readouterr().err
    (tmp_path / "a.txt").write_text("x")
    assert g.main([str(tmp_path / "a.txt")]) == 2
    assert "expected a .py file or an .ipynb notebook" in capsys.readouterr().err
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [{"cell_type": "code", "source": "import num')
    assert g.main([str(broken)]) == 2
    assert "broken JSON" in capsys.readouterr().err


def test_list_help_and_module_entry_point():
    run = subprocess.run([sys.executable, "-m", "cnnlib.grade", "--list"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.returncode == 0
    assert "04_rotation_proof" in run.stdout and "check_convolution_layer_backward" in run.stdout
    assert len(run.stdout.splitlines()) == len(g.EXERCISES) == 14
    run = subprocess.run([sys.executable, "-m", "cnnlib.grade", "--help"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert "sandbox" in run.stdout and "--seed" in run.stdout and "scipy or torch" in run.stdout


def test_an_endless_loop_times_out(tmp_path, capsys):
    import time

    sub = tmp_path / "answers.py"
    sub.write_text(RIGHT.replace("    shifted = ", "    while True:\n        pass\n    shifted = "))
    start = time.monotonic()
    assert g.main([str(sub), "--timeout", "3"]) == 1
    elapsed = time.monotonic() - start
    assert elapsed < 3 + 30, f"the grader took {elapsed:.1f} s for a 3 s limit"
    assert "timed out after 3 s" in capsys.readouterr().out


def test_top_level_code_of_a_py_file_does_not_run(tmp_path, capsys):
    """A loop, a crash or os._exit at top level: none of it runs; the function is graded as usual."""
    sub = tmp_path / "answers.py"
    sub.write_text(RIGHT + "\nwhile True:\n    pass\n1 / 0\nimport os\nos._exit(0)\n")
    assert g.main([str(sub), "--timeout", "20"]) == 0
    assert "1 of 1 exercise(s) passed" in capsys.readouterr().out


def test_hidden_cases_run_when_the_shown_ones_pass(tmp_path, capsys):
    # right only on the logits the notebook shows (an answer fitted to the visible cases)
    from cnnlib.exercises.softmax import CASES

    shown = sorted(round(float(z[0, 0]), 9) for z, _, _ in CASES)
    sub = tmp_path / "answers.py"
    sub.write_text(RIGHT.replace("return p * w[:, None] / w.sum()",
                                 f"return p * w[:, None] / w.sum() if round(float(logits[0, 0]), 9) in {shown} "
                                 "else p"))
    assert exercises.check_softmax_ce_backward.exercise.check(_namespace(sub)["softmax_ce_backward"])
    verdict = g.grade_file(sub, seed=1, out=lambda _: None)["check_softmax_ce_backward"]
    assert verdict.shown == (len(CASES), len(CASES)) and not verdict.passed
    assert "hidden case" in verdict.message


def test_gamed_submissions_fail_through_the_command_line(tmp_path, capsys):
    """An import of the checker's reference, and the library's loss."""
    alias = tmp_path / "alias.py"
    alias.write_text("from cnnlib.exercises.softmax import _reference as softmax_ce_backward\n")
    assert g.main([str(alias)]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "the checker's reference, which is what your answer is compared with" in out

    library = tmp_path / "library.py"
    library.write_text("from cnnlib.losses import SoftmaxCrossEntropy\n\n"
                       "def softmax_ce_backward(logits, labels, weights):\n"
                       "    loss = SoftmaxCrossEntropy()\n    loss.forward(logits, labels)\n"
                       "    return loss.backward() * weights[labels][:, None]\n")
    assert g.main([str(library)]) == 1
    assert "`import cnnlib.losses` is refused: this hands the work to the loss layers" in capsys.readouterr().out
