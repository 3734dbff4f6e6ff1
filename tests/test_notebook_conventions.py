"""Every notebook of the series follows the conventions of the course (issue: notebooks 01-04 and later)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LIBRARY_NAMES = {"Conv2D", "Dense", "ReLU", "MaxPool2D", "AvgPool2D", "Sequential", "SGD", "correlate2d",
                 "convolve2d", "rot180", "numerical_gradient", "rel_error", "check_layer", "load_mnist"}


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def nb(request):
    return request.param


def test_the_series_is_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 7


def test_top_cell_has_title_objectives_and_prerequisites(nb):
    top = source(cells(nb)[0])
    assert top.startswith(f"# {nb.name[:2]}"), "the first cell starts with the numbered title"
    objectives = re.findall(r"^\s*\d\.\s", top, flags=re.M)
    assert 3 <= len(objectives) <= 5, f"3-5 numbered learning objectives, found {len(objectives)}"
    assert re.search(r"already know|prerequisite", top, flags=re.I), "says what the reader should already know"


def test_first_code_cell_installs_only_on_colab(nb):
    first = source(next(c for c in cells(nb) if c["cell_type"] == "code"))
    assert '"google.colab" in sys.modules' in first and "pip install" in first


def test_committed_executed(nb):
    code = [c for c in cells(nb) if c["cell_type"] == "code" and source(c).strip()]
    assert all(c.get("execution_count") is not None for c in code), "re-execute the notebook before committing"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed top to bottom in one fresh kernel"


def test_asserts_what_it_teaches_and_never_redefines_the_library(nb):
    code = "\n".join(source(c) for c in cells(nb) if c["cell_type"] == "code")
    assert code.count("assert") >= 3
    redefined = {name for name in LIBRARY_NAMES if re.search(rf"^(def|class) {name}\b", code, flags=re.M)}
    assert not redefined, f"library code redefined in the notebook: {redefined}"


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def test_exercises_are_in_nbgrader_markup(nb):
    """Each exercise: a solution cell (nbgrader metadata, the answer between the solution markers), then a graded
    test cell that runs the checker and shows its verdict (grading happens in a sandbox). One to three per notebook."""
    all_cells = cells(nb)
    solutions = [i for i, c in enumerate(all_cells) if _nbgrader(c).get("solution")]
    assert 1 <= len(solutions) <= 3, f"one to three exercises, found {len(solutions)}"
    ids = [_nbgrader(c)["grade_id"] for c in all_cells if _nbgrader(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for i in solutions:
        cell = all_cells[i]
        text = source(cell)
        assert re.search(r"### BEGIN SOLUTION\n.+\n\s*### END SOLUTION", text, flags=re.S), text
        assert not cell["metadata"].get("jupyter", {}).get("source_hidden"), "students must see the stub"
        fn = re.match(r"def (\w+)\(", text).group(1)
        test = all_cells[i + 1]
        meta = _nbgrader(test)
        assert meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0, f"{fn}: no graded test cell"
        body = source(test)
        checker = re.search(rf"(check_\w+)\({fn}\)", body)
        assert checker, f"{fn}: its test cell never calls a checker on it"
        # the self-check shows its verdict and never stops Run All; grading runs the function in a sandbox
        assert "assert" not in body and "HIDDEN TESTS" not in body, f"{fn}: the test cell must not stop Run All"


def test_no_teaching_cell_uses_an_exercise_function(nb):
    """Run All in the student version fails only in the test cells: nothing else may call a student's function."""
    all_cells = cells(nb)
    functions = [re.match(r"def (\w+)\(", source(c)).group(1) for c in all_cells if _nbgrader(c).get("solution")]
    for cell in all_cells:
        if cell["cell_type"] != "code" or _nbgrader(cell):
            continue
        for fn in functions:
            assert not re.search(rf"(?<![\w.]){fn}\s*\(", source(cell)), f"a teaching cell calls {fn}"
    assert "_solution" not in "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")


def test_readme_table_lists_every_notebook_with_its_colab_link():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for path in NOTEBOOKS:
        row = next((line for line in readme.splitlines() if f"(notebooks/{path.name})" in line), None)
        assert row is not None, f"README's notebook table has no row for {path.name}"
        assert f"/blob/main/notebooks/{path.name})" in row, f"{path.name}: the row lacks its Colab link"
