"""A real nbgrader round trip: release, Run All, autograde submissions, export the CSV.

- ``make student``: every notebook's student version holds none of its solution bodies and no hidden tests.
- Notebook 04, whose exercise is ``convolution_layer_backward``: an honest submission (loops and np.flip, not the
  notebook's own spelling), one with two named mistakes, and two that hand the work to the library layer or to
  the checker's private reference.
- Notebook 08, autograded with a small per-cell time limit: a submission whose first exercise never returns loses
  that exercise's points and keeps the other's, and the other student in the folder is graded as usual.

The submissions are written here, independently of cnnlib's checkers. nbgrader is part of the test extras; these
tests need it and say so if it is missing.
"""

import csv
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

from cnnlib import classroom

NAME = "04_rotation_proof"
SOURCE = classroom.NOTEBOOKS / f"{NAME}.ipynb"
STUB = "# YOUR CODE HERE\n    raise NotImplementedError()"
TIMES = {}

HONEST_04 = """
    C, KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for c, a, b in np.ndindex(*x.shape):           # x[c, a, b] stamped W[c] onto z at (a, b): collect back
        window = delta[a:a + KH, b:b + KW]
        dx[c, a, b] = np.einsum("mn,mn->", window, W[c])
        dW[c] += x[c, a, b] * window
    return dx, dW, float(delta.sum())"""

BODIES = {  # student -> {exercise function: body}
    "correct": {"convolution_layer_backward": HONEST_04},
    # two named mistakes: the valid layer's rotation in dx and a rotated dW. It also rebinds the checker's name
    # to an always-pass fake after its function: the graded cell imports the real checker itself.
    "mistaken": {"convolution_layer_backward": """
    C, KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for c, a, b in np.ndindex(*x.shape):
        window = delta[a:a + KH, b:b + KW]
        dx[c, a, b] = np.sum(window * np.flip(W[c]))
        dW[c] += x[c, a, b] * np.flip(window)
    return dx, dW, float(delta.sum())

check_convolution_layer_backward = lambda fn, hidden=False: True"""},
    "gamed_library": {"convolution_layer_backward": """
    C, KH, KW = W.shape
    layer = Conv2D(C, 1, (KH, KW))
    layer.params["W"][0] = np.flip(W, axis=(1, 2))
    layer.forward(np.pad(x, ((0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)))[None])
    dxp = layer.backward(delta[None, None])[0]
    return (dxp[:, KH - 1:KH - 1 + x.shape[1], KW - 1:KW - 1 + x.shape[2]], np.flip(layer.grads["W"][0], axis=(1, 2)),
            layer.grads["b"][0])"""},
    "gamed_reference": {"convolution_layer_backward": """
    from cnnlib.exercises.rotation import _full_layer_reference as answer
    return answer(x, W, delta)"""},
}


def _solution_bodies(nb):
    """The code between the solution markers of every solution cell."""
    bodies = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            m = re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", cell.source, flags=re.S)
            assert m, "a solution cell without the markers"
            bodies.append(m.group(1))
    return bodies


@pytest.fixture(scope="module")
def released_all(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    start = time.monotonic()
    paths = classroom.release(out)
    TIMES[f"make student ({len(paths)} notebooks)"] = time.monotonic() - start
    return {p.stem: p for p in paths}


@pytest.fixture(scope="module")
def released(released_all):
    return released_all[NAME]


def test_every_notebook_is_released(released_all):
    assert set(released_all) == {p.stem for p in classroom.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}


@pytest.mark.parametrize("name", sorted(p.stem for p in classroom.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))
def test_student_version_has_no_solution_body_and_no_hidden_tests(released_all, name):
    source = nbformat.read(classroom.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    student = nbformat.read(released_all[name], as_version=4)
    text = "\n".join(c.source for c in student.cells)
    stubs = "\n".join(c.source for c in student.cells if c.metadata.get("nbgrader", {}).get("solution"))
    bodies = _solution_bodies(source)
    assert 1 <= len(bodies) <= 3
    for body in bodies:
        assert body.strip() not in text, f"{name}: a solution body is still in the student version"
        for line in body.splitlines():  # (a line may still appear in the teaching cells: they derive them)
            code = line.split("#")[0].strip()
            if code:
                assert code not in stubs, f"{name}: the student's exercise cell still contains {code!r}"
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "HIDDEN TESTS" not in text and "hidden=True" not in text
    assert text.count("raise NotImplementedError()") == len(bodies)
    graded = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")]
    challenges = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("challenge_")]
    assert len(challenges) == 1  # the optional challenge: a solution cell, ungraded
    assert len(graded) == len(bodies) - len(challenges) and all("assert result, result.message" in c.source for c in graded)


def test_run_all_fails_only_in_the_exercise_test_cell(released, tmp_path):
    nb = nbformat.read(released, as_version=4)
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    failed = [c for c in nb.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1, "the unfinished exercise must fail, and nothing else"
    (cell,) = failed
    assert cell.metadata.get("nbgrader", {}).get("grade"), f"a teaching cell failed:\n{cell.source}"
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert error.ename == "AssertionError" and "not done yet" in error.evalue


def _submission(released, folder, student, bodies):
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and STUB in cell.source:
            name = re.match(r"def (\w+)", cell.source).group(1)
            cell.source = cell.source.replace(STUB, bodies[name].strip("\n").lstrip())
    path = folder / student / released.name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _rows(table):
    with open(table, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    for student, bodies in BODIES.items():
        _submission(released, root / "submissions", student, bodies)
    start = time.monotonic()
    table = classroom.autograde(root / "submissions", root / "grades.csv", course=root / "course", log=lambda _: None)
    TIMES[f"autograde {len(BODIES)} submissions of {NAME} + export"] = time.monotonic() - start
    print("\nnbgrader round trip:", {k: f"{v:.1f} s" for k, v in TIMES.items()})
    return _rows(table), root / "course" / "autograded"


def _errors(autograded, student, name=NAME):
    nb = nbformat.read(autograded / student / name / f"{name}.ipynb", as_version=4)
    return nb, [o.evalue for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_the_csv_lists_every_student(graded):
    rows, _ = graded
    assert set(rows) == set(BODIES)
    assert all(row["assignment"] == NAME and float(row["max_score"]) == 2 for row in rows.values())


def test_a_correct_submission_gets_full_points(graded):
    rows, autograded = graded
    assert float(rows["correct"]["score"]) == 2
    nb, errors = _errors(autograded, "correct")
    assert errors == []
    # autograde put the hidden tests back into the graded cell, and they ran
    assert sum("hidden=True" in c.source for c in nb.cells) == 1


def test_named_mistakes_get_zero_points_and_their_message(graded):
    rows, autograded = graded
    assert float(rows["mistaken"]["score"]) == 0
    _, errors = _errors(autograded, "mistaken")
    assert len(errors) == 1
    # the checker's words for "rotated the kernel in dx" and "rotated dW", both in one message
    assert "the rule of the 'valid' correlation layer" in errors[0] and "your dW is turned by 180°" in errors[0]


def test_gamed_submissions_get_zero_points(graded):
    rows, autograded = graded
    assert float(rows["gamed_library"]["score"]) == 0 and float(rows["gamed_reference"]["score"]) == 0
    _, errors = _errors(autograded, "gamed_library")
    assert any("refused" in e and "Conv2D" in e and "derive it" in e for e in errors)
    _, errors = _errors(autograded, "gamed_reference")
    assert any("refused" in e and "reference solution" in e for e in errors)


# ---- the per-cell time limit ------------------------------------------------------------------------------
TIMED = "08_softmax_cross_entropy"
LIMIT = 5  # seconds per cell
# Measured on a 2-core machine: 20 s for the whole autograde below (a fresh nbgrader course, generate_assignment,
# one kernel per submission, the notebook's cells, export), the interrupted loop included. The margin allows a
# machine three times slower; without the limit the loop would never end.
MARGIN = 60

SOFTMAX_CE = """
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    grad = np.exp(log_p)
    grad[np.arange(len(labels)), labels] -= 1.0
    w = weights[labels]
    return grad * w[:, None] / w.sum()"""
SOFTMAX_MSE = """
    N, K = logits.shape
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = z / z.sum(axis=1, keepdims=True)
    g = (p - np.eye(K)[labels]) / N                 # ∂C/∂p
    out = np.zeros_like(p)
    for n in range(N):                              # the Jacobian diag(p) - p pᵀ, built for each row
        out[n] = (np.diag(p[n]) - np.outer(p[n], p[n])) @ g[n]
    return out"""
TIMED_BODIES = {
    "honest": {"softmax_ce_backward": SOFTMAX_CE, "softmax_mse_backward": SOFTMAX_MSE},
    "looping": {"softmax_ce_backward": "\n    while True:\n        pass", "softmax_mse_backward": SOFTMAX_MSE},
}


@pytest.fixture(scope="module")
def timed(released_all, tmp_path_factory):
    root = tmp_path_factory.mktemp("timeout")
    for student, bodies in TIMED_BODIES.items():
        _submission(released_all[TIMED], root / "submissions", student, bodies)
    start = time.monotonic()
    table = classroom.autograde(root / "submissions", root / "grades.csv", timeout=LIMIT, course=root / "course",
                                log=lambda _: None)
    elapsed = time.monotonic() - start
    print(f"\nautograde of {TIMED} with a {LIMIT} s limit per cell, one endless loop: {elapsed:.1f} s")
    return _rows(table), root / "course" / "autograded", elapsed


def test_an_endless_loop_is_stopped_by_the_time_limit(timed):
    _, _, elapsed = timed
    assert elapsed < LIMIT + MARGIN, f"autograding took {elapsed:.1f} s with a {LIMIT} s limit per cell"


def test_the_loop_costs_its_exercise_and_nothing_else(timed):
    rows, autograded, _ = timed
    assert set(rows) == set(TIMED_BODIES)  # every student has a row
    assert all(row["assignment"] == TIMED and float(row["max_score"]) == 4 for row in rows.values())
    assert float(rows["honest"]["score"]) == 4
    # the interrupted cell scores 0; the kernel lives on, and the next exercise's cell still runs and scores
    assert float(rows["looping"]["score"]) == 2
    nb, _ = _errors(autograded, "looping", TIMED)
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    enames = [o.ename for o in graded["softmax_ce_backward_test"].outputs if o.output_type == "error"]
    assert "CellTimeoutError" in enames and "KeyboardInterrupt" in enames
    assert not [o for o in graded["softmax_mse_backward_test"].outputs if o.output_type == "error"]


def test_the_time_limit_is_set_from_the_command_line(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(classroom, "autograde", lambda submissions, csv, timeout: seen.update(timeout=timeout))
    assert classroom.main(["grade", str(tmp_path), "--timeout", "7"]) == 0
    assert seen["timeout"] == 7
    assert classroom.main(["grade", str(tmp_path)]) == 0
    assert seen["timeout"] == classroom.DEFAULT_TIMEOUT == 120


def test_the_makefile_passes_the_time_limit():
    makefile = (classroom.REPO / "Makefile").read_text()
    assert re.search(r"^TIMEOUT \?= 120$", makefile, flags=re.M)
    assert re.search(r"cnnlib\.classroom grade \$\(SUBMISSIONS\) .*--timeout \$\(TIMEOUT\)", makefile)


def test_grading_an_empty_folder_says_what_it_expected(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert classroom.main(["grade", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no submissions" in err and "<student>/NN_name.ipynb" in err


def test_an_unknown_notebook_is_refused(tmp_path, capsys):
    assert classroom.main(["student", "99_nothing", "--out", str(tmp_path)]) == 2
    assert "no notebook" in capsys.readouterr().err
