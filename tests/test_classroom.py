"""A real round trip: release with nbgrader, Run All on the handout, grade a class in the sandbox, export.

- ``make student``: every notebook's student version holds none of its solution bodies; Run All on it runs every
  cell without an error, the unsolved exercise's self-check saying "not done yet".
- One class, graded in one run: honest students (notebooks 04 and 08, written here, not the notebooks' own
  spelling), named mistakes, hand-offs to the library and to the checker's reference, and every kind of broken
  notebook (truncated JSON, empty, a duplicated test cell, a renamed grade id, cells that kill the kernel, an
  endless loop), plus a student who tries to rewrite the gradebook, a classmate's notebook and the grades file.
  The run ends with exit code 0 and a row for everyone; the honest students get full marks; nbgrader's gradebook,
  its export and its feedback files agree with grades.csv.
- A course whose own solution fails in the sandbox is a broken course: exit code 2, nothing graded.

The submissions are written here, independently of cnnlib's checkers. nbgrader is part of the test extras.
"""

import csv
import json
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

from cnnlib import classroom, sandbox

NAME = "04_rotation_proof"
TIMED = "08_softmax_cross_entropy"
STUB = "# YOUR CODE HERE\n    raise NotImplementedError()"
TIMES = {}
LIMIT = 5  # seconds per exercise
OS = "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__"

HONEST_04 = """
    C, KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for c, a, b in np.ndindex(*x.shape):           # x[c, a, b] stamped W[c] onto z at (a, b): collect back
        window = delta[a:a + KH, b:b + KW]
        dx[c, a, b] = np.einsum("mn,mn->", window, W[c])
        dW[c] += x[c, a, b] * window
    return dx, dW, float(delta.sum())"""
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
    "looping": {"convolution_layer_backward": "\n    while True:\n        pass"},
}
for _kind in ("truncated", "empty", "duplicated", "renamed", "killer"):
    BODIES[_kind] = {"convolution_layer_backward": HONEST_04}
TIMED_BODIES = {
    "correct": {"softmax_ce_backward": SOFTMAX_CE, "softmax_mse_backward": SOFTMAX_MSE},
    "looping": {"softmax_ce_backward": "\n    while True:\n        pass", "softmax_mse_backward": SOFTMAX_MSE},
}


def _is_challenge(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("challenge_")


def _is_exercise_solution(cell):
    """A graded exercise's solution cell (an optional challenge's cell also gives scaffolding code to keep)."""
    return cell.metadata.get("nbgrader", {}).get("solution") and not _is_challenge(cell)


def _solution_bodies(nb):
    """The code between the solution markers of every exercise's solution cell."""
    bodies = []
    for cell in nb.cells:
        if _is_exercise_solution(cell):
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
    stubs = "\n".join(c.source for c in student.cells if _is_exercise_solution(c))
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
    challenges = [c for c in source.cells if _is_challenge(c)]
    assert len(challenges) == 1  # the optional challenge: a solution cell, ungraded
    assert text.count("raise NotImplementedError()") == len(bodies) + len(challenges)
    graded = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == len(bodies) and not any("assert" in c.source for c in graded)


def test_run_all_on_the_handout_runs_every_cell(released, tmp_path):
    nb = nbformat.read(released, as_version=4)
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    failed = [c.source[:80] for c in nb.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [], "Run All must not stop on an unsolved exercise"
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    shown = "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in cell.outputs)
    assert "not done yet" in shown and "✗" in shown
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last.get("execution_count"), "the cells after the exercise ran too"


def _submission(released, folder, student, bodies):
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        if _is_exercise_solution(cell) and STUB in cell.source:
            name = re.match(r"def (\w+)", cell.source).group(1)
            cell.source = cell.source.replace(STUB, bodies[name].strip("\n").lstrip())
    path = folder / student / released.name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _broken(folder, kind, released):
    """Spoil the notebook of student ``kind`` in ``folder`` the way its name says."""
    path = folder / kind / released.name
    if kind == "truncated":
        path.write_text(path.read_text()[:len(path.read_text()) // 2])
    elif kind == "empty":
        path.write_text("")
    else:
        nb = nbformat.read(path, as_version=4)
        graded = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
        if kind == "duplicated":  # the test cell pasted twice
            copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[graded])))
            copy["id"] = "pasted-copy"
            nb.cells.insert(graded, copy)
        elif kind == "renamed":
            nb.cells[graded].metadata["nbgrader"]["grade_id"] = "my_own_id"
        elif kind == "killer":  # would end the kernel of a grader that ran the notebook
            nb.cells.insert(3, nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
            nb.cells.insert(4, nbformat.v4.new_code_cell("import os\nos._exit(0)"))
        nbformat.write(nb, path)


def _tamperer(course, submissions, csv_path):
    """A body that tries to rewrite the gradebook, a classmate's notebook and the grades file, and to plant a file
    next to them, then returns the right answer: full marks, and every file untouched, only if it reached none."""
    targets = [str(course / "gradebook.db"), str(submissions / "correct" / f"{NAME}.ipynb"), str(csv_path),
               str(course / "submitted" / "correct" / NAME / f"{NAME}.ipynb")]
    return f"""
    os = {OS}
    for path in {targets!r}:
        try:
            with open(path, "w") as f:
                f.write("zeroed")
        except OSError:
            pass
    try:
        open({str(course / "planted.txt")!r}, "w").write("x")
    except OSError:
        pass
""" + HONEST_04


def _rows(table):
    with open(table, newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(released_all, tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs, course, table = root / "submissions", root / "course", root / "grades.csv"
    bodies = dict(BODIES)
    if sandbox.sandbox_kind() == "bubblewrap":  # without bwrap nothing stops it: see docs/teaching.md
        bodies["tamperer"] = {"convolution_layer_backward": _tamperer(course, subs, table)}
    for student, b in bodies.items():
        _submission(released_all[NAME], subs, student, b)
    for kind in ("truncated", "empty", "duplicated", "renamed", "killer"):
        _broken(subs, kind, released_all[NAME])
    for student, b in TIMED_BODIES.items():
        _submission(released_all[TIMED], subs, student, b)
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
    start = time.monotonic()
    code = classroom.main(["grade", str(subs), "--csv", str(table), "--timeout", str(LIMIT), "--seed", "12",
                           "--course", str(course)])
    TIMES[f"grade {len(bodies) + len(TIMED_BODIES)} notebooks + export + feedback"] = time.monotonic() - start
    print("\nclass round trip:", {k: f"{v:.1f} s" for k, v in TIMES.items()})
    return {"code": code, "rows": _rows(table), "course": course, "table": table, "before": before,
            "students": set(bodies)}


def test_the_run_ends_with_exit_0_and_a_row_for_everyone(graded):
    assert graded["code"] == 0
    rows = graded["rows"]
    assert set(rows) == graded["students"]
    assert all(row["seed"] == "12" and row["sandbox"] == sandbox.sandbox_kind() for row in rows.values())
    # every row covers every graded notebook: a notebook a student did not hand in scores 0, "not submitted"
    assert all(float(row["max_score"]) == 2 + 4 for row in rows.values())
    assert "softmax_ce_backward: not submitted" in rows["mistaken"]["reasons"]


def test_honest_students_get_full_marks(graded):
    rows = graded["rows"]
    assert float(rows["correct"]["score"]) == 6 and rows["correct"]["reasons"] == ""
    assert rows["correct"]["softmax_ce_backward"] == "2" and rows["correct"]["convolution_layer_backward"] == "2"


def test_named_mistakes_get_zero_points_and_their_message(graded):
    row = graded["rows"]["mistaken"]
    assert float(row["score"]) == 0
    # the checker's words for "rotated the kernel in dx" and "rotated dW", both in one message
    assert "the rule of the 'valid' correlation layer" in row["reasons"] and "your dW is turned by 180°" in row["reasons"]


def test_gamed_submissions_get_zero_points(graded):
    rows = graded["rows"]
    assert float(rows["gamed_library"]["score"]) == 0 and float(rows["gamed_reference"]["score"]) == 0
    assert "refused" in rows["gamed_library"]["reasons"] and "Conv2D" in rows["gamed_library"]["reasons"]
    assert "refused" in rows["gamed_reference"]["reasons"] and "cnnlib.exercises" in rows["gamed_reference"]["reasons"]


def test_unreadable_notebooks_get_zero_and_the_reason(graded):
    rows = graded["rows"]
    assert float(rows["truncated"]["score"]) == 0 and "broken JSON" in rows["truncated"]["reasons"]
    assert float(rows["empty"]["score"]) == 0 and "is empty" in rows["empty"]["reasons"]


def test_changed_cells_are_graded_by_function_name_with_a_note(graded):
    rows = graded["rows"]
    assert float(rows["duplicated"]["score"]) == 2 and "duplicated cells" in rows["duplicated"]["reasons"]
    assert float(rows["renamed"]["score"]) == 2 and "my_own_id" in rows["renamed"]["reasons"]
    assert float(rows["killer"]["score"]) == 2  # the cells that kill the kernel never run


def test_an_endless_loop_costs_its_exercise_and_nothing_else(graded):
    rows = graded["rows"]
    row = rows["looping"]
    assert row["convolution_layer_backward"] == "0" and row["softmax_ce_backward"] == "0"
    assert row["softmax_mse_backward"] == "2" and f"timed out after {LIMIT} s" in row["reasons"]


@pytest.mark.skipif(sandbox.sandbox_kind() != "bubblewrap",
                    reason="bubblewrap cannot run here, and without it a submission can write the grader's files")
def test_the_tamperer_reached_nothing(graded):
    rows = graded["rows"]
    assert float(rows["tamperer"]["score"]) == 2, rows["tamperer"]["reasons"]
    assert all(path.read_bytes() == data for path, data in graded["before"].items())
    assert not (graded["course"] / "planted.txt").exists()
    assert float(rows["correct"]["score"]) == 6


def test_gradebook_export_and_feedback_agree_with_the_csv(graded):
    from nbgrader.api import Gradebook

    rows, course = graded["rows"], graded["course"]
    with open(graded["table"].with_suffix(".nbgrader.csv"), newline="") as f:
        exported = {}
        for row in csv.DictReader(f):
            exported[row["student_id"]] = exported.get(row["student_id"], 0) + float(row["score"])
    assert exported == {s: float(row["score"]) for s, row in rows.items()}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("convolution_layer_backward_test", NAME, NAME, "mistaken")
        assert grade.auto_score == 0 and grade.max_score == 2
        comment = gb.find_comment("convolution_layer_backward", NAME, NAME, "mistaken")
        assert "the rule of the 'valid' correlation layer" in comment.auto_comment
        assert gb.find_grade("softmax_mse_backward_test", TIMED, TIMED, "looping").auto_score == 2
    page = (course / "feedback" / "correct" / NAME / f"{NAME}.html").read_text()
    assert "Score: 2.0 / 2.0" in page and "hidden cases (seed 12) agree" in page


@pytest.mark.parametrize("breakage", ["a wrong solution", "a renamed test cell"])
def test_a_broken_course_stops_before_grading_anyone(monkeypatch, tmp_path, released_all, capsys, breakage):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.read(classroom.NOTEBOOKS / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if breakage == "a wrong solution" and meta.get("grade_id") == "convolution_layer_backward":
            assert "return dx, dW, delta.sum()" in cell.source
            cell.source = cell.source.replace("return dx, dW, delta.sum()", "return dx, dW[:, ::-1, ::-1], delta.sum()")
        if breakage == "a renamed test cell" and meta.get("grade"):
            meta["grade_id"] = "rotation_test"
    nbformat.write(nb, notebooks / f"{NAME}.ipynb")
    monkeypatch.setattr(classroom, "NOTEBOOKS", notebooks)
    _submission(released_all[NAME], tmp_path / "subs", "alice", {"convolution_layer_backward": HONEST_04})
    assert classroom.main(["grade", str(tmp_path / "subs"), "--csv", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "the course is broken" in err and not (tmp_path / "g.csv").exists()
    assert ("does not pass in the" in err) if breakage == "a wrong solution" else ("convolution_layer_backward_test" in err)


def test_the_options_reach_the_grader(monkeypatch, tmp_path):
    seen = {}

    def fake(submissions, csv, timeout, **kw):
        seen.update(timeout=timeout, **kw)

    monkeypatch.setattr(classroom, "autograde", fake)
    assert classroom.main(["grade", str(tmp_path), "--timeout", "7", "--seed", "3"]) == 0
    assert seen["timeout"] == 7 and seen["seed"] == 3
    assert classroom.main(["grade", str(tmp_path)]) == 0
    assert seen["timeout"] == classroom.DEFAULT_TIMEOUT == 120 and seen["seed"] is None


def test_the_makefile_passes_the_options():
    makefile = (classroom.REPO / "Makefile").read_text()
    assert re.search(r"^TIMEOUT \?= 120$", makefile, flags=re.M)
    assert re.search(r"cnnlib\.classroom grade \$\(SUBMISSIONS\) --csv \$\(GRADES\) --timeout \$\(TIMEOUT\)", makefile)


def test_grading_an_empty_folder_says_what_it_expected(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert classroom.main(["grade", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no submissions" in err and "<student>/NN_name.ipynb" in err


def test_an_unknown_notebook_is_refused(tmp_path, capsys):
    assert classroom.main(["student", "99_nothing", "--out", str(tmp_path)]) == 2
    assert "no notebook" in capsys.readouterr().err
