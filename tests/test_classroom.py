"""A real nbgrader round trip on notebook 04: release, Run All, autograde three submissions, export the CSV.

The submissions are written here, independently of cnnlib's checkers: an honest one (loops and np.flip, not the
notebook's own spelling), one with two named mistakes, and one that hands the work to the library and to the
checker's reference. nbgrader is part of the test extras; these tests need it and say so if it is missing.
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

BODIES = {
    "correct": {
        "my_conv_backward": """
    KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for i, j in np.ndindex(*delta.shape):          # every output sends its delta back along its products
        dx[i:i + KH, j:j + KW] += delta[i, j] * W
        dW += delta[i, j] * x[i:i + KH, j:j + KW]
    return dx, dW, float(delta.sum())""",
        "convolution_layer_backward": """
    KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for i, j in np.ndindex(*delta.shape):
        dx[i:i + KH, j:j + KW] += delta[i, j] * np.flip(W)
        dW += delta[i, j] * np.flip(x[i:i + KH, j:j + KW])
    return dx, dW, float(delta.sum())""",
    },
    "mistaken": {  # forgot the rotation in dx; forgot to rotate dW. It also rebinds the checkers' names to
        # always-pass fakes after its functions: the graded cells import the real checkers themselves.
        "my_conv_backward": """
    return correlate2d(delta, W, "full"), correlate2d(x, delta, "valid"), delta.sum()

check_conv_backward = check_convolution_layer_backward = lambda fn, hidden=False: True""",
        "convolution_layer_backward": """
    KH, KW = W.shape
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for i, j in np.ndindex(*delta.shape):
        dx[i:i + KH, j:j + KW] += delta[i, j] * np.flip(W)
        dW += delta[i, j] * x[i:i + KH, j:j + KW]
    return dx, dW, float(delta.sum())""",
    },
    "gamed": {  # the library layer, and the checker's private reference
        "my_conv_backward": """
    layer = Conv2D(1, 1, W.shape)
    layer.params["W"][0, 0] = W
    layer.forward(x[None, None])
    return layer.backward(delta[None, None])[0, 0], layer.grads["W"][0, 0], layer.grads["b"][0]""",
        "convolution_layer_backward": """
    from cnnlib.exercises.rotation import _conv_forward_reference as answer
    return answer(x, W, delta)""",
    },
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
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    start = time.monotonic()
    (path,) = classroom.release(out, [NAME])
    TIMES["make student (one notebook)"] = time.monotonic() - start
    return path


def test_student_version_has_no_solutions_and_no_hidden_tests(released):
    source = nbformat.read(SOURCE, as_version=4)
    student = nbformat.read(released, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    stubs = "\n".join(c.source for c in student.cells if c.metadata.get("nbgrader", {}).get("solution"))
    bodies = _solution_bodies(source)
    assert len(bodies) == 2
    for body in bodies:
        assert body.strip() not in text
        for line in body.splitlines():  # (a line may still appear in the teaching cells: 04 derives them)
            code = line.split("#")[0].strip()
            if code:
                assert code not in stubs, f"the student's exercise cell still contains {code!r}"
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    assert text.count("raise NotImplementedError()") == 2
    graded = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == 2 and all("assert result, result.message" in c.source for c in graded)


def test_run_all_fails_only_in_the_exercise_test_cells(released, tmp_path):
    nb = nbformat.read(released, as_version=4)
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    failed = [c for c in nb.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed, "the unfinished exercises must fail"
    for cell in failed:
        assert cell.metadata.get("nbgrader", {}).get("grade"), f"a teaching cell failed:\n{cell.source}"
        error = next(o for o in cell.outputs if o.output_type == "error")
        assert error.ename == "AssertionError" and "not done yet" in error.evalue
    assert len(failed) == 2


def _submission(released, folder, kind):
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and STUB in cell.source:
            name = re.match(r"def (\w+)", cell.source).group(1)
            cell.source = cell.source.replace(STUB, BODIES[kind][name].strip("\n").lstrip())
    path = folder / kind / f"{NAME}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    for kind in BODIES:
        _submission(released, root / "submissions", kind)
    start = time.monotonic()
    table = classroom.autograde(root / "submissions", root / "grades.csv", course=root / "course", log=lambda _: None)
    TIMES["autograde 3 submissions + export"] = time.monotonic() - start
    print("\nnbgrader round trip:", {k: f"{v:.1f} s" for k, v in TIMES.items()})
    with open(table, newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return rows, root / "course" / "autograded"


def _errors(autograded, student):
    nb = nbformat.read(autograded / student / NAME / f"{NAME}.ipynb", as_version=4)
    return nb, [o.evalue for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_the_csv_lists_all_three(graded):
    rows, _ = graded
    assert set(rows) == {"correct", "mistaken", "gamed"}
    assert all(row["assignment"] == NAME and float(row["max_score"]) == 4 for row in rows.values())


def test_a_correct_submission_gets_full_points(graded):
    rows, autograded = graded
    assert float(rows["correct"]["score"]) == 4
    nb, errors = _errors(autograded, "correct")
    assert errors == []
    # autograde put the hidden tests back into the graded cells, and they ran
    assert sum("hidden=True" in c.source for c in nb.cells) == 2


def test_named_mistakes_get_zero_points_and_their_message(graded):
    rows, autograded = graded
    assert float(rows["mistaken"]["score"]) == 0
    _, errors = _errors(autograded, "mistaken")
    assert any("dx is the full correlation of δ with W itself" in e for e in errors)
    assert any("dW = rot180(x ⋆ δ)" in e for e in errors)


def test_a_gamed_submission_gets_zero_points(graded):
    rows, autograded = graded
    assert float(rows["gamed"]["score"]) == 0
    _, errors = _errors(autograded, "gamed")
    assert any("Conv2D" in e and "derive it" in e for e in errors)
    assert any("reference solution" in e for e in errors)


def test_grading_an_empty_folder_says_what_it_expected(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert classroom.main(["grade", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no submissions" in err and "<student>/NN_name.ipynb" in err


def test_an_unknown_notebook_is_refused(tmp_path, capsys):
    assert classroom.main(["student", "99_nothing", "--out", str(tmp_path)]) == 2
    assert "no notebook" in capsys.readouterr().err
